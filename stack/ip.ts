/**
 * The IP layer: validates every received packet (counting each drop by
 * reason), hands datagrams for our addresses to ICMP or TCP, and sends
 * upper-layer payloads with an IPv4 or IPv6 header in front. Packets to one
 * of our own addresses loop back inside the stack without touching the link.
 *
 * @module
 */

import { GsoType, type Link, TxOffload } from "./link.ts";
import { Icmpv4Type, Icmpv4Unreachable, Icmpv6Type } from "./wire/icmp.ts";
import { IpProtocol } from "./wire/ipv4.ts";
import { ecnField } from "./wire/ecn.ts";
import { emitIpv4Header, IPV4_HEADER_LEN, Ipv4Packet } from "./wire/ipv4.ts";
import { emitIpv6Header, IPV6_HEADER_LEN, Ipv6Packet } from "./wire/ipv6.ts";
import { type IpAddress, ipEquals } from "./wire/ip_address.ts";
import { PathMtuCache } from "./pmtu.ts";
import { type Reassembled, Reassembler } from "./reassembly.ts";
import { checksum, sum16 } from "./wire/checksum.ts";

/**
 * The parts of a received datagram an upper layer needs; reused per packet.
 *
 * @example
 * ```ts
 * import { type IpDatagram, IpLayer } from "./ip.ts";
 * import { parseIp } from "./wire/ip_address.ts";
 * const ip = new IpLayer({ ipv4: parseIp("192.0.2.2") });
 * let len = -1;
 * ip.register(253, (d: IpDatagram) => len = d.payloadLen); // RFC 3692's experimental protocol
 * const p = new Uint8Array(24);
 * p.set([0x45, 0, 0, 24, 0, 0, 0, 0, 64, 253, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2]);
 * const sum = [0, 2, 4, 6, 8, 10, 12, 14, 16, 18].reduce((s, i) => s + (p[i] << 8 | p[i + 1]), 0);
 * const c = ~((sum & 0xffff) + (sum >>> 16)) & 0xffff;
 * p[10] = c >> 8;
 * p[11] = c & 0xff;
 * ip.receive(p, p.length);
 * len; // 4
 * ```
 */
export class IpDatagram {
  /** Packet bytes. */
  buf: Uint8Array = new Uint8Array(0);
  /** 4 or 6. */
  version: 4 | 6 = 4;
  /** Offset of the source address. */
  srcOff = 0;
  /** Offset of the destination address. */
  dstOff = 0;
  /** 4 or 16. */
  addrLen = 4;
  /** Upper-layer protocol. */
  protocol = 0;
  /** Offset of the upper-layer header. */
  payloadOff = 0;
  /** Upper-layer length. */
  payloadLen = 0;
  /** TTL / hop limit. */
  ttl = 0;
  /** The ECN field (RFC 3168 5): 0 Not-ECT, 1 ECT(1), 2 ECT(0), 3 CE. */
  ecn = 0;
  /** Whether the destination is multicast or broadcast. */
  multicast = false;
  /** The link vouches for the transport checksum (offload or loopback). */
  csumValid = false;
}

/** Upper-layer input, by protocol number. */
export type ProtocolHandler = (d: IpDatagram) => void;

/** What an ICMP error says about a packet we sent (RFC 1122 4.2.3.9, RFC 5461). */
export type IcmpErrorKind =
  | "packetTooBig"
  | "portUnreachable"
  | "protocolUnreachable"
  | "prohibited"
  | "unreachable"
  | "timeExceeded";

/**
 * An ICMP error as the transport sees it: its kind, the MTU a "packet too
 * big" names, and the quoted packet (our address at `localOff`, the peer's
 * at `remoteOff`, the transport header's first bytes at `transportOff`).
 * One instance is reused.
 */
export class IcmpErrorReport {
  /** What happened. */
  kind: IcmpErrorKind = "unreachable";
  /** The next-hop MTU for `packetTooBig` (0 when the router gave none). */
  mtu = 0;
  /** Bytes of the ICMP message. */
  buf: Uint8Array = new Uint8Array(0);
  /** Offset of our address in the quoted header. */
  localOff = 0;
  /** Offset of the peer's address. */
  remoteOff = 0;
  /** 4 or 16. */
  addrLen = 4;
  /** Offset of the quoted transport header. */
  transportOff = 0;
  /** Quoted transport bytes available (at least 8). */
  transportLen = 0;
}

/** Transport handling of ICMP errors, by protocol number. */
export type ErrorHandler = (e: IcmpErrorReport) => void;

