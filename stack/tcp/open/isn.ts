/**
 * Initial sequence numbers per RFC 6528: ISN = M + F(4-tuple, secret),
 * where M is a clock ticking every 4 µs and F a keyed pseudo-random
 * function. F is HalfSipHash-2-4 (32-bit SipHash, as Linux uses for the
 * same purpose) keyed by a random 64-bit secret chosen at start.
 *
 * @module
 */

import { readU32 } from "../../wire/tcp.ts";

function rotl(x: number, b: number): number {
  return (x << b) | (x >>> (32 - b));
}

/**
 * HalfSipHash-2-4 of 32-bit words, keyed by `k0, k1`.
 *
 * @example
 * ```ts
 * import { halfSipHash } from "./isn.ts";
 * halfSipHash(1, 2, [3, 4]) >>> 0; // a 32-bit hash
 * ```
 */
export function halfSipHash(k0: number, k1: number, words: ArrayLike<number>): number {
  let v0 = k0 | 0, v1 = k1 | 0, v2 = 0x6c796765 ^ k0, v3 = 0x74656462 ^ k1;
  const round = () => {
    v0 = (v0 + v1) | 0;
    v1 = rotl(v1, 5) ^ v0;
    v0 = rotl(v0, 16);
    v2 = (v2 + v3) | 0;
    v3 = rotl(v3, 8) ^ v2;
    v0 = (v0 + v3) | 0;
    v3 = rotl(v3, 7) ^ v0;
    v2 = (v2 + v1) | 0;
    v1 = rotl(v1, 13) ^ v2;
    v2 = rotl(v2, 16);
  };
  for (let i = 0; i < words.length; i++) {
    const m = words[i] | 0;
    v3 ^= m;
    round();
    round();
    v0 ^= m;
  }
  const b = (words.length * 4) << 24;
  v3 ^= b;
  round();
  round();
  v0 ^= b;
  v2 ^= 0xff;
  round();
  round();
  round();
  round();
  return (v1 ^ v3) >>> 0;
}

/**
 * Generates ISNs (RFC 6528 3). `clockMs` is the stack's millisecond clock.
 *
 * @example
 * ```ts
 * import { IsnGenerator } from "./isn.ts";
 * const g = new IsnGenerator(() => 0);
 * const words = [1, 2, 3, 4];
 * g.isn(words) === g.isn(words); // true at the same instant
 * ```
 */
export class IsnGenerator {
  #k0: number;
  #k1: number;
  #clockMs: () => number;

  /** A generator with a fresh random secret. */
  constructor(clockMs: () => number, secret?: [number, number]) {
    const s = secret ?? Array.from(crypto.getRandomValues(new Uint32Array(2)));
    this.#k0 = s[0];
    this.#k1 = s[1];
    this.#clockMs = clockMs;
  }

  /** The ISN for a connection identified by `tupleWords` (addresses and ports). */
  isn(tupleWords: ArrayLike<number>): number {
    const m = Math.floor(this.#clockMs() * 250); // 4 µs ticks
    return (m + halfSipHash(this.#k0, this.#k1, tupleWords)) >>> 0;
  }
}

/**
 * A 4-tuple as 32-bit words, for the ISN, cookie and TSval hashes: our
 * address at `local[lOff]`, the peer's at `remote[rOff]` (`n` bytes each),
 * then the ports; written into `out` (room for 9 words), the part used
 * returned.
 *
 * @example
 * ```ts
 * import { tupleWords } from "./isn.ts";
 * const a = new Uint8Array([192, 0, 2, 2]), b = new Uint8Array([192, 0, 2, 1]);
 * tupleWords(new Uint32Array(9), a, 0, b, 0, 4, 80, 40000).length; // 3
 * ```
 */
export function tupleWords(
  out: Uint32Array,
  local: Uint8Array,
  lOff: number,
  remote: Uint8Array,
  rOff: number,
  n: number,
  lport: number,
  rport: number,
): Uint32Array {
  const k = n / 4;
  for (let i = 0; i < k; i++) out[i] = readU32(local, lOff + i * 4);
  for (let i = 0; i < k; i++) out[k + i] = readU32(remote, rOff + i * 4);
  out[2 * k] = ((lport << 16) | rport) >>> 0;
  return out.subarray(0, 2 * k + 1);
}

/**
 * TSval offsets per address pair (RFC 7323 5.4, as Linux): a keyed hash of
 * the two addresses, so a new connection's timestamps continue the last
 * one's (a peer still in TIME_WAIT accepts them under PAWS), a cookie
 * connection's continue from its SYN,ACK's, and no peer learns our uptime.
 *
 * @example
 * ```ts
 * import { TimestampOffsets } from "./isn.ts";
 * const offsets = new TimestampOffsets();
 * const a = new Uint8Array([192, 0, 2, 2]), b = new Uint8Array([192, 0, 2, 1]);
 * offsets.of(a, 0, b, 0, 4) === offsets.of(a, 0, b, 0, 4); // true
 * ```
 */
export class TimestampOffsets {
  #key = crypto.getRandomValues(new Uint32Array(2));
  #words = new Uint32Array(9);

  /** The offset for the pair at `local[lOff]` and `remote[rOff]` (`n` bytes each). */
  of(local: Uint8Array, lOff: number, remote: Uint8Array, rOff: number, n: number): number {
    const w = tupleWords(this.#words, local, lOff, remote, rOff, n, 0, 0).subarray(0, n / 2);
    return halfSipHash(this.#key[0], this.#key[1], w);
  }
}
