/**
 * IPv6 header (RFC 8200) with extension-header walking: a checked view over
 * packet bytes and a builder.
 *
 * @module
 */

/** Why an IPv6 packet was refused by {@linkcode Ipv6Packet.wrap}. */
export type Ipv6Error =
  | "truncated"
  | "badVersion"
  | "badPayloadLength"
  | "badExtensionHeader"
  /** Hop-by-hop options anywhere but right after the fixed header (RFC 8200 4.3). */
  | "hopByHopNotFirst"
  /** A routing header with segments left: a host does not forward (RFC 8200 4.4, RFC 5095). */
  | "routingHeader"
  /** An option whose type's action bits say discard when not understood (RFC 8200 4.2). */
  | "unknownOption";

/** Length of the fixed IPv6 header. */
export const IPV6_HEADER_LEN = 40;

const HOP_BY_HOP = 0;
const ROUTING = 43;
const FRAGMENT = 44;
const DEST_OPTS = 60;
/**
 * A view over an IPv6 packet, reused for every packet. `wrap` walks the
 * extension headers (RFC 8200 4.1) so `protocol`/`payloadOffset` describe
 * the upper-layer header.
 *
 * @example
 * ```ts
 * import { Ipv6Packet } from "./ipv6.ts";
 * const ip = new Ipv6Packet();
 * const bytes = new Uint8Array(40);
 * bytes[0] = 0x60; bytes[6] = 59; // no next header
 * ip.wrap(bytes, 40); // undefined: valid
 * ```
 */
export class Ipv6Packet {
  /** The bytes; the packet starts at 0. */
  buf: Uint8Array = new Uint8Array(0);
  /** Bytes available. */
  len = 0;
  /** Upper-layer protocol after extension headers. */
  protocol = 0;
  /** Offset of the upper-layer header. */
  payloadOffset = IPV6_HEADER_LEN;
  /** Offset of a fragment header that is no atomic fragment, or -1 (RFC 8200 4.5). */
  fragmentHeader = -1;
  /** Offset of the next-header byte that names the fragment header. */
  fragmentNextField = 6;
  /** The fragment's offset in the fragmentable part, bytes. */
  fragmentOffset = 0;
  /** More fragments follow. */
  moreFragments = false;
  /** The fragment header's identification. */
  fragmentId = 0;
  /** Offset of the next-header byte that names `protocol`. */
  protocolField = 6;
  /**
   * After a refusal: the ICMPv6 Parameter Problem code (RFC 4443 3.4) the
   * sender should get, or -1 when RFC 8200 wants the packet dropped silently.
   */
  problemCode = -1;
  /** The offending byte's offset, for the Parameter Problem's pointer. */
  problemPointer = 0;
  /** The problem is reported only when the packet was not sent to a multicast group. */
  problemUnicastOnly = false;

  /**
   * Points the view at `buf[0, len)` and validates it. A fragment other
   * than an atomic one (offset 0, no more fragments; RFC 6946) sets
   * `fragmentHeader` and the fragment fields; `protocol` is then the
   * fragmentable part's and `payloadOffset` is right after the header.
   */
  wrap(buf: Uint8Array, len: number): Ipv6Error | undefined {
    this.buf = buf;
    this.len = len;
    if (len < IPV6_HEADER_LEN) return "truncated";
    if (buf[0] >> 4 !== 6) return "badVersion";
    const end = IPV6_HEADER_LEN + this.payloadLenField;
    if (end > len) return "badPayloadLength";
    let next = buf[6];
    let off = IPV6_HEADER_LEN;
    let nextField = 6;
    this.fragmentHeader = -1;
    this.problemCode = -1;
    this.problemUnicastOnly = false;
    for (;;) {
      if (next === HOP_BY_HOP || next === ROUTING || next === DEST_OPTS) {
        if (off + 8 > end) return "badExtensionHeader";
        const hlen = (buf[off + 1] + 1) * 8;
        if (off + hlen > end) return "badExtensionHeader";
        if (next === HOP_BY_HOP && off !== IPV6_HEADER_LEN) {
          // RFC 8200 4.0: an unrecognized next header there (code 1).
          return this.#problem(1, nextField, "hopByHopNotFirst");
        }
        if (next === ROUTING && buf[off + 3] !== 0) {
          // RFC 8200 4.4: code 0, pointing at Segments Left.
          return this.#problem(0, off + 3, "routingHeader");
        }
        if (next !== ROUTING) {
          const bad = this.#checkOptions(off + 2, off + hlen);
          if (bad !== undefined) return bad;
        }
        next = buf[off];
        nextField = off;
        off += hlen;
      } else if (next === FRAGMENT) {
        if (off + 8 > end) return "badExtensionHeader";
        const fragOff = ((buf[off + 2] << 8) | buf[off + 3]) & 0xfff8;
        const more = (buf[off + 3] & 1) !== 0;
        if (fragOff !== 0 || more) {
          // Reassembly comes first; what follows is parsed after it.
          this.fragmentHeader = off;
          this.fragmentNextField = nextField;
          this.fragmentOffset = fragOff;
          this.moreFragments = more;
          this.fragmentId = ((buf[off + 4] << 24) | (buf[off + 5] << 16) | (buf[off + 6] << 8) |
            buf[off + 7]) >>> 0;
          this.protocol = buf[off];
          this.payloadOffset = off + 8;
          return undefined;
        }
        next = buf[off];
        nextField = off;
        off += 8;
      } else break;
    }
    this.protocol = next;
    this.protocolField = nextField;
    this.payloadOffset = off;
    return undefined;
  }

