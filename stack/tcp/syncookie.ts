/**
 * SYN cookies (RFC 4987 3.6): when a listener's SYN backlog is full, the
 * SYN,ACK's ISN carries what the connection needs, so no state is kept until
 * the client's ACK comes back.
 *
 * The ISN is `t(5) | mss(3) | mac(24)`: `t` counts 64-second periods, `mss`
 * indexes {@linkcode COOKIE_MSS}, and `mac` is HalfSipHash of the 4-tuple,
 * the client's ISN, `t` and `mss` under a random secret. A cookie is good
 * for two periods (64–128 s), like Linux's.
 *
 * Window scale and SACK-permitted do not fit in the ISN. As Linux does,
 * they ride in the low 6 bits of our timestamp when the client offered
 * timestamps (bits 0–3 window scale, 15 for none; bit 4 SACK), and come
 * back in the ACK's TSecr. Without timestamps they are lost: the
 * connection runs without window scaling and without SACK.
 *
 * @module
 */

import { halfSipHash } from "./isn.ts";

/** MSS values a cookie can carry; a client's MSS is rounded down to one. */
export const COOKIE_MSS: readonly number[] = [536, 1220, 1440, 1460, 8940, 8960, 65475, 65495];

/** Seconds in one cookie period. */
const PERIOD_MS = 64_000;

/** What a valid cookie gives back. */
export interface CookieOptions {
  /** The MSS, from {@linkcode COOKIE_MSS}. */
  mss: number;
  /** Window scale shift, or -1 (none, or not carried). */
  wscale: number;
  /** SACK-permitted was offered. */
  sackPermitted: boolean;
}

/**
 * Makes and checks SYN cookies.
 *
 * @example
 * ```ts
 * import { SynCookies } from "./syncookie.ts";
 * const cookies = new SynCookies([1, 2]);
 * const tuple = [0xc0000201, 0xc0000202, (40000 << 16) | 80];
 * const isn = cookies.make(tuple, 1000, 1460, 0);
 * cookies.check(tuple, 1000, isn, 0); // 1460
 * cookies.check(tuple, 1001, isn, 0); // -1: another client ISN
 * ```
 */
export class SynCookies {
  #k0: number;
  #k1: number;
  #words: number[] = [];

  /** Cookies under `secret` (random when omitted). */
  constructor(secret?: [number, number]) {
    const s = secret ?? Array.from(crypto.getRandomValues(new Uint32Array(2)));
    this.#k0 = s[0];
    this.#k1 = s[1];
  }

  #mac(tuple: ArrayLike<number>, irs: number, t: number, mssIndex: number): number {
    const w = this.#words;
    w.length = 0;
    for (let i = 0; i < tuple.length; i++) w.push(tuple[i]);
    w.push(irs, (t << 3) | mssIndex);
    return halfSipHash(this.#k0, this.#k1, w) & 0xffffff;
  }

  /**
   * The ISN for a SYN from the client whose ISN is `irs` and MSS `mss`,
   * at `nowMs`. `tuple` is the addresses and ports as 32-bit words.
   */
  make(tuple: ArrayLike<number>, irs: number, mss: number, nowMs: number): number {
    let idx = 0;
    while (idx + 1 < COOKIE_MSS.length && COOKIE_MSS[idx + 1] <= mss) idx++;
    const t = Math.floor(nowMs / PERIOD_MS) & 31;
    return (((t << 27) | (idx << 24)) + this.#mac(tuple, irs, t, idx)) >>> 0;
  }

  /**
   * Checks `cookie` (the ACK's number minus one) for the client whose ISN
   * was `irs`: the MSS it carries, or -1 when it is forged or too old.
   */
  check(tuple: ArrayLike<number>, irs: number, cookie: number, nowMs: number): number {
    const t = cookie >>> 27;
    const idx = (cookie >>> 24) & 7;
    const age = ((Math.floor(nowMs / PERIOD_MS) & 31) - t + 32) & 31;
    if (age > 1) return -1;
    if ((cookie & 0xffffff) !== this.#mac(tuple, irs, t, idx)) return -1;
    return COOKIE_MSS[idx];
  }
}

/**
 * Our TSval for a cookie SYN,ACK: `tsNow` with its low 6 bits replaced by
 * the window scale (15 for none) and SACK bit, never later than `tsNow`.
 *
 * @example
 * ```ts
 * import { cookieTimestamp, timestampOptions } from "./syncookie.ts";
 * const ts = cookieTimestamp(100_000, 7, true);
 * timestampOptions(ts); // { wscale: 7, sackPermitted: true }
 * ```
 */
export function cookieTimestamp(tsNow: number, wscale: number, sackPermitted: boolean): number {
  const bits = (wscale < 0 ? 15 : Math.min(wscale, 14)) | (sackPermitted ? 16 : 0);
  let ts = ((tsNow & ~63) | bits) >>> 0;
  if (((tsNow - ts) | 0) < 0) ts = (ts - 64) >>> 0;
  return ts;
}

/**
 * The options {@linkcode cookieTimestamp} carried, from the ACK's TSecr.
 *
 * @example
 * ```ts
 * import { timestampOptions } from "./syncookie.ts";
 * timestampOptions(15); // { wscale: -1, sackPermitted: false }
 * ```
 */
export function timestampOptions(tsEcr: number): { wscale: number; sackPermitted: boolean } {
  const w = tsEcr & 15;
  return { wscale: w === 15 ? -1 : w, sackPermitted: (tsEcr & 16) !== 0 };
}
