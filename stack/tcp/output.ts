/**
 * Sending (gVisor's `snd`): segment building, the send decision with
 * Nagle and sender-side silly-window avoidance, SACK-based loss recovery,
 * persist probes, and RSTs. Segments are written straight into the IP
 * layer's transmit buffer; data is copied once, from the send buffer.
 *
 * @module
 */

import type { IpDatagram, IpHeaderFields, IpLayer } from "../ip.ts";
import type { IpAddress } from "../wire/ip_address.ts";
import { addressPseudoSum } from "../wire/checksum.ts";
import { IpProtocol } from "../wire/ipv4.ts";
import {
  emitTcp,
  seqLen,
  TCP_HEADER_LEN,
  TcpField,
  TcpFlags,
  TcpRepr,
  type TcpSegment,
} from "../wire/tcp.ts";
import { seqAdd, seqDiff, seqGe, seqGt, seqLt } from "./seq.ts";
import type { Tcb, TcpContext } from "./tcb.ts";
import { armProbe, retransmitLost } from "./loss/recovery.ts";
import { pacedBurst, paceSent, paceWait, pacingRate } from "./pacing.ts";
import { ecnOutput, synEcnFlags } from "./ecn.ts";
import { signer } from "./md5.ts";

const { FIN, SYN, RST, PSH, ACK } = TcpFlags;

/** What a reply outside a connection takes from the socket that answers. */
export interface Answerer {
  /** Its TTL and TOS. */
  readonly ipFields: IpHeaderFields;
  /** Its RFC 2385 key, if it signs. */
  readonly md5Key: Uint8Array | undefined;
}

const ecnScratch: { fields: IpHeaderFields } = { fields: { ttl: 0, tos: 0 } };
const hdr = new TcpRepr();
const sackScratch = [0, 0, 0, 0, 0, 0, 0, 0];

/**
 * Pseudo-header sum (addresses and protocol) of a connection, without
 * length; computed once, since a connection's addresses never change.
 *
 * @example
 * ```ts
 * import { exampleConnection } from "../_examples.ts";
 * import { connectionPseudo } from "./output.ts";
 * const { conn } = await exampleConnection();
 * connectionPseudo(conn); // 99337: 0xc000 + 0x0201 + 0xc000 + 0x0202 + 6 (TCP)
 * ```
 */
export function connectionPseudo(c: Tcb): number {
  if (c.pseudoBase < 0) {
    c.pseudoBase = addressPseudoSum(c.local, c.remote, IpProtocol.TCP, 0);
  }
  return c.pseudoBase;
}

/**
 * The window to advertise, as the 16-bit field, with receiver-side silly
 * window avoidance (RFC 9293 3.8.6.2.2) and never shrinking the right edge
 * already offered (RFC 9293 3.8.6.2.2, RFC 7323 2.4).
 *
 * @example
 * ```ts
 * import { exampleConnection } from "../_examples.ts";
 * import { windowField } from "./output.ts";
 * const { conn } = await exampleConnection();
 * windowField(conn); // 8202: a free 1 MiB buffer (whole segments), scale 7, rounded up
 * ```
 */
export function windowField(c: Tcb): number {
  let win = c.rcv.buf.window;
  if (win < Math.min(c.rcv.buf.capacity / 2, c.rcv.mss)) win = 0;
  const offered = seqDiff(c.rcv.adv, c.rcv.nxt);
  if (offered > win) win = offered;
  // Round up, as FreeBSD's roundup2 and Linux's ALIGN do: rounding down
  // pulls the right edge back. The ring's slack (one unit past the buffer)
  // holds what that offers; only a nearly full one is held to its room.
  const unit = 1 << c.rcv.scale;
  return Math.min(0xffff, Math.ceil(win / unit), Math.floor(c.rcv.buf.room / unit));
}

