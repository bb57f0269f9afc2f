/**
 * Retransmission timeout per RFC 6298: SRTT/RTTVAR smoothing (2.2, 2.3),
 * minimum RTO (2.4), exponential back-off (5.5) capped at 60 s (2.5).
 * Karn's rule (3) is the caller's: it samples only segments that were not
 * retransmitted, or uses timestamps (RFC 7323 4.1), which are unambiguous.
 *
 * The minimum is 200 ms, not RFC 6298's 1 s: like Linux and FreeBSD, we
 * trust the timer granularity and delayed-ACK bound (≤ 200 ms, RFC 9293
 * 3.8.6.3) of today's peers, and a 1 s floor would make every loss on a
 * sub-millisecond TUN link stall the connection for a second.
 *
 * @module
 */

/** Smallest RTO in ms. */
export const RTO_MIN_MS = 200;
/** Largest RTO in ms. */
export const RTO_MAX_MS = 60_000;
/** RTO before any sample (RFC 6298 2.1). */
export const RTO_INITIAL_MS = 1000;

/**
 * The RTT estimator of one connection.
 *
 * @example
 * ```ts
 * import { RttEstimator } from "./rtt.ts";
 * const r = new RttEstimator();
 * r.sample(10);
 * r.rto; // 200: 10 + 4 * 5 is below the floor
 * ```
 */
export class RttEstimator {
  /** Smoothed RTT (ms), 0 before the first sample. */
  srtt = 0;
  /** RTT variation (ms). */
  rttvar = 0;
  /** Current RTO (ms), including back-off. */
  rto = RTO_INITIAL_MS;
  /** Times the timer backed off since the last sample. */
  backoff = 0;
  #base = RTO_INITIAL_MS;

  /** Folds in one measurement (ms). */
  sample(r: number): void {
    if (r < 0) return;
    if (this.srtt === 0) {
      this.srtt = r;
      this.rttvar = r / 2;
    } else {
      this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.srtt - r);
      this.srtt = 0.875 * this.srtt + 0.125 * r;
    }
    this.#base = Math.min(
      RTO_MAX_MS,
      Math.max(RTO_MIN_MS, this.srtt + Math.max(1, 4 * this.rttvar)),
    );
    this.backoff = 0;
    this.rto = this.#base;
  }

  /** Doubles the RTO after a timeout (RFC 6298 5.5). */
  backOff(): void {
    this.backoff++;
    this.rto = Math.min(RTO_MAX_MS, this.rto * 2);
  }
}
