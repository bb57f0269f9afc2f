/**
 * The TCP layer: demultiplexes segments to connections, TIME_WAIT records
 * and listeners; answers closed ports with RST; opens connections; runs
 * timers; and is where every connection's close path ends: either
 * `remove` (CLOSED) or `enterTimeWait` (handed to the TIME_WAIT manager).
 *
 * @module
 */

import { ChallengeAcks } from "./challenge_ack.ts";
import { setImmediate } from "node:timers";
import {
  type IcmpErrorReport,
  type IpDatagram,
  type IpFieldOptions,
  type IpLayer,
  setHeaderFields,
} from "../ip.ts";
import { icmpError } from "./path/icmp_error.ts";
import { IpProtocol } from "../wire/ipv4.ts";
import { pseudoSum } from "../wire/checksum.ts";
import { TcpFlags, TcpSegment } from "../wire/tcp.ts";
import { type AcceptHost, ListenerCore, listenInput } from "./open/accept.ts";
import { DEFAULT_TCP_CONFIG, type TcpConfig } from "./config.ts";
import { AddressInUseError, ConnectionTable, EphemeralPorts } from "./conn_table.ts";
import { segmentArrives } from "./input.ts";
import { md5Key, md5Valid } from "./md5.ts";
import { IsnGenerator, TimestampOffsets, tupleWords } from "./open/isn.ts";
import { sendAck, sendResetFor, tcpOutput } from "./output.ts";
import { seqAdd } from "./seq.ts";
import { newTcpStats, type TcpStats } from "./stats.ts";
import { CookieResponder } from "./open/syncookie.ts";
import { Tcb, type TcpContext } from "./tcb.ts";
import { runTimers, stopTimers } from "./timer.ts";
import { abort } from "./user.ts";
import {
  autoMaxTcpTw,
  DEFAULT_TIMEWAIT_SETTINGS,
  type TimeWaitSettings,
  TimeWaitTable,
} from "./timewait/timewait.ts";

const SYN_FIN = TcpFlags.SYN | TcpFlags.FIN;

/**
 * TCP for one stack.
 *
 * @example
 * ```ts
 * import { IpLayer } from "../ip.ts";
 * import { parseIp } from "../wire/ip_address.ts";
 * import { TcpLayer } from "./tcp.ts";
 * const ip = new IpLayer({ ipv4: parseIp("192.0.2.2") });
 * const tcp = new TcpLayer(ip, () => performance.now());
 * const l = tcp.listen(80);
 * tcp.unlisten(l);
 * ```
 */
export class TcpLayer implements TcpContext, AcceptHost {
  readonly config: TcpConfig;
  readonly stats: TcpStats = newTcpStats();
  readonly ip: IpLayer;
  /** The TIME_WAIT manager. */
  readonly timewait: TimeWaitTable;
  #clock: () => number;
  #table = new ConnectionTable();
  #listeners = new Map<number, ListenerCore>();
  #timed = new Set<Tcb>();
  #deferred: Tcb[] = [];
  #yieldAsked = false;
  /** The clock read once for the segment being processed (`#stamped` while it is). */
  #stamp = 0;
  #stamped = false;
  #seg = new TcpSegment();
  #isn: IsnGenerator;
  #ports: EphemeralPorts;
  #challengeAcks: ChallengeAcks;
  #isnWords = new Uint32Array(9);
  #tsOffsets = new TimestampOffsets();
  #cookies: CookieResponder = new CookieResponder(this);

