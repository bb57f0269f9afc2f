/**
 * Capture of what the stack saw and decided: every packet it received or
 * sent, each received one with the verdicts it drew, in pcapng (the
 * format tcpdump, tshark and Wireshark read) with the verdicts as packet
 * comments. A verdict is the counter the packet moved: `tcp_twstart` when
 * it put a connection in TIME_WAIT, `tcp_twcheck: <outcome>` when it met
 * a TIME_WAIT record (FreeBSD's `tcp_twcheck`), `drop: <counter>` when a
 * layer dropped it. Naming counters keeps the capture and `tunstack stats`
 * in one vocabulary, and needs no hook in the code that decides.
 *
 * @module
 */

import type { Stack } from "./stack.ts";

/** One packet as the stack received or sent it. */
export interface CapturedPacket {
  /** The IP packet; valid only during the callback. */
  packet: Uint8Array;
  /** Received (true) or sent. */
  inbound: boolean;
  /** When, ms on the stack's clock. */
  timeMs: number;
  /** What the stack decided about it (empty for most packets). */
  notes: string[];
}

// TIME_WAIT outcomes by counter, in the words of FreeBSD's tcp_twcheck.
const TW_CHECK: Record<string, string> = {
  rstDropped: "rst dropped",
  pawsDropped: "paws dropped",
  synReopened: "syn reopened",
  synReopenedByTimestamp: "syn reopened by timestamp",
  noAckDropped: "no-ack dropped",
  finRearmed: "fin re-armed",
  acked: "acked",
  dupAckIgnored: "dup-ack ignored",
};

const TW_START: Record<string, string> = {
  started: "tcp_twstart",
  recycled: "tcp_twstart: recycled the oldest record",
  skippedLocal: "no TIME_WAIT: nolocaltimewait",
  closedWithoutTimeWait: "no TIME_WAIT: no record to recycle",
};

/**
 * Names the counters one packet moved: take a snapshot before the stack
 * handles it, and the verdicts after.
 *
 * @example
 * ```ts
 * import { Stack } from "./stack.ts";
 * import { Verdicts } from "./capture.ts";
 * const stack = new Stack({});
 * const v = new Verdicts(stack);
 * v.before();
 * stack.receive(new Uint8Array([0x45]), 1); // too short for IPv4
 * v.after(); // ["drop: ip.dropped.truncated"]
 * ```
 */
export class Verdicts {
  #groups: [string, Record<string, number>, Record<string, string> | undefined][];
  #snapshot: number[] = [];

  /** Watches `stack`'s drop and TIME_WAIT counters. */
  constructor(stack: Stack) {
    const tw = stack.tcp.timewait.stats;
    this.#groups = [
      ["ip.dropped", stack.ip.stats.dropped, undefined],
      ["icmp.dropped", stack.icmp.stats.dropped, undefined],
      ["tcp.dropped", stack.tcp.stats.dropped, undefined],
      ["timewait", tw as unknown as Record<string, number>, TW_START],
      ["timewait.check", tw.check, TW_CHECK],
    ];
  }

  /** Remembers the counters. */
  before(): void {
    const snap = this.#snapshot;
    snap.length = 0;
    for (const [, counters] of this.#groups) {
      for (const k in counters) if (typeof counters[k] === "number") snap.push(counters[k]);
    }
  }

  /** What moved since {@linkcode Verdicts.before}, as packet comments. */
  after(): string[] {
    const out: string[] = [];
    let i = 0;
    for (const [name, counters, words] of this.#groups) {
      for (const k in counters) {
        const v = counters[k];
        if (typeof v !== "number") continue;
        if (v > this.#snapshot[i++]) {
          if (words === undefined) out.push(`drop: ${name}.${k}`);
          else if (words[k] !== undefined) {
            out.push(words === TW_CHECK ? `tcp_twcheck: ${words[k]}` : words[k]);
          }
        }
      }
    }
    return out;
  }
}

// pcapng (draft-ietf-opsawg-pcapng): block types, option codes, link type.
const SHB = 0x0a0d0d0a;
const IDB = 0x00000001;
const EPB = 0x00000006;
const BYTE_ORDER_MAGIC = 0x1a2b3c4d;
const OPT_END = 0;
const OPT_COMMENT = 1;
const OPT_EPB_FLAGS = 2;
const OPT_IF_TSRESOL = 9;
const LINKTYPE_RAW = 101; // raw IPv4 or IPv6, no link header

