/**
 * The transmission control block (RFC 9293 3.3.1): everything one
 * connection knows, from the handshake until it is handed to the TIME_WAIT
 * manager or closed. Input, output and timers are in `input.ts`,
 * `output.ts` and `timer.ts`; they work on this block.
 *
 * @module
 */

import type { IpLayer } from "../ip.ts";
import type { ListenerCore } from "./open/accept.ts";
import type { IpAddress } from "../wire/ip_address.ts";
import type { TcpConfig } from "./config.ts";
import type { CongestionControl } from "./cc/congestion.ts";
import { Cubic } from "./cc/cubic.ts";
import { HyStart, type HyStartCounters } from "./cc/hystart.ts";
import { ReceiveBuffer } from "./buffers/receive_buffer.ts";
import { NewReno } from "./cc/reno.ts";
import { RttEstimator } from "./rtt.ts";
import { Prr } from "./loss/prr.ts";
import { Rack } from "./loss/rack.ts";
import { SackScoreboard } from "./loss/sack.ts";
import { SendBuffer } from "./buffers/send_buffer.ts";
import type { TcpState } from "./state.ts";
import type { TcpStats } from "./stats.ts";

/** What the connection tells its socket. */
export interface ConnectionEvents {
  /** The handshake completed. */
  onEstablished(): void;
  /** Data or FIN became readable. */
  onReadable(): void;
  /** Send-buffer space was freed. */
  onWritable(): void;
  /** The connection ended; `error` says why when it was not a clean close. */
  onClosed(error?: Error): void;
}

/** What a connection needs from the TCP layer around it. */
export interface TcpContext {
  /** Settings. */
  readonly config: TcpConfig;
  /** Counters. */
  readonly stats: TcpStats;
  /** The IP layer, for output. */
  readonly ip: IpLayer;
  /** Milliseconds on the stack's clock. */
  now(): number;
  /** Forget a connection that reached CLOSED. */
  remove(c: TcpConnection): void;
  /** Hand a connection entering TIME-WAIT to the TIME_WAIT manager. */
  enterTimeWait(c: TcpConnection): void;
  /** A passive connection reached ESTABLISHED: queue it for accept. */
  established(c: TcpConnection): void;
  /** May `c` send a challenge ACK now (RFC 5961 7)? */
  allowChallengeAck(c: TcpConnection): boolean;
  /** The TSval offset for connections between these addresses (RFC 7323 5.4). */
  timestampOffset(local: IpAddress, remote: IpAddress): number;
  /** The connection armed a timer; make sure it is scanned. */
  watch(c: TcpConnection): void;
  /**
   * The connection armed a timer finer than the layer's tick (a probe or
   * reordering timeout of a few ms): run the timers at `at` too.
   */
  wakeAt(c: TcpConnection, at: number): void;
  /** Send `c`'s ACK after the application has had one turn, unless it went out. */
  deferAck(c: TcpConnection): void;
}

/**
 * Error raised to the application when the peer resets the connection.
 *
 * @example
 * ```ts
 * import { ConnectionResetError } from "./tcb.ts";
 * new ConnectionResetError() instanceof Deno.errors.ConnectionReset; // true
 * ```
 */
export class ConnectionResetError extends Deno.errors.ConnectionReset {
  /** Builds the error. */
  constructor(message = "Connection reset: the peer sent RST") {
    super(message);
  }
}

/**
 * Error raised when a connection attempt is refused.
 *
 * @example
 * ```ts
 * import { ConnectionRefusedError } from "./tcb.ts";
 * new ConnectionRefusedError() instanceof Deno.errors.ConnectionRefused; // true
 * ```
 */
export class ConnectionRefusedError extends Deno.errors.ConnectionRefused {
  /** Builds the error. */
  constructor(message = "Connection refused: the peer answered the SYN with RST") {
    super(message);
  }
}

/**
 * Error raised when retransmissions or keepalives give up.
 *
 * @example
 * ```ts
 * import { TimedOutError } from "./tcb.ts";
 * new TimedOutError("Connection timed out: no answer") instanceof Deno.errors.TimedOut; // true
 * ```
 */