  /** A TCP layer over `ip`, registered for protocol 6. */
  constructor(
    ip: IpLayer,
    clock: () => number,
    config: Partial<TcpConfig> = {},
    timewait: Partial<TimeWaitSettings> = {},
  ) {
    this.ip = ip;
    this.#clock = clock;
    this.config = { ...DEFAULT_TCP_CONFIG, ...config };
    this.#challengeAcks = new ChallengeAcks(this.config);
    this.#isn = new IsnGenerator(clock);
    const cfg = this.config;
    this.#ports = new EphemeralPorts(cfg.ephemeralLow, cfg.ephemeralHigh);
    this.timewait = new TimeWaitTable(
      { ip, tcpStats: this.stats, now: () => this.now() },
      { ...DEFAULT_TIMEWAIT_SETTINGS, ...timewait },
      autoMaxTcpTw(cfg.ephemeralLow, cfg.ephemeralHigh, cfg.maxConnections),
    );
    ip.register(IpProtocol.TCP, (d) => this.input(d));
    ip.registerErrors(IpProtocol.TCP, (e) => this.#icmpError(e));
  }

  now(): number {
    return this.#stamped ? this.#stamp : this.#clock();
  }

  /** Connections in the table (not TIME_WAIT records). */
  get connectionCount(): number {
    return this.#table.size;
  }

  /** Every connection in the table. */
  connections(): IterableIterator<Tcb> {
    return this.#table[Symbol.iterator]();
  }

  // ---- input -------------------------------------------------------------

  // An ICMP error quoting one of our segments: ports are the quote's first
  // four bytes, ours first.
  #icmpError(e: IcmpErrorReport): void {
    const b = e.buf, t = e.transportOff;
    const lport = (b[t] << 8) | b[t + 1], rport = (b[t + 2] << 8) | b[t + 3];
    const c = this.#table.find(b, e.remoteOff, e.addrLen, rport, lport);
    if (c) icmpError(c, e);
    else this.stats.icmp.noConnection++;
  }

  /** A TCP segment from the IP layer. */
  input(d: IpDatagram): void {
    // One clock reading per segment, as Linux's tcp_mstamp: its processing
    // and what it sends share it (a reading per step otherwise).
    this.#stamp = this.#clock();
    this.#stamped = true;
    try {
      this.#input(d);
    } finally {
      this.#stamped = false;
    }
  }

  #input(d: IpDatagram): void {
    const s = this.stats;
    s.segmentsReceived++;
    if (d.multicast) {
      s.dropped.multicast++;
      return;
    }
    const seg = this.#seg;
    // -1: the device (checksum offload) or our own loopback vouches for it.
    const pseudo = d.csumValid
      ? -1
      : pseudoSum(d.buf, d.srcOff, d.dstOff, d.addrLen, IpProtocol.TCP, d.payloadLen);
    const err = seg.wrap(d.buf, d.payloadOff, d.payloadLen, pseudo);
    if (err !== undefined) {
      s.dropped[err]++;
      return;
    }
    // FreeBSD's drop_synfin: SYN with FIN is only ever a probe or an attack.
    if (this.config.dropSynFin && (seg.flags & SYN_FIN) === SYN_FIN) {
      s.dropped.synFin++;
      return;
    }
    const c = this.#table.find(d.buf, d.srcOff, d.addrLen, seg.srcPort, seg.dstPort);
    if (c) {
      if (c.md5Key && !this.#signed(c.md5Key, d, seg)) return;
      s.demux.connection++;
      segmentArrives(c, seg, d.ecn);
      return;
    }
    const tw = this.timewait;
    const slot = tw.lookup(d.buf, d.srcOff, d.addrLen, seg.srcPort, seg.dstPort);
    let issFloor: number | undefined;
    if (slot >= 0) {
      const key = tw.answerer(slot)?.md5Key;
      if (key && !this.#signed(key, d, seg)) return;
      issFloor = tw.sndNxtOf(slot);
      if (tw.check(slot, seg) === "handled") {
        s.demux.timeWait++;
        return;
      }
    }
    const l = this.#listeners.get(seg.dstPort);
    if (l && !l.closed && l.accepts(d.buf, d.dstOff, d.addrLen)) {
      const from = l.answererFor(d);
      if (from.md5Key && !this.#signed(from.md5Key, d, seg)) return;
      if (!l.listening) {
        // A socket bound but not listening is CLOSED (RFC 9293 3.10.7.1).
        s.dropped.noSocket++;
        sendResetFor(this, d, seg, from);
        return;
      }
      s.demux.listener++;
      listenInput(this, l, d, seg, issFloor);
      return;
    }
    s.dropped.noSocket++;
    sendResetFor(this, d, seg);
  }

  // RFC 2385 2.0: a segment for a signing socket without a valid digest is
  // dropped, unanswered (an answer would need the key the sender lacks).
  #signed(key: Uint8Array, d: IpDatagram, seg: TcpSegment): boolean {
    const at = seg.options.md5;
    const src = d.buf.subarray(d.srcOff, d.srcOff + d.addrLen);
    const dst = d.buf.subarray(d.dstOff, d.dstOff + d.addrLen);
    if (md5Valid(key, src, dst, seg)) return true;
    this.stats.dropped[at < 0 ? "md5Missing" : "md5Bad"]++;
    return false;
  }

  #insert(c: Tcb): void {
    this.#table.insert(c);
    this.stats.currentConnections = this.#table.size;
  }

