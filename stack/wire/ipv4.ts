/**
 * IPv4 header (RFC 791): a checked view over packet bytes and a builder.
 *
 * @module
 */

import { checksum, sum16 } from "./checksum.ts";

/** Why an IPv4 packet was refused by {@linkcode Ipv4Packet.wrap}. */
export type Ipv4Error =
  | "truncated"
  | "badVersion"
  | "badHeaderLength"
  | "badTotalLength"
  | "badChecksum";

/** IP protocol numbers used by the stack. */
export const IpProtocol = {
  ICMP: 1,
  TCP: 6,
  UDP: 17,
  ICMPV6: 58,
} as const;

/** Length of an IPv4 header without options. */
export const IPV4_HEADER_LEN = 20;

/**
 * A view over an IPv4 packet. One instance is reused for every packet:
 * {@linkcode Ipv4Packet.wrap} points it at new bytes and checks them.
 *
 * @example
 * ```ts
 * import { Ipv4Packet } from "./ipv4.ts";
 * const ip = new Ipv4Packet();
 * const bytes = new Uint8Array(20);
 * ip.wrap(bytes, 20); // "badVersion": all zero is not IPv4
 * ```
 */
export class Ipv4Packet {
  /** The bytes; the packet starts at 0. */
  buf: Uint8Array = new Uint8Array(0);
  /** Bytes available in `buf` (what the link delivered). */
  len = 0;

  /**
   * Points the view at `buf[0, len)` and validates version, header length,
   * total length against `len`, and the header checksum. Bytes after the
   * total length (link padding) are ignored.
   */
  wrap(buf: Uint8Array, len: number): Ipv4Error | undefined {
    this.buf = buf;
    this.len = len;
    if (len < IPV4_HEADER_LEN) return "truncated";
    if (buf[0] >> 4 !== 4) return "badVersion";
    const hl = this.headerLen;
    if (hl < IPV4_HEADER_LEN || hl > len) return "badHeaderLength";
    const total = this.totalLen;
    if (total < hl || total > len) return "badTotalLength";
    if (checksum(sum16(0, buf, 0, hl)) !== 0) return "badChecksum";
    return undefined;
  }

  /** Header length in bytes (IHL * 4). */
  get headerLen(): number {
    return (this.buf[0] & 0x0f) * 4;
  }
  /** Total length field. */
  get totalLen(): number {
    return (this.buf[2] << 8) | this.buf[3];
  }
  /** Identification field. */
  get ident(): number {
    return (this.buf[4] << 8) | this.buf[5];
  }
  /** More-fragments flag. */
  get moreFragments(): boolean {
    return (this.buf[6] & 0x20) !== 0;
  }
  /** Fragment offset in bytes. */
  get fragmentOffset(): number {
    return (((this.buf[6] & 0x1f) << 8) | this.buf[7]) * 8;
  }
  /** Time to live. */
  get ttl(): number {
    return this.buf[8];
  }
  /** Upper-layer protocol. */
  get protocol(): number {
    return this.buf[9];
  }
  /** Offset of the source address in `buf`. */
  get srcOffset(): number {
    return 12;
  }
  /** Offset of the destination address in `buf`. */
  get dstOffset(): number {
    return 16;
  }
  /** Offset of the payload. */
  get payloadOffset(): number {
    return this.headerLen;
  }
  /** Payload length (total length minus header). */
  get payloadLen(): number {
    return this.totalLen - this.headerLen;
  }
}

/**
 * Writes a 20-byte IPv4 header at `buf[0]` with DF set and fills its
 * checksum; `tos` is the TOS byte (DSCP and ECN). Returns the header length.
 *
 * @example
 * ```ts
 * import { emitIpv4Header } from "./ipv4.ts";
 * const buf = new Uint8Array(28);
 * emitIpv4Header(buf, 0, new Uint8Array([192, 0, 2, 2]), new Uint8Array([192, 0, 2, 1]), 1, 8, 64, 0);
 * ```
 */
export function emitIpv4Header(
  buf: Uint8Array,
  off: number,
  src: Uint8Array,
  dst: Uint8Array,
  protocol: number,
  payloadLen: number,
  ttl: number,
  ident: number,
  tos = 0,
): number {
  const total = IPV4_HEADER_LEN + payloadLen;
  buf[off] = 0x45;
  buf[off + 1] = tos;
  buf[off + 2] = total >> 8;
  buf[off + 3] = total & 0xff;
  buf[off + 4] = (ident >> 8) & 0xff;
  buf[off + 5] = ident & 0xff;
  buf[off + 6] = 0x40; // DF: we do path MTU by MSS clamping, never fragment.
  buf[off + 7] = 0;
  buf[off + 8] = ttl;
  buf[off + 9] = protocol;
  buf[off + 10] = 0;
  buf[off + 11] = 0;
  buf.set(src, off + 12);
  buf.set(dst, off + 16);
  const c = checksum(sum16(0, buf, off, off + IPV4_HEADER_LEN));
  buf[off + 10] = c >> 8;
  buf[off + 11] = c & 0xff;
  return IPV4_HEADER_LEN;
}
