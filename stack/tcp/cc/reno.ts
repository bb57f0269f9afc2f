/**
 * NewReno window sizing (RFC 5681 3.1, RFC 6582): slow start by
 * HyStart++ (RFC 9406) or appropriate byte counting (RFC 3465, L = 2),
 * congestion avoidance adding
 * about one MSS per RTT, halving on loss.
 *
 * @module
 */

import { type CongestionControl, SlowStartWindow } from "./congestion.ts";

/**
 * NewReno.
 *
 * @example
 * ```ts
 * import { NewReno } from "./reno.ts";
 * const cc = new NewReno(1000);
 * cc.onAck(1000);
 * cc.cwnd; // 11000: slow start
 * ```
 */
export class NewReno extends SlowStartWindow implements CongestionControl {
  #acc = 0;

  onAck(acked: number): void {
    if (this.slowStart(acked)) return;
    // RFC 5681 3.1 eq. 3 by byte counting: one MSS per cwnd of data acked.
    this.#acc += acked;
    if (this.#acc >= this.cwnd) {
      this.#acc -= this.cwnd;
      this.cwnd += this.mss;
    }
  }

  onLoss(flightSize: number, _nowMs: number, sack: boolean): void {
    this.hs.stop();
    // RFC 5681 3.2 eq. 4.
    this.ssthresh = Math.max(flightSize / 2, 2 * this.mss);
    // RFC 5681 3.2 inflates by the three duplicates; with SACK, RFC 6675
    // 5 (4.2) counts them in the pipe instead and starts at ssthresh.
    this.cwnd = this.ssthresh + (sack ? 0 : 3 * this.mss);
    this.#acc = 0;
  }

  onEcnEcho(flightSize: number, nowMs: number): void {
    this.onLoss(flightSize, nowMs, true); // RFC 3168 6.1.2: halve, no inflation
  }

  onTimeout(flightSize: number): void {
    this.hs.stop();
    this.ssthresh = Math.max(flightSize / 2, 2 * this.mss);
    this.cwnd = this.mss;
    this.#acc = 0;
  }

  onRecoveryEnd(): void {
    this.cwnd = this.ssthresh;
  }
  undo(cwnd: number, ssthresh: number): void {
    this.cwnd = Math.max(this.cwnd, cwnd);
    this.ssthresh = Math.max(this.ssthresh, ssthresh);
    this.#acc = 0;
  }
}
