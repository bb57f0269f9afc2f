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
    this.ssthresh = this.#halved(flightSize);
    // RFC 5681 3.2 inflates by the three duplicates; with SACK, RFC 6675
    // 5 (4.2) counts them in the pipe instead and starts at ssthresh.
    this.cwnd = this.ssthresh + (sack ? 0 : 3 * this.mss);
    this.#acc = 0;
  }

  onTimeout(flightSize: number): void {
    this.hs.stop();
    this.ssthresh = this.#halved(flightSize);
    this.cwnd = this.mss;
    this.#acc = 0;
  }

  onRecoveryEnd(): void {
    this.cwnd = this.ssthresh;
  }

  /**
   * ssthresh after a loss: half the window, as FreeBSD's
   * newreno_cong_signal and Linux's tcp_reno_ssthresh, but never above
   * what was in flight, which is RFC 5681 3.2 eq. 4's FlightSize / 2 taken
   * at its word only when the flight filled the window. The window grows
   * only while half of it is in flight (RFC 7661's validated phase), so
   * it is no window the path never carried, the RFC's reason for the
   * flight; and a flight cut short by the sender's own turnaround (a loop
   * busy writing, its ACKs queued) is no measure of the path either
   * (README, TCP: downloads at 1% loss, about 40% faster).
   */
  #halved(flightSize: number): number {
    return Math.max(Math.min(this.cwnd / 2, flightSize), 2 * this.mss);
  }
  undo(cwnd: number, ssthresh: number): void {
    this.cwnd = Math.max(this.cwnd, cwnd);
    this.ssthresh = Math.max(this.ssthresh, ssthresh);
    this.#acc = 0;
  }
}
