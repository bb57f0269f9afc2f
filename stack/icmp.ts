/**
 * ICMP for IPv4 and IPv6: answers echo requests (RFC 792, RFC 4443 4.1),
 * hands errors about packets we sent (unreachable, fragmentation needed /
 * packet too big, time exceeded) to their transport with the quoted
 * header (RFC 1122 3.2.2.1, 4.2.3.9), counts and ignores what the kernel
 * sends on a fresh link (router solicitations, MLD reports, neighbour
 * solicitations), and counts every drop. It also tells senders what IP
 * refused (protocol unreachable, IPv6 parameter problems), under RFC 1122
 * 3.2.2's and RFC 4443 2.4's rules and a rate limit.
 *
 * @module
 */

import {
  type IcmpErrorKind,
  IcmpErrorReport,
  type IpDatagram,
  type IpLayer,
  type IpProblem,
} from "./ip.ts";
import {
  fillIcmpChecksum,
  ICMP_HEADER_LEN,
  IcmpMessage,
  Icmpv4Type,
  Icmpv4Unreachable,
  icmpv6PseudoSum,
  Icmpv6Type,
  Icmpv6Unreachable,
} from "./wire/icmp.ts";
import { addressPseudoSum } from "./wire/checksum.ts";
import { IpProtocol } from "./wire/ipv4.ts";

/**
 * Counters of the ICMP layer.
 *
 * @example
 * ```ts
 * import { newIcmpStats } from "./icmp.ts";
 * newIcmpStats().echoReplies; // 0
 * ```
 */
export function newIcmpStats() {
  return {
    /** Messages from IP: received = echoRequests + errors + ignored + dropped. */
    received: 0,
    echoRequests: 0,
    /** Errors about our packets handed to their transport. */
    errors: 0,
    echoReplies: 0,
    /** Errors we sent about packets IP refused. */
    sent: { protocolUnreachable: 0, parameterProblem: 0 },
    /** Errors we owed but did not send (RFC 1122 3.2.2, RFC 4443 2.4). */
    suppressed: {
      /** Over `net.inet.icmp.icmplim` per second. */
      rateLimited: 0,
      /** The packet was itself an ICMP error. */
      aboutIcmpError: 0,
      /** Sent to a multicast or broadcast address. */
      multicast: 0,
      /** From an address that names no single host. */
      badSource: 0,
      /** A fragment other than the first. */
      fragment: 0,
    },
    ignored: {
      routerSolicitation: 0,
      mldReport: 0,
      neighborSolicitation: 0,
      neighborAdvertisement: 0,
      echoReply: 0,
      other: 0,
    },
    dropped: {
      truncated: 0,
      badChecksum: 0,
      multicastEcho: 0,
      /** An error whose quoted packet is too short, not ours, or not IP. */
      badQuote: 0,
      /** An error about a protocol nothing here handles. */
      noTransport: 0,
    },
  };
}

/** The ICMP counters. */
export type IcmpStats = ReturnType<typeof newIcmpStats>;

/**
 * The ICMP layer; registers itself with the IP layer.
 *
 * @example
 * ```ts
 * import { IpLayer } from "./ip.ts";
 * import { Icmp } from "./icmp.ts";
 * const ip = new IpLayer({});
 * const icmp = new Icmp(ip);
 * icmp.stats.echoRequests; // 0
 * ```
 */
export class Icmp {
  /** Counters. */
  readonly stats: IcmpStats = newIcmpStats();
  #ip: IpLayer;
  #msg = new IcmpMessage();
  #report = new IcmpErrorReport();
  #clock: () => number;
  #tokens = DEFAULT_ERROR_RATE;
  #refilled = -Infinity;
  /** Errors sent per second at most (FreeBSD's net.inet.icmp.icmplim). */
  errorRate = DEFAULT_ERROR_RATE;

