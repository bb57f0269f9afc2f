/**
 * CUBIC window sizing (RFC 9438): cubic growth around the window at the
 * last loss (4.2), the Reno-friendly region (4.3), multiplicative decrease
 * by beta = 0.7 (4.6) and fast convergence (4.7). Slow start as NewReno's
 * (HyStart++, RFC 9406 4.1 and RFC 9438 4.10).
 *
 * @module
 */

import { type CongestionControl, SlowStartWindow } from "./congestion.ts";

const C = 0.4;
const BETA = 0.7;

/**
 * CUBIC.
 *
 * @example
 * ```ts
 * import { Cubic } from "./cubic.ts";
 * const cc = new Cubic(1000);
 * cc.onLoss(20000, 0, true);
 * cc.ssthresh; // 14000
 * ```
 */
export class Cubic extends SlowStartWindow implements CongestionControl {
  #wMax = 0; // segments
  #k = 0; // seconds
  #epoch = -1; // ms, start of the current avoidance epoch
  #wEst = 0; // segments, Reno-friendly estimate
  #lastWMax = 0;

  onAck(acked: number, nowMs: number, srttMs: number): void {
    if (this.slowStart(acked)) return;
    const mss = this.mss;
    const cwndSeg = this.cwnd / mss;
    if (this.#epoch < 0) {
      this.#epoch = nowMs;
      if (this.#wMax < cwndSeg) {
        this.#k = 0;
        this.#wMax = cwndSeg;
      } else {
        this.#k = Math.cbrt((this.#wMax - cwndSeg) / C); // RFC 9438 eq. 2
      }
      this.#wEst = cwndSeg;
    }
    const t = (nowMs - this.#epoch + srttMs) / 1000;
    const target = C * (t - this.#k) ** 3 + this.#wMax; // eq. 1
    // eq. 4: Reno-friendly estimate, alpha = 3(1-beta)/(1+beta).
    this.#wEst += ((3 * (1 - BETA)) / (1 + BETA)) * (acked / mss) / cwndSeg;
    let next = target;
    if (this.#wEst > target) next = this.#wEst;
    // 4.4/4.5: grow by (target - cwnd)/cwnd per segment acked, bounded.
    const limit = Math.min(next, 1.5 * cwndSeg);
    if (limit > cwndSeg) this.cwnd += ((limit - cwndSeg) / cwndSeg) * acked;
  }

  onLoss(_flightSize: number, _nowMs: number, _sack: boolean): void {
    this.hs.stop();
    const cwndSeg = this.cwnd / this.mss;
    // 4.7 fast convergence.
    this.#wMax = cwndSeg < this.#lastWMax ? (cwndSeg * (1 + BETA)) / 2 : cwndSeg;
    this.#lastWMax = cwndSeg;
    this.ssthresh = Math.max(this.cwnd * BETA, 2 * this.mss);
    this.cwnd = this.ssthresh;
    this.#epoch = -1;
  }

  onEcnEcho(flightSize: number, nowMs: number): void {
    this.onLoss(flightSize, nowMs, true); // RFC 9438 4.6: ECN is congestion, as a loss
  }

  onTimeout(flightSize: number, nowMs: number): void {
    this.onLoss(flightSize, nowMs, false);
    this.cwnd = this.mss;
  }

  override afterIdle(): void {
    super.afterIdle();
    this.#epoch = -1; // the cubic curve restarts from here
  }

  onRecoveryEnd(): void {
    this.cwnd = Math.max(this.cwnd, this.ssthresh);
  }
  undo(cwnd: number, ssthresh: number): void {
    this.cwnd = Math.max(this.cwnd, cwnd);
    this.ssthresh = Math.max(this.ssthresh, ssthresh);
    this.#wMax = Math.max(this.#wMax, cwnd / this.mss); // RFC 9438 4.9
    this.#epoch = -1;
  }
}
