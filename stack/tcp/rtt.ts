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

/** Largest RTO in ms (RFC 6298 2.5). */
export const RTO_MAX_MS = 60_000;

/** RFC 6298 5.7: the RTO once data begins after a SYN timed out unmeasured. */
export const RTO_AFTER_SYN_TIMEOUT_MS = 3000;

/** The timer's bounds (FreeBSD's rexmit_min, rexmit_slop and rexmit_initial). */
export interface RtoSettings {
  /** Smallest RTO, ms. */
  rtoMinMs: number;
  /** Added to every computed RTO, ms: room for the peer's timer granularity and delayed ACK. */
  rtoSlopMs: number;
  /** RTO before any sample, ms (RFC 6298 2.1). */
  rtoInitialMs: number;
}

/**
 * The RTT estimator of one connection.
 *
 * @example
 * ```ts
 * import { RttEstimator } from "./rtt.ts";
 * const r = new RttEstimator({ rtoMinMs: 200, rtoSlopMs: 0, rtoInitialMs: 1000 });
 * r.sample(10);
 * r.rto; // 200: 10 + 4 * 5 is below the floor
 * ```
 */
export class RttEstimator {
  /** Smoothed RTT (ms), 0 before the first sample. */
  srtt = 0;
  /** Whether any sample was taken (a 0 ms RTT is a real sample). */
  sampled = false;
  /**
   * Smallest sample (ms) of the connection's life, Infinity before the
   * first (Linux windows it over 5 minutes; a path that lengthens keeps
   * the smaller figure here).
   */
  min = Infinity;
  /** RTT variation (ms). */
  rttvar = 0;
  /** Current RTO (ms), including back-off. */
  rto: number;
  /** Times the timer backed off since the last sample. */
  backoff = 0;
  #base: number;
  #settings: RtoSettings;

  /** An estimator with the stack's bounds (read at each sample, so changes apply). */
  constructor(settings: RtoSettings) {
    this.#settings = settings;
    this.rto = this.#base = Math.min(RTO_MAX_MS, settings.rtoInitialMs);
  }

  /** Folds in one measurement (ms). */
  sample(r: number): void {
    if (r < 0) return;
    if (r < this.min) this.min = r;
    if (!this.sampled) {
      this.sampled = true;
      this.srtt = r;
      this.rttvar = r / 2;
    } else {
      this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.srtt - r);
      this.srtt = 0.875 * this.srtt + 0.125 * r;
    }
    const { rtoMinMs, rtoSlopMs } = this.#settings;
    this.#base = Math.min(
      RTO_MAX_MS,
      Math.max(rtoMinMs, this.srtt + Math.max(1, 4 * this.rttvar) + rtoSlopMs),
    );
    this.backoff = 0;
    this.rto = this.#base;
  }

  /**
   * RFC 6298 5.7: the SYN was retransmitted and no RTT was measured, so
   * data starts with an RTO of 3 s (the peer or path is slow to answer).
   */
  afterSynTimeout(): void {
    if (this.sampled) return;
    this.backoff = 0;
    this.rto = this.#base = Math.max(this.#base, RTO_AFTER_SYN_TIMEOUT_MS);
  }

  /** Doubles the RTO after a timeout (RFC 6298 5.5). */
  backOff(): void {
    this.backoff++;
    this.rto = Math.min(RTO_MAX_MS, this.rto * 2);
  }
}