  /** Attaches to `ip` for protocols 1 and 58 and for its refusals. */
  constructor(ip: IpLayer, clock: () => number = () => performance.now()) {
    this.#ip = ip;
    this.#clock = clock;
    ip.onProblem = (buf, len, problem) => this.#refused(buf, len, problem);
    ip.register(IpProtocol.ICMP, (d) => this.#input(d, 0));
    ip.register(
      IpProtocol.ICMPV6,
      (d) => this.#input(d, icmpv6PseudoSum(d.buf, d.srcOff, d.dstOff, d.payloadLen)),
    );
  }

  #input(d: IpDatagram, pseudo: number): void {
    const s = this.stats;
    s.received++;
    const m = this.#msg;
    const err = m.wrap(d.buf, d.payloadOff, d.payloadLen, pseudo);
    if (err !== undefined) {
      s.dropped[err]++;
      return;
    }
    const v6 = d.version === 6;
    const type = m.type;
    if (type === (v6 ? Icmpv6Type.ECHO_REQUEST : Icmpv4Type.ECHO_REQUEST)) {
      // RFC 1122 3.2.2.6 lets a host ignore echo to broadcast/multicast; we do.
      if (d.multicast) {
        s.dropped.multicastEcho++;
        return;
      }
      s.echoRequests++;
      this.#reply(d, v6);
      return;
    }
    const kind = v6 ? kindV6(type, m.code) : kindV4(type, m.code);
    if (kind !== undefined) {
      this.#error(kind, v6);
      return;
    }
    if (!v6) {
      if (type === Icmpv4Type.ECHO_REPLY) s.ignored.echoReply++;
      else s.ignored.other++;
      return;
    }
    switch (type) {
      case Icmpv6Type.ROUTER_SOLICIT:
        s.ignored.routerSolicitation++;
        break;
      case Icmpv6Type.MLD_REPORT:
      case Icmpv6Type.MLDV2_REPORT:
      case Icmpv6Type.MLD_DONE:
        s.ignored.mldReport++;
        break;
      case Icmpv6Type.NEIGHBOR_SOLICIT:
        // A TUN link has no link-layer addresses, so there is nothing to resolve.
        s.ignored.neighborSolicitation++;
        break;
      case Icmpv6Type.NEIGHBOR_ADVERT:
        s.ignored.neighborAdvertisement++;
        break;
      case Icmpv6Type.ECHO_REPLY:
        s.ignored.echoReply++;
        break;
      default:
        s.ignored.other++;
    }
  }

