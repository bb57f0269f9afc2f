/**
 * TCP settings with their defaults.
 *
 * @module
 */

import type { CongestionName } from "./cc/congestion.ts";
import type { RtoSettings } from "./rtt.ts";

/** Tunable TCP settings. */
export interface TcpConfig extends RtoSettings {
  /** Receive buffer a connection starts with, bytes (sets the advertised window). */
  rcvBuf: number;
  /** Send buffer a connection starts with, bytes. */
  sndBuf: number;
  /**
   * Grow a connection's receive buffer by half while the peer sends three
   * quarters of it within a round trip (FreeBSD's recvbuf_auto): a fixed
   * 1 MiB window caps a 100 ms path at 10 MB/s.
   */
  recvBufAuto: boolean;
  /** Largest receive buffer that growth reaches, bytes (FreeBSD's recvbuf_max; maxSockBuf caps it too). */
  recvBufMax: number;
  /**
   * Grow a connection's send buffer by half while three quarters of it is
   * acknowledged within a round trip and the application keeps it full
   * (FreeBSD's sendbuf_auto, by the receive side's measure; see
   * `Sender.autoSize`).
   */
  sendBufAuto: boolean;
  /** Largest send buffer that growth reaches, bytes (FreeBSD's sendbuf_max; maxSockBuf caps it too). */
  sendBufMax: number;
  /**
   * Bytes all connections' buffers may grow by together (a budget like
   * Linux's tcp_mem): past it no buffer grows, so that many fast peers
   * cannot make every connection's buffers six times their size.
   */
  autosizeBudget: number;
  /** Congestion control for new connections. */
  congestion: CongestionName;
  /** HyStart++ (RFC 9406) in the first slow start; off: RFC 3465's slow start throughout. */
  hystart: boolean;
  /**
   * Pacing (see `pacing.ts`): 0 none, 1 BBR at the rate it sets, 2 NewReno
   * and CUBIC too, at Linux's rates for them.
   */
  pacing: number;
  /** Restart from the initial window after an RTO's idleness (RFC 5681 4.1). */
  slowStartAfterIdle: boolean;
  /** Offer and use SACK (RFC 2018). */
  sack: boolean;
  /**
   * ECN (RFC 3168), as FreeBSD's net.inet.tcp.ecn.enable: 0 never, 1 ask
   * for it on active opens and accept it, 2 accept it when a peer asks.
   */
  ecn: 0 | 1 | 2;
  /** Tail loss probes (RFC 8985 7) on SACK connections. */
  tlp: boolean;
  /** Offer and use timestamps (RFC 7323). */
  timestamps: boolean;
  /** Offer window scaling (RFC 7323). */
  windowScale: boolean;
  /**
   * Largest buffer a connection may have (FreeBSD's maxsockbuf): the window
   * scale we offer is the one that lets it be advertised, a buffer rounded
   * up to whole segments stops there, and so does growth.
   */
  maxSockBuf: number;
  /** Follow RFC 5961 3 for RSTs when off; when on, any in-window RST resets (FreeBSD insecure_rst). */
  insecureRst: boolean;
  /** Follow RFC 5961 4 for SYNs when off; when on, an in-window SYN resets (FreeBSD insecure_syn). */
  insecureSyn: boolean;
  /** Drop segments with both SYN and FIN set (FreeBSD drop_synfin). */
  dropSynFin: boolean;
  /** Let port/protocol unreachable and prohibited refuse a connection in SYN-SENT (FreeBSD icmp_may_rst). */
  icmpMayRst: boolean;
  /**
   * Path-MTU black-hole detection (FreeBSD's pmtud_blackhole_detection):
   * after repeated timeouts of full-size segments, try smaller ones.
   */
  pmtudBlackholeDetection: boolean;
  /** The MSS tried first on an IPv4 black hole (FreeBSD's pmtud_blackhole_mss). */
  pmtudBlackholeMss: number;
  /** The MSS tried first on an IPv6 black hole (FreeBSD's v6pmtud_blackhole_mss). */
  v6PmtudBlackholeMss: number;
  /** Delayed-ACK timeout, ms (RFC 9293 3.8.6.3: under 0.5 s). */
  delayedAckMs: number;
  /**
   * Linux's quick-ACK and ping-pong heuristics: lone segments at the start
   * and after idleness are ACKed within the turn, not after `delayedAckMs`
   * (FreeBSD has neither: off, every lone segment waits).
   */
  quickAck: boolean;
  /** SYN retransmissions before giving up. */
  synRetries: number;
  /** Data retransmissions before giving up (RFC 9293 3.8.3 R2). */
  dataRetries: number;
  /** Keepalive idle time, ms (RFC 9293 3.8.4: at least two hours by default). */
  keepIdleMs: number;
  /** Keepalive probe interval, ms. */
  keepIntervalMs: number;
  /** Unanswered keepalive probes before the connection is dropped. */
  keepCount: number;
  /**
   * Most time a connection may take to establish, ms (FreeBSD's keepinit):
   * SYN-SENT and SYN-RECEIVED give up after it even with SYN retries left.
   */
  keepInitMs: number;
  /** Default SYN backlog (half-open connections) per listener (Linux somaxconn). */
  synBacklog: number;
  /** Answer SYNs with cookies when a SYN backlog is full (RFC 4987 3.6). */
  synCookies: boolean;
  /** Default accept queue length per listener. */
  acceptBacklog: number;
  /** Most bytes held out of order per connection (within the window). */
  maxOutOfOrderBytes: number;
  /** Most separate out-of-order ranges per connection (FreeBSD's reass.maxqueuelen). */
  maxOutOfOrderRanges: number;
  /**
   * Abort a connection whose sent data has made no progress (nothing
   * acknowledged, or the window stayed shut) for this long, ms; 0 turns it
   * off (RFC 5482's user timeout, applied locally as Linux's TCP_USER_TIMEOUT).
   */
  userTimeoutMs: number;
  /** Most connections the stack holds (FreeBSD's maxsockets). */
  maxConnections: number;
  /** First ephemeral port. */
  ephemeralLow: number;
  /** Last ephemeral port. */
  ephemeralHigh: number;
  /** Challenge ACKs per second (RFC 5961 7), across the stack. */
  challengeAckLimit: number;
  /** Challenge ACKs per second and connection (FreeBSD's ack_war_cnt). */
  challengeAckPerConnection: number;
  /** FIN-WAIT-2 timeout after the application closed, ms. */
  finWait2TimeoutMs: number;
}

