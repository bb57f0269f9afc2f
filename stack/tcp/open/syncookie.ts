/**
 * SYN cookies (RFC 4987 3.6): when a listener's SYN backlog is full, the
 * SYN,ACK's ISN carries what the connection needs, so no state is kept until
 * the client's ACK comes back.
 *
 * The ISN is `t(5) | mss(3) | mac(24)`: `t` counts 64-second periods, `mss`
 * indexes {@linkcode COOKIE_MSS}, and `mac` is HalfSipHash of the 4-tuple,
 * the client's ISN, `t` and `mss` under a random secret. A cookie is good
 * for two periods (64–128 s), like Linux's.
 *
 * Window scale and SACK-permitted do not fit in the ISN. As Linux does,
 * they ride in the low 6 bits of our timestamp when the client offered
 * timestamps (bits 0–3 window scale, 15 for none; bit 4 SACK), and come
 * back in the ACK's TSecr. Without timestamps they are lost: the
 * connection runs without window scaling and without SACK.
 *
 * @module
 */

import type { IpDatagram } from "../../ip.ts";
import { MAX_WSCALE, TcpFlags, TcpOptions, TcpRepr, type TcpSegment } from "../../wire/tcp.ts";
import type { ListenerCore } from "./accept.ts";
import { segmentArrives } from "../input.ts";
import { negotiate } from "../lifecycle.ts";
import { negotiateEcn } from "../ecn.ts";
import { halfSipHash, tupleWords } from "./isn.ts";
import { sendReply } from "../output.ts";
import { seqAdd } from "../seq.ts";
import {
  defaultPeerMss,
  linkMss,
  receiveScale,
  type Tcb,
  type TcpContext,
  timestampClock,
} from "../tcb.ts";

/** MSS values a cookie can carry; a client's MSS is rounded down to one. */
export const COOKIE_MSS: readonly number[] = [536, 1220, 1440, 1460, 8940, 8960, 65475, 65495];

/** Seconds in one cookie period. */
const PERIOD_MS = 64_000;
const ECN_SETUP = TcpFlags.ECE | TcpFlags.CWR;

/** What a valid cookie gives back. */
export interface CookieOptions {
  /** The MSS, from {@linkcode COOKIE_MSS}. */
  mss: number;
  /** Window scale shift, or -1 (none, or not carried). */
  wscale: number;
  /** SACK-permitted was offered. */
  sackPermitted: boolean;
}

/**
 * Makes and checks SYN cookies.
 *
 * @example
 * ```ts
 * import { SynCookies } from "./syncookie.ts";
 * const cookies = new SynCookies([1, 2]);
 * const tuple = [0xc0000201, 0xc0000202, (40000 << 16) | 80];
 * const isn = cookies.make(tuple, 1000, 1460, 0);
 * cookies.check(tuple, 1000, isn, 0); // 1460
 * cookies.check(tuple, 1001, isn, 0); // -1: another client ISN
 * ```
 */
export class SynCookies {
  #k0: number;
  #k1: number;
  #words: number[] = [];

  /** Cookies under `secret` (random when omitted). */
  constructor(secret?: [number, number]) {
    const s = secret ?? Array.from(crypto.getRandomValues(new Uint32Array(2)));
    this.#k0 = s[0];
    this.#k1 = s[1];
  }

  #mac(tuple: ArrayLike<number>, irs: number, t: number, mssIndex: number): number {
    const w = this.#words;
    w.length = 0;
    for (let i = 0; i < tuple.length; i++) w.push(tuple[i]);
    w.push(irs, (t << 3) | mssIndex);
    return halfSipHash(this.#k0, this.#k1, w) & 0xffffff;
  }