  // The reply carries the request's identifier, sequence and data unchanged.
  // The quoted packet must be one we sent: IP header of our family with our
  // address as its source, and at least 8 bytes of the transport header
  // (RFC 792, RFC 4443 2.4), which is all TCP needs (ports and SEQ).
  #error(kind: IcmpErrorKind, v6: boolean): void {
    const s = this.stats;
    const m = this.#msg;
    const q = m.off + ICMP_HEADER_LEN;
    const qLen = m.len - ICMP_HEADER_LEN;
    const b = m.buf;
    const e = this.#report;
    let protocol: number;
    if (v6) {
      if (qLen < 48 || b[q] >> 4 !== 6) {
        s.dropped.badQuote++;
        return;
      }
      protocol = b[q + 6];
      e.addrLen = 16;
      e.localOff = q + 8;
      e.remoteOff = q + 24;
      e.transportOff = q + 40;
    } else {
      const ihl = (b[q] & 15) * 4;
      if (qLen < 28 || b[q] >> 4 !== 4 || ihl < 20 || qLen < ihl + 8) {
        s.dropped.badQuote++;
        return;
      }
      protocol = b[q + 9];
      e.addrLen = 4;
      e.localOff = q + 12;
      e.remoteOff = q + 16;
      e.transportOff = q + ihl;
    }
    if (!this.#ip.isLocal(b, e.localOff, e.addrLen)) {
      s.dropped.badQuote++;
      return;
    }
    e.kind = kind;
    e.buf = b;
    e.transportLen = m.off + m.len - e.transportOff;
    e.mtu = kind !== "packetTooBig" ? 0 : v6 ? m.mtu32 : m.nextHopMtu;
    if (!this.#ip.deliverError(protocol, e)) {
      s.dropped.noTransport++;
      return;
    }
    s.errors++;
  }

  // RFC 1122 3.2.2 and RFC 4443 2.4 (e): no error about an ICMP error, a
  // non-first fragment, a packet to a multicast or broadcast address
  // (except an unknown option whose action bits ask for it), or from an
  // address that is no single host; (f) and RFC 1812 4.3.2.8: rate-limited.
  #refused(buf: Uint8Array, len: number, p: IpProblem): void {
    const v6 = buf[0] >> 4 === 6;
    const sup = this.stats.suppressed;
    const addrLen = v6 ? 16 : 4;
    const srcOff = v6 ? 8 : 12, dstOff = v6 ? 24 : 16;
    if (!unicastSource(buf, srcOff, addrLen)) {
      sup.badSource++;
      return;
    }
    if (!p.multicastOk && multicastDestination(buf, dstOff, addrLen)) {
      sup.multicast++;
      return;
    }
    const inner = v6 ? v6Upper(buf, len) : v4Upper(buf, len);
    if (inner === FRAGMENT) {
      sup.fragment++;
      return;
    }
    if (inner >= 0 && (v6 ? inner < 128 : V4_ERROR_TYPES.has(inner))) {
      sup.aboutIcmpError++;
      return;
    }
    const now = this.#clock();
    this.#tokens = Math.min(
      this.errorRate,
      this.#tokens + (now - this.#refilled) * this.errorRate / 1000,
    );
    this.#refilled = now;
    if (this.#tokens < 1) {
      sup.rateLimited++;
      return;
    }
    this.#tokens--;
    const ip = this.#ip;
    const tx = ip.txBuffer;
    const off = ip.payloadOffset(addrLen);
    // RFC 1812 4.3.2.3 / RFC 4443 2.4 (c): as much of the packet as keeps
    // the error within the family's minimum MTU.
    const quote = Math.min(len, v6 ? 1280 - 48 : 576 - 28);
    tx.fill(0, off, off + ICMP_HEADER_LEN);
    tx[off] = p.type;
    tx[off + 1] = p.code;
    if (v6) new DataView(tx.buffer, tx.byteOffset).setUint32(off + 4, p.pointer);
    tx.set(buf.subarray(0, quote), off + ICMP_HEADER_LEN);
    const msgLen = ICMP_HEADER_LEN + quote;
    const dst = buf.slice(srcOff, srcOff + addrLen);
    const src = ip.isLocal(buf, dstOff, addrLen)
      ? buf.slice(dstOff, dstOff + addrLen)
      : (v6 ? ip.ipv6 : ip.ipv4);
    if (src === undefined) return;
    fillIcmpChecksum(
      tx,
      off,
      msgLen,
      v6 ? addressPseudoSum(src, dst, IpProtocol.ICMPV6, msgLen) : 0,
    );
    if (v6 && p.type === Icmpv6Type.PARAMETER_PROBLEM) this.stats.sent.parameterProblem++;
    else this.stats.sent.protocolUnreachable++;
    ip.send(src, dst, v6 ? IpProtocol.ICMPV6 : IpProtocol.ICMP, msgLen);
  }

  #reply(d: IpDatagram, v6: boolean): void {
    const ip = this.#ip;
    const tx = ip.txBuffer;
    const off = ip.payloadOffset(d.addrLen);
    const len = d.payloadLen;
    if (off + len > tx.length) return;
    tx.set(d.buf.subarray(d.payloadOff, d.payloadOff + len), off);
    tx[off] = v6 ? Icmpv6Type.ECHO_REPLY : Icmpv4Type.ECHO_REPLY;
    tx[off + 1] = 0;
    const src = d.buf.slice(d.dstOff, d.dstOff + d.addrLen);
    const dst = d.buf.slice(d.srcOff, d.srcOff + d.addrLen);
    let pseudo = 0;
    if (v6) {
      // Pseudo-header with the reply's addresses (order does not change the sum).
      pseudo = icmpv6PseudoSum(d.buf, d.srcOff, d.dstOff, len);
    }
    fillIcmpChecksum(tx, off, len, pseudo);
    this.stats.echoReplies++;
    ip.send(src, dst, v6 ? IpProtocol.ICMPV6 : IpProtocol.ICMP, len);
  }
}

