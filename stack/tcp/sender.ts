/**
 * The sending half of a connection (gVisor's `sender`): the send sequence
 * variables of RFC 9293 3.3.1, the send buffer, and what decides when a
 * byte goes out again: the RTT estimator, congestion control and loss
 * recovery's state. Only output, the ACK processing of input, the timers
 * and the user's SEND and CLOSE change it.
 *
 * @module
 */

import type { TcpConfig } from "./config.ts";
import type { CongestionControl } from "./cc/congestion.ts";
import { Bbr } from "./cc/bbr.ts";
import { Cubic } from "./cc/cubic.ts";
import { HyStart, type HyStartCounters } from "./cc/hystart.ts";
import { NewReno } from "./cc/reno.ts";
import { grownCapacity, RoundTripMeter } from "./buffers/autosize.ts";
import { SendBuffer } from "./buffers/send_buffer.ts";
import { Prr } from "./loss/prr.ts";
import { Rack } from "./loss/rack.ts";
import { SackScoreboard } from "./loss/sack.ts";
import { RttEstimator } from "./rtt.ts";

/**
 * What the sender owns.
 *
 * @example
 * ```ts
 * import { Sender } from "./sender.ts";
 * import { DEFAULT_TCP_CONFIG } from "./config.ts";
 * const snd = new Sender(DEFAULT_TCP_CONFIG, 1460);
 * snd.iss = snd.una = snd.nxt = snd.max = snd.bufSeq = 1000;
 * snd.dataEnd; // 1000: nothing queued
 * snd.cc.cwnd; // 14600: RFC 6928's initial window
 * snd.pipe; // 0: nothing in flight
 * ```
 */
export class Sender {
  /** Initial send sequence number. */
  iss = 0;
  /** SND.UNA: oldest unacknowledged sequence number. */
  una = 0;
  /** SND.NXT: next sequence number to send. */
  nxt = 0;
  /** Highest sequence number sent (snd_max in BSD). */
  max = 0;
  /** SND.WND: the peer's window, scaled. */
  wnd = 0;
  /** Largest window the peer offered (RFC 5961 5.2 MAX.SND.WND). */
  maxWnd = 0;
  /** SND.WL1: segment sequence number of the last window update. */
  wl1 = 0;
  /** SND.WL2: segment ack number of the last window update. */
  wl2 = 0;
  /** Shift applied to the peer's window field. */
  scale = 0;
  /** Our MSS for sending: min(peer MSS, our link, the path). */
  mss = 536;
  /** The peer has acknowledged our SYN. */
  synAcked = false;
  /** Sequence number of the first byte in `buf`. */
  bufSeq = 0;
  /** The application closed its write side: a FIN follows the data. */
  finQueued = false;
  /** Bytes waiting to be sent or acknowledged. */
  readonly buf: SendBuffer;
  /** End of the last short data segment sent (Minshall's Nagle). */
  smallEnd = 0;
  /** A partial TSO packet waits for the end of the turn (autocorking, see `tcpOutput`). */
  corkedTail = false;
  /** The pacing clock: when the next data segment may leave, ms (see `pacing.ts`). */
  nextSendAt = 0;

  /** RTT estimator. */
  readonly rtt: RttEstimator;
  /** Sequence number being timed without timestamps, or -1 (Karn). */
  rttSeq = -1;
  /** When `rttSeq` was sent. */
  rttSentAt = 0;
  /** Congestion control. */
  cc: CongestionControl;
  /** Duplicate ACKs in a row. */
  dupAcks = 0;
  /** In fast recovery. */
  inRecovery = false;
  /** RFC 6582 "recover": SND.MAX when recovery began. */
  recover = 0;
  /** What the peer holds above SND.UNA. */
  readonly sack: SackScoreboard = new SackScoreboard();
  /** The transmission log and RACK's loss detection (SACK connections). */
  readonly rack: Rack = new Rack();
  /** The sending rate in fast recovery. */
  readonly prr: Prr = new Prr();
  /** End of the outstanding tail loss probe (RFC 8985 TLP.end_seq), or -1. */
  tlpEnd = -1;
  /** The probe was a retransmission (TLP.is_retrans). */
  tlpRetransmitted = false;
  /** A D-SACK arrived since the probe: it repaired nothing. */
  tlpDsack = false;
  /** SND.UNA when the last SACK recovery began (its D-SACKs count), or -1: nothing to undo. */
  undoMarker = -1;
  /** Retransmissions of that recovery not yet D-SACKed (Linux's undo_retrans). */
  undoRetrans = 0;
  /** cwnd before that recovery. */
  undoCwnd = 0;
  /** ssthresh before that recovery. */
  undoSsthresh = 0;
  /** Retransmissions of the current segment since the last progress. */
  retries = 0;
  /**
   * Eifel (RFC 3522): the TSval of the first retransmission after a
   * timeout, until the first ACK after it says whether the timeout was
   * spurious; -1 when nothing waits.
   */
  eifelTsVal = -1;
  /**
   * F-RTO (RFC 5682 2.1) on connections without timestamps: 1 while the
   * first ACK after a timeout's retransmission is awaited, 2 after two new
   * segments went out to ask whether the original segments arrived; 0 when
   * nothing waits.
   */
  frto = 0;
  /** SND.MAX when that timeout fired (RFC 5682's "recover"). */
  frtoRecover = 0;
  /** cwnd before that timeout (RFC 4015's restore, for Eifel and F-RTO). */
  timeoutCwnd = 0;
  /** ssthresh before that timeout. */
  timeoutSsthresh = 0;
  /** The MSS before black-hole detection lowered it, or 0 (FreeBSD's t_pmtud_saved_maxseg). */
  blackholeSavedMss = 0;
  /** An ECN-Echo reduced cwnd: the next new data carries CWR (RFC 3168 6.1.2). */
  ecnCwr = false;
  /** SND.MAX at that reduction: ECE on ACKs below it is the same congestion. */
  ecnRecover = 0;

