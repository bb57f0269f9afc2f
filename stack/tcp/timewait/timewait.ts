/**
 * The TIME_WAIT manager, after FreeBSD 7's `sys/netinet/tcp_timewait.c`
 * (the README's TIME_WAIT section maps its parts to ours): on entry to TIME-WAIT the connection block is
 * freed and a compressed record takes its place (`tcp_twstart`); segments
 * that hit a record are judged by `check` (`tcp_twcheck`) and answered by
 * `respond` (`tcp_twrespond`); records sit in FIFOs ordered by expiry
 * (`tcp_tw_2msl_reset/stop/scan`), one per lifetime: FreeBSD 7 has one,
 * which a run-time change of `msl` leaves out of order (a record made
 * after msl was lowered waits behind older, longer-lived ones).
 *
 * Records live in a slab of typed arrays (struct of arrays) indexed by slot,
 * with an open hash index by 4-tuple and intrusive doubly-linked FIFOs:
 * no JavaScript object exists per entry. Times are milliseconds modulo 2^32
 * compared by signed difference, valid for spans under 24 days.
 *
 * Each record holds the remote address and both ports; the local address is
 * the stack's own address of that family (a stack has one of each).
 *
 * @module
 */

import { formatIp } from "../../wire/ip_address.ts";
import { readU32, seqLen, TcpFlags, TcpRepr, type TcpSegment, writeU32 } from "../../wire/tcp.ts";
import type { IpLayer } from "../../ip.ts";
import { seqAdd, seqGt, seqLt } from "../seq.ts";
import { hashTuple, hashTupleWords } from "../tuple.ts";
import { type Tcb, timestampClock } from "../tcb.ts";
import { type Answerer, sendHeaderOnly } from "../output.ts";
import type { TcpStats } from "../stats.ts";

const { FIN, SYN, RST, ACK } = TcpFlags;
/** FreeBSD refuses a `maxtcptw` below this. */
export const MAXTCPTW_MIN = 32;
const F_V6 = 1;
const F_TS = 2;
const F_MARKED = 4; // its socket set a TTL, TOS or MD5 key: see #marks
const NIL = -1;

/** Run-time settings of the manager (FreeBSD sysctl names in the README). */
export interface TimeWaitSettings {
  /** net.inet.tcp.maxtcptw: cap on records; 0 means automatic. */
  maxtcptw: number;
  /** net.inet.tcp.nolocaltimewait: skip TIME_WAIT when the peer is us. */
  nolocaltimewait: boolean;
  /** net.inet.tcp.msl in ms (2MSL is the TIME_WAIT span). */
  mslMs: number;
  /** PAWS (RFC 7323 5) on segments that hit a record. */
  paws: boolean;
  /** RFC 6191: reopen on a SYN whose timestamp is newer. */
  rfc6191: boolean;
}

/** Default TIME_WAIT settings: FreeBSD's, with our extensions off. */
export const DEFAULT_TIMEWAIT_SETTINGS: TimeWaitSettings = {
  maxtcptw: 0,
  nolocaltimewait: false,
  mslMs: 30_000,
  paws: false,
  rfc6191: false,
};

/**
 * Counters of the manager: one per twcheck outcome, one per twstart outcome.
 *
 * @example
 * ```ts
 * import { newTimeWaitStats } from "./timewait.ts";
 * newTimeWaitStats().check.rstDropped; // 0
 * ```
 */
export function newTimeWaitStats() {
  return {
    current: 0,
    started: 0,
    skippedLocal: 0,
    recycled: 0,
    closedWithoutTimeWait: 0,
    expired: 0,
    check: {
      rstDropped: 0,
      pawsDropped: 0,
      synReopened: 0,
      synReopenedByTimestamp: 0,
      noAckDropped: 0,
      finRearmed: 0,
      acked: 0,
      dupAckIgnored: 0,
    },
  };
}

/** The manager's counters. */
export type TimeWaitStats = ReturnType<typeof newTimeWaitStats>;

