/**
 * BBR (draft-cardwell-iccrg-bbr-congestion-control-00, BBR v1 as Linux's
 * tcp_bbr.c): a model of the path, the bottleneck bandwidth (the largest
 * delivery rate of the last ten rounds) and the round-trip propagation
 * time (the smallest RTT of the last ten seconds), and a window of twice
 * their product (rounds without a sample the filter may take, such as
 * an application's pauses, age nothing). A random loss does not shrink the model, so a lossy path
 * keeps its rate where NewReno and CUBIC halve or cut to 0.7 at every
 * loss; the kernel this stack is measured against runs BBR by default.
 *
 * States: STARTUP grows the window by what each ACK delivers (gain 2/ln 2)
 * until three rounds raise the bandwidth by less than a quarter; DRAIN
 * lets the queue that built go; PROBE_BW holds the window at two
 * bandwidth-delay products; PROBE_RTT, when the minimum RTT is ten seconds
 * old, keeps four segments in flight for 200 ms and a round to measure it
 * again. Fast recovery conserves packets for its first round (the window
 * is what is in flight plus what was delivered), then grows back, and its
 * end restores the window from before it. On top of two bandwidth-delay
 * products the window holds three send bursts and what ACK aggregation
 * needs (Linux's extra_acked).
 *
 * The pacing rate (see `pacing.ts`) is the bandwidth times a gain, less
 * 1%: 2/ln 2 in STARTUP (where it never falls), its inverse in DRAIN, 1
 * in PROBE_RTT, and in PROBE_BW a cycle of eight phases of a minimum RTT
 * each, 1.25 to probe for more bandwidth (until the pipe holds 1.25
 * BDPs or a loss), 0.75 to drain what that queued (until the pipe is
 * one BDP), then six at 1. Unpaced, the window's second bandwidth-delay
 * product is what probes for more.
 *
 * @module
 */

import type { CongestionControl } from "./congestion.ts";
import { initialWindow } from "./congestion.ts";
import type { RateSample } from "./delivery_rate.ts";

/** 2/ln 2: the smallest gain that doubles the delivery rate each round. */
const HIGH_GAIN = 2 / Math.LN2;
/** The window in PROBE_BW, in bandwidth-delay products. */
const CWND_GAIN = 2;
/** Rounds the bandwidth filter remembers. */
const BW_ROUNDS = 10;
/** How long a minimum RTT stays valid, ms. */
const MIN_RTT_WINDOW_MS = 10_000;
/** Time PROBE_RTT holds its small window, ms. */
const PROBE_RTT_MS = 200;
/** Growth under which STARTUP counts a round as flat. */
const FULL_BW_GROWTH = 1.25;
/** Flat rounds that end STARTUP. */
const FULL_BW_ROUNDS = 3;
/** The smallest window, in segments. */
const MIN_CWND_SEGMENTS = 4;
/** Largest send burst the window leaves room for, three times (Linux's quantization budget). */
const MAX_QUANTUM = 65536;
/** Rounds each of the two ACK-aggregation maxima covers (Linux's bbr_extra_acked_win_rtts). */
const EXTRA_ACKED_ROUNDS = 5;
/** Most time's worth of bandwidth the aggregation allowance may add, ms (bbr_extra_acked_max_us). */
const EXTRA_ACKED_MAX_MS = 100;
/** PROBE_BW's pacing gains, a phase per minimum RTT (Linux's bbr_pacing_gain). */
const PROBE_BW_GAINS = [1.25, 0.75, 1, 1, 1, 1, 1, 1];
/** Paced this much below the estimate, so that a queue its errors build drains (bbr_pacing_margin_percent). */
const PACING_MARGIN = 0.99;
/** The round trip the first pacing rate assumes before any sample, ms (as Linux without an SRTT). */
const INITIAL_RTT_MS = 1;

/** BBR's state machine. */
export type BbrMode = "startup" | "drain" | "probe_bw" | "probe_rtt";

/**
 * BBR.
 *
 * @example
 * ```ts
 * import { Bbr } from "./bbr.ts";
 * const cc = new Bbr(1000);
 * cc.mode; // "startup"
 * // An ACK delivered 10,000 bytes sent 1 ms ago, over a 1 ms interval.
 * cc.onRateSample({
 *   newlyDelivered: 10_000, delivered: 10_000, interval: 1, rate: 10_000,
 *   rtt: 1, priorDelivered: 0, appLimited: false,
 * }, 0, 1, 10_000);
 * cc.bandwidth; // 10000: bytes per ms
 * cc.cwnd; // 20000: in STARTUP, every delivered byte adds one
 * ```
 */
