/**
 * IP addresses as raw bytes (4 for IPv4, 16 for IPv6): parsing, formatting,
 * comparison. Text forms follow RFC 4291 2.2 and RFC 5952 (output).
 *
 * @module
 */

/** An IPv4 (4 bytes) or IPv6 (16 bytes) address. */
export type IpAddress = Uint8Array;

/**
 * Parses a dotted-quad IPv4 address; `undefined` when invalid.
 *
 * @example
 * ```ts
 * import { parseIpv4 } from "./ip_address.ts";
 * parseIpv4("192.0.2.1"); // Uint8Array [192, 0, 2, 1]
 * ```
 */
export function parseIpv4(s: string): IpAddress | undefined {
  const parts = s.split(".");
  if (parts.length !== 4) return undefined;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(parts[i])) return undefined;
    const n = Number(parts[i]);
    if (n > 255) return undefined;
    out[i] = n;
  }
  return out;
}

/**
 * Parses an IPv6 address (with `::` and an optional dotted IPv4 tail).
 *
 * @example
 * ```ts
 * import { parseIpv6 } from "./ip_address.ts";
 * parseIpv6("2001:db8::2")?.[15]; // 2
 * ```
 */
export function parseIpv6(s: string): IpAddress | undefined {
  if (!/^[0-9a-fA-F:.]+$/.test(s)) return undefined;
  const halves = s.split("::");
  if (halves.length > 2) return undefined;
  const groups = (h: string): number[] | undefined => {
    if (h === "") return [];
    const out: number[] = [];
    const parts = h.split(":");
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i];
      if (i === parts.length - 1 && p.includes(".")) {
        const v4 = parseIpv4(p);
        if (!v4) return undefined;
        out.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
      } else if (/^[0-9a-fA-F]{1,4}$/.test(p)) {
        out.push(parseInt(p, 16));
      } else return undefined;
    }
    return out;
  };
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  if (!head || !tail) return undefined;
  const total = head.length + tail.length;
  if (halves.length === 1 ? total !== 8 : total > 7) return undefined;
  const all = [...head, ...new Array(8 - total).fill(0), ...tail];
  const out = new Uint8Array(16);
  all.forEach((g, i) => {
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  });
  return out;
}

/**
 * Parses either family.
 *
 * @example
 * ```ts
 * import { parseIp } from "./ip_address.ts";
 * parseIp("2001:db8::1")?.length; // 16
 * ```
 */
export function parseIp(s: string): IpAddress | undefined {
  return s.includes(":") ? parseIpv6(s) : parseIpv4(s);
}

/** An address with a prefix length. */
export interface Cidr {
  /** The address bytes. */
  address: IpAddress;
  /** Prefix length: 0–32 for IPv4, 0–128 for IPv6. */
  prefix: number;
}

/**
 * Parses `address/prefix`; throws a clear error when invalid.
 *
 * @example
 * ```ts
 * import { parseCidr } from "./ip_address.ts";
 * parseCidr("192.0.2.1/24").prefix; // 24
 * ```
 */
export function parseCidr(s: string, family?: 4 | 6): Cidr {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(s);
  if (!m) throw new Error(`Invalid address: "${s}" is not address/prefix`);
  const address = parseIp(m[1]);
  if (!address) throw new Error(`Invalid address: "${m[1]}"`);
  const v = address.length === 4 ? 4 : 6;
  if (family && v !== family) {
    throw new Error(`Invalid address: "${s}" is not IPv${family}`);
  }
  const prefix = Number(m[2]);
  if (prefix > address.length * 8) {
    throw new Error(`Invalid prefix: /${prefix} is longer than ${address.length * 8} bits`);
  }
  return { address, prefix };
}

/**
 * Formats an address; IPv6 in RFC 5952 canonical form.
 *
 * @example
 * ```ts
 * import { formatIp } from "./ip_address.ts";
 * formatIp(new Uint8Array([192, 0, 2, 2])); // "192.0.2.2"
 * ```
 */
export function formatIp(a: Uint8Array, off = 0, len = a.length - off): string {
  if (len === 4) return `${a[off]}.${a[off + 1]}.${a[off + 2]}.${a[off + 3]}`;
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push((a[off + 2 * i] << 8) | a[off + 2 * i + 1]);
  // RFC 5952 4.2: compress the longest run of two or more zero groups.
  let best = -1, bestLen = 1;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j;
  }
  const hex = (xs: number[]) => xs.map((x) => x.toString(16)).join(":");
  if (best < 0) return hex(g);
  return `${hex(g.slice(0, best))}::${hex(g.slice(best + bestLen))}`;
}

/**
 * Whether `a[aOff, aOff+len)` equals `b`.
 *
 * @example
 * ```ts
 * import { ipEquals } from "./ip_address.ts";
 * ipEquals(new Uint8Array([1, 2, 3, 4]), 0, new Uint8Array([1, 2, 3, 4])); // true
 * ```
 */
export function ipEquals(a: Uint8Array, aOff: number, b: IpAddress): boolean {
  for (let i = 0; i < b.length; i++) if (a[aOff + i] !== b[i]) return false;
  return true;
}

/**
 * Whether `addr` lies in `net/prefix`.
 *
 * @example
 * ```ts
 * import { inPrefix, parseIp } from "./ip_address.ts";
 * inPrefix(parseIp("192.0.2.9")!, parseIp("192.0.2.0")!, 24); // true
 * ```
 */
export function inPrefix(addr: IpAddress, net: IpAddress, prefix: number): boolean {
  if (addr.length !== net.length) return false;
  for (let bit = 0; bit < prefix; bit += 8) {
    const mask = prefix - bit >= 8 ? 0xff : (0xff << (8 - (prefix - bit))) & 0xff;
    if ((addr[bit >> 3] & mask) !== (net[bit >> 3] & mask)) return false;
  }
  return true;
}