/** One record, as listed by `tunstack tw`. */
export interface TimeWaitEntry {
  /** Local address. */
  localAddress: string;
  /** Local port. */
  localPort: number;
  /** Peer address. */
  peerAddress: string;
  /** Peer port. */
  peerPort: number;
  /** Milliseconds until the record expires. */
  remainingMs: number;
  /** Times 2MSL was re-armed by a retransmitted FIN. */
  rearms: number;
  /** Milliseconds since the connection started. */
  ageMs: number;
  /** Timestamps kept. */
  timestamps: boolean;
  /** SND.NXT, RCV.NXT, ISS, IRS, last window. */
  sndNxt: number;
  /** RCV.NXT. */
  rcvNxt: number;
  /** ISS. */
  iss: number;
  /** IRS. */
  irs: number;
  /** Last advertised window, unscaled. */
  lastWin: number;
}

/** Result of {@linkcode TimeWaitTable.check}. */
export type TwVerdict = "handled" | "reopen";

/**
 * FreeBSD's `tcptw_auto_size`: min(max(half the ephemeral range, 32),
 * maxsockets / 5).
 *
 * @example
 * ```ts
 * import { autoMaxTcpTw } from "./timewait.ts";
 * autoMaxTcpTw(49152, 65535, 65536); // 8191
 * ```
 */
export function autoMaxTcpTw(low: number, high: number, maxSockets: number): number {
  const half = Math.floor(Math.abs(high - low) / 2);
  return Math.min(Math.max(half, MAXTCPTW_MIN), Math.floor(maxSockets / 5));
}

/** What the manager needs from the stack. */
export interface TimeWaitHost {
  /** The IP layer, for `respond`. */
  readonly ip: IpLayer;
  /** TCP counters (FreeBSD's tcps_closed, sndacks, sndtotal). */
  readonly tcpStats: TcpStats;
  /** Millisecond clock. */
  now(): number;
}

const hdr = new TcpRepr();

/**
 * The table of TIME_WAIT records.
 *
 * @example
 * ```ts
 * import { exampleConnection } from "../../_examples.ts";
 * import { close } from "../user.ts";
 * const { conn, net, server } = await exampleConnection();
 * const tw = net.a.tcp.timewait; // the client's TimeWaitTable
 * close(conn); // we close first, so we hold TIME-WAIT
 * server.close();
 * await net.run(() => tw.size === 1); // tw.start took the closed block
 * const [e] = tw.list(net.now);
 * tw.lookup(conn.remote, 0, 4, e.peerPort, e.localPort) >= 0; // true: the 4-tuple's slot
 * tw.scan(net.now + 60_000); // 1: expired after 2 MSL
 * ```
 */
export class TimeWaitTable {
  /** Counters. */
  readonly stats: TimeWaitStats = newTimeWaitStats();
  /** Settings, changeable at run time. */
  readonly settings: TimeWaitSettings;
  /** The cap used when `settings.maxtcptw` is 0. */
  readonly autoSize: number;
  /** Most records expired per `scan` call. */
  scanBudget = 1 << 16;
  /** Most milliseconds one `scan` call works (bounds the pause). */
  scanTimeMs = 0.5;
  #host: TimeWaitHost;
  #cap = 0; // slots allocated
  // Struct of arrays, one element per slot.
  #addr = new Uint32Array(0); // IPv4 address, unused for IPv6
  #addr6: Uint32Array | undefined; // 4 words per slot, made on first IPv6 record
  #ports = new Uint32Array(0); // local << 16 | remote
  #sndNxt = new Uint32Array(0);
  #rcvNxt = new Uint32Array(0);
  #iss = new Uint32Array(0);
  #irs = new Uint32Array(0);
  #tsRecent = new Uint32Array(0);
  #tsOffset = new Uint32Array(0);
  #start = new Uint32Array(0); // ms mod 2^32
  #expire = new Uint32Array(0); // ms mod 2^32
  #lastWin = new Uint16Array(0);
  #rearms = new Uint16Array(0);
  #flags = new Uint8Array(0);
  #prev = new Int32Array(0); // FIFO links; #next doubles as the free list
  #next = new Int32Array(0);
  #hash = new Int32Array(0); // open addressing, slot + 1 (0 = empty, -1 = deleted)
  #deleted = 0; // tombstones in #hash
  #seed = crypto.getRandomValues(new Uint32Array(1))[0];
  #life = new Uint32Array(0); // 2MSL of the record's FIFO, ms
  // The TTL, TOS and MD5 key of the few records whose socket set them
  // (tcp_twrespond answers with the inpcb's): a map, not columns every
  // record would pay for.
  #marks = new Map<number, Answerer>();
  // One FIFO per lifetime (2MSL in ms): within one, expiry follows order.
  #fifos = new Map<number, { head: number; tail: number }>();
  #free = NIL;
  #count = 0;