  /**
   * The ISN for a SYN from the client whose ISN is `irs` and MSS `mss`,
   * at `nowMs`. `tuple` is the addresses and ports as 32-bit words.
   */
  make(tuple: ArrayLike<number>, irs: number, mss: number, nowMs: number): number {
    let idx = 0;
    while (idx + 1 < COOKIE_MSS.length && COOKIE_MSS[idx + 1] <= mss) idx++;
    const t = Math.floor(nowMs / PERIOD_MS) & 31;
    return (((t << 27) | (idx << 24)) + this.#mac(tuple, irs, t, idx)) >>> 0;
  }

  /**
   * Checks `cookie` (the ACK's number minus one) for the client whose ISN
   * was `irs`: the MSS it carries, or -1 when it is forged or too old.
   */
  check(tuple: ArrayLike<number>, irs: number, cookie: number, nowMs: number): number {
    const t = cookie >>> 27;
    const idx = (cookie >>> 24) & 7;
    const age = ((Math.floor(nowMs / PERIOD_MS) & 31) - t + 32) & 31;
    if (age > 1) return -1;
    if ((cookie & 0xffffff) !== this.#mac(tuple, irs, t, idx)) return -1;
    return COOKIE_MSS[idx];
  }
}

/**
 * Our TSval for a cookie SYN,ACK: `tsNow` with its low 6 bits replaced by
 * the window scale (15 for none), the SACK bit and the ECN bit (Linux's
 * layout), never later than `tsNow`.
 *
 * @example
 * ```ts
 * import { cookieTimestamp, timestampOptions } from "./syncookie.ts";
 * const ts = cookieTimestamp(100_000, 7, true, true);
 * timestampOptions(ts); // { wscale: 7, sackPermitted: true, ecn: true }
 * ```
 */
export function cookieTimestamp(
  tsNow: number,
  wscale: number,
  sackPermitted: boolean,
  ecn = false,
): number {
  const bits = (wscale < 0 ? 15 : Math.min(wscale, MAX_WSCALE)) | (sackPermitted ? 16 : 0) |
    (ecn ? 32 : 0);
  let ts = ((tsNow & ~63) | bits) >>> 0;
  if (((tsNow - ts) | 0) < 0) ts = (ts - 64) >>> 0;
  return ts;
}

/**
 * The options {@linkcode cookieTimestamp} carried, from the ACK's TSecr.
 *
 * @example
 * ```ts
 * import { timestampOptions } from "./syncookie.ts";
 * timestampOptions(15); // { wscale: -1, sackPermitted: false, ecn: false }
 * ```
 */
export function timestampOptions(
  tsEcr: number,
): { wscale: number; sackPermitted: boolean; ecn: boolean } {
  const w = tsEcr & 15;
  return { wscale: w === 15 ? -1 : w, sackPermitted: (tsEcr & 16) !== 0, ecn: (tsEcr & 32) !== 0 };
}

/** What the cookie responder needs from the TCP layer. */
export interface CookieHost extends TcpContext {
  /** The TSval offset of the address pair. */
  pairOffset(local: Uint8Array, lOff: number, remote: Uint8Array, rOff: number, n: number): number;
  /** Creates and registers a passive connection. */
  createPassive(l: ListenerCore, d: IpDatagram, seg: TcpSegment): Tcb | undefined;
}

/**
 * SYN cookies for a listener whose backlog is full (RFC 4987 3.6): the
 * cookie SYN,ACK, and the connection its returning ACK stands for.
 *
 * @example
 * ```ts
 * import { exampleConnection } from "../../_examples.ts";
 * import { sysctlSet } from "../../sysctl.ts";
 * const { net } = await exampleConnection();
 * sysctlSet(net.b, "net.inet.tcp.syncache.bucketlimit", "1"); // one half-open connection
 * net.b.listen({ port: 81 });
 * let ok = 0;
 * for (let i = 0; i < 2; i++) net.a.connect({ hostname: "192.0.2.2", port: 81 }).then(() => ok++);
 * await net.run(() => ok === 2 && net.b.tcp.stats.synCookies.accepted === 1);
 * net.b.tcp.stats.synCookies; // { sent: 1, accepted: 1, rejected: 0 }: the second SYN's
 * ```
 */
export class CookieResponder {
  #host: CookieHost;
  #cookies = new SynCookies();
  #hdr = new TcpRepr();
  #words = new Uint32Array(9);

  // The 4-tuple of a segment to listener `l`, as the cookie's MAC reads it.
  #tuple(l: ListenerCore, d: IpDatagram, seg: TcpSegment): Uint32Array {
    return tupleWords(
      this.#words,
      d.buf,
      d.dstOff,
      d.buf,
      d.srcOff,
      d.addrLen,
      l.port,
      seg.srcPort,
    );
  }
  #opts = new TcpOptions();

  /** Cookies answered on behalf of `host`. */
  constructor(host: CookieHost) {
    this.#host = host;
  }

  /** Answers a SYN with a cookie SYN,ACK, keeping no state (RFC 4987 3.6). */
  send(l: ListenerCore, d: IpDatagram, seg: TcpSegment): void {
    const host = this.#host;
    const cfg = host.config;
    const o = seg.options;
    const now = host.now();
    const w = this.#tuple(l, d, seg);
    const peerMss = o.mss > 0 ? o.mss : defaultPeerMss(d.addrLen);
    const f = this.#hdr;
    f.srcPort = seg.dstPort;
    f.dstPort = seg.srcPort;
    f.seq = this.#cookies.make(w, seg.seq, peerMss, now);
    f.ack = seqAdd(seg.seq, 1);
    // Without timestamps there is nowhere to keep window scale, SACK and ECN.
    const ts = o.timestamp && cfg.timestamps;
    const ecn = ts && cfg.ecn !== 0 && (seg.flags & ECN_SETUP) === ECN_SETUP;
    f.flags = TcpFlags.SYN | TcpFlags.ACK | (ecn ? TcpFlags.ECE : 0);
    f.window = this.#window();
    f.clearOptions();
    f.mss = linkMss(host.ip.mtu, d.addrLen);
    const wscale = ts && o.wscale >= 0 && cfg.windowScale ? o.wscale : -1;
    const sack = ts && o.sackPermitted && cfg.sack;
    f.wscale = wscale >= 0 ? receiveScale(Math.max(cfg.rcvBuf, cfg.maxSockBuf)) : -1;
    f.sackPermitted = sack;
    f.timestamp = ts;
    const n = d.addrLen;
    const offset = host.pairOffset(d.buf, d.dstOff, d.buf, d.srcOff, n);
    f.tsVal = ts ? cookieTimestamp(timestampClock(now, offset), wscale, sack, ecn) : 0;
    f.tsEcr = ts ? o.tsVal : 0;
    sendReply(host, d, f, l.answererFor(d));
    l.cookieSentAt = now;
    host.stats.synCookies.sent++;
  }

  // The window a cookie SYN,ACK offers (RFC 7323 2.2: unscaled), which
  // the rebuilt connection must remember as advertised.
  #window(): number {
    return Math.min(0xffff, this.#host.config.rcvBuf);
  }

  /** Opens the connection a returning cookie stands for; false if it is not one. */
  accept(l: ListenerCore, d: IpDatagram, seg: TcpSegment): boolean {
    const host = this.#host;
    const now = host.now();
    // Only while cookies may be out there (two periods), so a stray ACK is
    // not hashed, and a guesser has no cookie to guess most of the time.
    if (!host.config.synCookies || now - l.cookieSentAt > 128_000) return false;
    const s = host.stats;
    const irs = seqAdd(seg.seq, -1);
    const iss = seqAdd(seg.ack, -1);
    const w = this.#tuple(l, d, seg);
    const mss = this.#cookies.check(w, irs, iss, now);
    if (mss < 0) {
      s.synCookies.rejected++;
      return false;
    }
    s.synCookies.accepted++;
    if (l.queue.length >= l.acceptBacklog) {
      s.dropped.acceptOverflow++;
      return true;
    }
    const c = host.createPassive(l, d, seg);
    if (!c) return true;
    // The SYN,ACK we sent without a block: ISS is the cookie, and the options
    // come from the cookie, the ACK's timestamp, and our TSval's low bits.
    c.snd.iss =
      c.snd.una =
      c.snd.recover =
      c.snd.smallEnd =
        iss;
    c.snd.nxt = c.snd.max = c.snd.bufSeq = seqAdd(iss, 1);
    c.rcv.irs = irs;
    c.rcv.nxt = seg.seq;
    c.rcv.adv = seqAdd(seg.seq, this.#window());
    const ack = seg.options;
    const o = this.#opts;
    o.clearOptions();
    o.mss = mss;
    let synFlags = 0; // of the SYN, as far as the cookie kept them
    if (ack.timestamp && host.config.timestamps) {
      const carried = timestampOptions(ack.tsEcr);
      o.wscale = carried.wscale;
      o.sackPermitted = carried.sackPermitted;
      o.timestamp = true;
      o.tsVal = ack.tsVal;
      if (carried.ecn) synFlags = ECN_SETUP;
    }
    negotiate(c, o);
    negotiateEcn(c, synFlags);
    c.snd.wnd = c.snd.maxWnd = seg.window << c.snd.scale;
    c.snd.wl1 = irs;
    c.snd.wl2 = iss;
    // Counted as a half-open connection for the moment the ACK completes it.
    c.synQueued = true;
    l.synPending++;
    s.passiveOpens++;
    segmentArrives(c, seg, d.ecn);
    return true;
  }
}
