/**
 * NewReno window sizing (RFC 5681 3.1, RFC 6582): slow start by
 * HyStart++ (RFC 9406) or appropriate byte counting (RFC 3465, L = 2),
 * congestion avoidance adding
 * about one MSS per RTT, halving on loss.
 *
 * @module
 */

import { type CongestionControl, initialWindow } from "./congestion.ts";
import { HyStart } from "./hystart.ts";

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
export class NewReno implements CongestionControl {
  cwnd: number;
  ssthresh = Number.MAX_SAFE_INTEGER;
  #mss: number;
  #acc = 0;

  #hs: HyStart;

  /** Starts with the RFC 6928 initial window for `mss`; `hs` grows slow start. */
  constructor(mss: number, hs: HyStart = new HyStart(false)) {
    this.#mss = mss;
    this.#hs = hs;
    this.cwnd = initialWindow(mss);
  }

  onRound(rttMs: number, ack: number, sndNxt: number): void {
    if (this.cwnd < this.ssthresh && this.#hs.onAck(rttMs, ack, sndNxt)) this.ssthresh = this.cwnd;
  }

  onAck(acked: number): void {
    if (this.cwnd < this.ssthresh) {
      this.cwnd += this.#hs.increase(acked, this.#mss);
      return;
    }
    // RFC 5681 3.1 eq. 3 by byte counting: one MSS per cwnd of data acked.
    this.#acc += acked;
    if (this.#acc >= this.cwnd) {
      this.#acc -= this.cwnd;
      this.cwnd += this.#mss;
    }
  }

  onLoss(flightSize: number, _nowMs: number, sack: boolean): void {
    this.#hs.stop();
    // RFC 5681 3.2 eq. 4.
    this.ssthresh = Math.max(flightSize / 2, 2 * this.#mss);
    // RFC 5681 3.2 inflates by the three duplicates; with SACK, RFC 6675
    // 5 (4.2) counts them in the pipe instead and starts at ssthresh.
    this.cwnd = this.ssthresh + (sack ? 0 : 3 * this.#mss);
    this.#acc = 0;
  }

  onTimeout(flightSize: number): void {
    this.#hs.stop();
    this.ssthresh = Math.max(flightSize / 2, 2 * this.#mss);
    this.cwnd = this.#mss;
    this.#acc = 0;
  }

  afterIdle(): void {
    this.cwnd = Math.min(this.cwnd, initialWindow(this.#mss));
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