  #problem(code: number, pointer: number, why: Ipv6Error): Ipv6Error {
    this.problemCode = code;
    this.problemPointer = pointer;
    return why;
  }

  /**
   * Walks the TLV options of a hop-by-hop or destination options header in
   * `buf[off, end)`. We understand only padding (Pad1, PadN); an option we
   * do not know is skipped or refused as its type's action bits say (RFC
   * 8200 4.2): 00 skip, 01 discard, 10 discard and report, 11 discard and
   * report unless the destination was multicast.
   */
  #checkOptions(off: number, end: number): Ipv6Error | undefined {
    const buf = this.buf;
    while (off < end) {
      const type = buf[off];
      if (type === 0) {
        off++; // Pad1
        continue;
      }
      if (off + 2 > end || off + 2 + buf[off + 1] > end) return "badExtensionHeader";
      const action = type >> 6;
      if (type !== 1 && action !== 0) {
        if (action === 1) return "unknownOption";
        this.problemUnicastOnly = action === 3;
        return this.#problem(2, off, "unknownOption");
      }
      off += 2 + buf[off + 1];
    }
    return undefined;
  }

  /** The payload length field (everything after the fixed header). */
  get payloadLenField(): number {
    return (this.buf[4] << 8) | this.buf[5];
  }
  /** Hop limit. */
  get hopLimit(): number {
    return this.buf[7];
  }
  /** Offset of the source address. */
  get srcOffset(): number {
    return 8;
  }
  /** Offset of the destination address. */
  get dstOffset(): number {
    return 24;
  }
  /** Length of the upper-layer data. */
  get payloadLen(): number {
    return IPV6_HEADER_LEN + this.payloadLenField - this.payloadOffset;
  }
}

/**
 * Writes a 40-byte IPv6 header at `buf[off]` with flow label 0;
 * `trafficClass` is the byte that holds DSCP and ECN. Returns its length.
 *
 * @example
 * ```ts
 * import { emitIpv6Header } from "./ipv6.ts";
 * const buf = new Uint8Array(48);
 * emitIpv6Header(buf, 0, new Uint8Array(16), new Uint8Array(16), 58, 8, 64);
 * ```
 */
export function emitIpv6Header(
  buf: Uint8Array,
  off: number,
  src: Uint8Array,
  dst: Uint8Array,
  protocol: number,
  payloadLen: number,
  hopLimit: number,
  trafficClass = 0,
): number {
  buf[off] = 0x60 | (trafficClass >> 4);
  buf[off + 1] = (trafficClass & 0x0f) << 4;
  buf[off + 2] = 0;
  buf[off + 3] = 0;
  buf[off + 4] = payloadLen >> 8;
  buf[off + 5] = payloadLen & 0xff;
  buf[off + 6] = protocol;
  buf[off + 7] = hopLimit;
  buf.set(src, off + 8);
  buf.set(dst, off + 24);
  return IPV6_HEADER_LEN;
}
