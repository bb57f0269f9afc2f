/**
 * TCP header (RFC 9293 3.1) and options: MSS (RFC 9293 3.2), window scale
 * and timestamps (RFC 7323), SACK-permitted and SACK blocks (RFC 2018).
 * As smoltcp's `wire`: a reusable zero-copy view over the bytes
 * ({@linkcode TcpSegment}), one record of header fields and options used
 * both to parse and to emit ({@linkcode TcpRepr}, whose option half
 * {@linkcode TcpOptions} a parsed segment carries), and an emitter that
 * writes the record straight into the send buffer.
 *
 * @module
 */

import { checksum, fold, sum16 } from "./checksum.ts";

/** TCP flag bits. */
export const TcpFlags = {
  FIN: 0x01,
  SYN: 0x02,
  RST: 0x04,
  PSH: 0x08,
  ACK: 0x10,
  URG: 0x20,
  ECE: 0x40,
  CWR: 0x80,
} as const;

/**
 * The sequence space a segment takes (RFC 9293 3.4 SEG.LEN): its data, plus
 * one each for SYN and FIN.
 *
 * @example
 * ```ts
 * import { seqLen, TcpFlags } from "./tcp.ts";
 * seqLen(TcpFlags.SYN | TcpFlags.FIN, 3); // 5
 * ```
 */
export function seqLen(flags: number, dataLen: number): number {
  return dataLen + (flags & TcpFlags.SYN ? 1 : 0) + (flags & TcpFlags.FIN ? 1 : 0);
}

/** Length of a TCP header without options. */
export const TCP_HEADER_LEN = 20;

/** Offsets of the header's fields (RFC 9293 3.1). */
export const TcpField = {
  SRC_PORT: 0,
  DST_PORT: 2,
  SEQ: 4,
  ACK: 8,
  /** Data offset (high nibble, in 32-bit words). */
  DATA_OFFSET: 12,
  FLAGS: 13,
  WINDOW: 14,
  CHECKSUM: 16,
  URGENT: 18,
} as const;

/** Largest window scale shift (RFC 7323 2.3): a larger one is taken as 14. */
export const MAX_WSCALE = 14;

const OPT_END = 0;
const OPT_NOP = 1;
const OPT_MSS = 2;
const OPT_WSCALE = 3;
const OPT_SACK_PERMITTED = 4;
const OPT_SACK = 5;
const OPT_TIMESTAMP = 8;
const OPT_MD5 = 19; // RFC 2385: kind, length 18, a 16-byte digest

/** Why a segment was refused by {@linkcode TcpSegment.wrap}. */
export type TcpWireError = "truncated" | "badDataOffset" | "badChecksum" | "badOption";

/**
 * The options of one segment (RFC 9293 3.2, RFC 7323, RFC 2018), as a
 * parsed segment carries them and as {@linkcode TcpRepr} emits them:
 * absent options are `-1` (numbers) or `false`.
 *
 * @example
 * ```ts
 * import { TcpOptions } from "./tcp.ts";
 * const o = new TcpOptions();
 * o.mss; // -1 until a segment with MSS is parsed
 * ```
 */
export class TcpOptions {
  /** Maximum segment size, or -1. */
  mss = -1;
  /** Window scale shift, or -1. */
  wscale = -1;
  /** SACK-permitted. */
  sackPermitted = false;
  /** The timestamp option (TSval, TSecr). */
  timestamp = false;
  /** TSval. */
  tsVal = 0;
  /** TSecr. */
  tsEcr = 0;
  /** Number of SACK blocks. */
  sackCount = 0;
  /** SACK blocks as [left, right) pairs: sack[2i], sack[2i+1]. */
  readonly sack: number[] = [0, 0, 0, 0, 0, 0, 0, 0];
  /**
   * The MD5 signature option (RFC 2385): parsed, where its 16-byte digest
   * starts in the buffer, or -1; to emit, any value but -1 (the digest is
   * left zero for the sender to fill, see {@linkcode TcpRepr.sign}).
   */
  md5 = -1;

  /** Clears to "no options". */
  clearOptions(): void {
    this.mss = -1;
    this.wscale = -1;
    this.sackPermitted = false;
    this.timestamp = false;
    this.sackCount = 0;
    this.md5 = -1;
  }
}

/**
 * A view over a TCP segment at `buf[off, off + len)`, reused per segment.
 *
 * @example
 * ```ts
 * import { TcpSegment } from "./tcp.ts";
 * const seg = new TcpSegment();
 * seg.wrap(new Uint8Array(10), 0, 10, 0); // "truncated"
 * ```
 */
export class TcpSegment {
  /** Bytes. */
  buf: Uint8Array = new Uint8Array(0);
  /** Offset of the TCP header. */
  off = 0;
  /** Segment length (header + data). */
  len = 0;
  /** Parsed options of the last wrapped segment. */
  readonly options: TcpOptions = new TcpOptions();

