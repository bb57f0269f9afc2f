/**
 * `up --pcap FILE`: the stack's capture (every packet, each received one
 * with its verdicts as comments) written as pcapng, buffered, in a ring of
 * two files: past `maxBytes` the file becomes `FILE.1` (replacing the
 * last one) and a fresh `FILE` begins, so a long run keeps the newest
 * traffic in at most twice `maxBytes`.
 *
 * @module
 */

import { type CapturedPacket, PcapngWriter } from "../mod.ts";

const FLUSH_BYTES = 256 * 1024;
const FLUSH_MS = 100;

/**
 * A pcapng file fed from `Stack.capture`.
 *
 * @example
 * ```ts
 * import { PcapFile } from "./pcap.ts";
 * const dir = await Deno.makeTempDir();
 * const f = new PcapFile(`${dir}/cap.pcapng`, 1 << 20);
 * f.write({ packet: new Uint8Array(20), inbound: true, timeMs: 0, notes: [] });
 * f.close();
 * Deno.statSync(`${dir}/cap.pcapng`).size; // 124: headers (60 bytes) and one packet (64)
 * Deno.removeSync(dir, { recursive: true });
 * ```
 */
export class PcapFile {
  #path: string;
  #maxBytes: number;
  #file!: Deno.FsFile;
  #writer!: PcapngWriter;
  #written = 0;
  #pending: Uint8Array[] = [];
  #pendingBytes = 0;
  #timer: ReturnType<typeof setInterval>;
  #epoch = Date.now() - performance.now();
  #onError: (e: Error) => void;
  #failed = false;

  /**
   * Creates (or truncates) `path`, and its directory when missing; a file
   * past `maxBytes` rotates to `path.1`. A write that fails later (a full
   * disk) ends the capture, not the stack: `onError` hears of it once.
   */
  constructor(path: string, maxBytes: number, onError: (e: Error) => void = () => {}) {
    this.#path = path;
    this.#maxBytes = maxBytes;
    this.#onError = onError;
    const dir = path.slice(0, path.lastIndexOf("/"));
    if (dir) Deno.mkdirSync(dir, { recursive: true });
    this.#open();
    this.#timer = setInterval(() => this.flush(), FLUSH_MS);
  }

  #open(): void {
    this.#file = Deno.openSync(this.#path, { write: true, create: true, truncate: true });
    this.#written = 0;
    this.#writer = new PcapngWriter((b) => this.#add(b), this.#epoch);
  }

  #add(b: Uint8Array): void {
    // The writer's blocks are fresh arrays: keep them until the flush.
    this.#pending.push(b);
    this.#pendingBytes += b.length;
    if (this.#pendingBytes >= FLUSH_BYTES) this.flush();
  }

  /** Records one packet (bind it to `Stack.capture`). */
  write(p: CapturedPacket): void {
    if (this.#failed) return;
    this.#writer.packet(p);
    if (this.#written + this.#pendingBytes > this.#maxBytes) this.#guard(() => this.#rotate());
  }

  #rotate(): void {
    this.#write();
    this.#file.close();
    Deno.renameSync(this.#path, `${this.#path}.1`);
    this.#open();
  }

  #guard(f: () => void): void {
    try {
      f();
    } catch (e) {
      this.#failed = true;
      this.#pending = [];
      this.#pendingBytes = 0;
      clearInterval(this.#timer);
      this.#onError(e as Error);
    }
  }

  /** Writes what is buffered. */
  flush(): void {
    if (!this.#failed) this.#guard(() => this.#write());
  }

  #write(): void {
    if (this.#pendingBytes === 0) return;
    const all = new Uint8Array(this.#pendingBytes);
    let o = 0;
    for (const b of this.#pending) {
      all.set(b, o);
      o += b.length;
    }
    this.#pending = [];
    this.#pendingBytes = 0;
    for (let n = 0; n < all.length;) n += this.#file.writeSync(all.subarray(n));
    this.#written += all.length;
  }

  /** Flushes and closes. */
  close(): void {
    clearInterval(this.#timer);
    this.flush();
    try {
      this.#file.close();
    } catch { /* already closed when a rotation failed */ }
  }
}