/**
 * Builds and sends one segment of `len` data bytes starting at `seq`.
 * `flags` may include SYN, FIN, PSH, RST and ACK. `repeat` marks an ACK
 * that carries the already-sent FIN again (see {@linkcode sendAck}).
 *
 * @example
 * ```ts
 * import { exampleConnection } from "../_examples.ts";
 * import { TcpFlags } from "../wire/tcp.ts";
 * import { sendSegment } from "./output.ts";
 * const { conn, net } = await exampleConnection();
 * const before = net.trace.length;
 * sendSegment(conn, conn.snd.nxt, 0, TcpFlags.ACK);
 * net.trace.length - before; // 1: a bare ACK
 * ```
 */
export function sendSegment(
  c: Tcb,
  seq: number,
  len: number,
  flags: number,
  repeat = false,
): void {
  const ctx = c.ctx;
  const ip = ctx.ip;
  const now = ctx.now();
  const f = hdr;
  const marks = ecnScratch;
  marks.fields = c.ipFields;
  if (flags & SYN) flags |= synEcnFlags(c);
  else if (c.ecnOk && !(flags & RST)) flags = ecnOutput(c, seq, len, flags, marks);
  f.srcPort = c.localPort;
  f.dstPort = c.remotePort;
  f.seq = seq;
  f.ack = flags & ACK ? c.rcv.nxt : 0;
  f.flags = flags;
  f.clearOptions();
  if (flags & SYN) {
    const active = c.state === "SYN-SENT";
    f.mss = c.rcv.mss;
    f.wscale = (active ? ctx.config.windowScale : c.offeredScale) ? c.rcv.scale : -1;
    f.sackPermitted = active ? ctx.config.sack : c.sackOk;
    f.timestamp = active ? ctx.config.timestamps : c.tsOk;
    f.tsVal = c.tsNow(now);
    f.tsEcr = active ? 0 : c.rcv.tsRecent;
    // RFC 7323 2.2: the window in a SYN is never scaled.
    f.window = Math.min(0xffff, c.rcv.buf.window);
  } else {
    f.timestamp = c.tsOk;
    f.tsVal = c.tsNow(now);
    f.tsEcr = c.rcv.tsRecent;
    f.window = flags & RST ? 0 : windowField(c);
    const most = c.sackBlocksMax;
    if (
      c.sackOk && most > 0 && (c.rcv.buf.rangeCount > 0 || c.rcv.dsackLeft !== -1) &&
      !(flags & RST)
    ) {
      // RFC 2883: a duplicate just received is reported first.
      const d = c.rcv.dsackLeft === -1 ? 0 : 1;
      if (d) {
        f.sack[0] = c.rcv.dsackLeft;
        f.sack[1] = c.rcv.dsackRight;
      }
      const n = c.rcv.buf.sackBlocks(sackScratch, most - d);
      for (let i = 0; i < n; i++) {
        f.sack[2 * (i + d)] = seqAdd(c.rcv.nxt, sackScratch[2 * i]);
        f.sack[2 * (i + d) + 1] = seqAdd(c.rcv.nxt, sackScratch[2 * i + 1]);
      }
      f.sackCount = n + d;
    }
  }
  if (c.md5Key) {
    f.md5 = 0;
    f.sign = c.md5Signer;
  }
  const off = ip.payloadOffset(c.local.length);
  const tx = ip.txBuffer;
  const hl = TCP_HEADER_LEN + f.optionsLen();
  if (len > 0) c.snd.buf.copyOut(seqDiff(seq, c.snd.bufSeq), tx, off + hl, len);
  if (ip.csumOffload) {
    // The device computes the checksum and, past one segment's worth, cuts
    // the data into segments of `perSegment` bytes (the MSS less options).
    emitTcp(tx, off, f, len, connectionPseudo(c), true);
    const perSegment = c.snd.mss + TCP_HEADER_LEN - hl;
    ip.sendPartial(c.local, c.remote, IpProtocol.TCP, hl + len, {
      headerLen: hl,
      checksumOffset: TcpField.CHECKSUM,
      segmentSize: len > perSegment ? perSegment : 0,
    }, marks.fields);
  } else {
    emitTcp(tx, off, f, len, connectionPseudo(c));
    ip.send(c.local, c.remote, IpProtocol.TCP, hl + len, undefined, marks.fields);
  }

  const s = ctx.stats;
  s.freebsd.tcps_sndtotal++;
  if (len > 0) {
    paceSent(c, len, now, pacingRate(c));
    s.dataSegmentsSent++;
    s.bytesSent += len;
    // Data that answers the peer's within the delayed-ACK time: ping-pong
    // (Linux's inet_csk_enter_pingpong_mode), its lone segments may wait.
    if (c.rcv.lastDataAt !== 0 && now - c.rcv.lastDataAt < ctx.config.delayedAckMs) {
      c.rcv.pingpong = true;
    }
  } else if (flags & (SYN | FIN | RST)) s.freebsd.tcps_sndctrl++;
  else s.freebsd.tcps_sndacks++;

  if (flags & ACK) {
    c.rcv.dsackLeft = -1; // reported once (RFC 2883 4)
    c.rcv.lastAckSent = c.rcv.nxt;
    c.rcv.ackNow = false;
    c.rcv.ackPending = false;
    c.delackAt = 0;
    c.rcv.unackedSegments = 0;
  }
  if (!(flags & SYN)) {
    c.rcv.lastWindowField = f.window;
    c.rcv.offeredPastSyn = true;
    const edge = seqAdd(c.rcv.nxt, f.window << c.rcv.scale);
    if (seqGt(edge, c.rcv.adv)) c.rcv.adv = edge;
  } else if (seqGt(seqAdd(c.rcv.nxt, f.window), c.rcv.adv)) c.rcv.adv = seqAdd(c.rcv.nxt, f.window);

  const end = seqAdd(seq, seqLen(flags, len));
  // `repeat`: an ACK that carries our outstanding FIN again; the timer
  // already covers the FIN, and it is no retransmission to count.
  if (end === seq || repeat) return;
  c.snd.lastSendAt = now;
  const retransmission = seqLt(seq, c.snd.max);
  // Counted in segments, as Linux counts a TSO packet (and as a D-SACK's
  // bytes are counted back in onDsack).
  const segments = retransmission && len > c.effMss ? Math.ceil(len / c.effMss) : 1;
  if (retransmission) c.snd.retransmits += segments;
  if (c.sackOk) {
    c.snd.rack.sent(seq, end, now);
    if (c.snd.inRecovery) {
      c.snd.prr.sent(len);
      if (retransmission) c.snd.undoRetrans += segments;
    }
  }
  if (seqGt(end, c.snd.nxt)) c.snd.nxt = end;
  if (retransmission) {
    s.retransmittedSegments += segments;
    s.retransmittedBytes += len;
  }
  if (seqGt(end, c.snd.max)) {
    c.snd.max = end;
    // Karn (RFC 6298 3): time only new data, and only without timestamps,
    // but our SYN always: timestamps count whole milliseconds, and a
    // receiver's one sample (of its SYN,ACK) sizes its buffer.
    if (c.snd.rttSeq < 0 && (!c.tsOk || seq === c.snd.iss)) {
      c.snd.rttSeq = seq;
      c.snd.rttSentAt = now;
    }
  } else c.snd.rttSeq = -1;
  // RFC 6298 5.1: start the timer if it is not running.
  if (c.rtoAt === 0) {
    c.rtoAt = now + c.snd.rtt.rto;
    ctx.watch(c);
  }
}

