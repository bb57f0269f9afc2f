/**
 * The Internet checksum (RFC 1071) and the pseudo-header sums that TCP, UDP
 * and ICMPv6 add for IPv4 (RFC 9293 3.1) and IPv6 (RFC 8200 8.1).
 *
 * Sums are carried unfolded as plain numbers and folded once at the end;
 * the loop reads 16-bit words straight from the bytes, no DataView.
 *
 * @module
 */

/**
 * Adds the 16-bit big-endian words of `buf[start, end)` to `sum`, padding
 * an odd last byte with zero (RFC 1071 4.1). Returns the unfolded sum.
 *
 * @example
 * ```ts
 * import { sum16, fold } from "./checksum.ts";
 * fold(sum16(0, new Uint8Array([0x00, 0x01, 0xf2]), 0, 3)); // 0xf201
 * ```
 */
export function sum16(sum: number, buf: Uint8Array, start: number, end: number): number {
  let i = start;
  const even = end - ((end - start) & 1);
  // Unrolled by 8 bytes; partial sums stay far below 2^53.
  for (; i + 8 <= even; i += 8) {
    sum += ((buf[i] << 8) | buf[i + 1]) + ((buf[i + 2] << 8) | buf[i + 3]) +
      ((buf[i + 4] << 8) | buf[i + 5]) + ((buf[i + 6] << 8) | buf[i + 7]);
  }
  for (; i < even; i += 2) sum += (buf[i] << 8) | buf[i + 1];
  if (even !== end) sum += buf[end - 1] << 8;
  return sum;
}

/**
 * Folds a sum to 16 bits with end-around carry (the one's complement sum).
 *
 * @example
 * ```ts
 * import { fold } from "./checksum.ts";
 * fold(0x1ffff); // 0x0001 + 0xffff -> 0x0001
 * ```
 */
export function fold(sum: number): number {
  // sum may exceed 2^32, so fold with arithmetic, not 32-bit shifts.
  while (sum > 0xffff) sum = (sum % 0x10000) + Math.floor(sum / 0x10000);
  return sum;
}

/**
 * The checksum field value for data whose unfolded sum is `sum`: the one's
 * complement of the folded sum.
 *
 * @example
 * ```ts
 * import { checksum, sum16 } from "./checksum.ts";
 * const b = new Uint8Array([0x45, 0x00]);
 * checksum(sum16(0, b, 0, 2)); // 0xbaff
 * ```
 */
export function checksum(sum: number): number {
  return ~fold(sum) & 0xffff;
}

/**
 * The pseudo-header sum: source and destination addresses (4 or 16 bytes
 * each, read from `buf` at the given offsets), protocol and upper-layer length.
 *
 * @example
 * ```ts
 * import { pseudoSum } from "./checksum.ts";
 * const ip = new Uint8Array(20);
 * pseudoSum(ip, 12, 16, 4, 6, 20); // sum for a 20-byte TCP header over IPv4
 * ```
 */
export function pseudoSum(
  buf: Uint8Array,
  srcOff: number,
  dstOff: number,
  addrLen: number,
  protocol: number,
  length: number,
): number {
  const sum = sum16(sum16(0, buf, srcOff, srcOff + addrLen), buf, dstOff, dstOff + addrLen);
  return sum + protocol + (length >>> 16) + (length & 0xffff);
}

/**
 * {@linkcode pseudoSum} for two addresses held on their own (a reply's,
 * a connection's), without copying them into a header first.
 *
 * @example
 * ```ts
 * import { addressPseudoSum, pseudoSum } from "./checksum.ts";
 * const src = new Uint8Array([192, 0, 2, 2]), dst = new Uint8Array([192, 0, 2, 1]);
 * const ip = new Uint8Array(8);
 * ip.set(src);
 * ip.set(dst, 4);
 * addressPseudoSum(src, dst, 6, 20) === pseudoSum(ip, 0, 4, 4, 6, 20); // true
 * ```
 */
export function addressPseudoSum(
  src: Uint8Array,
  dst: Uint8Array,
  protocol: number,
  length: number,
): number {
  const sum = sum16(sum16(0, src, 0, src.length), dst, 0, dst.length);
  return sum + protocol + (length >>> 16) + (length & 0xffff);
}
