/**
 * Passive open (gVisor's `accept`): a listener's SYN backlog and accept
 * queue, and the LISTEN state of RFC 9293 3.10.7.2.
 *
 * @module
 */

import type { IpDatagram, IpHeaderFields } from "../../ip.ts";
import { TcpFlags, type TcpSegment } from "../../wire/tcp.ts";
import { negotiate } from "../lifecycle.ts";
import { negotiateEcn } from "../ecn.ts";
import { type Answerer, sendResetFor, tcpOutput } from "../output.ts";
import { formatIp } from "../../wire/ip_address.ts";
import { seqAdd } from "../seq.ts";
import type { Tcb } from "../tcb.ts";

/**
 * A listening port.
 *
 * @example
 * ```ts
 * import { ListenerCore } from "./accept.ts";
 * const l = new ListenerCore(80, undefined, 128, 128);
 * l.synPending; // 0
 * ```
 */
export class ListenerCore {
  /** The port. */
  readonly port: number;
  /** Only this local address (undefined: any of ours). */
  readonly local: Uint8Array | undefined;
  /** Most half-open connections. */
  readonly synBacklog: number;
  /** Most established connections waiting for accept. */
  acceptBacklog: number;
  /** Half-open connections now. */
  synPending = 0;
  /** Established, not yet accepted. */
  readonly queue: Tcb[] = [];
  /** Called when `queue` gains a connection. */
  onReady: () => void = () => {};
  /** Closed by the application. */
  closed = false;
  /** When this listener last answered a SYN with a cookie (ms). */
  cookieSentAt = -Infinity;
  /** TTL and TOS of its answers, and of the connections it accepts. */
  readonly ipFields: IpHeaderFields = { ttl: 0, tos: 0 };
  /** The RFC 2385 key of its answers and of the connections it accepts, for every peer. */
  md5Key: Uint8Array | undefined;
  /** Keys by peer address (as `formatIp` writes it), in place of `md5Key`: peers not named go unsigned. */
  md5Peers: Map<string, Uint8Array> | undefined;
  /**
   * Taking SYNs; false while only bound (BSD's bind before listen), when
   * every segment gets an RST with its `ipFields` as from a CLOSED socket.
   */
  listening = true;

  /** A listener on `port`. */
  constructor(
    port: number,
    local: Uint8Array | undefined,
    synBacklog: number,
    acceptBacklog: number,
  ) {
    this.port = port;
    this.local = local;
    this.synBacklog = synBacklog;
    this.acceptBacklog = acceptBacklog;
  }

  /**
   * How it answers the sender of `d`: its IP fields, and the MD5 key for
   * that peer (every reply it sends, and the connection it accepts).
   */
  answererFor(d: IpDatagram): Answerer {
    const peers = this.md5Peers;
    if (!peers) return this;
    const key = peers.get(formatIp(d.buf.subarray(d.srcOff, d.srcOff + d.addrLen)));
    return { ipFields: this.ipFields, md5Key: key };
  }

  /** Whether it takes segments addressed to `buf[off, off+len)`. */
  accepts(buf: Uint8Array, off: number, len: number): boolean {
    const l = this.local;
    if (!l) return true;
    if (l.length !== len) return false;
    for (let i = 0; i < len; i++) if (buf[off + i] !== l[i]) return false;
    return true;
  }
}

/** What LISTEN needs from the layer. */
export interface AcceptHost {
  /**
   * Creates, numbers and registers a passive connection; `issFloor` is the
   * SND.NXT of a TIME_WAIT record the SYN just ended, which the ISS must pass.
   */
  createPassive(
    l: ListenerCore,
    d: IpDatagram,
    seg: TcpSegment,
    issFloor?: number,
  ): Tcb | undefined;
  /** Answers a SYN with a cookie SYN,ACK, keeping no state. */
  sendSynCookie(l: ListenerCore, d: IpDatagram, seg: TcpSegment): void;
  /** Opens the connection a returning cookie stands for; false if it is not one. */
  acceptCookie(l: ListenerCore, d: IpDatagram, seg: TcpSegment): boolean;
}

/**
 * A segment for a listener (RFC 9293 3.10.7.2).
 *
 * @example
 * ```ts
 * import { exampleConnection } from "../../_examples.ts";
 * const { net } = await exampleConnection(); // its SYN went through listenInput
 * net.b.tcp.stats.demux.listener; // 1
 * ```
 */
export function listenInput(
  host: AcceptHost & Parameters<typeof sendResetFor>[0],
  l: ListenerCore,
  d: IpDatagram,
  seg: TcpSegment,
  issFloor?: number,
): void {
  const s = host.stats;
  const flags = seg.flags;
  // First: an RST is ignored. Second: an ACK gets <SEQ=SEG.ACK><CTL=RST>.
  if (flags & TcpFlags.RST) {
    s.dropped.listenBadFlags++;
    return;
  }
  if (flags & TcpFlags.ACK) {
    // The third segment of a handshake we answered with a cookie?
    if (!(flags & TcpFlags.SYN) && host.acceptCookie(l, d, seg)) return;
    s.dropped.listenBadFlags++;
    sendResetFor(host, d, seg, l.answererFor(d));
    return;
  }
  // Third: SYN.
  if (!(flags & TcpFlags.SYN)) {
    s.dropped.listenBadFlags++;
    return;
  }
  if (l.synPending >= l.synBacklog) {
    // RFC 4987 3.6: a full backlog answers with cookies instead of dropping.
    if (host.config.synCookies) host.sendSynCookie(l, d, seg);
    else s.dropped.listenOverflow++;
    return;
  }
  if (l.queue.length >= l.acceptBacklog) {
    s.dropped.acceptOverflow++;
    return;
  }
  const c = host.createPassive(l, d, seg, issFloor);
  if (!c) return;
  c.rcv.irs = seg.seq;
  c.rcv.nxt = seqAdd(seg.seq, 1);
  c.rcv.adv = c.rcv.nxt;
  negotiate(c, seg.options);
  negotiateEcn(c, flags);
  // RFC 7323 2.2: the SYN's window is not scaled.
  c.snd.wnd = seg.window;
  c.snd.maxWnd = c.snd.wnd;
  c.snd.wl1 = seg.seq;
  c.snd.wl2 = c.snd.iss;
  c.synQueued = true;
  l.synPending++;
  s.passiveOpens++;
  tcpOutput(c); // SYN,ACK
}
