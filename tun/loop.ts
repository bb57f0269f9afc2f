/**
 * The packet loop: drain the non-blocking TUN fd in batches with synchronous
 * reads, wake on `poll` (run on the FFI thread pool), write synchronously.
 * One receive buffer is reused for every packet. Drained this way, a TUN fd
 * gives ~400k packets/s from Deno, as much as C (README, Packet I/O).
 *
 * @module
 */

import { errno, libc, SyscallError } from "./_libc.ts";
import { setImmediate } from "node:timers";
import type { Link, PacketHandler, TxOffload } from "../stack/link.ts";
import { type TunDevice, VNET_HDR_LEN } from "./device.ts";
import type { ReceiveSteering } from "./steering.ts";

/** Counters of the loop. */
export interface LoopStats {
  /** Packets read from the device. */
  rxPackets: number;
  /** Bytes read. */
  rxBytes: number;
  /** Packets written. */
  txPackets: number;
  /** Bytes written. */
  txBytes: number;
  /** Writes refused because the device queue was full. */
  txDropped: number;
  /** Batches drained. */
  batches: number;
  /** Times the loop slept in poll. */
  polls: number;
  /** Empty drains while busy polling. */
  busyPolls: number;
  /** Times receive steering changed its mask ({@linkcode ReceiveSteering}). */
  steeringMoves: number;
}

const POLLIN = 0x1;
/** Most packets handled before yielding to the event loop. */
const BATCH = 256;
/**
 * Default busy-poll window, µs: after traffic, keep draining (yielding to
 * the event loop between tries) this long before sleeping in poll. Waking
 * from poll costs a cross-core wake-up (~60 µs here) plus the hand-off from
 * the FFI thread; a peer that answers within the window skips both (Linux
 * busy_poll does the same). A kernel client's turnaround in a short
 * connection (Go scheduler, syscalls) often exceeds 50 µs: 300 µs gave
 * ~12% more connections/s than 50 µs and the same ping-pong median, while
 * an idle stack still sleeps in poll.
 */
export const BUSY_POLL_US = 300;

/**
 * How often the loop decides whether to steer: a migration of the thread or
 * a turn of the traffic is followed within this many ms.
 */
const STEER_WINDOW_MS = 2;
/**
 * Bytes written in one window that make bulk sending (128 MB/s): below it
 * the kernel's share of our writes is small, and request/response, measured
 * both ways, neither gains nor loses.
 */
const STEER_MIN_BYTES = 256 * 1024;

/**
 * Runs a {@linkcode TunDevice} against a {@linkcode PacketHandler} and acts as
 * the handler's {@linkcode Link}.
 *
 * @example
 * ```ts ignore
 * const dev = TunDevice.open({ name: "tunstack0" });
 * const loop = new PacketLoop(dev, 1500);
 * loop.start(handler);
 * await loop.stop();
 * ```
 */
export class PacketLoop implements Link {
  readonly headroom: number;
  readonly mtu: number;
  csumOffload = false;
  gsoMax: number;
  /** Counters. */
  readonly stats: LoopStats = {
    rxPackets: 0,
    rxBytes: 0,
    txPackets: 0,
    txBytes: 0,
    txDropped: 0,
    batches: 0,
    polls: 0,
    busyPolls: 0,
    steeringMoves: 0,
  };
  #dev: TunDevice;
  #rx: Uint8Array<ArrayBuffer>;
  #rxPacket: Uint8Array<ArrayBuffer>;
  #rxSize: bigint;
  #pollfds = new Uint8Array(16);
  #wakeFd: number;
  #running: Promise<void> | undefined;
  #stopping = false;
  #lost = Promise.withResolvers<Error>();
  /** The current steering window: its start (ms) and the byte counters then. */
  #window = { start: 0, tx: 0, rx: 0 };

  /**
   * Settles when the device fails under the loop (deleted from outside,
   * say): the loop has stopped and will not spin.
   */
  get lost(): Promise<Error> {
    return this.#lost.promise;
  }

  /** Busy-poll window in µs (0: sleep in poll as soon as the device is empty). */
  busyPollUs = BUSY_POLL_US;

  /** Keeps the kernel's receive work for our writes off this thread's CPU. */
  steering: ReceiveSteering | undefined;