/**
 * Counters of the IP layer.
 *
 * @example
 * ```ts
 * import { newIpStats } from "./ip.ts";
 * newIpStats().dropped.badChecksum; // 0
 * ```
 */
export function newIpStats() {
  return {
    rxPackets: 0,
    /** Fragments held for reassembly (they count in rxPackets, not in delivered). */
    fragmentsTaken: 0,
    /** Datagrams put together from fragments and passed on as packets. */
    reassembled: 0,
    /**
     * Handed to ICMP or TCP: rxPackets + fragments.reassembled = delivered +
     * fragments.queued + the drops below.
     */
    delivered: 0,
    txPackets: 0,
    loopbackPackets: 0,
    txLinkDropped: 0,
    txNoLink: 0,
    dropped: {
      empty: 0,
      badVersion: 0,
      truncated: 0,
      badHeaderLength: 0,
      badTotalLength: 0,
      badPayloadLength: 0,
      badChecksum: 0,
      badExtensionHeader: 0,
      hopByHopNotFirst: 0,
      routingHeader: 0,
      unknownOption: 0,
      /** Fragments the reassembler refused (`fragments.bad`, `overlapDropped`, `evicted`). */
      fragment: 0,
      /** Source address multicast or broadcast (RFC 1122 3.2.1.3). */
      badSource: 0,
      notForUs: 0,
      unknownProtocol: 0,
    },
  };
}

/** The IP layer's counters. */
export type IpStats = ReturnType<typeof newIpStats>;

const NO_NEXT_HEADER = 59;

/**
 * A packet IP refused that its sender should hear of by ICMP: the error's
 * type and code, the Parameter Problem pointer, and whether it may answer
 * a packet sent to a multicast address (RFC 4443 2.4 (e.3)).
 */
export interface IpProblem {
  type: number;
  code: number;
  pointer: number;
  multicastOk: boolean;
}

/**
 * The header fields a socket sets on the packets it sends (IP_TTL and IP_TOS,
 * IPV6_UNICAST_HOPS and IPV6_TCLASS): a `ttl` of 0 takes the layer's
 * default; `tos` is the whole TOS or traffic-class byte.
 */
export interface IpHeaderFields {
  /** TTL or hop limit, 1 to 255; 0 for the layer's default. */
  ttl: number;
  /** TOS (IPv4) or traffic class (IPv6). */
  tos: number;
}

/** A socket's TTL and TOS options, as an application gives them. */
export interface IpFieldOptions {
  /** TTL (IPv6: hop limit), 1 to 255; 0 for the stack's default. */
  ttl?: number;
  /** TOS (IPv6: traffic class) byte: DSCP in its upper six bits. */
  tos?: number;
}

/**
 * Sets `fields` from `options`, checking each. The TOS byte's two ECN bits
 * are TCP's to set per segment (RFC 3168, `tcp/ecn.ts`), so an
 * application's are cleared, as Linux does for its TCP sockets.
 *
 * @example
 * ```ts
 * import { setHeaderFields } from "./ip.ts";
 * const fields = { ttl: 0, tos: 0 };
 * setHeaderFields(fields, { ttl: 4, tos: 0xb9 }); // DSCP EF, with an ECN bit
 * fields.tos; // 0xb8: the ECN bit is cleared
 * ```
 */
export function setHeaderFields(fields: IpHeaderFields, options: IpFieldOptions): void {
  const { ttl, tos } = options;
  for (const [name, v] of [["TTL", ttl], ["TOS", tos]] as const) {
    if (v !== undefined && (!Number.isInteger(v) || v < 0 || v > 255)) {
      throw new RangeError(`Invalid ${name}: ${v} (must be an integer from 0 to 255)`);
    }
  }
  if (ttl !== undefined) fields.ttl = ttl;
  if (tos !== undefined) fields.tos = tos & 0xfc;
}

/** Our addresses. */
export interface IpConfig {
  /** The stack's IPv4 address, if any. */
  ipv4?: IpAddress;
  /** The stack's IPv6 address, if any. */
  ipv6?: IpAddress;
  /** TTL / hop limit of packets we send. */
  ttl?: number;
  /** Milliseconds, for reassembly timeouts (default performance.now). */
  clock?: () => number;
}

