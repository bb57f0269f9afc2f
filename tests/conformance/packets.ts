/**
 * Packets of a script run: inbound lines become IPv4/IPv6 + TCP bytes with
 * packetdrill's sequence mapping (inbound SEQ as written, ACK and SACK
 * blocks offset by the stack's ISS, TSecr mapped to the TSval it echoes);
 * outbound bytes are read back into script space and compared with the
 * expected line.
 *
 * @module
 */

import { checksum, pseudoSum, sum16 } from "../../stack/wire/checksum.ts";
import { md5Digest } from "../../stack/tcp/md5.ts";
import { readU32, TcpFlags, writeU32 } from "../../stack/wire/tcp.ts";
import type { ScriptOption, ScriptPacket } from "./script.ts";

const FLAG_LETTERS: [string, number][] = [
  ["S", TcpFlags.SYN],
  ["F", TcpFlags.FIN],
  ["R", TcpFlags.RST],
  ["P", TcpFlags.PSH],
  [".", TcpFlags.ACK],
  ["U", TcpFlags.URG],
  ["E", TcpFlags.ECE],
  ["W", TcpFlags.CWR],
];

/**
 * The flag bits of a script flag string (`S.` is SYN|ACK).
 *
 * @example
 * ```ts
 * import { flagBits } from "./packets.ts";
 * flagBits("F."); // 17
 * ```
 */
export function flagBits(letters: string): number {
  let f = 0;
  for (const ch of letters) {
    const bit = FLAG_LETTERS.find(([l]) => l === ch);
    if (!bit) throw new Error(`Unknown TCP flag: ${ch}`);
    f |= bit[1];
  }
  return f;
}

/**
 * Flag bits as the script writes them.
 *
 * @example
 * ```ts
 * import { flagLetters } from "./packets.ts";
 * flagLetters(0x12); // "S."
 * ```
 */
export function flagLetters(bits: number): string {
  const s = FLAG_LETTERS.filter(([, b]) => bits & b).map(([l]) => l).join("");
  return s === "" ? "-" : s;
}

// An IPv4 or IPv6 header at `out[0]` (IPv4: no options, DF, checksum
// filled) for `payloadLen` bytes of `protocol` from `src` to `dst`.
function ipHeader(
  out: Uint8Array,
  src: Uint8Array,
  dst: Uint8Array,
  protocol: number,
  payloadLen: number,
  ip: { ttl?: number; tos?: number } = {},
): void {
  if (src.length === 16) {
    const tclass = ip.tos ?? 0;
    out[0] = 0x60 | (tclass >> 4);
    out[1] = (tclass & 15) << 4;
    out[4] = payloadLen >> 8;
    out[5] = payloadLen & 255;
    out[6] = protocol;
    out[7] = ip.ttl ?? 64;
    out.set(src, 8);
    out.set(dst, 24);
    return;
  }
  out[0] = 0x45;
  out[1] = ip.tos ?? 0;
  out[2] = (20 + payloadLen) >> 8;
  out[3] = (20 + payloadLen) & 255;
  out[6] = 0x40; // DF
  out[8] = ip.ttl ?? 64;
  out[9] = protocol;
  out.set(src, 12);
  out.set(dst, 16);
  const c = checksum(sum16(0, out, 0, 20));
  out[10] = c >> 8;
  out[11] = c & 255;
}

/** Addresses and ports of the script's one connection. */
export interface Endpoints {
  /** The stack's address (4 or 16 bytes). */
  local: Uint8Array;
  /** The script's (peer) address. */
  remote: Uint8Array;
  /** The stack's port. */
  localPort: number;
  /** The peer's port. */
  remotePort: number;
}

/** The per-connection mappings between script and live values. */
export class SequenceMap {
  /** Live ISS minus script ISS, once the stack's SYN (or SYN,ACK) was seen. */
  issOffset = 0;
  #tsVals = new Map<number, number>();
  #firstScriptTs: number | undefined;
  #firstLiveTs = 0;

  /** Remembers a script TSval and the live one it stood for. */
  noteTsVal(script: number, live: number): void {
    this.#tsVals.set(script, live);
    if (this.#firstScriptTs === undefined) {
      this.#firstScriptTs = script;
      this.#firstLiveTs = live;
    }
  }