export class TimedOutError extends Deno.errors.TimedOut {
  /** Builds the error. */
  constructor(message: string) {
    super(message);
  }
}

/**
 * One connection.
 *
 * @example
 * ```ts ignore
 * const c = new TcpConnection(ctx, local, 80, remote, 40000, "SYN-RECEIVED");
 * ```
 */
export class TcpConnection {
  /** The layer around it. */
  readonly ctx: TcpContext;
  /** Current state. */
  state: TcpState;
  /** Our address. */
  readonly local: IpAddress;
  /** Our port. */
  readonly localPort: number;
  /** Peer address. */
  readonly remote: IpAddress;
  /** Peer port. */
  readonly remotePort: number;
  /** Socket callbacks, once a socket owns it. */
  events: ConnectionEvents | undefined;
  /** The listener that took its SYN (passive opens only). */
  listener: ListenerCore | undefined;
  /** Counted in its listener's SYN backlog (half-open). */
  synQueued = false;
  /** Hash of the 4-tuple in the connection table. */
  hash = 0;
  /** Pseudo-header sum of the addresses and protocol, or -1 until computed. */
  pseudoBase = -1;

  // Send sequence variables (RFC 9293 3.3.1).
  /** Initial send sequence number. */
  iss = 0;
  /** Oldest unacknowledged sequence number. */
  sndUna = 0;
  /** Next sequence number to send. */
  sndNxt = 0;
  /** Highest sequence number sent (snd_max in BSD). */
  sndMax = 0;
  /** Peer's window, scaled. */
  sndWnd = 0;
  /** Largest window the peer offered (RFC 5961 5.2 MAX.SND.WND). */
  maxSndWnd = 0;
  /** Segment sequence number of the last window update. */
  sndWl1 = 0;
  /** Segment ack number of the last window update. */
  sndWl2 = 0;
  /** Shift applied to the peer's window field. */
  sndScale = 0;
  /** Our MSS for sending: min(peer MSS, our link). */
  sndMss = 536;
  /** The peer has acknowledged our SYN. */
  synAcked = false;
  /** Sequence number of the first byte in `sndBuf`. */
  bufSeq = 0;
  /** The application closed its write side: a FIN follows the data. */
  finQueued = false;
  /** Bytes waiting to be sent or acknowledged. */
  readonly sndBuf: SendBuffer;

  // Receive sequence variables.
  /** Initial receive sequence number. */
  irs = 0;
  /** Next sequence number expected. */
  rcvNxt = 0;
  /** Right edge of the window we last advertised. */
  rcvAdv = 0;
  /** Shift applied to the window we advertise. */
  rcvScale = 0;
  /** Our MSS as advertised. */
  rcvMss = 536;
  /** The peer's FIN has been received (in order). */
  finReceived = false;
  /** Sequence number of an out-of-order FIN, or -1. */
  oooFinSeq = -1;
  /** Received, in-order bytes and out-of-order ranges. */
  readonly rcvBuf: ReceiveBuffer;
  /** A duplicate to report in the next ACK's first SACK block (RFC 2883), or -1. */
  dsackLeft = -1;
  /** Its right edge. */
  dsackRight = 0;
  /** Text that came with the peer's SYN in SYN-SENT, held until ESTABLISHED. */
  synData: Uint8Array | undefined;
  /** The window field last sent (unscaled), for TIME_WAIT's last_win. */
  lastWindowField = 0;

  // Options.
  /** Timestamps in use on this connection. */
  tsOk = false;
  /** TS.Recent (RFC 7323 4.3). */
  tsRecent = 0;
  /** When TS.Recent was recorded, ms. */
  tsRecentAge = 0;
  /** Offset added to our timestamp clock, per address pair (RFC 7323 5.4). */
  tsOffset = 0;
  /** Last.ACK.sent (RFC 7323 4.3). */
  lastAckSent = 0;
  /** SACK in use. */
  sackOk = false;
  /** We sent window scale in our SYN. */
  offeredScale = false;

