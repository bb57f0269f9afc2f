/**
 * The transmission control block (RFC 9293 3.3.1): everything one
 * connection knows, from the handshake until it is handed to the TIME_WAIT
 * manager or closed. Input, output and timers are in `input.ts`,
 * `output.ts` and `timer.ts`; they work on this block.
 *
 * @module
 */

import type { IpHeaderFields, IpLayer } from "../ip.ts";
import type { ListenerCore } from "./open/accept.ts";
import type { IpAddress } from "../wire/ip_address.ts";
import type { TcpConfig } from "./config.ts";
import { MAX_WSCALE } from "../wire/tcp.ts";
import { signer } from "./md5.ts";
import { Receiver } from "./receiver.ts";
import { Sender } from "./sender.ts";
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
  remove(c: Tcb): void;
  /** Hand a connection entering TIME-WAIT to the TIME_WAIT manager. */
  enterTimeWait(c: Tcb): void;
  /** A passive connection reached ESTABLISHED: queue it for accept. */
  established(c: Tcb): void;
  /** May `c` send a challenge ACK now (RFC 5961 7)? */
  allowChallengeAck(c: Tcb): boolean;
  /** The TSval offset for connections between these addresses (RFC 7323 5.4). */
  timestampOffset(local: IpAddress, remote: IpAddress): number;
  /** The connection armed a timer; make sure it is scanned. */
  watch(c: Tcb): void;
  /**
   * The connection armed a timer finer than the layer's tick (a probe or
   * reordering timeout of a few ms): run the timers at `at` too.
   */
  wakeAt(c: Tcb, at: number): void;
  /** Send `c`'s ACK after the application has had one turn, unless it went out. */
  deferAck(c: Tcb): void;
  /** Run `c`'s output after the application has had one turn (its corked tail). */
  deferOutput(c: Tcb): void;
  /**
   * A reader's lent buffer is full: ask the packet source to let the
   * application run before the next packet, so that the reader takes it
   * and lends its buffer again instead of the rest of the batch going
   * through the receive buffer (a second copy).
   */
  yieldToReader(): void;
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
 * One connection's transmission control block (RFC 9293 3.3.1): identity,
 * state, negotiated options, timers, and its two halves `snd` and `rcv`.
 * The application holds a {@linkcode TcpConn} (`socket.ts`), which wraps one.
 *
 * @example
 * ```ts
 * import { exampleConnection } from "../_examples.ts";
 * import { Tcb } from "./tcb.ts";
 * const { conn } = await exampleConnection(); // its layer is the context
 * const c = new Tcb(conn.ctx, conn.local, 8080, conn.remote, 40000, "SYN-RECEIVED");
 * c.snd.cc.cwnd; // 14600: RFC 6928's initial window for our 1460-byte MSS
 * ```
 */
export class Tcb {
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
  /** Bytes autosizing grew its buffers by, counted in `tcp.bufferAutosize.bytes`. */
  autosized = 0;
  /** Hash of the 4-tuple in the connection table. */
  hash = 0;
  /** Pseudo-header sum of the addresses and protocol, or -1 until computed. */
  pseudoBase = -1;

  /** The sending half: SND.*, the send buffer, RTT, congestion control, loss recovery. */
  readonly snd: Sender;
  /** The receiving half: RCV.*, the receive buffer, what the next ACK says. */
  readonly rcv: Receiver;

  // Options.
  /** Timestamps in use on this connection. */
  tsOk = false;
  /** Offset added to our timestamp clock, per address pair (RFC 7323 5.4). */
  tsOffset = 0;
  /** SACK in use. */
  sackOk = false;
  /** We sent window scale in our SYN. */
  offeredScale = false;
  /** Our SYN asked for ECN (RFC 3168 6.1.1: ECE and CWR set). */
  ecnAsked = false;
  /** ECN in use (RFC 3168): new data goes ECT(0), CE is echoed, ECE reduces cwnd. */
  ecnOk = false;

  // Timers: absolute ms deadlines, 0 when off.
  /** Retransmission timer. */
  rtoAt = 0;
  /** Probe timeout (RFC 8985 7.2). */
  ptoAt = 0;
  /** RACK's reordering timer (RFC 8985 6.2 step 5). */
  reoAt = 0;
  /** Pacing: data waits until then (see `pacing.ts`). */
  paceAt = 0;
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

  // Flags.
  /** Nagle off (RFC 9293 3.7.4). */
  noDelay = false;
  /** The last soft ICMP error (RFC 1122 4.2.3.9), reported if the connection times out. */
  softError: string | undefined;
  /** Start of this connection's challenge-ACK window, ms, and the ACKs sent in it. */
  challengeWindowAt = -Infinity;
  /** Challenge ACKs sent in the current window. */
  challengeCount = 0;
  /** Corked: hold partial segments until uncorked (Linux's TCP_CORK). */
  corked = false;
  /** TTL and TOS of its packets (a passive open takes its listener's). */
  readonly ipFields: IpHeaderFields = { ttl: 0, tos: 0 };
  /** The RFC 2385 key every segment is signed with and must carry (a listener's, passive). */
  md5Key: Uint8Array | undefined;
  #md5Signer: ((buf: Uint8Array, off: number, hl: number, total: number) => void) | undefined;
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
    this.createdAt = ctx.now();
    this.keepIdleMs = ctx.config.keepIdleMs;
    this.keepIntervalMs = ctx.config.keepIntervalMs;
    this.keepCount = ctx.config.keepCount;
    const mss = linkMss(ctx.ip.mtu, local.length);
    this.snd = new Sender(ctx.config, mss);
    this.rcv = new Receiver(ctx.config.rcvBuf, mss);
    this.tsOffset = ctx.timestampOffset(local, remote);
    this.rcv.scale = ctx.config.windowScale
      ? receiveScale(Math.max(ctx.config.rcvBuf, ctx.config.maxSockBuf))
      : 0;
  }

  /** Our timestamp value (RFC 7323 5.4: 1 ms clock plus offset), now or at a time already read. */
  tsNow(now: number = this.ctx.now()): number {
    return timestampClock(now, this.tsOffset);
  }

  /**
   * Data that fits one segment with the options it carries now: the MSS
   * less timestamps and the SACK blocks we would send (RFC 6691, RFC 9293
   * 3.7.1), so no segment exceeds the path's MTU.
   */
  get sendRoom(): number {
    const rcv = this.rcv;
    const blocks = this.sackOk
      ? Math.min(rcv.buf.rangeCount + (rcv.dsackLeft === -1 ? 0 : 1), this.sackBlocksMax)
      : 0;
    return this.effMss - (blocks > 0 ? 4 + 8 * blocks : 0);
  }

  /** The effective send MSS after options (RFC 9293 3.7.1). */
  get effMss(): number {
    return this.snd.mss - (this.tsOk ? 12 : 0) - (this.md5Key ? 20 : 0);
  }

  /** SACK blocks that fit the 40 bytes of options beside timestamps and a signature. */
  get sackBlocksMax(): number {
    return (36 - (this.tsOk ? 12 : 0) - (this.md5Key ? 20 : 0)) >> 3;
  }

  /** Signs this connection's segments (emitTcp's `sign`), made on first use. */
  get md5Signer(): ((buf: Uint8Array, off: number, hl: number, total: number) => void) | undefined {
    if (!this.md5Key) return undefined;
    return this.#md5Signer ??= signer(this.md5Key, this.local, this.remote);
  }
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
  while (s < MAX_WSCALE && rcvBuf > 0xffff << s) s++;
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