const enc = new TextEncoder();

/**
 * Writes pcapng: a section header and one interface (raw IP, microsecond
 * timestamps) first, then one Enhanced Packet Block per packet, with its
 * direction and its verdicts as comments.
 *
 * @example
 * ```ts
 * import { PcapngWriter } from "./capture.ts";
 * const out: Uint8Array[] = [];
 * const w = new PcapngWriter((b) => out.push(b));
 * w.packet({ packet: new Uint8Array(20), inbound: true, timeMs: 1.5, notes: ["drop: x"] });
 * out.length; // 2: the headers, then the packet
 * ```
 */
export class PcapngWriter {
  #sink: (bytes: Uint8Array) => void;
  #epoch: number;

  /**
   * Writes the headers to `sink`. Packet times are `epochMs` (wall-clock
   * ms at stack time 0) plus their stack time.
   */
  constructor(sink: (bytes: Uint8Array) => void, epochMs = 0) {
    this.#sink = sink;
    this.#epoch = epochMs;
    sink(PcapngWriter.headers());
  }

  /** The section header and interface blocks that start every file. */
  static headers(): Uint8Array {
    const shb = block(SHB, 16, (v) => {
      v.setUint32(8, BYTE_ORDER_MAGIC, true);
      v.setUint16(12, 1, true); // version 1.0
      v.setUint16(14, 0, true);
      v.setBigInt64(16, -1n, true); // section length unknown
    });
    const idb = block(IDB, 8 + 12, (v) => {
      v.setUint16(8, LINKTYPE_RAW, true);
      v.setUint32(12, 65535, true); // snap length
      v.setUint16(16, OPT_IF_TSRESOL, true);
      v.setUint16(18, 1, true);
      v.setUint8(20, 6); // 10^-6 s
      v.setUint16(24, OPT_END, true);
    });
    const out = new Uint8Array(shb.length + idb.length);
    out.set(shb);
    out.set(idb, shb.length);
    return out;
  }

  /** Writes one packet. */
  packet(p: CapturedPacket): void {
    const comments = p.notes.map((n) => enc.encode(n));
    const data = p.packet.length;
    let opts = 8 + 4; // epb_flags + opt_endofopt
    for (const c of comments) opts += 4 + pad4(c.length);
    const body = 20 + pad4(data) + opts;
    const us = BigInt(Math.round((this.#epoch + p.timeMs) * 1000));
    const b = block(EPB, body, (v, u8) => {
      v.setUint32(8, 0, true); // interface 0
      v.setUint32(12, Number(us >> 32n), true);
      v.setUint32(16, Number(us & 0xffffffffn), true);
      v.setUint32(20, data, true);
      v.setUint32(24, data, true);
      u8.set(p.packet, 28);
      let o = 28 + pad4(data);
      v.setUint16(o, OPT_EPB_FLAGS, true);
      v.setUint16(o + 2, 4, true);
      v.setUint32(o + 4, p.inbound ? 1 : 2, true); // direction: inbound 01, outbound 10
      o += 8;
      for (const c of comments) {
        v.setUint16(o, OPT_COMMENT, true);
        v.setUint16(o + 2, c.length, true);
        u8.set(c, o + 4);
        o += 4 + pad4(c.length);
      }
      v.setUint16(o, OPT_END, true);
    });
    this.#sink(b);
  }
}

function pad4(n: number): number {
  return (n + 3) & ~3;
}

// A block: type, total length, `bodyLen` bytes filled by `fill` (offsets
// from the block's start, so the body begins at 8), total length again.
function block(
  type: number,
  bodyLen: number,
  fill: (v: DataView, u8: Uint8Array) => void,
): Uint8Array {
  const total = 12 + bodyLen;
  const u8 = new Uint8Array(total);
  const v = new DataView(u8.buffer);
  v.setUint32(0, type, true);
  v.setUint32(4, total, true);
  fill(v, u8);
  v.setUint32(total - 4, total, true);
  return u8;
}