/**
 * Sends a pure ACK now. Its sequence number is SND.MAX, not SND.NXT: after
 * a timeout rewinds SND.NXT, the peer has already seen up to SND.MAX and
 * would drop an ACK numbered below its RCV.NXT as out of window (BSD does
 * the same). While our FIN is sent and unacknowledged, the ACK carries the
 * FIN again at its own sequence number, as FreeBSD's tcp_output does: a
 * retransmission the peer may need, at no cost.
 *
 * @example
 * ```ts
 * import { exampleConnection } from "../_examples.ts";
 * import { sendAck } from "./output.ts";
 * const { conn, net } = await exampleConnection();
 * sendAck(conn);
 * net.trace.at(-1)!.packet.length; // 52: IPv4, TCP and timestamps
 * ```
 */
export function sendAck(c: Tcb): void {
  const fin = c.snd.dataEnd;
  if (c.snd.finQueued && c.snd.max === seqAdd(fin, 1) && c.snd.una !== c.snd.max) {
    sendSegment(c, fin, 0, ACK | FIN, true);
  } else sendSegment(c, c.snd.max, 0, ACK);
}

/**
 * Most data in one segment: one MSS, or with TSO as many whole segments as
 * fit a 64 KB packet (the device cuts them up), or when paced at `rate`
 * a millisecond's worth.
 */
