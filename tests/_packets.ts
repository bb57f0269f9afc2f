// Hand-built packets for unit tests: headers written byte by byte, so the
// stack's own builders are not used to check themselves.

import { checksum, sum16 } from "../stack/wire/checksum.ts";
import { parseIp } from "../stack/wire/ip_address.ts";

export function ip(s: string): Uint8Array {
  const a = parseIp(s);
  if (!a) throw new Error(`bad test address ${s}`);
  return a;
}

export function hex(s: string): Uint8Array {
  const clean = s.replace(/\s+/g, "");
  return Uint8Array.from(clean.match(/../g)!.map((x) => parseInt(x, 16)));
}

export interface V4Opts {
  ttl?: number;
  flagsFrag?: number;
  ihl?: number;
  badChecksum?: boolean;
  totalLen?: number;
}

export function ipv4(src: string, dst: string, proto: number, payload: Uint8Array, o: V4Opts = {}) {
  const ihl = o.ihl ?? 5;
  const hl = Math.max(ihl, 5) * 4;
  const out = new Uint8Array(hl + payload.length);
  out[0] = 0x40 | ihl;
  const total = o.totalLen ?? out.length;
  out[2] = total >> 8;
  out[3] = total & 0xff;
  out[4] = 0x12;
  out[5] = 0x34;
  const ff = o.flagsFrag ?? 0x4000;
  out[6] = ff >> 8;
  out[7] = ff & 0xff;
  out[8] = o.ttl ?? 64;
  out[9] = proto;
  out.set(ip(src), 12);
  out.set(ip(dst), 16);
  const c = checksum(sum16(0, out, 0, hl));
  out[10] = c >> 8;
  out[11] = (c & 0xff) ^ (o.badChecksum ? 1 : 0);
  out.set(payload, hl);
  return out;
}

export function ipv6(src: string, dst: string, next: number, payload: Uint8Array, hop = 64) {
  const out = new Uint8Array(40 + payload.length);
  out[0] = 0x60;
  out[4] = payload.length >> 8;
  out[5] = payload.length & 0xff;
  out[6] = next;
  out[7] = hop;
  out.set(ip(src), 8);
  out.set(ip(dst), 24);
  out.set(payload, 40);
  return out;
}

/** Pseudo-header sum by the definition (RFC 8200 8.1 / RFC 9293 3.1). */
export function pseudo(src: Uint8Array, dst: Uint8Array, proto: number, len: number): number {
  let s = 0;
  for (const a of [src, dst]) for (let i = 0; i < a.length; i += 2) s += (a[i] << 8) | a[i + 1];
  return s + proto + (len >>> 16) + (len & 0xffff);
}

export function icmpEcho(type: number, id: number, seq: number, data: Uint8Array, pseudoSum = 0) {
  const out = new Uint8Array(8 + data.length);
  out[0] = type;
  out[4] = id >> 8;
  out[5] = id & 0xff;
  out[6] = seq >> 8;
  out[7] = seq & 0xff;
  out.set(data, 8);
  const c = checksum(sum16(pseudoSum, out, 0, out.length));
  out[2] = c >> 8;
  out[3] = c & 0xff;
  return out;
}

export interface TcpSpec {
  sport: number;
  dport: number;
  seq: number;
  ack?: number;
  flags: string; // e.g. "S", "SA", "A", "FA", "R", "PA"
  window?: number;
  mss?: number;
  wscale?: number;
  sackOk?: boolean;
  ts?: [number, number];
  sack?: [number, number][];
  data?: Uint8Array;
}

// E and W: ECE and CWR, as packetdrill writes them.
const FLAG_BITS: Record<string, number> = { F: 1, S: 2, R: 4, P: 8, A: 16, U: 32, E: 64, W: 128 };

/** A TCP segment (header, options, data) built byte by byte, checksum filled. */
export function tcpBytes(src: Uint8Array, dst: Uint8Array, t: TcpSpec): Uint8Array {
  const opts: number[] = [];
  if (t.mss !== undefined) opts.push(2, 4, t.mss >> 8, t.mss & 0xff);
  if (t.wscale !== undefined) opts.push(1, 3, 3, t.wscale);
  if (t.sackOk) opts.push(1, 1, 4, 2);
  const u32 = (v: number) => [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255];
  if (t.ts) opts.push(1, 1, 8, 10, ...u32(t.ts[0]), ...u32(t.ts[1]));
  if (t.sack) {
    opts.push(1, 1, 5, 2 + 8 * t.sack.length);
    for (const [l, r] of t.sack) opts.push(...u32(l), ...u32(r));
  }
  while (opts.length % 4) opts.push(0);
  const data = t.data ?? new Uint8Array(0);
  const hl = 20 + opts.length;
  const out = new Uint8Array(hl + data.length);
  out[0] = t.sport >> 8;
  out[1] = t.sport & 255;
  out[2] = t.dport >> 8;
  out[3] = t.dport & 255;
  out.set(u32(t.seq >>> 0), 4);
  out.set(u32((t.ack ?? 0) >>> 0), 8);
  out[12] = (hl / 4) << 4;
  let f = 0;
  for (const ch of t.flags) f |= FLAG_BITS[ch];
  out[13] = f;
  const w = t.window ?? 65535;
  out[14] = w >> 8;
  out[15] = w & 255;
  out.set(opts, 20);
  out.set(data, hl);
  const c = checksum(sum16(pseudo(src, dst, 6, out.length), out, 0, out.length));
  out[16] = c >> 8;
  out[17] = c & 255;
  return out;
}