/** Errors sent per second by default (FreeBSD's net.inet.icmp.icmplim). */
export const DEFAULT_ERROR_RATE = 200;

// ICMPv4 types that are errors (RFC 792, RFC 1122 3.2.2): unreachable,
// source quench, redirect, time exceeded, parameter problem.
const V4_ERROR_TYPES = new Set([3, 4, 5, 11, 12]);
// What the packet-walkers return for a fragment that is not the first.
const FRAGMENT = -2;

// The ICMPv4 type of the packet if it is ICMP, FRAGMENT for a non-first
// fragment, else -1.
function v4Upper(buf: Uint8Array, len: number): number {
  const hl = (buf[0] & 15) * 4;
  if ((((buf[6] << 8) | buf[7]) & 0x1fff) !== 0) return FRAGMENT;
  return buf[9] === IpProtocol.ICMP && len > hl ? buf[hl] : -1;
}

// The ICMPv6 type of the packet if its extension headers lead to ICMPv6,
// FRAGMENT for a non-first fragment, else -1 (also when they cannot be
// followed: the packet was refused for its headers).
function v6Upper(buf: Uint8Array, len: number): number {
  let next = buf[6], off = 40;
  for (let i = 0; i < 8 && off + 8 <= len; i++) {
    if (next === IpProtocol.ICMPV6) return buf[off];
    if (next === 44) {
      if ((((buf[off + 2] << 8) | buf[off + 3]) & 0xfff8) !== 0) return FRAGMENT;
      next = buf[off];
      off += 8;
    } else if (next === 0 || next === 43 || next === 60) {
      next = buf[off];
      off += (buf[off + 1] + 1) * 8;
    } else return -1;
  }
  return next === IpProtocol.ICMPV6 && off < len ? buf[off] : -1;
}

function unicastSource(buf: Uint8Array, off: number, addrLen: number): boolean {
  if (addrLen === 4) {
    return buf[off] !== 0 && buf[off] < 224;
  }
  if (buf[off] === 0xff) return false;
  for (let i = 0; i < 16; i++) if (buf[off + i] !== 0) return true;
  return false; // ::
}

function multicastDestination(buf: Uint8Array, off: number, addrLen: number): boolean {
  return addrLen === 4 ? buf[off] >= 224 : buf[off] === 0xff; // 255.255.255.255 included
}

// ICMPv4 errors about our packets, by type and code (RFC 792, RFC 1122 4.2.3.9).
function kindV4(type: number, code: number): IcmpErrorKind | undefined {
  const U = Icmpv4Unreachable;
  if (type === Icmpv4Type.TIME_EXCEEDED) return "timeExceeded";
  if (type !== Icmpv4Type.DEST_UNREACHABLE) return undefined;
  switch (code) {
    case U.FRAG_NEEDED:
      return "packetTooBig";
    case U.PORT:
      return "portUnreachable";
    case U.PROTOCOL:
      return "protocolUnreachable";
    case U.NET_PROHIBITED:
    case U.HOST_PROHIBITED:
    case U.ADMIN_PROHIBITED:
      return "prohibited";
    default:
      return "unreachable";
  }
}

// ICMPv6 errors about our packets (RFC 4443 3).
function kindV6(type: number, code: number): IcmpErrorKind | undefined {
  if (type === Icmpv6Type.PACKET_TOO_BIG) return "packetTooBig";
  if (type === Icmpv6Type.TIME_EXCEEDED) return "timeExceeded";
  if (type !== Icmpv6Type.DEST_UNREACHABLE) return undefined;
  if (code === Icmpv6Unreachable.PORT) return "portUnreachable";
  if (code === Icmpv6Unreachable.ADMIN_PROHIBITED) return "prohibited";
  return "unreachable";
}
