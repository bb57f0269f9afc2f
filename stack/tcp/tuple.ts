/**
 * Hashing a connection's 4-tuple into a number, for the connection table
 * and the TIME_WAIT index: no string keys, no allocation per lookup.
 *
 * @module
 */

import { readU32 } from "../wire/tcp.ts";

/**
 * The hash of a 4-tuple as words: a remote address (four words; IPv4 uses the first) and the ports
 * word with a random `seed`, so peers cannot aim collisions at the tables.
 * Murmur3-style multiply-xorshift rounds.
 *
 * @example
 * ```ts
 * import { hashTupleWords } from "./tuple.ts";
 * hashTupleWords(7, 0xc0000201, 0, 0, 0, (80 << 16) | 40000); // a 32-bit number
 * ```
 */
export function hashTupleWords(
  seed: number,
  a: number,
  b: number,
  c: number,
  d: number,
  e: number,
): number {
  let h = Math.imul(a ^ seed, 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13) ^ b, 0xc2b2ae35);
  h = Math.imul(h ^ (h >>> 16) ^ c, 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13) ^ d, 0xc2b2ae35);
  h = Math.imul(h ^ (h >>> 16) ^ e, 0x85ebca6b);
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * The hash of a connection from its address bytes and ports.
 *
 * @example
 * ```ts
 * import { hashTuple } from "./tuple.ts";
 * hashTuple(1, new Uint8Array([192, 0, 2, 1]), 0, 4, 40000, 80);
 * ```
 */
export function hashTuple(
  seed: number,
  remote: Uint8Array,
  off: number,
  len: number,
  remotePort: number,
  localPort: number,
): number {
  const ports = ((localPort << 16) | remotePort) >>> 0;
  const a = readU32(remote, off);
  if (len === 4) return hashTupleWords(seed, a, 0, 0, 0, ports);
  return hashTupleWords(
    seed,
    a,
    readU32(remote, off + 4),
    readU32(remote, off + 8),
    readU32(remote, off + 12),
    ports,
  );
}