function tsoLimit(c: Tcb, rate: number): number {
  const ip = c.ctx.ip;
  // A signature covers one segment: the device cannot cut a signed one up.
  if (ip.gsoMax <= ip.mtu || c.md5Key) return c.sendRoom;
  const room = ip.gsoMax - (c.local.length === 4 ? 20 : 40) - 60;
  return pacedBurst(rate, c.effMss, Math.max(c.effMss, room - (room % c.effMss)));
}

/**
 * Whether to hold a TSO burst the congestion window cuts short, as Linux's
 * tcp_tso_should_defer does: the ACKs of what is in flight will open the
 * window soon, and a third of it sent at once stays one packet on the path.
 * Sent at every ACK instead, the window is cut into ever smaller packets
 * after a recovery, and with a loss rate per packet each small packet
 * costs a loss as likely as a 64 KB one would (ACK clocking keeps the
 * pieces small once they are).
 */
function tsoDefer(
  c: Tcb,
  len: number,
  full: number,
  avail: number,
  maxSeg: number,
  outstanding: number,
): boolean {
  if (maxSeg <= full || len >= avail || len >= maxSeg) return false;
  // Two segments in flight bring an ACK without waiting for a delayed one;
  // a retransmission after a timeout goes at once.
  if (outstanding < 2 * full || seqLt(c.snd.nxt, c.snd.max)) return false;
  return 3 * len < Math.min(c.snd.wnd, c.snd.cc.cwnd);
}

/**
 * Sends whatever the windows, Nagle and the state allow; then a pending ACK.
 *
 * @example
 * ```ts
 * import { exampleConnection } from "../_examples.ts";
 * import { tcpOutput } from "./output.ts";
 * import { send } from "./user.ts";
 * const { conn, net } = await exampleConnection();
 * conn.corked = true;
 * send(conn, new Uint8Array(100), 0, 100); // held: a partial segment while corked
 * const before = net.trace.length;
 * conn.corked = false;
 * tcpOutput(conn);
 * net.trace.length - before; // 1: the 100 bytes
 * ```
 */