  #forget(c: Tcb): void {
    if (!this.#table.remove(c)) return;
    this.stats.currentConnections = this.#table.size;
    this.#timed.delete(c);
    c.snd.buf.release();
    c.rcv.buf.release();
    this.stats.bufferAutosize.bytes -= c.autosized;
    c.autosized = 0;
    // Counted by the listener that took the SYN, even if another now has the port.
    if (c.synQueued) {
      c.synQueued = false;
      c.listener!.synPending--;
    }
  }

  /** The TSval offset of connections between `local` and `remote` (RFC 7323 5.4). */
  timestampOffset(local: Uint8Array, remote: Uint8Array): number {
    return this.#tsOffsets.of(local, 0, remote, 0, local.length);
  }

  pairOffset(local: Uint8Array, lOff: number, remote: Uint8Array, rOff: number, n: number): number {
    return this.#tsOffsets.of(local, lOff, remote, rOff, n);
  }

  #newIss(c: Tcb, floor?: number): void {
    const n = c.local.length;
    const w = tupleWords(this.#isnWords, c.local, 0, c.remote, 0, n, c.localPort, c.remotePort);
    // RFC 1122 4.2.2.13: a connection reopened from TIME-WAIT starts above
    // the old SND.NXT, so old duplicates fall below its window (Linux: +65537).
    c.snd.iss = floor === undefined ? this.#isn.isn(w) : seqAdd(floor, 65537);
    c.snd.una =
      c.snd.nxt =
      c.snd.max =
      c.snd.smallEnd =
        c.snd.iss;
    c.snd.bufSeq = seqAdd(c.snd.iss, 1);
    c.snd.recover = c.snd.iss;
  }

  createPassive(
    l: ListenerCore,
    d: IpDatagram,
    seg: TcpSegment,
    issFloor?: number,
  ): Tcb | undefined {
    if (this.#table.size >= this.config.maxConnections) {
      this.stats.dropped.tooManyConnections++;
      return undefined;
    }
    const local = d.buf.slice(d.dstOff, d.dstOff + d.addrLen);
    const remote = d.buf.slice(d.srcOff, d.srcOff + d.addrLen);
    const c = new Tcb(this, local, seg.dstPort, remote, seg.srcPort, "SYN-RECEIVED");
    c.listener = l;
    c.ipFields.ttl = l.ipFields.ttl;
    c.ipFields.tos = l.ipFields.tos;
    c.md5Key = l.answererFor(d).md5Key;
    this.#newIss(c, issFloor);
    this.#insert(c);
    return c;
  }

  sendSynCookie(l: ListenerCore, d: IpDatagram, seg: TcpSegment): void {
    this.#cookies.send(l, d, seg);
  }

  acceptCookie(l: ListenerCore, d: IpDatagram, seg: TcpSegment): boolean {
    return this.#cookies.accept(l, d, seg);
  }

  // ---- TcpContext ----------------------------------------------------------

  remove(c: Tcb): void {
    this.stats.freebsd.tcps_closed++;
    this.#forget(c);
  }

