/**
 * TCP MD5 signatures (RFC 2385), as BGP sessions use them: every segment of
 * a socket with a key carries the MD5 digest of its pseudo-header, its
 * header without options, its data and the key; a segment for such a
 * socket without a valid digest is dropped, unanswered.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { formatIp, parseIp } from "../wire/ip_address.ts";
import { TcpField, type TcpSegment } from "../wire/tcp.ts";

/** RFC 2385 leaves the key's length open; Linux and FreeBSD take up to 80 bytes. */
export const MD5_KEY_MAX = 80;

/**
 * A key as bytes, checked: a string is taken as UTF-8.
 *
 * @example
 * ```ts
 * import { md5Key } from "./md5.ts";
 * md5Key("secret").length; // 6
 * ```
 */
export function md5Key(key: string | Uint8Array): Uint8Array {
  const bytes = typeof key === "string" ? new TextEncoder().encode(key) : key.slice();
  if (bytes.length < 1 || bytes.length > MD5_KEY_MAX) {
    throw new RangeError(
      `Invalid MD5 key: ${bytes.length} bytes (must be 1 to ${MD5_KEY_MAX})`,
    );
  }
  return bytes;
}

/** A listener's keys: one for every peer, or one per peer address (others unsigned). */
export type Md5Keys = string | Uint8Array | Record<string, string | Uint8Array>;

/**
 * Checks a listener's keys: `all` for every peer, or `peers` by address as
 * `formatIp` writes it (so "2001:DB8::1" and "2001:db8::1" are one peer).
 *
 * @example
 * ```ts
 * import { md5Keys } from "./md5.ts";
 * md5Keys({ "2001:DB8::1": "k" }).peers?.has("2001:db8::1"); // true
 * md5Keys("k").all?.length; // 1
 * ```
 */
export function md5Keys(keys: Md5Keys): { all?: Uint8Array; peers?: Map<string, Uint8Array> } {
  if (typeof keys === "string" || keys instanceof Uint8Array) return { all: md5Key(keys) };
  const peers = new Map<string, Uint8Array>();
  for (const [address, key] of Object.entries(keys)) {
    const ip = parseIp(address);
    if (!ip) throw new RangeError(`Invalid MD5 peer: "${address}" is not an IP address`);
    peers.set(formatIp(ip), md5Key(key));
  }
  return { peers };
}

const header = new Uint8Array(20);
const pseudo = new Uint8Array(40);

/**
 * The digest of the segment at `buf[off, off + total)` with a `hl`-byte
 * header, sent from `src` to `dst` (RFC 2385 2.0; over IPv6 its
 * pseudo-header, RFC 8200 8.1, as Linux and FreeBSD do).
 *
 * @example
 * ```ts
 * import { md5Digest } from "./md5.ts";
 * const seg = new Uint8Array(20);
 * seg[12] = 0x50;
 * md5Digest(new TextEncoder().encode("k"), new Uint8Array(4), new Uint8Array(4), seg, 0, 20, 20)
 *   .length; // 16
 * ```
 */
export function md5Digest(
  key: Uint8Array,
  src: Uint8Array,
  dst: Uint8Array,
  buf: Uint8Array,
  off: number,
  hl: number,
  total: number,
): Uint8Array {
  const n = src.length;
  pseudo.set(src, 0);
  pseudo.set(dst, n);
  let p = 2 * n;
  if (n === 4) {
    pseudo[p++] = 0;
    pseudo[p++] = 6;
    pseudo[p++] = total >> 8;
    pseudo[p++] = total & 0xff;
  } else {
    pseudo[p++] = total >>> 24;
    pseudo[p++] = (total >> 16) & 0xff;
    pseudo[p++] = (total >> 8) & 0xff;
    pseudo[p++] = total & 0xff;
    pseudo.fill(0, p, p + 3);
    p += 3;
    pseudo[p++] = 6;
  }
  // The fixed header with its checksum as zero; options are not covered.
  header.set(buf.subarray(off, off + 20));
  header[TcpField.CHECKSUM] = header[TcpField.CHECKSUM + 1] = 0;
  const h = createHash("md5");
  h.update(pseudo.subarray(0, p));
  h.update(header);
  h.update(buf.subarray(off + hl, off + total));
  h.update(key);
  return h.digest();
}

/**
 * A signer for {@linkcode TcpRepr.sign}: writes the digest into the MD5
 * option, which `emitTcp` puts last, so it ends the header.
 *
 * @example
 * ```ts
 * import { signer } from "./md5.ts";
 * typeof signer(new Uint8Array([1]), new Uint8Array(4), new Uint8Array(4)); // "function"
 * ```
 */
export function signer(
  key: Uint8Array,
  src: Uint8Array,
  dst: Uint8Array,
): (buf: Uint8Array, off: number, hl: number, total: number) => void {
  return (buf, off, hl, total) => {
    buf.set(md5Digest(key, src, dst, buf, off, hl, total), off + hl - 16);
  };
}

/**
 * Whether `seg`, sent from `src` to `dst`, carries a valid digest for `key`.
 *
 * @example
 * ```ts
 * import { md5Valid } from "./md5.ts";
 * import { TcpSegment } from "../wire/tcp.ts";
 * const seg = new TcpSegment();
 * const bytes = new Uint8Array(20);
 * bytes[12] = 0x50;
 * seg.wrap(bytes, 0, 20, -1);
 * md5Valid(new Uint8Array([1]), new Uint8Array(4), new Uint8Array(4), seg); // false: unsigned
 * ```
 */
export function md5Valid(
  key: Uint8Array,
  src: Uint8Array,
  dst: Uint8Array,
  seg: TcpSegment,
): boolean {
  const at = seg.options.md5;
  if (at < 0) return false;
  const d = md5Digest(key, src, dst, seg.buf, seg.off, seg.headerLen, seg.len);
  let diff = 0;
  for (let i = 0; i < 16; i++) diff |= d[i] ^ seg.buf[at + i];
  return diff === 0;
}