export function tcpOutput(c: Tcb, uncork = false): void {
  const st = c.state;
  if (st === "CLOSED" || st === "LISTEN" || st === "TIME-WAIT") return;
  if (st === "SYN-SENT" || st === "SYN-RECEIVED") {
    if (c.snd.nxt === c.snd.iss) sendSegment(c, c.snd.iss, 0, st === "SYN-SENT" ? SYN : SYN | ACK);
    else if (c.rcv.ackNow) sendAck(c);
    return;
  }
  // RFC 5681 4.1 (FreeBSD's cc_after_idle): nothing heard for an RTO with
  // nothing in flight, and the window may no longer fit the path.
  if (
    c.snd.max === c.snd.una && seqDiff(c.snd.dataEnd, c.snd.nxt) > 0 &&
    c.ctx.config.slowStartAfterIdle && c.ctx.now() - c.rcv.lastRecvAt > c.snd.rtt.rto
  ) {
    c.snd.cc.afterIdle();
    c.ctx.stats.cwndValidation.idleRestarts++;
  }
  // In SACK recovery, what RACK judged lost goes first; PRR (or BBR's
  // window) sets the pace.
  const recovering = c.snd.inRecovery && c.sackOk;
  const rate = pacingRate(c);
  const maxSeg = tsoLimit(c, rate);
  let sent = recovering && retransmitLost(c, maxSeg, rate);
  const full = c.sendRoom;
  let newData = false;
  for (;;) {
    const avail = seqDiff(c.snd.dataEnd, c.snd.nxt);
    const outstanding = seqDiff(c.snd.nxt, c.snd.una);
    const room = Math.min(
      c.snd.wnd - outstanding,
      recovering ? c.snd.recoveryAllowance(full) : c.snd.cc.cwnd - outstanding,
    );
    let len = Math.max(0, Math.min(avail, maxSeg, room));
    // Linux's tcp_cwnd_test: a packet of at most half the window, so at
    // least two are in flight and the SACK of one shows the other lost.
    if (!recovering && len > full) len = Math.min(len, Math.max(full, c.snd.cc.cwnd / 2));
    // With TSO, a burst that stops short of the data ends on a segment
    // boundary, so the device never makes a runt in the middle of a stream.
    if (len > full && len < avail) len -= len % full;
    const fin = c.snd.finQueued && avail >= 0 && len === avail && room >= len;
    // Corked (TCP_CORK): only full segments leave; the rest, FIN included,
    // waits for uncork (or the persist timer, as Linux's 200 ms cap).
    if (c.corked && len < full && !seqLt(c.snd.nxt, c.snd.max)) break;
    if (len === 0 && !fin) break;
    if (!recovering && !fin && tsoDefer(c, len, full, avail, maxSeg, outstanding)) break;
    // Autocorking (Linux's tcp_autocorking): the last, partial TSO packet of
    // what is queued waits for the end of the turn while data is in flight.
    // The application writes again in that turn, after an ACK freed room or
    // a write it split, and the tail leaves full instead of as one more
    // packet (one in five for a bulk sender writing 256 KB at a time).
    if (len === avail && len < maxSeg && maxSeg > full && outstanding > 0 && !fin && !uncork) {
      if (!c.snd.corkedTail) c.ctx.deferOutput(c);
      break;
    }
    if (len < full && !fin) {
      // Retransmissions after a timeout are not held back.
      const resend = seqLt(c.snd.nxt, c.snd.max);
      // RFC 9293 3.7.4 Nagle, Minshall's variant: a short segment when no
      // earlier short one is unacknowledged, so the tail of a response is
      // not held behind the ACK of its full segments (a delayed ACK).
      const nagleOk = len === avail &&
        (c.noDelay || outstanding === 0 || seqGe(c.snd.una, c.snd.smallEnd));
      // RFC 9293 3.8.6.2.1: or when it is at least half the largest window.
      const swsOk = len >= c.snd.maxWnd / 2;
      if (!resend && !nagleOk && !swsOk) break;
    }
    if (len > 0 && paceWait(c, rate)) break;
    let flags = ACK;
    if (len > 0 && len === avail) flags |= PSH;
    if (fin) flags |= FIN;
    const start = c.snd.nxt;
    sendSegment(c, start, len, flags);
    if (len > 0 && len < full) c.snd.smallEnd = seqAdd(start, len);
    sent = newData = true;
    if (fin) break;
  }
  if (newData) armProbe(c, c.ctx.now());
  // Delivery rate estimation 3.4: all sent and the window not full, so the
  // coming samples measure the application, not the path.
  if (c.sackOk && seqDiff(c.snd.dataEnd, c.snd.nxt) <= 0 && c.snd.rack.lostBytes === 0) {
    const pipe = c.snd.pipe;
    if (pipe < c.snd.cc.cwnd) c.snd.rack.rate.markAppLimited(pipe);
  }
  // Data waits and nothing is in flight to bring an ACK: either the window
  // is zero (RFC 9293 3.8.6.1, probe it) or too small for SWS avoidance to
  // send into (3.8.6.2.1, the override timeout). The persist timer does both.
  // A zero window met after a timeout rewound SND.NXT is probed the same
  // way, for as long as the peer answers (RFC 1122 4.2.2.17), instead of
  // retransmitting into it until the retries run out.
  const waiting = seqDiff(c.snd.dataEnd, c.snd.nxt) > 0 && c.rtoAt === 0 && c.persistAt === 0 &&
    c.paceAt === 0;
  if (waiting && (c.snd.nxt === c.snd.max || c.snd.wnd === 0)) armPersist(c);
  if (!sent && c.rcv.ackNow) sendAck(c);
}

