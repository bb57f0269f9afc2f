/**
 * The send buffer: a ring holding bytes written by the application and not
 * yet acknowledged, growing on demand up to its capacity. Segments are
 * copied out of it straight into the packet being built, and
 * retransmissions read the same bytes again.
 *
 * @module
 */

import { EMPTY, growRing, releaseRing } from "./_ring.ts";

/**
 * A byte ring of bounded capacity.
 *
 * @example
 * ```ts
 * import { SendBuffer } from "./send_buffer.ts";
 * const b = new SendBuffer(8);
 * b.append(new Uint8Array([1, 2, 3]), 0, 3); // 3
 * b.consume(2);
 * b.length; // 1
 * ```
 */
export class SendBuffer {
  /** Capacity in bytes (the physical ring grows up to it). */
  capacity: number;
  #buf: Uint8Array;
  #head = 0;
  #len = 0;

  /** A ring that holds up to `capacity` bytes. */
  constructor(capacity: number) {
    this.capacity = capacity;
    // Nothing until first use: an idle or half-open connection costs no ring.
    this.#buf = EMPTY;
  }

  /** Bytes held. */
  get length(): number {
    return this.#len;
  }

  /** Free space. */
  get free(): number {
    return this.capacity - this.#len;
  }

  /** Appends up to `n` bytes of `src` from `off`; returns how many fit. */
  append(src: Uint8Array, off: number, n: number): number {
    const take = Math.min(n, this.capacity - this.#len);
    const grown = growRing(this.#buf, this.#head, this.#len + take, this.capacity);
    if (grown !== this.#buf) {
      this.#buf = grown;
      this.#head = 0;
    }
    const size = this.#buf.length;
    let tail = (this.#head + this.#len) % size;
    let done = 0;
    while (done < take) {
      const run = Math.min(take - done, size - tail);
      this.#buf.set(src.subarray(off + done, off + done + run), tail);
      done += run;
      tail = (tail + run) % size;
    }
    this.#len += take;
    return take;
  }

  /** Drops `n` acknowledged bytes from the front. */
  consume(n: number): void {
    if (n > this.#len) n = this.#len;
    if (n <= 0) return; // also keeps an unused (empty) ring's head at 0
    this.#head = (this.#head + n) % this.#buf.length;
    this.#len -= n;
  }

  /**
   * Gives the ring back for reuse: the connection is gone, and what it still
   * held will never be sent (an abort: RFC 9293 3.10.7.1, queued SENDs are
   * reset). Kept, the ring of every aborted bulk sender was garbage, and
   * the next one faulted in a fresh megabyte.
   */
  release(): void {
    releaseRing(this.#buf);
    this.#buf = EMPTY;
    this.#head = 0;
    this.#len = 0;
  }

  /** Copies `n` bytes starting `from` bytes after the front into `dst[dstOff]`. */
  copyOut(from: number, dst: Uint8Array, dstOff: number, n: number): void {
    const size = this.#buf.length;
    let pos = (this.#head + from) % size;
    let done = 0;
    while (done < n) {
      const run = Math.min(n - done, size - pos);
      dst.set(this.#buf.subarray(pos, pos + run), dstOff + done);
      done += run;
      pos = 0;
    }
  }
}
