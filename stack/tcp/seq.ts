/**
 * Sequence-number arithmetic modulo 2^32 (RFC 9293 3.4, RFC 1982).
 *
 * @module
 */

/**
 * `a - b` as a signed 32-bit distance.
 *
 * @example
 * ```ts
 * import { seqDiff } from "./seq.ts";
 * seqDiff(5, 0xfffffffe); // 7
 * ```
 */
export function seqDiff(a: number, b: number): number {
  return (a - b) | 0;
}

/**
 * `a < b` in sequence space.
 *
 * @example
 * ```ts
 * import { seqLt } from "./seq.ts";
 * seqLt(0xffffffff, 1); // true
 * ```
 */
export function seqLt(a: number, b: number): boolean {
  return ((a - b) | 0) < 0;
}

/**
 * `a <= b` in sequence space.
 *
 * @example
 * ```ts
 * import { seqLe } from "./seq.ts";
 * seqLe(3, 3); // true
 * ```
 */
export function seqLe(a: number, b: number): boolean {
  return ((a - b) | 0) <= 0;
}

/**
 * `a > b` in sequence space.
 *
 * @example
 * ```ts
 * import { seqGt } from "./seq.ts";
 * seqGt(1, 0xffffffff); // true
 * ```
 */
export function seqGt(a: number, b: number): boolean {
  return ((a - b) | 0) > 0;
}

/**
 * `a >= b` in sequence space.
 *
 * @example
 * ```ts
 * import { seqGe } from "./seq.ts";
 * seqGe(3, 3); // true
 * ```
 */
export function seqGe(a: number, b: number): boolean {
  return ((a - b) | 0) >= 0;
}

/**
 * `a + n` modulo 2^32.
 *
 * @example
 * ```ts
 * import { seqAdd } from "./seq.ts";
 * seqAdd(0xffffffff, 2); // 1
 * ```
 */
export function seqAdd(a: number, n: number): number {
  return (a + n) >>> 0;
}