  // Retransmission and congestion.
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
  /** cwnd and ssthresh before that recovery. */
  undoCwnd = 0;
  /** ssthresh before that recovery. */
  undoSsthresh = 0;
  /** Retransmissions of the current segment since the last progress. */
  retries = 0;

  // Timers: absolute ms deadlines, 0 when off.
  /** Retransmission timer. */
  rtoAt = 0;
  /** Probe timeout (RFC 8985 7.2). */
  ptoAt = 0;
  /** RACK's reordering timer (RFC 8985 6.2 step 5). */
  reoAt = 0;
  /** Delayed-ACK timer. */
  delackAt = 0;
  /** Persist (zero-window probe) timer. */
  persistAt = 0;
  /** Keepalive timer. */
  keepAt = 0;
  /** FIN-WAIT-2 timer (after the application closed). */
  finWait2At = 0;
  /** Persist back-off exponent. */
  persistShift = 0;
  /** Keepalive probes sent without answer. */
  keepProbes = 0;
  /** Last time a segment arrived. */
  lastRecvAt = 0;
  /** Last time data or a FIN was sent, ms. */
  lastSendAt = 0;
  /** Segments sent again (this connection's share of tcp.retransmittedSegments). */
  retransmits = 0;
  /** Bytes of ours the peer acknowledged. */
  bytesAcked = 0;
  /** In-order bytes received from the peer. */
  bytesReceived = 0;
  /** When sent data last made progress (acknowledged, or first queued), ms. */
  progressAt = 0;

  // Flags.
  /** Send an ACK at the next output. */
  ackNow = false;
  /** An ACK waits for the application's turn (`TcpContext.deferAck`). */
  ackPending = false;
  /** Full-size segments received since the last ACK. */
  unackedSegments = 0;
  /** Nagle off (RFC 9293 3.7.4). */
  noDelay = false;
  /** The last soft ICMP error (RFC 1122 4.2.3.9), reported if the connection times out. */
  softError: string | undefined;
  /** The MSS before black-hole detection lowered it, or 0 (FreeBSD's t_pmtud_saved_maxseg). */
  blackholeSavedMss = 0;
  /** End of the last short data segment sent (Minshall's Nagle). */
  smallEnd = 0;
  /** Start of this connection's challenge-ACK window, ms, and the ACKs sent in it. */
  challengeWindowAt = -Infinity;
  /** Challenge ACKs sent in the current window. */
  challengeCount = 0;
  /** Corked: hold partial segments until uncorked (Linux's TCP_CORK). */
  corked = false;
  /** Keepalive on. */
  keepAlive = false;
  /** Idle time before the first keepalive probe, ms (RFC 9293 3.8.4). */
  keepIdleMs: number;
  /** Time between unanswered probes, ms. */
  keepIntervalMs: number;
  /** Unanswered probes before the connection is dropped. */
  keepCount: number;
  /** The application closed the connection entirely: no more reads. */
  appClosed = false;
  /** Connection start, ms. */
  readonly createdAt: number;

  /** A new connection block in `state`. */
  constructor(
    ctx: TcpContext,
    local: IpAddress,
    localPort: number,
    remote: IpAddress,
    remotePort: number,
    state: TcpState,
  ) {
    this.ctx = ctx;
    this.local = local;
    this.localPort = localPort;
    this.remote = remote;
    this.remotePort = remotePort;
    this.state = state;
    this.sndBuf = new SendBuffer(ctx.config.sndBuf);
    this.rcvBuf = new ReceiveBuffer(ctx.config.rcvBuf);
    this.createdAt = ctx.now();
    this.rtt = new RttEstimator(ctx.config);
    this.keepIdleMs = ctx.config.keepIdleMs;
    this.keepIntervalMs = ctx.config.keepIntervalMs;
    this.keepCount = ctx.config.keepCount;
    this.rcvMss = linkMss(ctx.ip.mtu, local.length);
    this.cc = congestionFor(ctx.config, this.rcvMss);
    this.tsOffset = ctx.timestampOffset(local, remote);
    this.rcvScale = ctx.config.windowScale
      ? receiveScale(Math.max(ctx.config.rcvBuf, ctx.config.maxSockBuf))
      : 0;
  }