  /**
   * Points at a segment, verifies the checksum (`pseudo` is the
   * pseudo-header sum; pass `-1` to skip verification, e.g. when the
   * device already checked it) and parses options.
   */
  wrap(buf: Uint8Array, off: number, len: number, pseudo: number): TcpWireError | undefined {
    this.buf = buf;
    this.off = off;
    this.len = len;
    if (len < TCP_HEADER_LEN) return "truncated";
    const hl = this.headerLen;
    if (hl < TCP_HEADER_LEN || hl > len) return "badDataOffset";
    if (pseudo >= 0 && checksum(sum16(pseudo, buf, off, off + len)) !== 0) return "badChecksum";
    return parseOptions(buf, off + TCP_HEADER_LEN, off + hl, this.options);
  }

  /** Source port. */
  get srcPort(): number {
    return readU16(this.buf, this.off + F.SRC_PORT);
  }
  /** Destination port. */
  get dstPort(): number {
    return readU16(this.buf, this.off + F.DST_PORT);
  }
  /** Sequence number. */
  get seq(): number {
    return readU32(this.buf, this.off + F.SEQ);
  }
  /** Acknowledgment number. */
  get ack(): number {
    return readU32(this.buf, this.off + F.ACK);
  }
  /** Header length in bytes. */
  get headerLen(): number {
    return (this.buf[this.off + F.DATA_OFFSET] >> 4) * 4;
  }
  /** Flag bits. */
  get flags(): number {
    return this.buf[this.off + F.FLAGS];
  }
  /** Window field (unscaled). */
  get window(): number {
    return readU16(this.buf, this.off + F.WINDOW);
  }
  /** Offset of the data in `buf`. */
  get dataOffset(): number {
    return this.off + this.headerLen;
  }
  /** Data length. */
  get dataLen(): number {
    return this.len - this.headerLen;
  }
}

const F = TcpField;

function readU16(b: Uint8Array, o: number): number {
  return (b[o] << 8) | b[o + 1];
}

function writeU16(b: Uint8Array, o: number, v: number): void {
  b[o] = v >> 8;
  b[o + 1] = v & 0xff;
}

/**
 * Reads a big-endian u32.
 *
 * @example
 * ```ts
 * import { readU32 } from "./tcp.ts";
 * readU32(new Uint8Array([0, 0, 1, 0]), 0); // 256
 * ```
 */
export function readU32(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}

/**
 * Writes a big-endian u32.
 *
 * @example
 * ```ts
 * import { writeU32 } from "./tcp.ts";
 * const b = new Uint8Array(4);
 * writeU32(b, 0, 256); // b = [0, 0, 1, 0]
 * ```
 */
export function writeU32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24;
  b[o + 1] = (v >>> 16) & 0xff;
  b[o + 2] = (v >>> 8) & 0xff;
  b[o + 3] = v & 0xff;
}

/**
 * Parses options in `buf[start, end)` into `out`. A malformed option (bad
 * length) refuses the segment; unknown options are skipped (RFC 9293 3.2).
 *
 * @example
 * ```ts
 * import { parseOptions, TcpOptions } from "./tcp.ts";
 * const o = new TcpOptions();
 * parseOptions(new Uint8Array([2, 4, 5, 0xb4]), 0, 4, o); // o.mss === 1460
 * ```
 */
export function parseOptions(
  buf: Uint8Array,
  start: number,
  end: number,
  out: TcpOptions,
): TcpWireError | undefined {
  out.clearOptions();
  let i = start;
  while (i < end) {
    const kind = buf[i];
    if (kind === OPT_END) break;
    if (kind === OPT_NOP) {
      i++;
      continue;
    }
    if (i + 1 >= end) return "badOption";
    const len = buf[i + 1];
    if (len < 2 || i + len > end) return "badOption";
    switch (kind) {
      case OPT_MSS:
        if (len !== 4) return "badOption";
        out.mss = (buf[i + 2] << 8) | buf[i + 3];
        break;
      case OPT_WSCALE:
        if (len !== 3) return "badOption";
        out.wscale = buf[i + 2];
        break;
      case OPT_SACK_PERMITTED:
        if (len !== 2) return "badOption";
        out.sackPermitted = true;
        break;
      case OPT_TIMESTAMP:
        if (len !== 10) return "badOption";
        out.timestamp = true;
        out.tsVal = readU32(buf, i + 2);
        out.tsEcr = readU32(buf, i + 6);
        break;
      case OPT_SACK: {
        if ((len - 2) % 8 !== 0 || len < 10) return "badOption";
        const n = Math.min(4, (len - 2) / 8);
        for (let k = 0; k < n; k++) {
          out.sack[2 * k] = readU32(buf, i + 2 + 8 * k);
          out.sack[2 * k + 1] = readU32(buf, i + 6 + 8 * k);
        }
        out.sackCount = n;
        break;
      }
      case OPT_MD5:
        if (len !== 18) return "badOption";
        out.md5 = i + 2;
        break;
    }
    i += len;
  }
  return undefined;
}

/**
 * A TCP header as values: the fields and the options. {@linkcode emitTcp}
 * writes one; a parsed segment's options are its {@linkcode TcpOptions}
 * half, under the same names. One instance is reused by each sender.
 *
 * @example
 * ```ts
 * import { TcpRepr } from "./tcp.ts";
 * const f = new TcpRepr();
 * f.timestamp = true;
 * f.optionsLen(); // 12
 * ```
 */