  /** A table with `autoSize` as the automatic cap. */
  constructor(host: TimeWaitHost, settings: TimeWaitSettings, autoSize: number) {
    this.#host = host;
    this.settings = settings;
    this.autoSize = autoSize;
    this.#grow(Math.min(this.limit, 1024));
  }

  /** The cap in force: `maxtcptw`, or the automatic size when it is 0. */
  get limit(): number {
    return this.settings.maxtcptw > 0 ? this.settings.maxtcptw : this.autoSize;
  }

  /** Records held. */
  get size(): number {
    return this.#count;
  }

  /**
   * Sets `maxtcptw`; like FreeBSD, values below 32 are refused (0 restores
   * the automatic size). Throws with the reason.
   */
  setMaxTcpTw(n: number): void {
    if (!Number.isInteger(n) || (n !== 0 && n < MAXTCPTW_MIN)) {
      throw new RangeError(
        `Invalid maxtcptw: ${n} (must be at least ${MAXTCPTW_MIN}, or 0 for auto)`,
      );
    }
    this.settings.maxtcptw = n;
  }

  // ---- tcp_twstart -------------------------------------------------------

  /**
   * Takes over a connection entering TIME-WAIT (`tcp_twstart`). The caller
   * frees the connection block afterwards. Returns the slot, or -1 when the
   * connection closed without TIME_WAIT.
   */
  start(c: Tcb): number {
    const s = this.stats;
    const host = this.#host;
    // tcp_close() counts tcps_closed when no record is made; otherwise the
    // count comes when the record closes (tcp_twclose).
    if (this.settings.nolocaltimewait && host.ip.isLocalAddress(c.remote)) {
      s.skippedLocal++;
      host.tcpStats.freebsd.tcps_closed++;
      return NIL;
    }
    let slot = this.#count < this.limit ? this.#alloc() : NIL;
    if (slot === NIL) {
      // At the cap: recycle the record nearest expiry (tcp_tw_2msl_scan(1)).
      slot = this.#nearest();
      if (slot === NIL) {
        s.closedWithoutTimeWait++;
        host.tcpStats.freebsd.tcps_closed++;
        return NIL;
      }
      s.recycled++;
      this.#unlink(slot);
      this.#unhash(slot);
      this.#count--;
      host.tcpStats.freebsd.tcps_closed++;
    }
    const now = host.now() >>> 0;
    const v6 = c.remote.length === 16;
    const { ttl, tos } = c.ipFields;
    const marked = ttl !== 0 || tos !== 0 || c.md5Key !== undefined;
    this.#flags[slot] = (v6 ? F_V6 : 0) | (c.tsOk ? F_TS : 0) | (marked ? F_MARKED : 0);
    if (marked) this.#marks.set(slot, { ipFields: { ttl, tos }, md5Key: c.md5Key });
    else if (this.#marks.size > 0) this.#marks.delete(slot);
    if (v6) {
      const a6 = this.#ensureAddr6();
      for (let i = 0; i < 4; i++) a6[slot * 4 + i] = readU32(c.remote, i * 4);
      this.#addr[slot] = 0;
    } else this.#addr[slot] = readU32(c.remote, 0);
    this.#ports[slot] = ((c.localPort << 16) | c.remotePort) >>> 0;
    this.#sndNxt[slot] = c.snd.max;
    this.#rcvNxt[slot] = c.rcv.nxt;
    this.#iss[slot] = c.snd.iss;
    this.#irs[slot] = c.rcv.irs;
    // tcp_twstart: the receive buffer's space, scaled and rounded up.
    const scale = c.rcv.scale;
    this.#lastWin[slot] = Math.min(0xffff, (c.rcv.buf.window + (1 << scale) - 1) >>> scale);
    this.#tsRecent[slot] = c.tsOk ? c.rcv.tsRecent : 0;
    this.#tsOffset[slot] = c.tsOk ? c.tsOffset : 0;
    this.#start[slot] = c.createdAt >>> 0;
    this.#rearms[slot] = 0;
    this.#hashInsert(slot);
    this.#count++;
    s.started++;
    s.current = this.#count;
    if (c.rcv.ackNow) this.respond(slot);
    this.#append(slot, now);
    return slot;
  }

  // ---- lookup ------------------------------------------------------------

  /**
   * The slot for a segment from `remote` (bytes at `buf[off]`, 4 or 16 long)
   * between `remotePort` and `localPort`, or -1.
   */
  lookup(
    buf: Uint8Array,
    off: number,
    addrLen: number,
    remotePort: number,
    localPort: number,
  ): number {
    if (this.#count === 0) return NIL;
    const ports = ((localPort << 16) | remotePort) >>> 0;
    const v6 = addrLen === 16;
    const w0 = readU32(buf, off);
    const h = hashTuple(this.#seed, buf, off, addrLen, remotePort, localPort);
    const table = this.#hash, size = table.length;
    for (let i = homeCell(h, size);; i = nextCell(i, size)) {
      const e = table[i];
      if (e === 0) return NIL;
      if (e < 0) continue;
      const slot = e - 1;
      if (this.#ports[slot] !== ports || ((this.#flags[slot] & F_V6) !== 0) !== v6) continue;
      if (!v6) {
        if (this.#addr[slot] === w0) return this.#live(slot);
        continue;
      }
      const a6 = this.#addr6!;
      if (
        a6[slot * 4] === w0 && a6[slot * 4 + 1] === readU32(buf, off + 4) &&
        a6[slot * 4 + 2] === readU32(buf, off + 8) && a6[slot * 4 + 3] === readU32(buf, off + 12)
      ) return this.#live(slot);
    }
  }

  /** SND.NXT of record `slot`: a connection reopened from it must start above. */
  sndNxtOf(slot: number): number {
    return this.#sndNxt[slot];
  }

  // A record past its deadline that no scan has reached yet is not matched:
  // it expires now.
  #live(slot: number): number {
    if (((this.#expire[slot] - (this.#host.now() >>> 0)) | 0) > 0) return slot;
    this.close(slot);
    this.stats.expired++;
    return NIL;
  }

  // ---- tcp_twcheck -------------------------------------------------------

  /**
   * Judges a segment that hit record `slot` (`tcp_twcheck`). Returns
   * `"reopen"` when the record ended so the SYN goes to the listener.
   */
  check(slot: number, seg: TcpSegment): TwVerdict {
    const s = this.stats.check;
    const flags = seg.flags;
    const opt = seg.options;
    const hasTs = (this.#flags[slot] & F_TS) !== 0;
    // RFC 1337: an RST never ends TIME_WAIT.
    if (flags & RST) {
      s.rstDropped++;
      return "handled";
    }
    // RFC 7323 5.3 PAWS (off by default, as in FreeBSD 7's #if 0 block).
    if (this.settings.paws && hasTs && opt.timestamp && seqLt(opt.tsVal, this.#tsRecent[slot])) {
      s.pawsDropped++;
      if (flags & ACK) this.respond(slot);
      return "handled";
    }
    // Only a connection request (SYN without ACK) may reopen: FreeBSD 7
    // also took SYN,ACK, which later FreeBSD stopped, as RFC 1122 4.2.2.13
    // speaks of a new SYN; a stray SYN,ACK gets the ACK below.
    if ((flags & (SYN | ACK)) === SYN) {
      const newerSeq = seqGt(seg.seq, this.#rcvNxt[slot]);
      if (this.settings.rfc6191 && hasTs && opt.timestamp) {
        // RFC 6191 2 (off by default): the timestamp decides before the
        // sequence number, which only breaks a tie; an older one is dropped.
        const d = (opt.tsVal - this.#tsRecent[slot]) | 0;
        if (d > 0 || (d === 0 && newerSeq)) {
          if (d > 0) s.synReopenedByTimestamp++;
          else s.synReopened++;
          this.close(slot);
          return "reopen";
        }
      } else if (newerSeq) {
        // A new connection whose sequence numbers are above the old ones.
        s.synReopened++;
        this.close(slot);
        return "reopen";
      }
    }
    if (!(flags & ACK)) {
      s.noAckDropped++;
      return "handled";
    }
    // A retransmitted FIN re-arms 2MSL.
    if (flags & FIN) {
      const end = seqAdd(seg.seq, seqLen(flags & ~FIN, seg.dataLen));
      if (seqAdd(end, 1) === this.#rcvNxt[slot]) {
        s.finRearmed++;
        this.#rearms[slot] = Math.min(0xffff, this.#rearms[slot] + 1);
        // To the tail of the FIFO of the current msl.
        this.#unlink(slot);
        this.#append(slot, this.#host.now() >>> 0);
      }
    }
    // Anything but a pure duplicate ACK is answered.
    if (
      flags !== ACK || seg.dataLen !== 0 || seg.seq !== this.#rcvNxt[slot] ||
      seg.ack !== this.#sndNxt[slot]
    ) {
      s.acked++;
      this.respond(slot);
    } else s.dupAckIgnored++;
    return "handled";
  }

  // ---- tcp_twrespond -----------------------------------------------------

  /** Sends the ACK of record `slot` (`tcp_twrespond`). */
  respond(slot: number): void {
    const host = this.#host;
    const ip = host.ip;
    const v6 = (this.#flags[slot] & F_V6) !== 0;
    const local = v6 ? ip.ipv6 : ip.ipv4;
    if (!local) return;
    const remote = this.#remoteBytes(slot);
    const f = hdr;
    const ports = this.#ports[slot];
    f.srcPort = ports >>> 16;
    f.dstPort = ports & 0xffff;
    f.seq = this.#sndNxt[slot];
    f.ack = this.#rcvNxt[slot];
    f.flags = ACK;
    f.window = this.#lastWin[slot];
    f.clearOptions();
    f.timestamp = (this.#flags[slot] & F_TS) !== 0;
    f.tsVal = timestampClock(host.now(), this.#tsOffset[slot]);
    f.tsEcr = this.#tsRecent[slot];
    sendHeaderOnly(ip, local, remote, f, this.answerer(slot));
    host.tcpStats.freebsd.tcps_sndacks++;
    host.tcpStats.freebsd.tcps_sndtotal++;
  }

  /** The TTL, TOS and MD5 key record `slot` answers with, if its socket set any. */
  answerer(slot: number): Answerer | undefined {
    return this.#flags[slot] & F_MARKED ? this.#marks.get(slot) : undefined;
  }

  // ---- tcp_twclose / 2MSL queue --------------------------------------------

  /** Ends record `slot` (`tcp_twclose`). */
  close(slot: number): void {
    this.#unlink(slot);
    this.#unhash(slot);
    this.#release(slot);
    this.#host.tcpStats.freebsd.tcps_closed++;
  }

  /**
   * Expires due records from the head of the FIFO (`tcp_tw_2msl_scan(0)`),
   * at most `scanBudget` records and about `scanTimeMs` per call, so a
   * mass expiry is spread over ticks instead of pausing the stack. Returns
   * how many expired.
   */
  scan(nowMs: number): number {
    const now = nowMs >>> 0;
    const deadline = performance.now() + this.scanTimeMs;
    let n = 0;
    for (const q of [...this.#fifos.values()]) {
      while (n < this.scanBudget) {
        const slot = q.head;
        if (slot === NIL || ((this.#expire[slot] - now) | 0) > 0) break;
        this.close(slot);
        this.stats.expired++;
        // Reading the clock costs more than a close: look every 256.
        if ((++n & 255) === 0 && performance.now() >= deadline) return n;
      }
    }
    return n;
  }

  /** Drops every record (stack shutdown). */
  clear(): void {
    for (const q of [...this.#fifos.values()]) while (q.head !== NIL) this.close(q.head);
  }

  /**
   * Lists live records nearest expiry first, as `ss -tan state time-wait`
   * would; a record past its deadline but not yet scanned is left out.
   */
  list(nowMs: number, limit = Infinity): TimeWaitEntry[] {
    const ip = this.#host.ip;
    const now = nowMs >>> 0;
    const slots: number[] = [];
    for (const q of this.#fifos.values()) {
      for (let slot = q.head; slot !== NIL; slot = this.#next[slot]) {
        if (((this.#expire[slot] - now) | 0) > 0) slots.push(slot);
      }
    }
    slots.sort((a, b) => (this.#expire[a] - this.#expire[b]) | 0);
    return slots.slice(0, limit).map((slot) => {
      const v6 = (this.#flags[slot] & F_V6) !== 0;
      const local = v6 ? ip.ipv6 : ip.ipv4;
      return {
        localAddress: local ? formatIp(local) : "?",
        localPort: this.#ports[slot] >>> 16,
        peerAddress: formatIp(this.#remoteBytes(slot).slice()),
        peerPort: this.#ports[slot] & 0xffff,
        remainingMs: (this.#expire[slot] - now) | 0,
        rearms: this.#rearms[slot],
        ageMs: (now - this.#start[slot]) >>> 0,
        timestamps: (this.#flags[slot] & F_TS) !== 0,
        sndNxt: this.#sndNxt[slot],
        rcvNxt: this.#rcvNxt[slot],
        iss: this.#iss[slot],
        irs: this.#irs[slot],
        lastWin: this.#lastWin[slot],
      };
    });
  }

  /** Bytes of typed-array memory the table holds (slab plus index). */
  get memoryBytes(): number {
    const a = [
      this.#addr,
      this.#ports,
      this.#sndNxt,
      this.#rcvNxt,
      this.#iss,
      this.#irs,
      this.#tsRecent,
      this.#tsOffset,
      this.#start,
      this.#expire,
      this.#life,
      this.#lastWin,
      this.#rearms,
      this.#flags,
      this.#prev,
      this.#next,
      this.#hash,
    ];
    return a.reduce((n, x) => n + x.byteLength, 0) + (this.#addr6?.byteLength ?? 0);
  }

  // ---- internals ---------------------------------------------------------

  #remoteBytes(slot: number): Uint8Array {
    if (this.#flags[slot] & F_V6) {
      for (let i = 0; i < 4; i++) writeU32(scratchAddr, i * 4, this.#addr6![slot * 4 + i]);
      return scratchAddr;
    }
    writeU32(scratchAddr4, 0, this.#addr[slot]);
    return scratchAddr4;
  }

  #append(slot: number, now: number): void {
    const life = 2 * this.settings.mslMs;
    this.#expire[slot] = (now + life) >>> 0;
    this.#life[slot] = life;
    let q = this.#fifos.get(life);
    if (!q) this.#fifos.set(life, q = { head: NIL, tail: NIL });
    this.#prev[slot] = q.tail;
    this.#next[slot] = NIL;
    if (q.tail !== NIL) this.#next[q.tail] = slot;
    else q.head = slot;
    q.tail = slot;
  }

  #unlink(slot: number): void {
    const life = this.#life[slot];
    const q = this.#fifos.get(life)!;
    const p = this.#prev[slot], n = this.#next[slot];
    if (p !== NIL) this.#next[p] = n;
    else q.head = n;
    if (n !== NIL) this.#prev[n] = p;
    else q.tail = p;
    if (q.head === NIL) this.#fifos.delete(life);
  }

  // The record nearest expiry: the earliest of the FIFOs' heads.
  #nearest(): number {
    let best = NIL;
    for (const q of this.#fifos.values()) {
      if (best === NIL || ((this.#expire[q.head] - this.#expire[best]) | 0) < 0) best = q.head;
    }
    return best;
  }

  #alloc(): number {
    if (this.#free === NIL) {
      if (this.#cap >= this.limit && this.#count >= this.#cap) return NIL;
      this.#grow(Math.min(Math.max(this.#cap * 2, 1024), Math.max(this.limit, this.#cap + 1)));
      if (this.#free === NIL) return NIL;
    }
    const slot = this.#free;
    this.#free = this.#next[slot];
    return slot;
  }

  #release(slot: number): void {
    if (this.#marks.size > 0) this.#marks.delete(slot);
    this.#count--;
    this.stats.current = this.#count;
    this.#next[slot] = this.#free;
    this.#free = slot;
  }

  #ensureAddr6(): Uint32Array {
    if (!this.#addr6 || this.#addr6.length < this.#cap * 4) {
      const a = new Uint32Array(this.#cap * 4);
      if (this.#addr6) a.set(this.#addr6);
      this.#addr6 = a;
    }
    return this.#addr6;
  }

  // The slab grows in steps up to the cap, so a small table costs little
  // and a full one is one set of arrays.
  #grow(newCap: number): void {
    const old = this.#cap;
    if (newCap <= old) return;
    this.#addr = grown(this.#addr, newCap);
    this.#ports = grown(this.#ports, newCap);
    this.#sndNxt = grown(this.#sndNxt, newCap);
    this.#rcvNxt = grown(this.#rcvNxt, newCap);
    this.#iss = grown(this.#iss, newCap);
    this.#irs = grown(this.#irs, newCap);
    this.#tsRecent = grown(this.#tsRecent, newCap);
    this.#tsOffset = grown(this.#tsOffset, newCap);
    this.#start = grown(this.#start, newCap);
    this.#expire = grown(this.#expire, newCap);
    this.#life = grown(this.#life, newCap);
    this.#lastWin = grown(this.#lastWin, newCap);
    this.#rearms = grown(this.#rearms, newCap);
    this.#flags = grown(this.#flags, newCap);
    this.#prev = grown(this.#prev, newCap);
    this.#next = grown(this.#next, newCap);
    if (this.#addr6) this.#ensureAddr6();
    this.#cap = newCap;
    // New slots join the free list.
    for (let i = newCap - 1; i >= old; i--) {
      this.#next[i] = this.#free;
      this.#free = i;
    }
    this.#rehash();
  }

  // Index size: 1.5 cells per slab slot, so a full slab loads it to 2/3
  // and tombstones have room to gather before a rebuild. Any size will do
  // (see homeCell): a power of two at 1,000,000 records would be 2^21
  // cells, 8.4 bytes a record instead of 6.
  #rehash(): void {
    const size = Math.max(16, Math.ceil(this.#cap * 1.5));
    this.#hash = new Int32Array(size);
    this.#deleted = 0;
    for (const q of this.#fifos.values()) {
      for (let slot = q.head; slot !== NIL; slot = this.#next[slot]) this.#hashInsert(slot);
    }
  }

  #slotHash(slot: number): number {
    const ports = this.#ports[slot];
    if (this.#flags[slot] & F_V6) {
      const a = this.#addr6!;
      return hashTupleWords(
        this.#seed,
        a[slot * 4],
        a[slot * 4 + 1],
        a[slot * 4 + 2],
        a[slot * 4 + 3],
        ports,
      );
    }
    return hashTupleWords(this.#seed, this.#addr[slot], 0, 0, 0, ports);
  }

  #hashInsert(slot: number): void {
    // Probing needs empty cells: when live and deleted cells would pass 3/4
    // of the index, rebuild it first (`slot` is not in it yet). Only inserts
    // get here, never an expiry tick: deleting keeps live + deleted constant.
    if ((this.#count + 1 + this.#deleted) * 4 > this.#hash.length * 3) this.#rehash();
    const t = this.#hash, size = t.length;
    let i = homeCell(this.#slotHash(slot), size);
    while (t[i] > 0) i = nextCell(i, size);
    if (t[i] < 0) this.#deleted--;
    t[i] = slot + 1;
  }

  #unhash(slot: number): void {
    const t = this.#hash, size = t.length;
    for (let i = homeCell(this.#slotHash(slot), size);; i = nextCell(i, size)) {
      if (t[i] === 0) return;
      if (t[i] === slot + 1) {
        // Mark deleted; if the next cell is empty the run can end here.
        if (t[nextCell(i, size)] === 0) t[i] = 0;
        else {
          t[i] = -1;
          this.#deleted++;
        }
        return;
      }
    }
  }
}

// The index cell a 32-bit hash starts probing at, in an index of `size`
// cells (Lemire's multiply-shift range reduction: uniform for any size,
// and below `size` since the product's rounding cannot reach it).
function homeCell(h: number, size: number): number {
  return Math.floor(((h >>> 0) * size) / 4294967296);
}

// The cell linear probing visits after `i`, wrapping at the end.
function nextCell(i: number, size: number): number {
  return i + 1 === size ? 0 : i + 1;
}

// A copy of one slab column with room for `cap` entries.
function grown<T extends Uint8Array | Uint16Array | Uint32Array | Int32Array>(
  a: T,
  cap: number,
): T {
  const b = new (a.constructor as new (n: number) => T)(cap);
  b.set(a);
  return b;
}

const scratchAddr = new Uint8Array(16);
const scratchAddr4 = new Uint8Array(4);