  /** The live TSval a script TSecr echoes, or undefined when no TSval was sent yet. */
  liveEcr(script: number): number | undefined {
    const exact = this.#tsVals.get(script);
    if (exact !== undefined) return exact;
    if (this.#firstScriptTs === undefined) return undefined;
    return (script - this.#firstScriptTs + this.#firstLiveTs) >>> 0;
  }
}

function optionBytes(opts: ScriptOption[], map: SequenceMap): number[] {
  const out: number[] = [];
  const u32 = (v: number) => [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255];
  for (const o of opts) {
    switch (o.kind) {
      case "nop":
        out.push(1);
        break;
      case "eol":
        out.push(0);
        break;
      case "mss":
        out.push(2, 4, o.value >> 8, o.value & 255);
        break;
      case "wscale":
        out.push(3, 3, o.value);
        break;
      case "sackOK":
        out.push(4, 2);
        break;
      case "TS": {
        // An ECR of 0 (as in a SYN) is sent as written.
        const ecr = o.ecr === 0 ? 0 : map.liveEcr(o.ecr);
        if (ecr === undefined) {
          throw new Error(`Cannot map TS ecr ${o.ecr}: the stack has sent no TSval yet`);
        }
        out.push(8, 10, ...u32(o.val), ...u32(ecr));
        break;
      }
      case "sack":
        out.push(5, 2 + 8 * o.blocks.length);
        for (const [l, r] of o.blocks) {
          out.push(...u32((l + map.issOffset) >>> 0), ...u32((r + map.issOffset) >>> 0));
        }
        break;
      case "md5":
        out.push(19, 18, ...new Array(16).fill(0)); // the digest, filled in once the packet is whole
        break;
    }
  }
  while (out.length % 4) out.push(0);
  return out;
}

/** Where the option of `kind` starts among option bytes, or -1. */
function optionAt(opts: ArrayLike<number>, kind: number): number {
  for (let i = 0; i < opts.length;) {
    if (opts[i] === kind) return i;
    i += opts[i] <= 1 ? 1 : opts[i + 1];
  }
  return -1;
}

/**
 * The IP packet an inbound line stands for.
 *
 * @example
 * ```ts
 * import { inboundPacket, SequenceMap } from "./packets.ts";
 * const ep = {
 *   local: new Uint8Array([192, 0, 2, 1]),
 *   remote: new Uint8Array([192, 0, 2, 2]),
 *   localPort: 8080,
 *   remotePort: 40000,
 * };
 * const p = { direction: "<" as const, flags: "S", seq: 0, length: 0, ack: undefined,
 *   window: 1000, options: [], ip: {} };
 * inboundPacket(p, ep, new SequenceMap()).length; // 40
 * ```
 */
export function inboundPacket(
  p: ScriptPacket,
  ep: Endpoints,
  map: SequenceMap,
  md5Secret?: Uint8Array,
): Uint8Array {
  if (p.seq === undefined) throw new Error("An inbound packet needs a sequence number");
  if (p.options === undefined) throw new Error("An inbound packet cannot have <...> options");
  const flags = flagBits(p.flags);
  const opts = optionBytes(p.options, map);
  const tcpLen = 20 + opts.length + p.length;
  const v6 = ep.local.length === 16;
  const ipLen = v6 ? 40 : 20;
  const out = new Uint8Array(ipLen + tcpLen);
  ipHeader(out, ep.remote, ep.local, 6, tcpLen, {
    ttl: v6 ? p.ip.hlim : p.ip.ttl,
    tos: v6 ? p.ip.class : p.ip.tos,
  });
  const t = ipLen;
  out[t] = ep.remotePort >> 8;
  out[t + 1] = ep.remotePort & 255;
  out[t + 2] = ep.localPort >> 8;
  out[t + 3] = ep.localPort & 255;
  writeU32(out, t + 4, p.seq >>> 0);
  if (p.ack !== undefined && flags & TcpFlags.ACK) {
    writeU32(out, t + 8, (p.ack + map.issOffset) >>> 0);
  }
  out[t + 12] = ((20 + opts.length) / 4) << 4;
  out[t + 13] = flags;
  const win = p.window ?? 0;
  out[t + 14] = win >> 8;
  out[t + 15] = win & 255;
  out.set(opts, t + 20);
  const md5 = p.options.find((o) => o.kind === "md5");
  if (md5?.kind === "md5") {
    // As packetdrill does with --tcp_md5_secret: sign what the peer sends.
    if (!md5Secret) throw new Error("An md5 option needs --tcp_md5_secret");
    const at = t + 20 + optionAt(opts, 19) + 2;
    out.set(md5Digest(md5Secret, ep.remote, ep.local, out, t, 20 + opts.length, tcpLen), at);
    if (!md5.valid) out[at] ^= 0xff;
  }
  const srcOff = v6 ? 8 : 12;
  const dstOff = v6 ? 24 : 16;
  const ps = pseudoSum(out, srcOff, dstOff, ep.local.length, 6, tcpLen);
  const c = checksum(sum16(ps, out, t, t + tcpLen));
  out[t + 16] = c >> 8;
  out[t + 17] = c & 255;
  return out;
}

/** An outbound packet, read from the wire. */
export interface WirePacket {
  /** 4 or 6. */
  version: 4 | 6;
  /** TTL or hop limit. */
  ttl: number;
  /** TOS or traffic class. */
  tos: number;
  /** IP protocol (6 for TCP). */
  protocol: number;
  /** Source and destination addresses. */
  src: Uint8Array;
  /** Destination address. */
  dst: Uint8Array;
  /** TCP source port. */
  srcPort: number;
  /** TCP destination port. */
  dstPort: number;
  /** SEQ. */
  seq: number;
  /** ACK field. */
  ack: number;
  /** Flag bits. */
  flags: number;
  /** Window field. */
  window: number;
  /** Payload bytes. */
  length: number;
  /** Options in wire order. */
  options: ScriptOption[];
}

/**
 * Reads an IPv4 or IPv6 TCP packet the stack sent; throws on anything else.
 *
 * @example
 * ```ts
 * import { inboundPacket, readPacket, SequenceMap } from "./packets.ts";
 * const ep = {
 *   local: new Uint8Array([192, 0, 2, 1]),
 *   remote: new Uint8Array([192, 0, 2, 2]),
 *   localPort: 8080,
 *   remotePort: 40000,
 * };
 * const p = { direction: "<" as const, flags: "S", seq: 7, length: 0, ack: undefined,
 *   window: 1000, options: [{ kind: "mss" as const, value: 1460 }], ip: {} };
 * readPacket(inboundPacket(p, ep, new SequenceMap())).seq; // 7
 * ```
 */
export function readPacket(b: Uint8Array): WirePacket {
  const version = b[0] >> 4;
  let t: number, protocol: number, ttl: number, tos: number, src: Uint8Array, dst: Uint8Array;
  if (version === 4) {
    t = (b[0] & 15) * 4;
    protocol = b[9];
    ttl = b[8];
    tos = b[1];
    src = b.slice(12, 16);
    dst = b.slice(16, 20);
  } else if (version === 6) {
    t = 40;
    protocol = b[6];
    ttl = b[7];
    tos = ((b[0] & 15) << 4) | (b[1] >> 4);
    src = b.slice(8, 24);
    dst = b.slice(24, 40);
  } else throw new Error(`Not an IP packet: version ${version}`);
  if (protocol !== 6) throw new Error(`Not a TCP packet: protocol ${protocol}`);
  const hl = (b[t + 12] >> 4) * 4;
  const options: ScriptOption[] = [];
  for (let i = t + 20; i < t + hl;) {
    const kind = b[i];
    if (kind === 0) {
      options.push({ kind: "eol" });
      i++;
      continue;
    }
    if (kind === 1) {
      options.push({ kind: "nop" });
      i++;
      continue;
    }
    const len = b[i + 1];
    if (len < 2 || i + len > t + hl) throw new Error(`Bad TCP option length ${len}`);
    if (kind === 2) options.push({ kind: "mss", value: (b[i + 2] << 8) | b[i + 3] });
    else if (kind === 3) options.push({ kind: "wscale", value: b[i + 2] });
    else if (kind === 4) options.push({ kind: "sackOK" });
    else if (kind === 8) {
      options.push({ kind: "TS", val: readU32(b, i + 2), ecr: readU32(b, i + 6) });
    } else if (kind === 5) {
      const blocks: [number, number][] = [];
      for (let j = i + 2; j + 8 <= i + len; j += 8) blocks.push([readU32(b, j), readU32(b, j + 4)]);
      options.push({ kind: "sack", blocks });
    } else if (kind === 19) {
      if (len !== 18) throw new Error(`Bad TCP MD5 option length ${len}`);
      options.push({ kind: "md5", valid: true }); // checked against the secret by the runner
    } else throw new Error(`Unknown TCP option kind ${kind}`);
    i += len;
  }
  return {
    version: version as 4 | 6,
    ttl,
    tos,
    protocol,
    src,
    dst,
    srcPort: (b[t] << 8) | b[t + 1],
    dstPort: (b[t + 2] << 8) | b[t + 3],
    seq: readU32(b, t + 4),
    ack: readU32(b, t + 8),
    flags: b[t + 13],
    window: (b[t + 14] << 8) | b[t + 15],
    length: b.length - t - hl,
    options,
  };
}

function optionText(o: ScriptOption): string {
  switch (o.kind) {
    case "mss":
    case "wscale":
      return `${o.kind} ${o.value}`;
    case "TS":
      return `TS val ${o.val} ecr ${o.ecr}`;
    case "sack":
      return "sack " + o.blocks.map(([l, r]) => `${l}:${r}`).join(" ");
    default:
      return o.kind;
  }
}

/**
 * A packet in script notation (sequence numbers as given).
 *
 * @example
 * ```ts
 * import { formatPacket } from "./packets.ts";
 * formatPacket(">", 0x12, 0, 0, 1, 65535, [{ kind: "mss", value: 1460 }]);
 * // "> S. 0:0(0) ack 1 win 65535 <mss 1460>"
 * ```
 */
export function formatPacket(
  dir: "<" | ">",
  flags: number,
  seq: number | undefined,
  length: number,
  ack: number | undefined,
  window: number | undefined,
  options: ScriptOption[] | undefined,
): string {
  const s = seq === undefined ? `...(${length})` : `${seq}:${(seq + length) >>> 0}(${length})`;
  let text = `${dir} ${flagLetters(flags)} ${s}`;
  if (ack !== undefined && flags & TcpFlags.ACK) text += ` ack ${ack}`;
  if (window !== undefined) text += ` win ${window}`;
  if (options === undefined) text += " <...>";
  else if (options.length > 0) text += ` <${options.map(optionText).join(",")}>`;
  return text;
}

/**
 * The outbound packet in script space: SEQ less the ISS offset. ACK and
 * SACK blocks number the peer's bytes, which the script writes as sent.
 */
export function toScriptSpace(w: WirePacket, map: SequenceMap): WirePacket {
  return { ...w, seq: (w.seq - map.issOffset) >>> 0 };
}

// Options compared as a set: NOP and EOL are padding, order is free.
function significant(opts: ScriptOption[]): ScriptOption[] {
  return opts.filter((o) => o.kind !== "nop" && o.kind !== "eol");
}

function sameOption(a: ScriptOption, b: ScriptOption): boolean {
  if (a.kind !== b.kind) return false;
  switch (a.kind) {
    case "mss":
    case "wscale":
      return a.value === (b as typeof a).value;
    case "TS":
      // As packetdrill without --tcp_ts_tick_usecs: TSval and TSecr unchecked.
      return true;
    case "sack": {
      const bb = (b as typeof a).blocks;
      return a.blocks.length === bb.length &&
        a.blocks.every(([l, r], i) => bb[i][0] === l && bb[i][1] === r);
    }
    default:
      return true;
  }
}

/**
 * Compares an outbound packet (already in script space) with the line that
 * expects it. Returns the differences, empty when it matches.
 */
export function comparePacket(expected: ScriptPacket, actual: WirePacket): string[] {
  const diffs: string[] = [];
  const want = flagBits(expected.flags);
  if (want !== actual.flags) {
    diffs.push(`flags ${flagLetters(actual.flags)} instead of ${flagLetters(want)}`);
  }
  if (expected.seq !== undefined && expected.seq >>> 0 !== actual.seq) {
    diffs.push(`seq ${actual.seq} instead of ${expected.seq}`);
  }
  if (expected.length !== actual.length) {
    diffs.push(`${actual.length} payload bytes instead of ${expected.length}`);
  }
  const ack = want & TcpFlags.ACK ? expected.ack : undefined;
  if (ack !== undefined && ack >>> 0 !== actual.ack) {
    diffs.push(`ack ${actual.ack} instead of ${ack}`);
  }
  if (expected.window !== undefined && expected.window !== actual.window) {
    diffs.push(`win ${actual.window} instead of ${expected.window}`);
  }
  if (expected.options !== undefined) {
    const a = significant(actual.options);
    const e = significant(expected.options);
    const left = [...a];
    let ok = a.length === e.length;
    for (const o of e) {
      const i = left.findIndex((x) => sameOption(o, x));
      if (i < 0) ok = false;
      else left.splice(i, 1);
    }
    if (!ok) {
      diffs.push(
        `options <${actual.options.map(optionText).join(",")}> instead of <${
          expected.options.map(optionText).join(",")
        }>`,
      );
    }
  }
  if (expected.ip.ttl !== undefined && actual.version === 4 && actual.ttl !== expected.ip.ttl) {
    diffs.push(`ttl ${actual.ttl} instead of ${expected.ip.ttl}`);
  }
  if (expected.ip.hlim !== undefined && actual.version === 6 && actual.ttl !== expected.ip.hlim) {
    diffs.push(`hlim ${actual.ttl} instead of ${expected.ip.hlim}`);
  }
  const tos = actual.version === 4 ? expected.ip.tos : expected.ip.class;
  if (tos !== undefined && actual.tos !== tos) diffs.push(`tos ${actual.tos} instead of ${tos}`);
  return diffs;
}

const ICMP4: Record<string, [number, Record<string, number>]> = {
  unreachable: [3, {
    net_unreachable: 0,
    host_unreachable: 1,
    protocol_unreachable: 2,
    port_unreachable: 3,
    frag_needed: 4,
    net_prohibited: 9,
    host_prohibited: 10,
    packet_filtered: 13,
  }],
  time_exceeded: [11, {}],
};
const ICMP6: Record<string, [number, Record<string, number>]> = {
  unreachable: [1, {
    no_route: 0,
    admin_prohibited: 1,
    address_unreachable: 3,
    port_unreachable: 4,
  }],
  packet_too_big: [2, {}],
  time_exceeded: [3, {}],
};

/**
 * The ICMP error an `icmp` line stands for, from the peer, quoting the
 * stack's segment at the line's (ISS-relative) sequence number.
 *
 * @example
 * ```ts
 * import { inboundIcmp, SequenceMap } from "./packets.ts";
 * const ep = {
 *   local: new Uint8Array([192, 0, 2, 1]),
 *   remote: new Uint8Array([192, 0, 2, 2]),
 *   localPort: 8080,
 *   remotePort: 40000,
 * };
 * const icmp = { type: "unreachable", code: "frag_needed", mtu: 1280, seq: 1, length: 1460 };
 * inboundIcmp(icmp, ep, new SequenceMap())[20]; // 3: destination unreachable
 * ```
 */
export function inboundIcmp(
  icmp: { type: string; code: string | undefined; mtu: number; seq: number; length: number },
  ep: Endpoints,
  map: SequenceMap,
): Uint8Array {
  const v6 = ep.local.length === 16;
  const table = v6 ? ICMP6 : ICMP4;
  const t = table[icmp.type];
  if (!t) throw new RangeError(`ICMP type ${icmp.type} is not supported`);
  const code = icmp.code === undefined ? 0 : t[1][icmp.code];
  if (code === undefined) throw new RangeError(`ICMP code ${icmp.code} is not supported`);
  // The quoted packet: our segment's IP header and TCP header.
  const ipLen = v6 ? 40 : 20;
  const quote = new Uint8Array(ipLen + 20);
  ipHeader(quote, ep.local, ep.remote, 6, 20 + icmp.length);
  quote[ipLen] = ep.localPort >> 8;
  quote[ipLen + 1] = ep.localPort & 255;
  quote[ipLen + 2] = ep.remotePort >> 8;
  quote[ipLen + 3] = ep.remotePort & 255;
  writeU32(quote, ipLen + 4, (icmp.seq + map.issOffset) >>> 0);
  quote[ipLen + 12] = 0x50;
  const msg = new Uint8Array(8 + quote.length);
  msg[0] = t[0];
  msg[1] = code;
  if (v6) writeU32(msg, 4, icmp.mtu);
  else {
    msg[6] = icmp.mtu >> 8;
    msg[7] = icmp.mtu & 255;
  }
  msg.set(quote, 8);
  const out = new Uint8Array(ipLen + msg.length);
  ipHeader(out, ep.remote, ep.local, v6 ? 58 : 1, msg.length);
  const ps = v6 ? pseudoSum(out, 8, 24, 16, 58, msg.length) : 0;
  const c = checksum(sum16(ps, msg, 0, msg.length));
  msg[2] = c >> 8;
  msg[3] = c & 255;
  out.set(msg, ipLen);
  return out;
}