/**
 * Arms the persist timer with back-off (5 s .. 60 s after the first).
 *
 * @example
 * ```ts
 * import { exampleConnection } from "../_examples.ts";
 * import { armPersist } from "./output.ts";
 * const { conn, net } = await exampleConnection();
 * armPersist(conn);
 * conn.persistAt - net.now; // 200: the RTO, at least 200 ms, doubling each probe
 * ```
 */
export function armPersist(c: Tcb): void {
  const base = Math.max(c.snd.rtt.rto, 200);
  c.persistAt = c.ctx.now() + Math.min(60_000, base * (1 << Math.min(c.persistShift, 9)));
  c.ctx.watch(c);
}

/**
 * Sends RST (with ACK) to abort a synchronized connection (RFC 9293 3.10.5)
 * at a sequence number the peer accepts: SND.MAX, or the right edge of its
 * window if that is lower (Linux's tcp_acceptable_seq). Behind a zero
 * window, a persist probe may have taken SND.MAX past what the peer will
 * take, and an RST there would only earn a challenge ACK (RFC 5961 3.2).
 *
 * @example
 * ```ts
 * import { exampleConnection } from "../_examples.ts";
 * import { sendAbortReset } from "./output.ts";
 * const { conn } = await exampleConnection();
 * sendAbortReset(conn);
 * conn.ctx.stats.resetsSent; // 1
 * ```
 */
export function sendAbortReset(c: Tcb): void {
  const edge = seqAdd(c.snd.una, c.snd.wnd);
  sendSegment(c, seqLt(edge, c.snd.max) ? edge : c.snd.max, 0, RST | ACK);
  c.ctx.stats.resetsSent++;
}

const rstLocal = new Uint8Array(16);
const rstRemote = new Uint8Array(16);

/**
 * Sends the header `f` with no data from `local` to `remote`, outside any
 * connection: resets, cookie SYN,ACKs, and TIME_WAIT's ACKs, with the TTL,
 * TOS and MD5 signature of the socket that answers, if one does.
 *
 * @example
 * ```ts
 * import { exampleConnection } from "../_examples.ts";
 * import { parseIp } from "../wire/ip_address.ts";
 * import { TcpFlags, TcpRepr } from "../wire/tcp.ts";
 * import { sendHeaderOnly } from "./output.ts";
 * const { net } = await exampleConnection();
 * const f = new TcpRepr();
 * f.srcPort = 80;
 * f.dstPort = 40000;
 * f.flags = TcpFlags.RST;
 * sendHeaderOnly(net.b.ip, parseIp("192.0.2.2")!, parseIp("192.0.2.1")!, f);
 * net.trace.at(-1)!.packet.length; // 40: IPv4 and TCP headers
 * ```
 */