/**
 * Input demultiplexing and output for IPv4 and IPv6.
 *
 * @example
 * ```ts
 * import { IpLayer } from "./ip.ts";
 * import { parseIp } from "./wire/ip_address.ts";
 * const ip = new IpLayer({ ipv4: parseIp("192.0.2.2") });
 * ip.receive(new Uint8Array(1), 1); // counted as dropped.truncated
 * ```
 */
export class IpLayer {
  /** Counters. */
  readonly stats: IpStats = newIpStats();
  /** Our IPv4 address. */
  readonly ipv4: IpAddress | undefined;
  /** Our IPv6 address. */
  readonly ipv6: IpAddress | undefined;
  #ttl: number;
  #link: Link | undefined;
  #handlers = new Map<number, ProtocolHandler>();
  #errorHandlers = new Map<number, ErrorHandler>();
  #v4 = new Ipv4Packet();
  #v6 = new Ipv6Packet();
  #dgram = new IpDatagram();
  #ident = 1;
  #tx: Uint8Array<ArrayBuffer> = new Uint8Array(65535 + 64);
  #headroom = 0;
  #loopQueue: Uint8Array[] = [];
  #loopScheduled = false;
  #offload = new TxOffload();
  #clock: () => number;

  /** Creates the layer for our addresses. */
  constructor(config: IpConfig) {
    this.ipv4 = config.ipv4;
    this.ipv6 = config.ipv6;
    this.#ttl = config.ttl ?? 64;
    this.#clock = config.clock ?? (() => performance.now());
  }

  /** Told of refused packets that deserve an ICMP error (the ICMP layer sets it). */
  onProblem: ((buf: Uint8Array, len: number, problem: IpProblem) => void) | undefined;

  /** Fragment reassembly (its limits are sysctls; counters under `ip.fragments`). */
  readonly reassembly: Reassembler = new Reassembler();

  /** Connects the layer to its link; output before this is counted and dropped. */
  attach(link: Link): void {
    this.#link = link;
    this.#headroom = link.headroom;
    this.#tx = new Uint8Array(link.headroom + 65535 + 64);
  }

  /** Largest IP packet the link carries (65535 without a link). */
  get mtu(): number {
    return this.#link?.mtu ?? 65535;
  }

  /** The link computes transport checksums left partial. */
  get csumOffload(): boolean {
    return this.#link?.csumOffload ?? false;
  }

  /** Largest packet the link segments for us (the MTU without TSO). */
  get gsoMax(): number {
    return this.#link?.gsoMax ?? this.mtu;
  }

  /** Path MTUs learned from ICMP, per destination. */
  readonly pmtu: PathMtuCache = new PathMtuCache();

  /** Registers what handles ICMP errors about packets of `protocol`. */
  registerErrors(protocol: number, handler: ErrorHandler): void {
    this.#errorHandlers.set(protocol, handler);
  }

  /** Hands an ICMP error to its transport; false when none handles `protocol`. */
  deliverError(protocol: number, e: IcmpErrorReport): boolean {
    const h = this.#errorHandlers.get(protocol);
    if (!h) return false;
    h(e);
    return true;
  }

  /** Registers the input function for an upper-layer protocol. */
  register(protocol: number, handler: ProtocolHandler): void {
    this.#handlers.set(protocol, handler);
  }

  /** Whether `buf[off, off+len)` is one of our addresses. */
  isLocal(buf: Uint8Array, off: number, len: number): boolean {
    if (len === 4) return this.ipv4 !== undefined && ipEquals(buf, off, this.ipv4);
    return this.ipv6 !== undefined && ipEquals(buf, off, this.ipv6);
  }

  /** Whether `addr` is one of our addresses. */
  isLocalAddress(addr: IpAddress): boolean {
    return this.isLocal(addr, 0, addr.length);
  }

  /** Handles one received packet. Never throws on malformed input. */
  receive(buf: Uint8Array, len: number, csumValid = false): void {
    this.stats.rxPackets++;
    this.#input(buf, len, csumValid);
  }

