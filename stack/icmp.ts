/**
 * ICMP for IPv4 and IPv6: answers echo requests (RFC 792, RFC 4443 4.1),
 * counts and ignores what the kernel sends on a fresh link (router
 * solicitations, MLD reports, neighbour solicitations), and counts every
 * drop.
 *
 * @module
 */

import type { IpDatagram, IpLayer } from "./ip.ts";
import {
  fillIcmpChecksum,
  IcmpMessage,
  Icmpv4Type,
  icmpv6PseudoSum,
  Icmpv6Type,
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
    /** Messages from IP: received = echoRequests + ignored + dropped. */
    received: 0,
    echoRequests: 0,
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