  /** Last time data or a FIN was sent, ms. */
  lastSendAt = 0;
  /** When sent data last made progress (acknowledged, or first queued), ms. */
  progressAt = 0;
  /** Segments sent again (this connection's share of tcp.retransmittedSegments). */
  retransmits = 0;
  /** Bytes of ours the peer acknowledged. */
  bytesAcked = 0;
  /** Bytes acknowledged per half round trip, for autosizing. */
  readonly acks: RoundTripMeter = new RoundTripMeter();

  /** A sender with `config`'s buffer, timers and congestion control, counting in `mss`. */
  constructor(config: TcpConfig, mss: number) {
    this.buf = new SendBuffer(config.sndBuf);
    this.rtt = new RttEstimator(config);
    this.cc = congestionFor(config, mss);
  }

  /**
   * Send-buffer autosizing, by the receive side's measure (FreeBSD's
   * tcp_autorcvbuf) applied to the `acked` bytes of an ACK at `now`, over
   * half of `rtt` (the least round trip seen, ms): when more than three
   * eighths of the buffer was acknowledged within it while the application
   * kept the buffer 7/8 full and the peer's window (with FreeBSD's fudge
   * factor of 5/4) would take it all, a round trip of data no longer fits,
   * and the buffer grows by half, in whole `seg`-byte segments, up to `max`.
   * Returns whether it grew. (FreeBSD's own send rule, grow while the buffer
   * is full and the windows would take more, also grew it on a path of
   * microseconds, where a ring of megabytes only costs cache: measured,
   * downloads 10 to 15% slower.)
   *
   * @example
   * ```ts
   * import { DEFAULT_TCP_CONFIG } from "./config.ts";
   * import { Sender } from "./sender.ts";
   * const snd = new Sender({ ...DEFAULT_TCP_CONFIG, sndBuf: 65536 }, 1460);
   * snd.buf.append(new Uint8Array(65536), 0, 65536); // the application keeps it full
   * snd.wnd = 1 << 20;
   * snd.autoSize(30_000, 0, 100, 1460, 6 << 20); // false: the measure began
   * snd.autoSize(1460, 51, 100, 1460, 6 << 20); // true: 30 KB acknowledged in half a round trip
   * snd.buf.capacity; // 97820: half as much again, in whole segments
   * ```
   */
  autoSize(acked: number, now: number, rtt: number, seg: number, max: number): boolean {
    const b = this.buf, cap = b.capacity;
    if (!this.acks.count(acked, now, rtt, cap)) return false;
    if (b.length < cap / 8 * 7 || this.wnd / 4 * 5 < cap) return false;
    b.capacity = grownCapacity(cap, seg, max);
    return b.capacity > cap;
  }

  /** Sequence number just past the last byte in the send buffer. */
  get dataEnd(): number {
    return (this.bufSeq + this.buf.length) >>> 0;
  }

  /** Whether our FIN has been acknowledged. */
  get finAcked(): boolean {
    return this.finQueued && this.una === ((this.dataEnd + 1) >>> 0);
  }

  /** Bytes in flight: sent and not acknowledged (RFC 5681 FlightSize). */
  get flightSize(): number {
    return (this.max - this.una) >>> 0;
  }

  /**
   * RFC 6675 pipe: bytes thought to be in the network during SACK recovery
   * (what RACK judged lost and was not sent again since is not).
   */
  get pipe(): number {
    return this.flightSize - this.sack.sackedBytes - this.rack.lostBytes;
  }

  /**
   * Bytes fast recovery may send now in segments of `mss`: PRR's quota, or
   * for BBR, which sizes its window in recovery itself, the window less
   * the pipe.
   */
  recoveryAllowance(mss: number): number {
    if (this.cc.prr) return this.prr.allowance(mss);
    return Math.max(0, this.cc.cwnd - this.pipe);
  }
}

/**
 * A fresh congestion controller counting in segments of `smss` bytes
 * (RFC 5681's SMSS: the data a segment carries, options excluded). BBR
 * samples the delivery rate from the transmission log, which SACK
 * connections keep: without `sack`, NewReno stands in for it.
 *
 * @example
 * ```ts
 * import { congestionFor } from "./sender.ts";
 * congestionFor({ congestion: "newreno", hystart: true }, 1448).cwnd; // 14480
 * ```
 */
export function congestionFor(
  config: Pick<TcpConfig, "congestion" | "hystart">,
  smss: number,
  counters?: HyStartCounters,
  sack = true,
): CongestionControl {
  if (config.congestion === "bbr" && sack) return new Bbr(smss);
  const hs = new HyStart(config.hystart, counters);
  return config.congestion === "cubic" ? new Cubic(smss, hs) : new NewReno(smss, hs);
}
