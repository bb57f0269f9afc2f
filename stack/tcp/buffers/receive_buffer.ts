/**
 * The receive buffer: a ring that grows on demand up to its capacity. In-order bytes wait there for the
 * application; out-of-order segments are written straight to their place in
 * the window (RFC 9293 3.10.7.4, "segment text") and tracked as ranges, so
 * reassembly costs no extra copy and its memory is bounded by the window.
 * The ranges also give the SACK blocks we send (RFC 2018 4).
 *
 * @module
 */

import { insertRange } from "./_ranges.ts";
import { EMPTY, growRing, releaseRing } from "./_ring.ts";

/** Most SACK blocks a segment carries (RFC 2018 3: four, or three with timestamps). */
const MAX_SACK_BLOCKS = 4;

/**
 * A reassembling byte ring. Offsets are relative to the next byte expected
 * (RCV.NXT).
 *
 * @example
 * ```ts
 * import { ReceiveBuffer } from "./receive_buffer.ts";
 * const b = new ReceiveBuffer(16);
 * b.write(3, new Uint8Array([4, 5]), 0, 2); // out of order: 0 bytes in order
 * b.write(0, new Uint8Array([1, 2, 3]), 0, 3); // 5: fills the gap
 * b.readable; // 5
 * ```
 */
export class ReceiveBuffer {
  /** Capacity in bytes (the window offered; the physical ring grows to it). Only grows. */
  capacity: number;
  /**
   * Bytes the ring holds past `capacity`: a scaled window field rounds up
   * (not to shrink the window), so it may offer up to one unit more.
   */
  slack = 0;
  #buf: Uint8Array;
  #head = 0;
  #ready = 0;
  // Out-of-order ranges as [start, end) offsets from RCV.NXT, sorted,
  // disjoint, not touching 0; `#recent` holds where the latest out-of-order
  // segments landed, newest first, to order the SACK blocks.
  #ranges: number[] = [];
  #recent: number[] = [];

  /** A buffer of `capacity` bytes. */
  constructor(capacity: number) {
    this.capacity = capacity;
    // Nothing until first use: an idle or half-open connection costs no ring.
    this.#buf = EMPTY;
  }

  /** In-order bytes waiting for the application. */
  get readable(): number {
    return this.#ready;
  }

  /** Space from RCV.NXT to the end of the buffer: the window to advertise. */
  get window(): number {
    return Math.max(0, this.capacity - this.#ready);
  }

  /** Space from RCV.NXT to the end of the ring, its slack included: the most ever offered. */
  get room(): number {
    return this.capacity + this.slack - this.#ready;
  }

  /**
   * Whether `n` bytes at `offset` past RCV.NXT may be held out of order
   * without passing `maxBytes` held or `maxRanges` separate ranges.
   */
  canHoldOutOfOrder(offset: number, n: number, maxBytes: number, maxRanges: number): boolean {
    const r = this.#ranges;
    let held = 0, touches = false;
    for (let i = 0; i < r.length; i += 2) {
      held += r[i + 1] - r[i];
      if (r[i] <= offset + n && r[i + 1] >= offset) touches = true;
    }
    if (held + n > maxBytes) return false;
    return touches || r.length / 2 < maxRanges;
  }

  /** Number of out-of-order ranges held. */
  get rangeCount(): number {
    return this.#ranges.length / 2;
  }

  /**
   * Stores `n` bytes of `src` at `offset` bytes past RCV.NXT (clipped to the
   * ring's room). Returns how far RCV.NXT advances (0 for out-of-order data).
   */
  write(offset: number, src: Uint8Array, srcOff: number, n: number): number {
    const room = this.room;
    if (offset >= room || n <= 0) return 0;
    if (offset + n > room) n = room - offset;
    const grown = growRing(
      this.#buf,
      this.#head,
      this.#ready + offset + n,
      this.capacity + this.slack,
    );
    if (grown !== this.#buf) {
      this.#buf = grown;
      this.#head = 0;
    }
    const size = this.#buf.length;
    let pos = (this.#head + this.#ready + offset) % size;
    for (let done = 0; done < n;) {
      const run = Math.min(n - done, size - pos);
      this.#buf.set(src.subarray(srcOff + done, srcOff + done + run), pos);
      done += run;
      pos = 0;
    }
    if (offset > 0) {
      insertRange(this.#ranges, offset, offset + n);
      this.#recent.unshift(offset);
      if (this.#recent.length > MAX_SACK_BLOCKS) this.#recent.length = MAX_SACK_BLOCKS;
      return 0;
    }
    // In order: absorb every held range the new bytes reach.
    let end = n;
    const r = this.#ranges;
    let drop = 0;
    while (drop < r.length && r[drop] <= end) {
      if (r[drop + 1] > end) end = r[drop + 1];
      drop += 2;
    }
    r.splice(0, drop);
    for (let i = 0; i < r.length; i++) r[i] -= end;
    if (this.#recent.length > 0) {
      this.#recent = this.#recent.map((x) => x - end).filter((x) => x > 0);
    }
    this.#ready += end;
    return end;
  }

  /**
   * Fills `out` with up to `max` SACK blocks as offsets from RCV.NXT: the
   * block holding the most recent segment first, then those of the segments
   * before it, then any other (RFC 2018 4). Returns the count.
   */
  sackBlocks(out: number[], max: number): number {
    const r = this.#ranges;
    let n = 0;
    const used: number[] = [];
    const add = (i: number) => {
      if (n >= max || used.includes(i)) return;
      used.push(i);
      out[2 * n] = r[i];
      out[2 * n + 1] = r[i + 1];
      n++;
    };
    // The blocks of the latest segments, newest first; they repeat the
    // most recently reported ones, as RFC 2018 4 asks.
    for (const at of this.#recent) {
      for (let i = 0; i < r.length; i += 2) if (r[i] <= at && at < r[i + 1]) add(i);
    }
    for (let i = 0; i < r.length; i += 2) add(i);
    return n;
  }

  /**
   * The connection is gone: unless bytes wait for the application, the ring
   * goes back for reuse, with any out-of-order data (never to be readable).
   */
  release(): void {
    if (this.#ready !== 0) return;
    releaseRing(this.#buf);
    this.#buf = EMPTY;
    this.#head = 0;
    this.#ranges.length = this.#recent.length = 0;
  }

  /** Copies up to `dst.length` ready bytes into `dst`; returns the count. */
  read(dst: Uint8Array, dstOff = 0, max = dst.length - dstOff): number {
    const n = Math.min(max, this.#ready);
    const size = this.#buf.length;
    for (let done = 0; done < n;) {
      const run = Math.min(n - done, size - this.#head);
      dst.set(this.#buf.subarray(this.#head, this.#head + run), dstOff + done);
      done += run;
      this.#head = (this.#head + run) % size;
    }
    this.#ready -= n;
    return n;
  }
}