  /** Wraps an open device carrying packets up to `mtu` bytes. */
  constructor(dev: TunDevice, mtu: number) {
    this.#dev = dev;
    this.mtu = mtu;
    this.headroom = dev.vnetHdr ? VNET_HDR_LEN : 0;
    this.gsoMax = mtu;
    // vnet mode may deliver 64 KB GSO packets whatever the MTU.
    const size = this.headroom + (dev.vnetHdr ? 65535 : Math.max(mtu, 1280));
    this.#rx = new Uint8Array(size);
    this.#rxPacket = this.#rx.subarray(this.headroom);
    this.#rxSize = BigInt(size);
    this.#wakeFd = libc().eventfd(0, 0o4000 | 0o2000000);
    if (this.#wakeFd < 0) throw new SyscallError("eventfd", errno());
    const v = new DataView(this.#pollfds.buffer);
    v.setInt32(0, dev.fd, true);
    v.setInt16(4, POLLIN, true);
    v.setInt32(8, this.#wakeFd, true);
    v.setInt16(12, POLLIN, true);
  }

  /**
   * Turns on what `TUNSETOFFLOAD` granted: partial checksums, and TSO
   * (segments up to 64 KB) when `tso` is set.
   */
  enableOffload(tso: boolean): void {
    if (!this.#dev.vnetHdr) throw new Error("Offloads need IFF_VNET_HDR");
    this.csumOffload = true;
    if (tso) this.gsoMax = 65535;
  }

  /** Starts delivering packets to `handler`. */
  start(handler: PacketHandler): void {
    if (this.#running) throw new Error("Packet loop already started");
    this.#running = this.#run(handler).catch((e) => this.#fail(e));
  }

  #fail(e: unknown): void {
    this.#stopping = true;
    this.#lost.resolve(e instanceof Error ? e : new Error(String(e)));
  }

  /** Stops the loop and waits for it to finish. Does not close the device. */
  async stop(): Promise<void> {
    this.#stopping = true;
    const one = new Uint8Array(8);
    one[0] = 1;
    libc().write(this.#wakeFd, one, 8n);
    await this.#running;
    libc().close(this.#wakeFd);
  }

  transmit(frame: Uint8Array<ArrayBuffer>, len: number, offload?: TxOffload): boolean {
    if (this.headroom !== 0) writeVnetHdr(frame, offload);
    const total = len + this.headroom;
    try {
      if (this.#dev.write(frame, total)) {
        this.stats.txPackets++;
        this.stats.txBytes += len;
        return true;
      }
    } catch (e) {
      // Not a full queue but a broken device: stop the loop and report it.
      this.#fail(e);
    }
    this.stats.txDropped++;
    return false;
  }

  /** Each {@linkcode STEER_WINDOW_MS}: steer while sending in bulk, else not. */
  #steer(steering: ReceiveSteering, now: number): void {
    const w = this.#window;
    if (now - w.start < STEER_WINDOW_MS) return;
    const tx = this.stats.txBytes - w.tx;
    const rx = this.stats.rxBytes - w.rx;
    if (steering.update(tx >= STEER_MIN_BYTES && tx > 2 * rx)) this.stats.steeringMoves++;
    w.start = now;
    w.tx = this.stats.txBytes;
    w.rx = this.stats.rxBytes;
  }

  async #run(handler: PacketHandler): Promise<void> {
    const dev = this.#dev;
    const c = libc();
    let lastActive = 0;
    while (!this.#stopping) {
      let n = 0;
      for (; n < BATCH; n++) {
        const len = dev.read(this.#rx, this.#rxSize);
        if (len === 0) break;
        this.stats.rxPackets++;
        this.stats.rxBytes += len - this.headroom;
        // virtio_net_hdr flags: NEEDS_CSUM (1) or DATA_VALID (2).
        const csumValid = this.headroom !== 0 && (this.#rx[0] & 3) !== 0;
        try {
          handler.receive(this.#rxPacket, len - this.headroom, csumValid);
        } catch (err) {
          // A bug in packet handling must not take the device down.
          console.error("tunstack: packet handler failed:", err);
        }
        // The application has work now (a reader's buffer is full): its
        // turn comes before the rest of the queue is read.
        if (handler.takeYield?.()) {
          n++;
          break;
        }
      }
      if (n > 0) {
        this.stats.batches++;
        lastActive = performance.now();
        if (this.steering !== undefined) this.#steer(this.steering, lastActive);
        // Let the application and timers run before the next batch.
        await yieldToEventLoop();
        continue;
      }
      // Bounded busy polling: the CPU it burns is capped by the window.
      if ((performance.now() - lastActive) * 1000 < this.busyPollUs) {
        this.stats.busyPolls++;
        await yieldToEventLoop();
        continue;
      }
      this.stats.polls++;
      this.#pollfds[6] =
        this.#pollfds[7] =
        this.#pollfds[14] =
        this.#pollfds[15] =
          0;
      // errno is not readable here (poll ran on another thread); a failed
      // poll (EINTR) just loops back to draining.
      await c.poll(this.#pollfds, 2n, -1);
    }
  }
}

// virtio_net_hdr in the device's (little-endian) byte order.
function writeVnetHdr(f: Uint8Array, o: TxOffload | undefined): void {
  if (o === undefined) {
    f.fill(0, 0, VNET_HDR_LEN);
    return;
  }
  f[0] = 1; // NEEDS_CSUM
  f[1] = o.gsoType;
  f[2] = o.hdrLen & 0xff;
  f[3] = o.hdrLen >> 8;
  f[4] = o.gsoSize & 0xff;
  f[5] = o.gsoSize >> 8;
  f[6] = o.csumStart & 0xff;
  f[7] = o.csumStart >> 8;
  f[8] = o.csumOffset & 0xff;
  f[9] = o.csumOffset >> 8;
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
