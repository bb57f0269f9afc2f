/**
 * ICMP for IPv4 and IPv6: answers echo requests (RFC 792, RFC 4443 4.1),
 * hands errors about packets we sent (unreachable, fragmentation needed /
 * packet too big, time exceeded) to their transport with the quoted
 * header (RFC 1122 3.2.2.1, 4.2.3.9), counts and ignores what the kernel
 * sends on a fresh link (router solicitations, MLD reports, neighbour
 * solicitations), and counts every drop.
 *
 * @module
 */

import { type IcmpErrorKind, IcmpErrorReport, type IpDatagram, type IpLayer } from "./ip.ts";
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

  /** Attaches to `ip` for protocols 1 and 58. */
  constructor(ip: IpLayer) {
    this.#ip = ip;
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