export class TcpRepr extends TcpOptions {
  /** Source port. */
  srcPort = 0;
  /** Destination port. */
  dstPort = 0;
  /** Sequence number. */
  seq = 0;
  /** Acknowledgment number. */
  ack = 0;
  /** Flags. */
  flags = 0;
  /** Window field (already scaled down). */
  window = 0;
  /**
   * Fills the MD5 digest (RFC 2385) of the segment just written at
   * `buf[off, off + total)` with a `hl`-byte header, before its checksum.
   */
  sign: ((buf: Uint8Array, off: number, hl: number, total: number) => void) | undefined;

  /** Length of the options these fields produce. */
  optionsLen(): number {
    let n = this.md5 === -1 ? 0 : 20; // NOP NOP + 18
    if (this.mss >= 0) n += 4;
    if (this.wscale >= 0) n += 4; // NOP + 3
    if (this.sackPermitted && !this.timestamp) n += 4; // NOP NOP + 2
    if (this.timestamp) n += this.sackPermitted ? 10 + 2 : 12; // SACKOK+TS or NOP NOP TS
    if (this.sackCount > 0) n += 4 + 8 * this.sackCount; // NOP NOP + 2 + 8n
    return n;
  }
}

/**
 * Writes header and options at `buf[off]`, followed by `dataLen` bytes
 * already in place, and fills the checksum from `pseudo` (the pseudo-header
 * sum without the length, which is added here), or only its pseudo-header
 * part when `partial` (checksum offload). Returns the header length.
 *
 * @example
 * ```ts
 * import { emitTcp, TcpFlags, TcpRepr } from "./tcp.ts";
 * const f = new TcpRepr();
 * f.flags = TcpFlags.SYN;
 * const buf = new Uint8Array(60);
 * emitTcp(buf, 0, f, 0, 0); // 20
 * ```
 */
export function emitTcp(
  buf: Uint8Array,
  off: number,
  f: TcpRepr,
  dataLen: number,
  pseudo: number,
  partial = false,
): number {
  const hl = TCP_HEADER_LEN + f.optionsLen();
  writeU16(buf, off + F.SRC_PORT, f.srcPort);
  writeU16(buf, off + F.DST_PORT, f.dstPort);
  writeU32(buf, off + F.SEQ, f.seq);
  writeU32(buf, off + F.ACK, f.ack);
  buf[off + F.DATA_OFFSET] = (hl / 4) << 4;
  buf[off + F.FLAGS] = f.flags;
  writeU16(buf, off + F.WINDOW, f.window);
  writeU16(buf, off + F.CHECKSUM, 0);
  writeU16(buf, off + F.URGENT, 0);
  let i = off + TCP_HEADER_LEN;
  if (f.mss >= 0) {
    buf[i++] = OPT_MSS;
    buf[i++] = 4;
    buf[i++] = f.mss >> 8;
    buf[i++] = f.mss & 0xff;
  }
  if (f.wscale >= 0) {
    buf[i++] = OPT_NOP;
    buf[i++] = OPT_WSCALE;
    buf[i++] = 3;
    buf[i++] = f.wscale;
  }
  if (f.timestamp) {
    if (f.sackPermitted) {
      buf[i++] = OPT_SACK_PERMITTED;
      buf[i++] = 2;
    } else {
      buf[i++] = OPT_NOP;
      buf[i++] = OPT_NOP;
    }
    buf[i++] = OPT_TIMESTAMP;
    buf[i++] = 10;
    writeU32(buf, i, f.tsVal);
    writeU32(buf, i + 4, f.tsEcr);
    i += 8;
  } else if (f.sackPermitted) {
    buf[i++] = OPT_NOP;
    buf[i++] = OPT_NOP;
    buf[i++] = OPT_SACK_PERMITTED;
    buf[i++] = 2;
  }
  if (f.sackCount > 0) {
    buf[i++] = OPT_NOP;
    buf[i++] = OPT_NOP;
    buf[i++] = OPT_SACK;
    buf[i++] = 2 + 8 * f.sackCount;
    for (let k = 0; k < f.sackCount; k++) {
      writeU32(buf, i, f.sack[2 * k]);
      writeU32(buf, i + 4, f.sack[2 * k + 1]);
      i += 8;
    }
  }
  if (f.md5 !== -1) {
    buf[i++] = OPT_NOP;
    buf[i++] = OPT_NOP;
    buf[i++] = OPT_MD5;
    buf[i++] = 18;
    buf.fill(0, i, i + 16);
    i += 16;
  }
  const total = hl + dataLen;
  if (f.md5 !== -1) f.sign?.(buf, off, hl, total);
  const ps = pseudo + (total >>> 16) + (total & 0xffff);
  // Partial: the device finishes it; the field holds the folded pseudo-header
  // sum, not complemented (virtio NEEDS_CSUM, Linux CHECKSUM_PARTIAL).
  const c = partial ? fold(ps) : checksum(sum16(ps, buf, off, off + total));
  writeU16(buf, off + F.CHECKSUM, c);
  return hl;
}
