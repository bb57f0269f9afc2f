/**
 * Receive steering (the kernel's RPS) for the device. The kernel receives
 * each packet the stack writes inside that `write()`: it routes it and,
 * when a local socket is the destination, runs that socket's TCP, which
 * wakes the reader and sends the ACK back, all on the stack's own thread
 * (perf, routed 1 GB download: a quarter of the thread under
 * `netif_receive_skb`, besides the copy). Steered to the other CPUs, the
 * write only copies the packet and queues it for them, so the kernel's half
 * runs beside ours, as it does for the kernel's own TCP, whose peer's ACKs
 * run on the peer's CPU.
 *
 * Only while the stack sends in bulk: receiving (an upload), the work in
 * our writes is the sender's ACK processing, and steered away it piles onto
 * the CPU the sending client already fills (measured: 10% slower uploads).
 * The thread is not pinned: the mask leaves out the CPU it runs on now and
 * follows it when the scheduler moves it.
 *
 * @module
 */

import { cString, errno, libc, OpenFlags, SyscallError } from "./_libc.ts";

const { O_RDONLY, O_WRONLY, O_CLOEXEC } = OpenFlags;

/** Bytes of the CPU set `sched_getaffinity` fills (1024 CPUs). */
const CPU_SET_BYTES = 128;

/**
 * The `rps_cpus` text for a set of CPUs: hex, in comma-separated groups of
 * 32 CPUs, the highest first (as the kernel's `bitmap_parse` reads it).
 *
 * @example
 * ```ts
 * import { cpuMask } from "./steering.ts";
 * cpuMask([1]); // "2"
 * cpuMask([0, 33]); // "2,00000001"
 * ```
 */
export function cpuMask(cpus: Iterable<number>): string {
  const words: number[] = [];
  for (const c of cpus) {
    const w = c >> 5;
    while (words.length <= w) words.push(0);
    words[w] = (words[w] | (1 << (c & 31))) >>> 0;
  }
  if (words.length === 0) return "0";
  return words.reverse().map((w, i) => w.toString(16).padStart(i === 0 ? 0 : 8, "0")).join(",");
}

/** The CPUs this thread may run on. */
function allowedCpus(): number[] {
  const set = new Uint8Array(CPU_SET_BYTES);
  if (libc().sched_getaffinity(0, BigInt(CPU_SET_BYTES), set) < 0) {
    throw new SyscallError("sched_getaffinity", errno());
  }
  const cpus: number[] = [];
  for (let i = 0; i < CPU_SET_BYTES * 8; i++) if (set[i >> 3] & (1 << (i & 7))) cpus.push(i);
  return cpus;
}

/** Reads a small sysfs file, or undefined when it cannot be read. */
function readSmall(path: string): string | undefined {
  const c = libc();
  const fd = c.open(cString(path), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return undefined;
  try {
    const buf = new Uint8Array(64);
    const n = c.read(fd, buf, 64n);
    return n < 0 ? undefined : new TextDecoder().decode(buf.subarray(0, n)).trim();
  } finally {
    c.close(fd);
  }
}

/**
 * Steers the kernel's receive work for one device away from the CPU the
 * calling thread runs on, while asked to.
 *
 * @example
 * ```ts ignore
 * import { ReceiveSteering } from "./steering.ts";
 * const s = ReceiveSteering.open("tunstack0", 7); // undefined on one CPU
 * s?.update(true); // sending in bulk: steer away from this CPU (true: written)
 * s?.update(false); // not: leave the work where it is
 * s?.close();
 * ```
 */
export class ReceiveSteering {
  #fd: number;
  #cpus: number[];
  /** The CPU the mask leaves out, or -1 when nothing is steered. */
  #cpu = -1;

  private constructor(fd: number, cpus: number[]) {
    this.#fd = fd;
    this.#cpus = cpus;
  }

  /**
   * Opens the steering of device `name` with interface index `index`, or
   * returns undefined where it cannot help or cannot be done: one CPU
   * allowed, or no `/sys/class/net/<name>` for this device (sysfs is
   * mounted for another network namespace, as under `up --netns`).
   */
  static open(name: string, index: number): ReceiveSteering | undefined {
    const dir = `/sys/class/net/${name}`;
    const cpus = allowedCpus();
    if (cpus.length < 2 || readSmall(`${dir}/ifindex`) !== String(index)) return undefined;
    const fd = libc().open(cString(`${dir}/queues/rx-0/rps_cpus`), O_WRONLY | O_CLOEXEC);
    return fd < 0 ? undefined : new ReceiveSteering(fd, cpus);
  }

  /**
   * Steers to every allowed CPU but the calling thread's (`on`), or to none;
   * writes only when that changes the mask (sched_getcpu is a vDSO call).
   * Returns true when it wrote.
   */
  update(on: boolean): boolean {
    if (this.#fd < 0) return false;
    const cpu = on ? libc().sched_getcpu() : -1;
    if (cpu === this.#cpu) return false;
    // A CPU outside the set: the thread's affinity changed since.
    if (cpu >= 0 && !this.#cpus.includes(cpu)) this.#cpus = allowedCpus();
    const text = cString(cpu < 0 ? "0" : cpuMask(this.#cpus.filter((c) => c !== cpu)));
    if (libc().pwrite(this.#fd, text, BigInt(text.length - 1), 0n) < 0) {
      // Refused (a kernel without RPS): leave the device as it is.
      this.close();
      return false;
    }
    this.#cpu = cpu;
    return true;
  }

  /** Stops steering; the device keeps its last mask until it is removed. */
  close(): void {
    if (this.#fd >= 0) libc().close(this.#fd);
    this.#fd = -1;
  }
}