  /** Our current timestamp value (RFC 7323 5.4: 1 ms clock plus offset). */
  tsNow(): number {
    return timestampClock(this.ctx.now(), this.tsOffset);
  }

  /** Sequence number just past the last byte in the send buffer. */
  get dataEnd(): number {
    return (this.bufSeq + this.sndBuf.length) >>> 0;
  }

  /** Whether our FIN has been acknowledged. */
  get finAcked(): boolean {
    return this.finQueued && this.sndUna === ((this.dataEnd + 1) >>> 0);
  }

  /** Bytes in flight: sent and not acknowledged (RFC 5681 FlightSize). */
  get flightSize(): number {
    return (this.sndMax - this.sndUna) >>> 0;
  }

  /**
   * Data that fits one segment with the options it carries now: the MSS
   * less timestamps and the SACK blocks we would send (RFC 6691, RFC 9293
   * 3.7.1), so no segment exceeds the path's MTU.
   */
  get sendRoom(): number {
    const blocks = this.sackOk
      ? Math.min(this.rcvBuf.rangeCount + (this.dsackLeft === -1 ? 0 : 1), this.tsOk ? 3 : 4)
      : 0;
    return this.effMss - (blocks > 0 ? 4 + 8 * blocks : 0);
  }

  /** The effective send MSS after options (RFC 9293 3.7.1). */
  get effMss(): number {
    return this.sndMss - (this.tsOk ? 12 : 0);
  }
}

/**
 * A fresh congestion controller counting in segments of `smss` bytes
 * (RFC 5681's SMSS: the data a segment carries, options excluded).
 *
 * @example
 * ```ts
 * import { congestionFor } from "./tcb.ts";
 * congestionFor({ congestion: "newreno", hystart: true }, 1448).cwnd; // 14480
 * ```
 */
export function congestionFor(
  config: Pick<TcpConfig, "congestion" | "hystart">,
  smss: number,
  counters?: HyStartCounters,
): CongestionControl {
  const hs = new HyStart(config.hystart, counters);
  return config.congestion === "cubic" ? new Cubic(smss, hs) : new NewReno(smss, hs);
}

/**
 * The window scale for a receive buffer of `rcvBuf` bytes: the smallest
 * shift that lets it fit in 16 bits (RFC 7323 2.3), at most 14.
 *
 * @example
 * ```ts
 * import { receiveScale } from "./tcb.ts";
 * receiveScale(1 << 20); // 5
 * ```
 */
export function receiveScale(rcvBuf: number): number {
  let s = 0;
  while (s < 14 && rcvBuf > 0xffff << s) s++;
  return s;
}

/**
 * The MSS we offer on a link of `mtu` bytes: the MTU less the IPv4 (or
 * IPv6) and TCP headers, within 64..65495.
 *
 * @example
 * ```ts
 * import { linkMss } from "./tcb.ts";
 * linkMss(1500, 4); // 1460
 * linkMss(1500, 16); // 1440
 * ```
 */
export function linkMss(mtu: number, addrLen: number): number {
  return Math.max(64, Math.min(65495, mtu - (addrLen === 4 ? 40 : 60)));
}

/**
 * The MSS to assume when the peer's SYN carries none (RFC 9293 3.7.1).
 *
 * @example
 * ```ts
 * import { defaultPeerMss } from "./tcb.ts";
 * defaultPeerMss(4); // 536
 * ```
 */
export function defaultPeerMss(addrLen: number): number {
  return addrLen === 4 ? 536 : 1220;
}

/**
 * A TSval: the millisecond clock plus a per-connection offset (RFC 7323
 * 5.4). SYN cookies use it too, so a cookie connection's TSvals continue
 * from its SYN,ACK's.
 *
 * @example
 * ```ts
 * import { timestampClock } from "./tcb.ts";
 * timestampClock(1000.7, 5); // 1005
 * ```
 */
export function timestampClock(nowMs: number, offset: number): number {
  return (Math.floor(nowMs) + offset) >>> 0;
}
