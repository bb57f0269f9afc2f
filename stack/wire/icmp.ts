/**
 * ICMPv4 (RFC 792) and ICMPv6 (RFC 4443) messages: both share the
 * type/code/checksum layout and the echo body (identifier, sequence), so one
 * view serves both; only the checksum differs (ICMPv6 covers a
 * pseudo-header, RFC 4443 2.3).
 *
 * @module
 */

import { checksum, pseudoSum, sum16 } from "./checksum.ts";

/** ICMPv4 types the stack uses. */
export const Icmpv4Type = {
  ECHO_REPLY: 0,
  DEST_UNREACHABLE: 3,
  ECHO_REQUEST: 8,
  TIME_EXCEEDED: 11,
} as const;

/** ICMPv4 destination-unreachable codes (RFC 792, RFC 1812 5.2.7.1). */
export const Icmpv4Unreachable = {
  NET: 0,
  HOST: 1,
  PROTOCOL: 2,
  PORT: 3,
  FRAG_NEEDED: 4,
  NET_PROHIBITED: 9,
  HOST_PROHIBITED: 10,
  ADMIN_PROHIBITED: 13,
} as const;

/** ICMPv6 destination-unreachable codes (RFC 4443 3.1). */
export const Icmpv6Unreachable = {
  NO_ROUTE: 0,
  ADMIN_PROHIBITED: 1,
  ADDRESS: 3,
  PORT: 4,
} as const;

/** ICMPv6 types the stack recognises. */
export const Icmpv6Type = {
  DEST_UNREACHABLE: 1,
  PACKET_TOO_BIG: 2,
  TIME_EXCEEDED: 3,
  PARAMETER_PROBLEM: 4,
  ECHO_REQUEST: 128,
  ECHO_REPLY: 129,
  MLD_QUERY: 130,
  MLD_REPORT: 131,
  MLD_DONE: 132,
  ROUTER_SOLICIT: 133,
  ROUTER_ADVERT: 134,
  NEIGHBOR_SOLICIT: 135,
  NEIGHBOR_ADVERT: 136,
  MLDV2_REPORT: 143,
} as const;

/** Why an ICMP message was refused. */
export type IcmpError = "truncated" | "badChecksum";

/** Minimum ICMP header length. */
export const ICMP_HEADER_LEN = 8;

/**
 * A view over an ICMP message at `buf[off, off + len)`.
 *
 * @example
 * ```ts
 * import { IcmpMessage } from "./icmp.ts";
 * const m = new IcmpMessage();
 * const b = new Uint8Array([8, 0, 0xf7, 0xff, 0, 0, 0, 0]);
 * m.wrap(b, 0, 8, 0); // undefined: a valid echo request (ICMPv4 checksum)
 * ```
 */
export class IcmpMessage {
  /** Bytes holding the message. */
  buf: Uint8Array = new Uint8Array(0);
  /** Offset of the message in `buf`. */
  off = 0;
  /** Message length. */
  len = 0;

  /**
   * Points at the message and verifies its checksum. `initialSum` is the
   * pseudo-header sum for ICMPv6 and 0 for ICMPv4.
   */
  wrap(buf: Uint8Array, off: number, len: number, initialSum: number): IcmpError | undefined {
    this.buf = buf;
    this.off = off;
    this.len = len;
    if (len < ICMP_HEADER_LEN) return "truncated";
    if (checksum(sum16(initialSum, buf, off, off + len)) !== 0) return "badChecksum";
    return undefined;
  }

  /** Message type. */
  get type(): number {
    return this.buf[this.off];
  }
  /** Message code. */
  get code(): number {
    return this.buf[this.off + 1];
  }
  /** Echo identifier. */
  get ident(): number {
    return (this.buf[this.off + 4] << 8) | this.buf[this.off + 5];
  }
  /** Echo sequence number. */
  get seq(): number {
    return (this.buf[this.off + 6] << 8) | this.buf[this.off + 7];
  }
  /** The next-hop MTU of a "fragmentation needed" (RFC 1191 4). */
  get nextHopMtu(): number {
    return (this.buf[this.off + 6] << 8) | this.buf[this.off + 7];
  }
  /** The MTU of an ICMPv6 "packet too big" (RFC 4443 3.2). */
  get mtu32(): number {
    const b = this.buf, o = this.off + 4;
    return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
  }
}

/**
 * Fills the checksum of the ICMP message at `buf[off, off + len)`.
 * `initialSum` is the pseudo-header sum (ICMPv6) or 0 (ICMPv4).
 *
 * @example
 * ```ts
 * import { fillIcmpChecksum } from "./icmp.ts";
 * const b = new Uint8Array([0, 0, 0, 0, 0, 1, 0, 2]);
 * fillIcmpChecksum(b, 0, 8, 0); // b[2..4] now hold the checksum
 * ```
 */
export function fillIcmpChecksum(
  buf: Uint8Array,
  off: number,
  len: number,
  initialSum: number,
): void {
  buf[off + 2] = 0;
  buf[off + 3] = 0;
  const c = checksum(sum16(initialSum, buf, off, off + len));
  buf[off + 2] = c >> 8;
  buf[off + 3] = c & 0xff;
}

/**
 * The ICMPv6 pseudo-header sum for a message of `len` bytes between the
 * addresses at `srcOff`/`dstOff` of `ip`.
 *
 * @example
 * ```ts
 * import { icmpv6PseudoSum } from "./icmp.ts";
 * icmpv6PseudoSum(new Uint8Array(40), 8, 24, 8);
 * ```
 */
export function icmpv6PseudoSum(
  ip: Uint8Array,
  srcOff: number,
  dstOff: number,
  len: number,
): number {
  return pseudoSum(ip, srcOff, dstOff, 16, 58, len);
}
