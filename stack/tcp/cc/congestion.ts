/**
 * The congestion-control interface shared by NewReno and CUBIC. Loss
 * recovery itself (fast retransmit, NewReno partial ACKs, SACK recovery)
 * lives in the connection; the algorithm only sizes the window.
 *
 * @module
 */

import type { RateSample } from "./delivery_rate.ts";
import { HyStart } from "./hystart.ts";

/** Which algorithm a connection uses. */
export type CongestionName = "newreno" | "cubic" | "bbr";

/**
 * A congestion-control algorithm: owns `cwnd` and `ssthresh` (bytes).
 *
 * @example
 * ```ts
 * import type { CongestionControl } from "./congestion.ts";
 * import { NewReno } from "./reno.ts";
 * const cc: CongestionControl = new NewReno(1460);
 * cc.onAck(1460, 0, 10);
 * cc.cwnd; // 16060: slow start, one MSS more
 * ```
 */
export interface CongestionControl {
  /** Congestion window in bytes. */
  cwnd: number;
  /** Slow-start threshold in bytes. */
  ssthresh: number;
  /** Whether PRR (RFC 6937) paces fast recovery; if not, recovery sends the window less the pipe. */
  readonly prr: boolean;
  /** The rate to pace data at, bytes per ms, for algorithms that set one (BBR). */
  readonly pacingRate?: number;
  /**
   * Every ACK that delivered data, in recovery too, once loss detection has
   * run: its delivery rate sample, the pipe after it, the time, and the
   * bytes delivered so far. For algorithms that model the path (BBR).
   */
  onRateSample?(rs: RateSample, pipe: number, nowMs: number, delivered: number): void;
  /**
   * An ACK of new data outside recovery, before `onAck`: its RTT sample
   * (ms, -1 for none), the ACK and SND.NXT, for HyStart++'s rounds.
   */
  onRound(rttMs: number, ack: number, sndNxt: number): void;
  /** `acked` new bytes were acknowledged outside loss recovery. */
  onAck(acked: number, nowMs: number, srttMs: number): void;
  /** Loss detected by duplicate ACKs or SACK (`sack`: RFC 6675 recovery follows): set ssthresh and cwnd. */
  onLoss(flightSize: number, nowMs: number, sack: boolean): void;
  /** Retransmission timeout (RFC 5681 3.1 eq. 4, cwnd to one segment). */
  onTimeout(flightSize: number, nowMs: number): void;
  /** An ECN-Echo outside recovery, once per window (RFC 3168 6.1.2): respond as to a loss. */
  onEcnEcho(flightSize: number, nowMs: number): void;
  /** Idle for longer than the RTO: restart from min(cwnd, IW) (RFC 5681 4.1). */
  afterIdle(): void;
  /** Recovery ended (full ACK): deflate to ssthresh (RFC 6582 3.2 step 3). */
  onRecoveryEnd(): void;
  /**
   * The last reduction was for nothing (every retransmission D-SACKed,
   * RFC 3708): go back to the window and threshold from before it.
   */
  undo(cwnd: number, ssthresh: number): void;
}

/**
 * RFC 6928's initial window for a sender MSS (SMSS): min(10·SMSS,
 * max(2·SMSS, 14600)).
 *
 * @example
 * ```ts
 * import { initialWindow } from "./congestion.ts";
 * initialWindow(1448); // 14480
 * initialWindow(536); // 5360
 * initialWindow(8948); // 17896
 * ```
 */
export function initialWindow(mss: number): number {
  return Math.min(10 * mss, Math.max(2 * mss, 14600));
}

/**
 * What NewReno and CUBIC share: the window and threshold, RFC 6928's
 * initial window, slow start (HyStart++ or RFC 3465, see `hystart.ts`) and
 * the restart after idleness. Each algorithm adds its avoidance and loss
 * response.
 *
 * @example
 * ```ts
 * import { NewReno } from "./reno.ts";
 * const cc = new NewReno(1000); // a SlowStartWindow
 * cc.afterIdle();
 * cc.cwnd; // 10000: never above the initial window after idleness
 * ```
 */
export abstract class SlowStartWindow {
  /** Congestion window in bytes. */
  cwnd: number;
  /** Slow-start threshold in bytes. */
  ssthresh: number = Number.MAX_SAFE_INTEGER;
  /** Loss-based windows come down through PRR in recovery. */
  readonly prr = true;
  /** The sender's MSS the window counts in. */
  protected readonly mss: number;
  /** How slow start grows. */
  protected readonly hs: HyStart;

  /** Starts with the RFC 6928 initial window for `mss`; `hs` grows slow start. */
  constructor(mss: number, hs: HyStart = new HyStart(false)) {
    this.mss = mss;
    this.hs = hs;
    this.cwnd = initialWindow(mss);
  }

  /** HyStart++'s rounds (see {@linkcode CongestionControl.onRound}). */
  onRound(rttMs: number, ack: number, sndNxt: number): void {
    if (this.cwnd < this.ssthresh && this.hs.onAck(rttMs, ack, sndNxt)) this.ssthresh = this.cwnd;
  }

  /** Idle for longer than the RTO: restart from min(cwnd, IW) (RFC 5681 4.1). */
  afterIdle(): void {
    this.cwnd = Math.min(this.cwnd, initialWindow(this.mss));
  }

  /** In slow start, grows the window for `acked` bytes and returns true. */
  protected slowStart(acked: number): boolean {
    if (this.cwnd >= this.ssthresh) return false;
    this.cwnd += this.hs.increase(acked, this.mss);
    return true;
  }
}