export function sendHeaderOnly(
  ip: IpLayer,
  local: IpAddress,
  remote: IpAddress,
  f: TcpRepr,
  from?: Answerer,
): void {
  if (from?.md5Key) {
    f.md5 = 0;
    f.sign = signer(from.md5Key, local, remote);
  }
  const pseudo = addressPseudoSum(local, remote, IpProtocol.TCP, 0);
  emitTcp(ip.txBuffer, ip.payloadOffset(local.length), f, 0, pseudo);
  ip.send(
    local,
    remote,
    IpProtocol.TCP,
    TCP_HEADER_LEN + f.optionsLen(),
    undefined,
    from?.ipFields,
  );
}

/**
 * Answers a segment that has no connection with RST (RFC 9293 3.10.7.1):
 * `<SEQ=SEG.ACK><CTL=RST>` when it carried ACK, else
 * `<SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>`. Never answers an RST. `from`
 * is the socket the segment reached, if any: FreeBSD's tcp_respond takes
 * the TTL, TOS and signature of the inpcb it found.
 *
 * @example
 * ```ts
 * import { exampleConnection } from "../_examples.ts";
 * const { net } = await exampleConnection();
 * let refused = "";
 * net.a.connect({ hostname: "192.0.2.2", port: 81 }).catch((e) => refused = e.name);
 * await net.run(() => refused !== "");
 * refused; // "ConnectionRefused": port 81's SYN got sendResetFor's RST,ACK
 * net.b.tcp.stats.resetsSent; // 1
 * ```
 */
export function sendResetFor(
  ctx: TcpContext,
  d: IpDatagram,
  seg: TcpSegment,
  from?: Answerer,
): void {
  const flags = seg.flags;
  if (flags & RST) return;
  const f = hdr;
  f.srcPort = seg.dstPort;
  f.dstPort = seg.srcPort;
  f.clearOptions();
  f.window = 0;
  if (flags & ACK) {
    f.seq = seg.ack;
    f.ack = 0;
    f.flags = RST;
  } else {
    f.seq = 0;
    f.ack = seqAdd(seg.seq, seqLen(flags, seg.dataLen));
    f.flags = RST | ACK;
  }
  sendReply(ctx, d, f, from);
  ctx.stats.resetsSent++;
}

/**
 * Sends the segment `f` (no data) back to the sender of `d` without a
 * connection: resets, and SYN,ACKs carrying a cookie.
 *
 * @example
 * ```ts
 * import { exampleConnection } from "../_examples.ts";
 * import { IpDatagram } from "../ip.ts";
 * import { TcpFlags, TcpRepr } from "../wire/tcp.ts";
 * import { sendReply } from "./output.ts";
 * const { net } = await exampleConnection();
 * const d = new IpDatagram(); // a packet from 192.0.2.1 to us
 * d.buf = Uint8Array.from([...new Array(12).fill(0), 192, 0, 2, 1, 192, 0, 2, 2]);
 * d.srcOff = 12;
 * d.dstOff = 16;
 * d.addrLen = 4;
 * const f = new TcpRepr();
 * f.flags = TcpFlags.RST;
 * sendReply(net.b.tcp, d, f);
 * net.trace.at(-1)!.from; // "b": 192.0.2.2 answered 192.0.2.1
 * ```
 */
export function sendReply(
  ctx: TcpContext,
  d: IpDatagram,
  f: TcpRepr,
  from?: Answerer,
): void {
  const n = d.addrLen;
  const local = n === 4 ? rstLocal.subarray(0, 4) : rstLocal;
  const remote = n === 4 ? rstRemote.subarray(0, 4) : rstRemote;
  local.set(d.buf.subarray(d.dstOff, d.dstOff + n));
  remote.set(d.buf.subarray(d.srcOff, d.srcOff + n));
  sendHeaderOnly(ctx.ip, local, remote, f, from);
  ctx.stats.freebsd.tcps_sndtotal++;
  ctx.stats.freebsd.tcps_sndctrl++;
}
