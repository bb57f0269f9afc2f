/**
 * Proportional Rate Reduction (RFC 6937): how much a sender in fast
 * recovery may send on each ACK, so that cwnd comes down to ssthresh
 * smoothly over a round trip instead of in one step (and a burst after it),
 * and, once pipe is below ssthresh, grows back no faster than slow start
 * (the slow-start reduction bound).
 *
 * @module
 */

/**
 * PRR's state for one recovery.
 *
 * @example
 * ```ts
 * import { Prr } from "./prr.ts";
 * const p = new Prr();
 * p.start(10_000); // RecoverFS: 10 segments of 1000 in flight
 * // ssthresh 5000: half of what is delivered may be sent while pipe > ssthresh.
 * p.onAck(1000, 9000, 5000, 1000); // 500
 * p.onAck(1000, 8000, 5000, 1000); // 1000
 * ```
 */
export class Prr {
  #delivered = 0;
  #out = 0;
  #recoverFs = 1;
  /** Bytes the sender may send now (sndcnt, less what it sent since). */
  quota = 0;

  /** Recovery starts with `flightSize` bytes in flight (RecoverFS). */
  start(flightSize: number): void {
    this.#delivered = 0;
    this.#out = 0;
    this.#recoverFs = Math.max(1, flightSize);
    this.quota = 0;
  }

  /**
   * An ACK delivered `delivered` bytes (cumulatively or by SACK), with
   * `pipe` bytes now in flight. Returns and keeps the new quota.
   */
  onAck(delivered: number, pipe: number, ssthresh: number, mss: number): number {
    this.#delivered += delivered;
    let sndcnt;
    if (pipe > ssthresh) {
      // Proportional part: send ssthresh/RecoverFS of what was delivered.
      sndcnt = Math.ceil((this.#delivered * ssthresh) / this.#recoverFs) - this.#out;
    } else {
      // Slow-start reduction bound (PRR-SSRB).
      const limit = Math.max(this.#delivered - this.#out, delivered) + mss;
      sndcnt = Math.min(ssthresh - pipe, limit);
    }
    this.quota = Math.max(sndcnt, 0);
    return this.quota;
  }

  /**
   * Bytes that may go now in segments of `mss`: any quota at all allows one
   * whole segment (as Linux's PRR counts in packets, rounding up), since a
   * quota smaller than a segment would wait for an ACK that may not come.
   */
  allowance(mss: number): number {
    return this.quota > 0 ? Math.max(this.quota, mss) : 0;
  }

  /** `len` bytes were sent (new or retransmitted) in recovery. */
  sent(len: number): void {
    this.#out += len;
    this.quota = Math.max(0, this.quota - len);
  }
}
