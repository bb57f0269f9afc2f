/**
 * Path MTUs learned from ICMP (RFC 1191 for IPv4, RFC 8201 for IPv6): a
 * small cache per destination with expiry, as FreeBSD's host cache and
 * Linux's route exceptions keep them. An entry only ever lowers the MTU
 * below the link's, never below the protocol minimum (576 / 1280), and
 * expires after ten minutes so a path that grew is found again (RFC 1191 6.3).
 *
 * @module
 */

import type { IpAddress } from "./wire/ip_address.ts";

/** How long a learned path MTU holds, ms (RFC 1191 6.3: 10 minutes). */
export const PMTU_EXPIRE_MS = 600_000;
/** Most destinations remembered; the oldest entry makes room. */
export const PMTU_MAX_ENTRIES = 4096;

/**
 * The smallest MTU an ICMP message may set for a family: 576 for IPv4
 * (RFC 1191 3 counts on it being deliverable), 1280 for IPv6 (RFC 8200 5).
 *
 * @example
 * ```ts
 * import { minimumMtu } from "./pmtu.ts";
 * minimumMtu(16); // 1280
 * ```
 */
export function minimumMtu(addrLen: number): number {
  return addrLen === 4 ? 576 : 1280;
}

/**
 * Learned path MTUs by destination.
 *
 * @example
 * ```ts
 * import { PathMtuCache } from "./pmtu.ts";
 * const c = new PathMtuCache();
 * const dst = new Uint8Array([192, 0, 2, 1]);
 * c.lower(dst, 1280, 1500, 0); // true: 1500 -> 1280
 * c.get(dst, 1000); // 1280
 * c.get(dst, 700_000); // undefined: expired
 * ```
 */
export class PathMtuCache {
  #entries = new Map<string, { mtu: number; expires: number }>();

  /** Destinations held. */
  get size(): number {
    return this.#entries.size;
  }

  /** The path MTU towards `dst`, if one was learned and has not expired. */
  get(dst: IpAddress, now: number): number | undefined {
    if (this.#entries.size === 0) return undefined; // the usual case: no key string to build
    const key = dst.join(".");
    const e = this.#entries.get(key);
    if (!e) return undefined;
    if (now >= e.expires) {
      this.#entries.delete(key);
      return undefined;
    }
    return e.mtu;
  }

  /**
   * Lowers the path MTU towards `dst` to `mtu` (clamped to the family's
   * minimum) when that is below what is known (`linkMtu` or a learned
   * value). Returns whether it changed.
   */
  lower(dst: IpAddress, mtu: number, linkMtu: number, now: number): boolean {
    const m = Math.max(minimumMtu(dst.length), Math.floor(mtu));
    const known = this.get(dst, now) ?? linkMtu;
    if (m >= known) return false;
    const key = dst.join(".");
    this.#entries.delete(key);
    if (this.#entries.size >= PMTU_MAX_ENTRIES) {
      this.#entries.delete(this.#entries.keys().next().value!);
    }
    this.#entries.set(key, { mtu: m, expires: now + PMTU_EXPIRE_MS });
    return true;
  }
}