  #input(buf: Uint8Array, len: number, csumValid: boolean): void {
    const s = this.stats;
    if (len < 1) {
      s.dropped.empty++;
      return;
    }
    const d = this.#dgram;
    const version = buf[0] >> 4;
    d.buf = buf;
    d.csumValid = csumValid;
    d.ecn = ecnField(buf);
    if (version === 4) {
      const ip = this.#v4;
      const err = ip.wrap(buf, len);
      if (err !== undefined) {
        s.dropped[err]++;
        return;
      }
      if (ip.moreFragments || ip.fragmentOffset !== 0) {
        const hl = ip.headerLen;
        const key = `4 ${buf.subarray(12, 20).join(".")} ${ip.protocol} ${ip.ident}`;
        const off = ip.fragmentOffset;
        const header = off === 0 ? buf.slice(0, hl) : undefined;
        const r = this.#fragment(key, off, ip.moreFragments, buf.slice(hl, ip.totalLen), header);
        if (r !== undefined) {
          // RFC 791: the whole datagram, as one unfragmented packet.
          const p = new Uint8Array(hl + r.payload.length);
          p.set(r.header);
          p.set(r.payload, hl);
          p[2] = p.length >> 8;
          p[3] = p.length & 0xff;
          p[6] &= 0x40; // keep DF, clear MF and the offset
          p[7] = 0;
          p[10] = p[11] = 0;
          const c = checksum(sum16(0, p, 0, hl));
          p[10] = c >> 8;
          p[11] = c & 0xff;
          this.#input(p, p.length, false);
        }
        return;
      }
      d.version = 4;
      d.srcOff = 12;
      d.dstOff = 16;
      d.addrLen = 4;
      d.protocol = ip.protocol;
      d.payloadOff = ip.payloadOffset;
      d.payloadLen = ip.payloadLen;
      d.ttl = ip.ttl;
      d.multicast = buf[16] >= 224 || (buf[16] === 255 && buf[19] === 255);
    } else if (version === 6) {
      const ip = this.#v6;
      const err = ip.wrap(buf, len);
      if (err !== undefined) {
        s.dropped[err]++;
        if (ip.problemCode >= 0) {
          this.onProblem?.(buf, IPV6_HEADER_LEN + ip.payloadLenField, {
            type: Icmpv6Type.PARAMETER_PROBLEM,
            code: ip.problemCode,
            pointer: ip.problemPointer,
            multicastOk: ip.problemCode === 2 && !ip.problemUnicastOnly,
          });
        }
        return;
      }
      if (ip.fragmentHeader >= 0) {
        const fh = ip.fragmentHeader;
        const key = `6 ${buf.subarray(8, 40).join(".")} ${ip.fragmentId}`;
        const off = ip.fragmentOffset;
        const end = IPV6_HEADER_LEN + ip.payloadLenField;
        // RFC 8200 4.5: the unfragmentable part comes from the first fragment.
        const header = off === 0 ? buf.slice(0, fh) : undefined;
        if (header) header[ip.fragmentNextField] = buf[fh];
        const r = this.#fragment(key, off, ip.moreFragments, buf.slice(fh + 8, end), header);
        if (r !== undefined) {
          const p = new Uint8Array(r.header.length + r.payload.length);
          p.set(r.header);
          p.set(r.payload, r.header.length);
          const plen = p.length - IPV6_HEADER_LEN;
          p[4] = plen >> 8;
          p[5] = plen & 0xff;
          this.#input(p, p.length, false);
        }
        return;
      }
      d.version = 6;
      d.srcOff = 8;
      d.dstOff = 24;
      d.addrLen = 16;
      d.protocol = ip.protocol;
      d.payloadOff = ip.payloadOffset;
      d.payloadLen = ip.payloadLen;
      d.ttl = ip.hopLimit;
      d.multicast = buf[24] === 0xff;
    } else {
      s.dropped.badVersion++;
      return;
    }
    // RFC 1122 3.2.1.7: a TTL below 2 is no reason to drop (we are the
    // destination, not a router); RFC 1122 3.2.1.3 / RFC 4291 2.7: a
    // broadcast or multicast source is, and would make us answer to it.
    const src = buf[d.srcOff];
    if (d.addrLen === 4 ? src >= 224 : src === 0xff) {
      s.dropped.badSource++;
      return;
    }
    if (!d.multicast && !this.isLocal(buf, d.dstOff, d.addrLen)) {
      s.dropped.notForUs++;
      return;
    }
    const h = this.#handlers.get(d.protocol);
    if (h === undefined) {
      s.dropped.unknownProtocol++;
      // RFC 1122 3.2.2.1: protocol unreachable; RFC 8200 4: the IPv6 form
      // is a Parameter Problem at the next-header byte that names it, except
      // for No Next Header, which is nothing to complain of (RFC 8200 4.7).
      const v6 = d.version === 6;
      if (v6 && d.protocol === NO_NEXT_HEADER) return;
      this.onProblem?.(buf, d.payloadOff + d.payloadLen, {
        type: v6 ? Icmpv6Type.PARAMETER_PROBLEM : Icmpv4Type.DEST_UNREACHABLE,
        code: v6 ? 1 : Icmpv4Unreachable.PROTOCOL,
        pointer: v6 ? this.#v6.protocolField : 0,
        multicastOk: false,
      });
      return;
    }
    s.delivered++;
    h(d);
  }

  /** One fragment to the reassembler; the whole datagram when it completes. */
  #fragment(
    key: string,
    off: number,
    more: boolean,
    data: Uint8Array,
    header: Uint8Array | undefined,
  ): Reassembled | undefined {
    const s = this.stats;
    const r = this.reassembly.add(key, off, more, data, header, this.#clock());
    if (r === false) {
      s.dropped.fragment++;
      return undefined;
    }
    s.fragmentsTaken++;
    if (r === true) return undefined;
    s.reassembled++;
    return r;
  }

  /**
   * The buffer upper layers write into before {@linkcode IpLayer.send}; their
   * header starts at {@linkcode IpLayer.payloadOffset}.
   */
  get txBuffer(): Uint8Array<ArrayBuffer> {
    return this.#tx;
  }

  /** Where the upper-layer header goes in `txBuffer` for this family. */
  payloadOffset(addrLen: number): number {
    return this.#headroom + (addrLen === 4 ? IPV4_HEADER_LEN : IPV6_HEADER_LEN);
  }

  /**
   * Sends the `payloadLen` bytes at `payloadOffset` in `txBuffer` from `src`
   * to `dst`, with the TTL and TOS of `fields` if given. A packet to one of
   * our own addresses is looped back.
   */
  send(
    src: IpAddress,
    dst: IpAddress,
    protocol: number,
    payloadLen: number,
    offload?: TxOffload,
    fields?: IpHeaderFields,
  ): boolean {
    const h = this.#headroom;
    const tx = this.#tx;
    const ttl = fields?.ttl || this.#ttl;
    const tos = fields?.tos ?? 0;
    let len: number;
    if (src.length === 4) {
      this.#ident = (this.#ident + 1) & 0xffff;
      len = emitIpv4Header(tx, h, src, dst, protocol, payloadLen, ttl, this.#ident, tos) +
        payloadLen;
    } else {
      len = emitIpv6Header(tx, h, src, dst, protocol, payloadLen, ttl, tos) + payloadLen;
    }
    this.stats.txPackets++;
    if (this.isLocalAddress(dst)) {
      this.#loopback(tx.slice(h, h + len));
      return true;
    }
    if (!this.#link) {
      this.stats.txNoLink++;
      return false;
    }
    if (!this.#link.transmit(tx, len, offload)) {
      this.stats.txLinkDropped++;
      return false;
    }
    return true;
  }

  /**
   * Sends like {@linkcode IpLayer.send} a transport segment whose checksum
   * holds only the pseudo-header sum, for a link with checksum offload to
   * finish; a `segmentSize` asks it to cut the payload past `headerLen`
   * into pieces of that size (TSO). The device's offload fields are filled
   * here, so transports never see the device contract.
   */
  sendPartial(
    src: IpAddress,
    dst: IpAddress,
    protocol: number,
    payloadLen: number,
    how: { headerLen: number; checksumOffset: number; segmentSize: number },
    fields?: IpHeaderFields,
  ): boolean {
    const ipHl = src.length === 4 ? IPV4_HEADER_LEN : IPV6_HEADER_LEN;
    const o = this.#offload;
    const tso = how.segmentSize > 0 && protocol === IpProtocol.TCP;
    o.gsoType = tso ? (ipHl === IPV4_HEADER_LEN ? GsoType.TCPV4 : GsoType.TCPV6) : GsoType.NONE;
    o.gsoSize = tso ? how.segmentSize : 0;
    o.hdrLen = ipHl + how.headerLen;
    o.csumStart = ipHl;
    o.csumOffset = how.checksumOffset;
    return this.send(src, dst, protocol, payloadLen, o, fields);
  }

  // Looped-back packets are queued and delivered from a microtask, so a
  // sender never re-enters its own input processing.
  #loopback(packet: Uint8Array): void {
    this.stats.loopbackPackets++;
    this.#loopQueue.push(packet);
    if (this.#loopScheduled) return;
    this.#loopScheduled = true;
    queueMicrotask(() => {
      this.#loopScheduled = false;
      const q = this.#loopQueue;
      this.#loopQueue = [];
      // Our own packets: a checksum left partial for offload is fine.
      for (const p of q) this.receive(p, p.length, true);
    });
  }
}