export class Bbr implements CongestionControl {
  /** Congestion window in bytes. */
  cwnd: number;
  /** Unused by BBR's own window; kept at "none" for the interface. */
  ssthresh: number = Number.MAX_SAFE_INTEGER;
  /** BBR sizes the window in recovery itself. */
  readonly prr = false;
  /** Where the state machine is. */
  mode: BbrMode = "startup";
  readonly #mss: number;
  // The bandwidth filter: the largest rate seen in each of the last rounds.
  readonly #bwRound = new Array<number>(BW_ROUNDS).fill(-1);
  readonly #bwValue = new Array<number>(BW_ROUNDS).fill(0);
  #round = 0;
  /** The last round the filter took a sample in: ten rounds back from it count. */
  #bwLatest = 0;
  #nextRoundDelivered = 0;
  #minRtt = Infinity;
  #minRttAt = 0;
  #fullBw = 0;
  #fullBwRounds = 0;
  #filled = false;
  #priorCwnd = 0;
  /** Recovery's first round: the window follows what is in flight. */
  #conservation = false;
  #enteredRecovery = false;
  #probeRttDoneAt = 0;
  #probeRttRoundDone = false;
  // ACK aggregation (Linux's bbr_update_ack_aggregation): the most data
  // delivered beyond what the bandwidth explains, in two windows of rounds.
  readonly #extraAcked = [0, 0];
  #extraIdx = 0;
  #extraRounds = 0;
  #epochAt = -1;
  #epochAcked = 0;
  // PROBE_BW's gain cycle.
  #cycleIdx = 0;
  #cycleAt = 0;
  #cycleLoss = false;
  #pacingRate: number;
  #seenRtt = false;

  /** Starts in STARTUP with RFC 6928's initial window for `mss`. */
  constructor(mss: number) {
    this.#mss = mss;
    this.cwnd = initialWindow(mss);
    this.#pacingRate = (HIGH_GAIN * this.cwnd) / INITIAL_RTT_MS;
  }

  /** The rate to pace at, bytes per ms. */
  get pacingRate(): number {
    return this.#pacingRate;
  }

