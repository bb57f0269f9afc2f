/**
 * Initial sequence numbers per RFC 6528: ISN = M + F(4-tuple, secret),
 * where M is a clock ticking every 4 µs and F a keyed pseudo-random
 * function. F is HalfSipHash-2-4 (32-bit SipHash, as Linux uses for the
 * same purpose) keyed by a random 64-bit secret chosen at start.
 *
 * @module
 */

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
