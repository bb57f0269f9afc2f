/**
 * HyStart++ (RFC 9406): leaves slow start when the RTT starts to grow,
 * before the queue it fills overflows. Each round (a window's worth of
 * data, ended by the ACK for the SND.NXT the round started at) keeps its
 * minimum RTT; once a round's minimum exceeds the last one's by
 * max(4 ms, min(last / 8, 16 ms)), growth drops to a quarter
 * (Conservative Slow Start); five CSS rounds later slow start is over
 * (ssthresh = cwnd). An RTT back below where CSS began means the rise was
 * noise, and slow start resumes. Only the first slow start uses it (RFC
 * 9406 4.2); a loss or timeout ends it.
 *
 * @module
 */

import { seqGe } from "../seq.ts";

// RFC 9406 4.3's constants; L = 8 since we do not pace.
const MIN_RTT_THRESH = 4;
const MAX_RTT_THRESH = 16;
const MIN_RTT_DIVISOR = 8;
const N_RTT_SAMPLE = 8;
const CSS_GROWTH_DIVISOR = 4;
const CSS_ROUNDS = 5;
const L = 8;
// RFC 3465 2.2's limit per ACK for slow starts without HyStart++.
const ABC_L = 2;

/** Where a connection's slow start is. */
export type SlowStartPhase = "hystart" | "css" | "standard";

/** What HyStart++ did, for the stack's counters. */
export interface HyStartCounters {
  /** Slow starts that turned conservative on a rising RTT. */
  cssEntered: number;
  /** ... and went back to slow start: the rise was noise. */
  cssSpurious: number;
  /** Slow starts HyStart++ ended (ssthresh = cwnd) without a loss. */
  exits: number;
}

/**
 * The slow-start growth of one connection.
 *
 * @example
 * ```ts
 * import { HyStart } from "./hystart.ts";
 * const hs = new HyStart(true);
 * hs.increase(20_000, 1000); // 8000: L = 8 segments per ACK
 * hs.phase; // "hystart"
 * ```
 */
export class HyStart {
  /** The phase: HyStart++'s slow start, its CSS, or plain slow start. */
  phase: SlowStartPhase;
  /** Counters to bump, if the stack keeps them. */
  counters: HyStartCounters | undefined;
  #windowEnd = -1;
  #lastMin = Infinity;
  #currentMin = Infinity;
  #samples = 0;
  #cssBaseline = Infinity;
  #cssRounds = 0;

  /** HyStart++ for the initial slow start when `enabled`, else RFC 3465's. */
  constructor(enabled: boolean, counters?: HyStartCounters) {
    this.phase = enabled ? "hystart" : "standard";
    this.counters = counters;
  }

  /** The slow-start increase of cwnd for an ACK of `acked` new bytes. */
  increase(acked: number, mss: number): number {
    if (this.phase === "standard") return Math.min(acked, ABC_L * mss);
    const n = Math.min(acked, L * mss);
    return this.phase === "css" ? n / CSS_GROWTH_DIVISOR : n;
  }

  /**
   * Per ACK of new data in slow start: its RTT sample (ms, or -1 for
   * none), the ACK and SND.NXT. Returns true when slow start ends here,
   * and the caller sets ssthresh to cwnd.
   */
  onAck(rttMs: number, ack: number, sndNxt: number): boolean {
    if (this.phase === "standard") return false;
    if (this.#windowEnd === -1 || seqGe(ack, this.#windowEnd)) {
      // A new round.
      this.#windowEnd = sndNxt;
      this.#lastMin = this.#currentMin;
      this.#currentMin = Infinity;
      this.#samples = 0;
      if (this.phase === "css" && ++this.#cssRounds >= CSS_ROUNDS) {
        this.phase = "standard";
        if (this.counters) this.counters.exits++;
        return true;
      }
    }
    if (rttMs < 0) return false;
    this.#currentMin = Math.min(this.#currentMin, rttMs);
    this.#samples++;
    if (this.#samples < N_RTT_SAMPLE) return false;
    if (this.phase === "hystart") {
      if (this.#lastMin === Infinity) return false;
      const thresh = Math.max(
        MIN_RTT_THRESH,
        Math.min(this.#lastMin / MIN_RTT_DIVISOR, MAX_RTT_THRESH),
      );
      if (this.#currentMin >= this.#lastMin + thresh) {
        this.#cssBaseline = this.#currentMin;
        this.#cssRounds = 0;
        this.phase = "css";
        if (this.counters) this.counters.cssEntered++;
      }
    } else if (this.#currentMin < this.#cssBaseline) {
      this.#cssBaseline = Infinity;
      this.phase = "hystart";
      if (this.counters) this.counters.cssSpurious++;
    }
    return false;
  }

  /** A loss or timeout: later slow starts are RFC 3465's. */
  stop(): void {
    this.phase = "standard";
  }
}