/** The defaults. */
export const DEFAULT_TCP_CONFIG: TcpConfig = {
  rcvBuf: 1 << 20,
  sndBuf: 1 << 20,
  recvBufAuto: true,
  recvBufMax: 6 << 20,
  sendBufAuto: true,
  sendBufMax: 6 << 20,
  autosizeBudget: 256 << 20,
  congestion: "newreno",
  hystart: true,
  pacing: 1,
  slowStartAfterIdle: true,
  sack: true,
  ecn: 2,
  tlp: true,
  timestamps: true,
  windowScale: true,
  // As Linux's tcp_rmem maximum: window scale 7.
  maxSockBuf: 6 << 20,
  insecureRst: false,
  insecureSyn: false,
  dropSynFin: false,
  icmpMayRst: true,
  pmtudBlackholeDetection: false,
  pmtudBlackholeMss: 1200,
  v6PmtudBlackholeMss: 1220,
  rtoMinMs: 200,
  rtoSlopMs: 0,
  rtoInitialMs: 1000,
  delayedAckMs: 40,
  quickAck: true,
  synRetries: 6,
  dataRetries: 15,
  keepIdleMs: 2 * 3600_000,
  keepIntervalMs: 75_000,
  keepCount: 9,
  keepInitMs: 75_000,
  synBacklog: 4096,
  synCookies: true,
  acceptBacklog: 4096,
  maxOutOfOrderBytes: 6 << 20,
  maxOutOfOrderRanges: 64,
  userTimeoutMs: 600_000,
  maxConnections: 65536,
  ephemeralLow: 49152,
  ephemeralHigh: 65535,
  challengeAckLimit: 1000,
  challengeAckPerConnection: 5,
  finWait2TimeoutMs: 60_000,
};