  /** The gain on the bandwidth that the pacing rate has now. */
  get pacingGain(): number {
    switch (this.mode) {
      case "startup":
        return HIGH_GAIN;
      case "drain":
        return 1 / HIGH_GAIN;
      case "probe_bw":
        return PROBE_BW_GAINS[this.#cycleIdx];
      default:
        return 1;
    }
  }

  /** Estimated bottleneck bandwidth, bytes per ms (0 before a sample). */
  get bandwidth(): number {
    let best = 0;
    for (let i = 0; i < BW_ROUNDS; i++) {
      if (this.#bwRound[i] > this.#bwLatest - BW_ROUNDS && this.#bwValue[i] > best) {
        best = this.#bwValue[i];
      }
    }
    return best;
  }

  /** Estimated round-trip propagation time, ms (Infinity before a sample). */
  get minRtt(): number {
    return this.#minRtt;
  }

  /** BBR reads rate samples, not HyStart++'s rounds. */
  onRound(): void {}
  /** BBR's window moves in `onRateSample`, recovery included. */
  onAck(): void {}

  /**
   * One ACK's rate sample with `pipe` bytes in flight after it, at `now`;
   * `delivered` is the connection's total so far.
   */
  onRateSample(rs: RateSample, pipe: number, now: number, delivered: number): void {
    const roundStart = rs.priorDelivered >= this.#nextRoundDelivered;
    if (roundStart) {
      this.#nextRoundDelivered = delivered;
      this.#round++;
      this.#conservation = false;
    }
    // Recovery's conservation lasts until data sent from now on is delivered.
    if (this.#enteredRecovery) {
      this.#nextRoundDelivered = delivered;
      this.#conservation = true;
    }
    this.#updateBandwidth(rs, roundStart);
    this.#updateAckAggregation(rs, now, roundStart);
    this.#updateCyclePhase(pipe, now);
    this.#updateMinRtt(rs, pipe, now, roundStart);
    if (this.mode === "startup" && this.#filled) this.mode = "drain";
    if (this.mode === "drain" && pipe <= this.#bdp(1)) this.#enterProbeBw(now);
    this.#setPacingRate(rs.rtt);
    this.#setCwnd(rs, pipe, delivered);
  }

  /** Fast recovery begins: packet conservation for a round (Linux's bbr_set_cwnd_to_recover_or_restore). */
  onLoss(): void {
    this.#cycleLoss = true;
    this.#saveCwnd();
    this.#conservation = true;
    this.#enteredRecovery = true;
  }

  /** ECN does not steer BBR's model, as in Linux's BBR (v1): no reduction. */
  onEcnEcho(): void {}

  /** A timeout: one segment, STARTUP's growth back to the model; the flatness count restarts. */
  onTimeout(): void {
    this.#saveCwnd();
    this.cwnd = this.#mss;
    this.#fullBw = 0;
    this.#fullBwRounds = 0;
  }

  /** Idle for longer than the RTO: restart from min(cwnd, IW) (RFC 5681 4.1, as Linux for every algorithm). */
  afterIdle(): void {
    this.cwnd = Math.min(this.cwnd, initialWindow(this.#mss));
  }

  /** Recovery ended: the window from before it comes back. */
  onRecoveryEnd(): void {
    this.#conservation = this.#enteredRecovery = false;
    this.cwnd = Math.max(this.cwnd, this.#priorCwnd);
  }

  /** The reduction was for nothing: back to the window before it. */
  undo(cwnd: number): void {
    this.cwnd = Math.max(this.cwnd, cwnd);
  }

  #saveCwnd(): void {
    this.#priorCwnd = this.mode === "probe_rtt" || this.#conservation
      ? Math.max(this.#priorCwnd, this.cwnd)
      : this.cwnd;
  }

  #bdp(gain: number): number {
    const bw = this.bandwidth;
    if (bw === 0 || this.#minRtt === Infinity) return initialWindow(this.#mss);
    return gain * bw * this.#minRtt;
  }

  /** Room for a send burst: a millisecond's data (Linux's TSO goal), 2 segments to 64 KiB. */
  get #quantum(): number {
    return Math.min(MAX_QUANTUM, Math.max(2 * this.#mss, this.bandwidth));
  }

  /** What `gain` BDPs put in flight, bursts included (Linux's bbr_inflight). */
  #inflight(gain: number): number {
    return this.#bdp(gain) + 3 * this.#quantum;
  }

  /**
   * PROBE_BW starts at a phase of the cycle picked from the clock (Linux
   * picks at random), never at 0.75, so flows that started together do
   * not probe together.
   */
  #enterProbeBw(now: number): void {
    this.mode = "probe_bw";
    const start = Math.floor(now * 1000) % (PROBE_BW_GAINS.length - 1);
    this.#cycleIdx = (2 + start) % PROBE_BW_GAINS.length;
    this.#cycleAt = now;
    this.#cycleLoss = false;
  }

  /** The next phase of the cycle once this one has run its course (Linux's bbr_is_next_cycle_phase). */
  #updateCyclePhase(pipe: number, now: number): void {
    if (this.mode !== "probe_bw") return;
    const gain = PROBE_BW_GAINS[this.#cycleIdx];
    const fullLength = now - this.#cycleAt > this.#minRtt;
    const next = gain > 1
      ? fullLength && (this.#cycleLoss || pipe >= this.#inflight(gain))
      : gain < 1
      ? fullLength || pipe <= this.#inflight(1)
      : fullLength;
    if (!next) return;
    this.#cycleIdx = (this.#cycleIdx + 1) % PROBE_BW_GAINS.length;
    this.#cycleAt = now;
    this.#cycleLoss = false;
  }

  /**
   * Linux's bbr_set_pacing_rate: the first RTT sample replaces the
   * initial rate's guess of 1 ms; STARTUP only raises the rate after it,
   * its bandwidth still growing.
   */
  #setPacingRate(rtt: number): void {
    if (!this.#seenRtt && rtt > 0) {
      this.#seenRtt = true;
      this.#pacingRate = (HIGH_GAIN * this.cwnd) / rtt;
    }
    const bw = this.bandwidth;
    if (bw === 0) return;
    const rate = this.pacingGain * bw * PACING_MARGIN;
    if (this.#filled || rate > this.#pacingRate) this.#pacingRate = rate;
  }

  #updateBandwidth(rs: RateSample, roundStart: boolean): void {
    // An application-limited sample only counts when it still beats the
    // estimate: it shows at least that much, never that the path is slower.
    if (rs.rate > 0 && (!rs.appLimited || rs.rate >= this.bandwidth)) {
      const slot = this.#round % BW_ROUNDS;
      this.#bwLatest = this.#round;
      if (this.#bwRound[slot] !== this.#round) {
        this.#bwRound[slot] = this.#round;
        this.#bwValue[slot] = 0;
      }
      if (rs.rate > this.#bwValue[slot]) this.#bwValue[slot] = rs.rate;
    }
    // STARTUP ends when three rounds in a row grew the bandwidth by less than a quarter.
    if (this.#filled || !roundStart || rs.appLimited) return;
    const bw = this.bandwidth;
    if (bw >= this.#fullBw * FULL_BW_GROWTH) {
      this.#fullBw = bw;
      this.#fullBwRounds = 0;
    } else if (++this.#fullBwRounds >= FULL_BW_ROUNDS) this.#filled = true;
  }

  /**
   * ACKs that come in bursts, as when the peer's ACKs wait while this
   * stack's thread writes (or a receiver stretches them), deliver more at
   * once than the bandwidth explains and then nothing: the window gets
   * that excess on top, so sending does not stall in the silences. Without
   * it the window of two bandwidth-delay products, measured on the rare
   * fast round trip, falls short of what is in flight on the usual slow
   * one, and the delivery rate, and with it the window, shrinks further.
   */
  #updateAckAggregation(rs: RateSample, now: number, roundStart: boolean): void {
    if (roundStart && ++this.#extraRounds >= EXTRA_ACKED_ROUNDS) {
      this.#extraRounds = 0;
      this.#extraIdx ^= 1;
      this.#extraAcked[this.#extraIdx] = 0;
    }
    const expected = this.#epochAt < 0 ? 0 : this.bandwidth * (now - this.#epochAt);
    // A new epoch once ACKs come no faster than the bandwidth says.
    if (this.#epochAt < 0 || this.#epochAcked <= expected) {
      this.#epochAt = now;
      this.#epochAcked = 0;
    }
    this.#epochAcked += rs.newlyDelivered;
    const extra = Math.min(
      this.#epochAcked - (this.#epochAt === now ? 0 : expected),
      this.cwnd,
    );
    if (extra > this.#extraAcked[this.#extraIdx]) this.#extraAcked[this.#extraIdx] = extra;
  }

  /** The window's allowance for ACK aggregation, bytes (once STARTUP is over, as Linux). */
  get #aggregationAllowance(): number {
    if (!this.#filled) return 0;
    const extra = Math.max(this.#extraAcked[0], this.#extraAcked[1]);
    return Math.min(extra, this.bandwidth * EXTRA_ACKED_MAX_MS);
  }

  #updateMinRtt(rs: RateSample, pipe: number, now: number, roundStart: boolean): void {
    // No estimate yet is not an old one (Linux stamps it at init): a
    // connection opened after the stack's clock passed 10 s must not start
    // in PROBE_RTT, four segments for 200 ms.
    const expired = this.#minRtt !== Infinity && now - this.#minRttAt > MIN_RTT_WINDOW_MS;
    if (rs.rtt >= 0 && (rs.rtt < this.#minRtt || expired)) {
      this.#minRtt = rs.rtt;
      this.#minRttAt = now;
    }
    if (expired && this.mode !== "probe_rtt") {
      this.#saveCwnd();
      this.mode = "probe_rtt";
      this.#probeRttDoneAt = 0;
    }
    if (this.mode !== "probe_rtt") return;
    if (this.#probeRttDoneAt === 0) {
      if (pipe <= MIN_CWND_SEGMENTS * this.#mss) {
        this.#probeRttDoneAt = now + PROBE_RTT_MS;
        this.#probeRttRoundDone = false;
      }
      return;
    }
    if (roundStart) this.#probeRttRoundDone = true;
    if (this.#probeRttRoundDone && now >= this.#probeRttDoneAt) {
      this.#minRttAt = now;
      this.cwnd = Math.max(this.cwnd, this.#priorCwnd);
      if (this.#filled) this.#enterProbeBw(now);
      else this.mode = "startup";
    }
  }

  #setCwnd(rs: RateSample, pipe: number, delivered: number): void {
    const mss = this.#mss;
    const acked = rs.newlyDelivered;
    const gain = this.mode === "startup" || this.mode === "drain" ? HIGH_GAIN : CWND_GAIN;
    const target = Math.max(
      this.#inflight(gain) + this.#aggregationAllowance,
      MIN_CWND_SEGMENTS * mss,
    );
    let cwnd = this.cwnd;
    if (this.#enteredRecovery) {
      this.#enteredRecovery = false;
      cwnd = pipe + acked;
    }
    if (this.#conservation) cwnd = Math.max(cwnd, pipe + acked);
    else if (this.#filled) cwnd = Math.min(cwnd + acked, target);
    else if (cwnd < target || delivered < initialWindow(mss)) cwnd += acked;
    cwnd = Math.max(cwnd, MIN_CWND_SEGMENTS * mss);
    if (this.mode === "probe_rtt") cwnd = Math.min(cwnd, MIN_CWND_SEGMENTS * mss);
    this.cwnd = cwnd;
  }
}
