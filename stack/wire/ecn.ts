/**
 * The ECN field of an IP packet (RFC 3168 5): the low two bits of IPv4's
 * TOS byte and of IPv6's traffic class, read and marked in place.
 *
 * @module
 */

import { checksum, sum16 } from "./checksum.ts";

/** ECN codepoints of the IP header's two ECN bits (RFC 3168 5). */
export const EcnCodepoint = { NOT_ECT: 0, ECT1: 1, ECT0: 2, CE: 3 } as const;

/**
 * The ECN field of the IPv4 or IPv6 packet at `p[0]`: 0 Not-ECT, 1 ECT(1),
 * 2 ECT(0), 3 CE.
 *
 * @example
 * ```ts
 * import { ecnField } from "./ecn.ts";
 * ecnField(new Uint8Array([0x45, 0x02])); // 2: ECT(0)
 * ```
 */
export function ecnField(p: Uint8Array): number {
  return p[0] >> 4 === 4 ? p[1] & 3 : (p[1] >> 4) & 3;
}

/**
 * Whether the packet at `p[0]` is ECN-capable: ECT(0) or ECT(1).
 *
 * @example
 * ```ts
 * import { isEct } from "./ecn.ts";
 * isEct(new Uint8Array([0x45, 0x01])); // true
 * ```
 */
export function isEct(p: Uint8Array): boolean {
  const ecn = ecnField(p);
  return ecn === EcnCodepoint.ECT1 || ecn === EcnCodepoint.ECT0;
}

/**
 * Marks the packet at `p[0]` CE, as a congested router does; IPv4's header
 * checksum follows.
 *
 * @example
 * ```ts
 * import { ecnField, markCe } from "./ecn.ts";
 * const p = new Uint8Array(20);
 * p[0] = 0x45;
 * markCe(p);
 * ecnField(p); // 3
 * ```
 */
export function markCe(p: Uint8Array): void {
  if (p[0] >> 4 !== 4) {
    p[1] |= 0x30;
    return;
  }
  p[1] |= EcnCodepoint.CE;
  p[10] = p[11] = 0;
  const c = checksum(sum16(0, p, 0, (p[0] & 15) * 4));
  p[10] = c >> 8;
  p[11] = c & 0xff;
}