  enterTimeWait(c: Tcb): void {
    c.state = "TIME-WAIT";
    // tcp_twstart: the record takes over (and sends the pending ACK); the
    // connection block is freed.
    const slot = this.timewait.start(c);
    // No record (nolocaltimewait, or nothing to recycle): FreeBSD 7 closed
    // without the final ACK, leaving the peer in LAST-ACK until it
    // retransmits; like FreeBSD since r331322 we still send it.
    if (slot < 0 && c.rcv.ackNow) sendAck(c);
    this.#forget(c);
    stopTimers(c);
    c.events?.onClosed();
    c.events = undefined;
  }

  established(c: Tcb): void {
    if (!c.synQueued) return;
    c.synQueued = false;
    const l = c.listener!;
    l.synPending--;
    l.queue.push(c);
    l.onReady();
  }

  allowChallengeAck(c: Tcb): boolean {
    return this.#challengeAcks.allow(c, this.#clock());
  }

  watch(c: Tcb): void {
    this.#timed.add(c);
  }

  /**
   * Called with the time of a timer due before the next tick; the stack
   * that runs the ticks sets it (a fake clock's driver ticks often enough).
   */
  onWake: ((at: number) => void) | undefined;

  wakeAt(c: Tcb, at: number): void {
    this.#timed.add(c);
    this.onWake?.(at);
  }

  deferAck(c: Tcb): void {
    c.rcv.ackPending = true;
    this.#defer(c);
  }

  deferOutput(c: Tcb): void {
    c.snd.corkedTail = true;
    this.#defer(c);
  }

  yieldToReader(): void {
    this.#yieldAsked = true;
  }

  /** Whether a reader asked for a turn since the last call (the stack's `takeYield`). */
  takeYield(): boolean {
    const asked = this.#yieldAsked;
    this.#yieldAsked = false;
    return asked;
  }

  #defer(c: Tcb): void {
    this.#deferred.push(c);
    if (this.#deferred.length === 1) setImmediate(this.#flushDeferred);
  }

  // Runs after the application's reactions (promise continuations): a
  // corked tail goes with whatever the application added to it, and an ACK
  // that rode on a segment is no longer pending.
  #flushDeferred = (): void => {
    const list = this.#deferred;
    this.#deferred = [];
    for (const c of list) {
      if (c.snd.corkedTail) {
        c.snd.corkedTail = false;
        tcpOutput(c, true);
      }
      if (!c.rcv.ackPending) continue;
      c.rcv.ackPending = false;
      if (c.state !== "CLOSED") sendAck(c);
    }
  };

  // ---- open ----------------------------------------------------------------

  /** Starts listening on `port` (optionally one local address). */
  listen(port: number, local?: Uint8Array, backlog?: number): ListenerCore {
    checkPort(port, false);
    const old = this.#listeners.get(port);
    if (old && !old.closed) {
      throw new AddressInUseError(`Address in use: port ${port} has a listener`);
    }
    const l = new ListenerCore(
      port,
      local,
      this.config.synBacklog,
      backlog ?? this.config.acceptBacklog,
    );
    this.#listeners.set(port, l);
    return l;
  }

  /**
   * Binds `port` (optionally one local address) without listening, as BSD's
   * bind() before listen(): nobody else can listen there, and a segment to
   * it gets an RST with the bound socket's `ipFields`, as FreeBSD's
   * tcp_dropwithreset answers from the CLOSED socket its lookup found.
   * {@linkcode TcpLayer.listenBound} starts it; `unlisten` releases it.
   *
   * @example
   * ```ts
   * import { IpLayer } from "../ip.ts";
   * import { parseIp } from "../wire/ip_address.ts";
   * import { TcpLayer } from "./tcp.ts";
   * const tcp = new TcpLayer(new IpLayer({ ipv4: parseIp("192.0.2.2") }), () => 0);
   * const l = tcp.bind(80);
   * l.ipFields.ttl = 4;
   * tcp.listenBound(l, 16);
   * l.listening; // true
   * ```
   */
  bind(port: number, local?: Uint8Array): ListenerCore {
    const l = this.listen(port, local);
    l.listening = false;
    return l;
  }

  /** Starts listening on a port {@linkcode TcpLayer.bind} bound. */
  listenBound(l: ListenerCore, backlog?: number): void {
    if (l.closed || l.listening) {
      throw new Error(`Invalid listener: port ${l.port} is not bound without listening`);
    }
    l.acceptBacklog = backlog ?? this.config.acceptBacklog;
    l.listening = true;
  }

  /**
   * Stops a listener; connections waiting in its queue, and those still
   * half-open, are reset: nobody could accept them any more.
   */
  unlisten(l: ListenerCore): void {
    l.closed = true;
    if (this.#listeners.get(l.port) === l) this.#listeners.delete(l.port);
    for (const c of l.queue.splice(0)) abort(c);
    if (l.synPending > 0) {
      for (const c of [...this.connections()]) if (c.synQueued && c.listener === l) abort(c);
    }
  }

  /**
   * Active open towards `remote`:`port` (RFC 9293 3.10.1), its packets with
   * the TTL and TOS of `options` from the SYN on, and signed with its
   * `md5Key` if given (RFC 2385).
   */
  connect(
    remote: Uint8Array,
    port: number,
    options: { localPort?: number; md5Key?: string | Uint8Array } & IpFieldOptions = {},
  ): Tcb {
    checkPort(port, true);
    // Checked before anything is taken.
    const fields = { ttl: 0, tos: 0 };
    setHeaderFields(fields, options);
    const key = options.md5Key === undefined ? undefined : md5Key(options.md5Key);
    const local = remote.length === 4 ? this.ip.ipv4 : this.ip.ipv6;
    if (!local) {
      throw new Error(`No route: the stack has no IPv${remote.length === 4 ? 4 : 6} address`);
    }
    if (this.#table.size >= this.config.maxConnections) {
      throw new AddressInUseError("Too many connections: the stack's connection limit is reached");
    }
    const lport = options.localPort ??
      this.#ports.pick((p) => this.#listeners.has(p) || this.#tupleBusy(remote, port, p));
    if (options.localPort !== undefined) {
      checkPort(lport, true);
      if (this.#tupleBusy(remote, port, lport)) {
        throw new AddressInUseError(`Address in use: local port ${lport} to that peer is taken`);
      }
    }
    const c = new Tcb(this, local.slice(), lport, remote.slice(), port, "SYN-SENT");
    Object.assign(c.ipFields, fields);
    c.md5Key = key;
    c.ecnAsked = this.config.ecn === 1;
    this.#newIss(c);
    c.rcv.adv = 0;
    this.#insert(c);
    this.stats.activeOpens++;
    tcpOutput(c); // SYN
    return c;
  }

  #tupleBusy(remote: Uint8Array, rport: number, lport: number): boolean {
    return this.#table.find(remote, 0, remote.length, rport, lport) !== undefined ||
      this.timewait.lookup(remote, 0, remote.length, rport, lport) >= 0;
  }

  // ---- time ----------------------------------------------------------------

  /** Runs due timers and expires TIME_WAIT records. */
  tick(now: number): void {
    // A probe or reordering timer moved later after its wake-up was asked
    // for (every ACK moves the probe) is asked for again, or it would wait
    // for the next tick: the earliest of them, once.
    let next = Infinity;
    for (const c of this.#timed) {
      if (!runTimers(c, now)) {
        this.#timed.delete(c);
        continue;
      }
      if (c.ptoAt !== 0 && c.ptoAt < next) next = c.ptoAt;
      if (c.reoAt !== 0 && c.reoAt < next) next = c.reoAt;
      if (c.paceAt !== 0 && c.paceAt < next) next = c.paceAt;
    }
    if (next !== Infinity) this.onWake?.(next);
    this.timewait.scan(now);
  }

  /** Drops everything (stack shutdown): connections are reset. */
  shutdown(): void {
    for (const c of [...this.connections()]) abort(c);
    for (const l of [...this.#listeners.values()]) this.unlisten(l);
    this.timewait.clear();
  }
}

function checkPort(port: number, nonZero: boolean): void {
  if (!Number.isInteger(port) || port < (nonZero ? 1 : 0) || port > 65535) {
    throw new RangeError(`Invalid port: ${port}`);
  }
}
