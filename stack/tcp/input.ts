/**
 * Segment arrival for a connection (RFC 9293 3.10.7.3 and 3.10.7.4, gVisor's
 * `rcv`), in the RFC's order: sequence check, RST, SYN, ACK, text, FIN.
 * Timestamps and PAWS follow RFC 7323; RST, SYN and ACK checks RFC 5961.
 *
 * @module
 */

import { seqLen, TcpFlags, type TcpOptions, type TcpSegment } from "../wire/tcp.ts";
import { sendAbortReset, sendAck, sendSegment, tcpOutput } from "./output.ts";
import { seqAdd, seqDiff, seqGe, seqGt, seqLe, seqLt } from "./seq.ts";
import { receivesData } from "./state.ts";
import { closeConnection, negotiate } from "./lifecycle.ts";
import { onDsack, onSackAck } from "./loss/recovery.ts";
import { ecnInput, negotiateEcn } from "./ecn.ts";
import { ConnectionRefusedError, ConnectionResetError, type Tcb } from "./tcb.ts";
import type { TcpStats } from "./stats.ts";

const { FIN, SYN, RST, ACK, PSH } = TcpFlags;
/** RFC 7323 5.5: TS.Recent older than 24 days is invalid. */
const PAWS_IDLE_MS = 24 * 24 * 3600_000;

// RCV.NXT =< x < RCV.NXT + RCV.WND (RFC 9293 3.10.7.4 acceptability test).
function inWindow(x: number, nxt: number, wnd: number): boolean {
  return seqGe(x, nxt) && seqLt(x, seqAdd(nxt, wnd));
}

function challengeAck(c: Tcb): void {
  const s = c.ctx.stats;
  if (c.ctx.allowChallengeAck(c)) {
    s.challengeAcks++;
    // A bare ACK at SND.MAX (FreeBSD's tcp_respond), never a FIN again.
    sendSegment(c, c.snd.max, 0, ACK);
  } else s.challengeAcksSuppressed++;
}

/**
 * Handles a segment for a connection that is not in LISTEN.
 *
 * @example
 * ```ts
 * import { exampleConnection } from "../_examples.ts";
 * const { conn, net, server } = await exampleConnection();
 * await server.write(new TextEncoder().encode("hi")); // its segment arrives at conn
 * await net.run(() => conn.rcv.buf.readable === 2);
 * conn.rcv.bytesReceived; // 2
 * ```
 */
export function segmentArrives(c: Tcb, seg: TcpSegment, ecn = 0): void {
  const ctx = c.ctx;
  const s = ctx.stats;
  const now = ctx.now();
  c.rcv.lastRecvAt = now;
  c.keepProbes = 0;
  if (c.keepAlive) c.keepAt = now + c.keepIdleMs;
  if (c.state === "SYN-SENT") {
    synSent(c, seg);
    return;
  }
  const opt = seg.options;
  let flags = seg.flags;
  const seg0 = seg.seq;
  let seq = seg0;
  const ack = seg.ack;
  let dataOff = seg.dataOffset;
  let dataLen = seg.dataLen;

  // RFC 7323 3.2: after negotiation, a non-RST segment without TSopt is dropped.
  if (c.tsOk && !opt.timestamp && !(flags & RST)) {
    s.dropped.missingTimestamp++;
    return;
  }
  // RFC 7323 5.3 R1 (PAWS).
  if (c.tsOk && !(flags & RST) && seqLt(opt.tsVal, c.rcv.tsRecent)) {
    if (now - c.rcv.tsRecentAge > PAWS_IDLE_MS) c.rcv.tsRecent = opt.tsVal;
    else {
      s.dropped.paws++;
      sendAck(c);
      return;
    }
  }

  // A retransmitted SYN in SYN-RECEIVED means our SYN,ACK was lost: send
  // it again, as FreeBSD's syncache and Linux do (an ACK would not help).
  if (c.state === "SYN-RECEIVED" && (flags & (SYN | ACK | RST)) === SYN && seg0 === c.rcv.irs) {
    s.synRetransmitsAnswered++;
    sendSegment(c, c.snd.iss, 0, SYN | ACK);
    return;
  }
  // First: sequence number check (RFC 9293 3.10.7.4).
  const segLen = seqLen(flags, dataLen);
  // RCV.WND: what the buffer takes, or what we offered if more (a window
  // never shrinks); the 16-bit field may advertise less than the buffer.
  // A passive open not yet established is held to what its SYN,ACK
  // offered, as FreeBSD's syncache entry is.
  const offered = seqDiff(c.rcv.adv, c.rcv.nxt);
  const passiveHalfOpen = c.state === "SYN-RECEIVED" && c.listener !== undefined;
  const wnd = Math.max(passiveHalfOpen ? 0 : c.rcv.buf.window, offered, 0);
  const nxt = c.rcv.nxt;
  let ok: boolean;
  if (segLen === 0) ok = wnd === 0 ? seq === nxt : inWindow(seq, nxt, wnd);
  else ok = wnd > 0 && (inWindow(seq, nxt, wnd) || inWindow(seqAdd(seq, segLen - 1), nxt, wnd));
  const old = segLen > 0 && seqLe(seqAdd(seq, segLen), c.rcv.nxt);
  if (!ok && old && !(flags & RST) && flags & ACK) {
    // Wholly a duplicate: trimmed to nothing below, but its ACK still
    // counts (BSD's trimming). Two sides retransmitting their FINs in
    // CLOSING learn this way that their own FIN arrived.
    s.duplicateSegments++;
    reportDuplicate(c, seq, dataLen);
    c.rcv.ackNow = true;
  } else if (!ok) {
    if (old || seqLt(seqAdd(seq, segLen), c.rcv.nxt)) {
      s.duplicateSegments++;
      reportDuplicate(c, seq, dataLen);
    } else s.dropped.outOfWindow++;
    // RFC 5961 4.2: a SYN gets a challenge ACK "irrespective of the sequence number".
    if (flags & SYN && !(flags & RST)) challengeAck(c);
    else if (!(flags & RST)) sendAck(c);
    return;
  }
  // RFC 7323 4.3 R3: remember the timestamp of a segment at the left edge.
  if (c.tsOk && seqLe(seg0, c.rcv.lastAckSent) && seqGe(opt.tsVal, c.rcv.tsRecent)) {
    c.rcv.tsRecent = opt.tsVal;
    c.rcv.tsRecentAge = now;
  }
  // Trim what we already have at the front, and what does not fit at the back.
  if (seqLt(seq, c.rcv.nxt)) {
    let trim = seqDiff(c.rcv.nxt, seq);
    if (dataLen > 0 && !(flags & SYN)) reportDuplicate(c, seq, Math.min(trim, dataLen));
    if (flags & SYN) {
      flags &= ~SYN;
      trim--;
      seq = seqAdd(seq, 1);
    }
    if (trim > dataLen) {
      // Only a duplicate FIN remains beyond the data.
      flags &= ~FIN;
      trim = dataLen;
    }
    dataOff += trim;
    dataLen -= trim;
    seq = seqAdd(seq, trim);
  }
  const room = wnd - seqDiff(seq, c.rcv.nxt);
  if (dataLen > room) {
    s.dropped.beyondWindow++;
    dataLen = Math.max(0, room);
    flags &= ~FIN;
  }

  // Second: RST (RFC 5961 3.2).
  if (flags & RST) {
    if (seg0 !== c.rcv.nxt && !ctx.config.insecureRst) {
      s.dropped.rstInWindow++;
      challengeAck(c);
      return;
    }
    s.resetsReceived++;
    if (c.state === "SYN-RECEIVED" && c.listener !== undefined) {
      // RFC 9293 3.10.7.4: a passive open returns to LISTEN; no one was told.
      closeConnection(c);
    } else if (c.state === "SYN-RECEIVED") {
      // An active open (simultaneous): the connection was refused.
      s.connectionsRefused++;
      closeConnection(c, new ConnectionRefusedError());
    } else if ((c.state === "CLOSING" || c.state === "LAST-ACK") && c.appClosed) {
      // RFC 9293: CLOSED without a signal. An application that still holds
      // the socket is told of the reset, as FreeBSD does.
      closeConnection(c);
    } else {
      s.connectionsAborted++;
      closeConnection(c, new ConnectionResetError());
    }
    return;
  }
  // Fourth: SYN in a synchronized state (RFC 5961 4.2): challenge ACK;
  // with insecure_syn, RFC 793's reset.
  if (flags & SYN && ctx.config.insecureSyn) {
    sendAbortReset(c);
    s.connectionsAborted++;
    closeConnection(c, new ConnectionResetError("Connection reset: a SYN arrived in the window"));
    return;
  }
  if (flags & SYN) {
    s.dropped.synInWindow++;
    challengeAck(c);
    return;
  }
  // Fifth: ACK.
  if (!(flags & ACK)) {
    s.dropped.noAck++;
    return;
  }
  if (c.state === "SYN-RECEIVED") {
    if (!(seqLt(c.snd.una, ack) && seqLe(ack, c.snd.max))) {
      s.dropped.badAckInSynReceived++;
      sendSegment(c, ack, 0, RST);
      s.resetsSent++;
      return;
    }
    // A FIN the application queued during the handshake goes out now.
    c.state = c.snd.finQueued ? "FIN-WAIT-1" : "ESTABLISHED";
    c.snd.wnd = seg.window << c.snd.scale;
    c.snd.maxWnd = Math.max(c.snd.maxWnd, c.snd.wnd);
    c.snd.wl1 = seq;
    c.snd.wl2 = ack;
    s.established++;
    if (c.snd.retries > 0) c.snd.rtt.afterSynTimeout();
    c.snd.retries = 0;
    ctx.established(c);
    c.events?.onEstablished();
    const early = c.rcv.synData;
    if (early) {
      c.rcv.synData = undefined;
      deliver(c, c.rcv.nxt, early, 0, early.length);
    }
  }
  // RFC 5961 5.2 / RFC 9293: an ACK for data not yet sent, or far in the past.
  if (seqGt(ack, c.snd.max)) {
    s.dropped.ackTooNew++;
    challengeAck(c);
    return;
  }
  if (seqLt(ack, seqAdd(c.snd.una, -c.snd.maxWnd))) {
    s.dropped.ackTooOld++;
    challengeAck(c);
    return;
  }
  if (c.ecnOk) ecnInput(c, flags, ack, ecn);
  if (processAck(c, seg, seq, ack, dataLen, flags)) return;

  // Sixth: URG. Urgent data is delivered inline (RFC 6093); only counted.
  if (flags & TcpFlags.URG) s.dropped.urgentIgnored++;

  // Seventh: segment text.
  if (dataLen > 0) {
    if (!receivesData(c.state)) {
      s.dropped.dataAfterClose++;
    } else if (c.appClosed) {
      // Nobody will read it: reset (RFC 9293 3.10.4, RFC 2525 2.17).
      s.dropped.dataAfterClose++;
      sendAbortReset(c);
      s.connectionsAborted++;
      closeConnection(c);
      return;
    } else deliver(c, seq, seg.buf, dataOff, dataLen);
  }

  // Eighth: FIN.
  if (flags & FIN) {
    const fin = seqAdd(seq, dataLen);
    if (fin === c.rcv.nxt) {
      if (finArrives(c)) return;
    } else if (seqGt(fin, c.rcv.nxt)) {
      c.rcv.oooFinSeq = fin;
      c.rcv.ackNow = true;
    }
  } else if (c.rcv.oooFinSeq >= 0 && c.rcv.oooFinSeq === c.rcv.nxt) {
    if (finArrives(c)) return;
  }
  tcpOutput(c);
}

/**
 * Data at `seq` we already had (below RCV.NXT): the next ACK reports it as
 * a D-SACK block (RFC 2883), so the sender learns its retransmission was
 * needless and may undo its congestion response.
 */
function reportDuplicate(c: Tcb, seq: number, len: number): void {
  if (!c.sackOk || len <= 0) return;
  const end = seqAdd(seq, len);
  c.rcv.dsackLeft = seq;
  c.rcv.dsackRight = seqGt(end, c.rcv.nxt) ? c.rcv.nxt : end;
}

/** Accepts text at `seq` (RFC 9293 3.10.7.4 seventh; ACK policy RFC 5681 4.2). */
function deliver(c: Tcb, seq: number, buf: Uint8Array, off: number, len: number): void {
  const s = c.ctx.stats;
  const at = seqDiff(seq, c.rcv.nxt);
  // Everything inside the offered window fits the buffer; count it if not.
  if (at + len > c.rcv.buf.room) s.dropped.receiveBufferFull++;
  if (at > 0) {
    // A peer may not make us hold unbounded gaps: past the caps the segment
    // is dropped, and the duplicate ACK still says what we have.
    const cfg = c.ctx.config;
    if (!c.rcv.buf.canHoldOutOfOrder(at, len, cfg.maxOutOfOrderBytes, cfg.maxOutOfOrderRanges)) {
      s.dropped.outOfOrderLimit++;
      c.rcv.ackNow = true;
      return;
    }
    c.rcv.buf.write(at, buf, off, len);
    s.outOfOrderSegments++;
    c.rcv.ackNow = true; // RFC 5681 4.2: out-of-order data is ACKed at once
    return;
  }
  const hadGap = c.rcv.buf.rangeCount > 0;
  // Autosizing measures a bulk stream: in order, with no loss to repair.
  if (!hadGap && c.ctx.config.recvBufAuto) autoSizeReceive(c, len);
  let adv = 0;
  const direct = c.rcv.direct;
  if (direct !== undefined && !hadGap && c.rcv.buf.readable === 0) {
    // A reader waits with its buffer: what fits goes there, not via ours.
    adv = Math.min(len, direct.length - c.rcv.directLen);
    direct.set(buf.subarray(off, off + adv), c.rcv.directLen);
    c.rcv.directLen += adv;
    if (c.rcv.directLen === direct.length) c.ctx.yieldToReader();
  }
  if (adv < len) adv += c.rcv.buf.write(0, buf, off + adv, len - adv);
  c.rcv.nxt = seqAdd(c.rcv.nxt, adv);
  s.bytesReceived += adv;
  c.rcv.bytesReceived += adv;
  if (hadGap) c.rcv.ackNow = true; // a segment that fills a gap is ACKed at once
  else {
    // RFC 5681 4.2: ACK at least every second segment, else within the
    // delayed-ACK time. A coalesced (GRO/TSO) segment counts as two or more.
    c.rcv.unackedSegments += len >= 2 * c.rcv.mss ? 2 : 1;
    const lone = c.rcv.unackedSegments < 2;
    const quick = quickAck(c, lone);
    if (!lone) {
      // Due now; but the segments of one batch of reads (64 KB each from a
      // GRO device) get one ACK at the end of the turn rather than one
      // each: a TUN write apiece, with the peer's ACK processing inside it.
      // Never more than a quarter of the buffer waits for it.
      const unacked = seqDiff(c.rcv.nxt, c.rcv.lastAckSent);
      if (c.events !== undefined && unacked < c.rcv.buf.capacity / 4) c.ctx.deferAck(c);
      else c.rcv.ackNow = true;
    } else if (quick && c.events !== undefined) c.ctx.deferAck(c);
    else armDelack(c);
  }
  if (c.rcv.oooFinSeq >= 0 && c.rcv.oooFinSeq === c.rcv.nxt) c.rcv.ackNow = true;
  // Data past a FIN position means it was no FIN of this stream: forget it
  // before 2^32 bytes bring RCV.NXT back to it.
  else if (c.rcv.oooFinSeq >= 0 && seqGt(c.rcv.nxt, c.rcv.oooFinSeq)) c.rcv.oooFinSeq = -1;
  c.events?.onReadable();
}

/**
 * Grows the receive buffer while the peer keeps it filling (FreeBSD's
 * tcp_autorcvbuf), up to what the window scale can advertise.
 */
function autoSizeReceive(c: Tcb, len: number): void {
  const cfg = c.ctx.config, cap = c.rcv.buf.capacity;
  const max = Math.min(cfg.recvBufMax, cfg.maxSockBuf, 0xffff << c.rcv.scale, budgetCap(c, cap));
  if (c.rcv.autoSize(len, c.ctx.now(), c.snd.rtt.srtt, c.snd.mss, max)) {
    grew(c, c.rcv.buf.capacity - cap).receive++;
  }
}

/** Grows the send buffer while a round trip of data no longer fits it. */
function autoSizeSend(c: Tcb, acked: number, now: number): void {
  const cfg = c.ctx.config, cap = c.snd.buf.capacity;
  const rtt = c.snd.rtt.sampled ? c.snd.rtt.min : 0;
  const max = Math.min(cfg.sendBufMax, cfg.maxSockBuf, budgetCap(c, cap));
  if (c.snd.autoSize(acked, now, rtt, c.snd.mss, max)) grew(c, c.snd.buf.capacity - cap).send++;
}

/** The most a buffer of `cap` bytes may grow to within the stack-wide budget. */
function budgetCap(c: Tcb, cap: number): number {
  return cap + Math.max(0, c.ctx.config.autosizeBudget - c.ctx.stats.bufferAutosize.bytes);
}

/** Counts `by` bytes of growth against the budget and the connection; returns the counters. */
function grew(c: Tcb, by: number): TcpStats["bufferAutosize"] {
  const a = c.ctx.stats.bufferAutosize;
  a.bytes += by;
  c.autosized += by;
  return a;
}

/** Lone segments ACKed in quick mode: at the start and after idleness (Linux's TCP_MAX_QUICKACKS). */
const QUICK_ACKS = 16;

/**
 * Whether a lone in-order segment is ACKed by the end of this turn rather
 * than after the delayed-ACK time: at the start and after a silence longer
 * than the RTO (Linux's quick-ACK mode), so that a peer in slow start, or
 * holding its next small segment for Nagle, does not wait 40 ms; not in
 * request/response (ping-pong), where our answer carries the ACK. Within
 * the turn, an answer the application writes carries it too.
 */
function quickAck(c: Tcb, lone: boolean): boolean {
  // The segment's arrival time, set as segmentArrives began: no clock read per segment.
  const rcv = c.rcv, now = rcv.lastRecvAt;
  if (now - rcv.lastDataAt > c.snd.rtt.rto || rcv.lastDataAt === 0) rcv.quickAcks = QUICK_ACKS;
  rcv.lastDataAt = now;
  if (!lone || rcv.pingpong || rcv.quickAcks === 0 || !c.ctx.config.quickAck) return false;
  rcv.quickAcks--;
  return true;
}

function armDelack(c: Tcb): void {
  if (c.delackAt === 0) {
    c.delackAt = c.ctx.now() + c.ctx.config.delayedAckMs;
    c.ctx.watch(c);
  }
}

/** The FIN is next in sequence (RFC 9293 3.10.7.4 eighth). Returns true when `c` is gone. */
function finArrives(c: Tcb): boolean {
  c.rcv.finReceived = true;
  c.rcv.oooFinSeq = -1;
  c.rcv.nxt = seqAdd(c.rcv.nxt, 1);
  switch (c.state) {
    case "SYN-RECEIVED":
    case "ESTABLISHED":
      c.state = "CLOSE-WAIT";
      // An application that sees EOF usually closes at once: give it one
      // turn of the event loop, so that our FIN carries this ACK.
      if (c.events !== undefined && !c.appClosed) c.ctx.deferAck(c);
      else c.rcv.ackNow = true;
      c.events?.onReadable();
      return false;
    case "FIN-WAIT-1":
      c.rcv.ackNow = true;
      if (c.snd.finAcked) {
        c.ctx.enterTimeWait(c);
        c.events?.onReadable();
        return true;
      }
      c.state = "CLOSING";
      break;
    case "FIN-WAIT-2":
      c.rcv.ackNow = true;
      c.ctx.enterTimeWait(c);
      c.events?.onReadable();
      return true;
  }
  c.events?.onReadable();
  return false;
}

/**
 * The first ACK after a timeout's retransmission (Eifel, RFC 3522): a TSecr
 * older than that retransmission's TSval echoes the original, so the
 * timeout was spurious (a delay, not a loss). The response (RFC 4015):
 * cwnd and ssthresh as before the timeout, and transmission resumes with
 * new data rather than going back over what already arrived.
 */
function eifel(c: Tcb, opt: TcpOptions): void {
  const snd = c.snd;
  if (opt.timestamp && seqLt(opt.tsEcr, snd.eifelTsVal)) {
    snd.cc.undo(snd.timeoutCwnd, snd.timeoutSsthresh);
    if (seqLt(snd.nxt, snd.max)) snd.nxt = snd.max;
    c.ctx.stats.spuriousTimeouts++;
  }
  snd.eifelTsVal = -1;
}

/**
 * F-RTO (RFC 5682 2.1) for a connection without timestamps, where Eifel
 * cannot tell: the ACKs after a timeout's retransmission. If the first
 * acknowledges some data (not all), two new segments go out instead of
 * more retransmissions; if the second then acknowledges data too, the
 * original segments had arrived and the timeout was a delay: cwnd and
 * ssthresh come back and sending goes on with new data (RFC 4015). A
 * duplicate ACK at either step means a real loss: the usual go-back-N
 * slow start, from at most three segments.
 */
function frto(c: Tcb, ack: number, advanced: boolean): void {
  const snd = c.snd;
  if (snd.frto === 1) {
    snd.frto = 0;
    // Step 2a: a duplicate, or everything up to "recover" acknowledged.
    if (!advanced || seqGe(ack, snd.frtoRecover)) return;
    // Step 2b: up to two new segments, as far as the peer's window goes.
    let sent = 0;
    for (; sent < 2; sent++) {
      const avail = seqDiff(snd.dataEnd, snd.max);
      const len = Math.min(avail, c.sendRoom, snd.wnd - seqDiff(snd.max, snd.una));
      if (len <= 0) break;
      sendSegment(c, snd.max, len, len === avail ? ACK | PSH : ACK);
    }
    if (sent > 0) snd.frto = 2;
    return;
  }
  snd.frto = 0;
  if (advanced) {
    // Step 3b: data never retransmitted was acknowledged.
    snd.cc.undo(snd.timeoutCwnd, snd.timeoutSsthresh);
    c.ctx.stats.spuriousTimeouts++;
  } else {
    // Step 3a.
    snd.cc.cwnd = Math.min(snd.cc.cwnd, 3 * c.effMss);
    snd.nxt = snd.una;
  }
}

/**
 * Processes the acknowledgment (RFC 9293 3.10.7.4 fifth, RFC 5681 loss
 * detection, RFC 6582/6675 recovery). Returns true when `c` is gone.
 */
function processAck(
  c: Tcb,
  seg: TcpSegment,
  seq: number,
  ack: number,
  dataLen: number,
  flags: number,
): boolean {
  const ctx = c.ctx;
  const s = ctx.stats;
  const now = ctx.now();
  const opt = seg.options;
  const acked = seqDiff(ack, c.snd.una);
  const window = seg.window << c.snd.scale;
  const windowChanged = window !== c.snd.wnd;
  const sackedBefore = c.snd.sack.sackedBytes;

  if (acked > 0) {
    let a = acked;
    // Our SYN, once: after 2^32 bytes SND.UNA meets the ISS again.
    if (!c.snd.synAcked) {
      c.snd.synAcked = true;
      if (c.snd.una === c.snd.iss) a--;
    }
    const dataAcked = Math.min(a, c.snd.buf.length);
    c.snd.buf.consume(dataAcked);
    c.snd.bytesAcked += dataAcked;
    c.snd.bufSeq = seqAdd(c.snd.bufSeq, dataAcked);
    c.snd.una = ack;
    if (c.snd.eifelTsVal !== -1) eifel(c, opt);
    if (seqLt(c.snd.nxt, c.snd.una)) c.snd.nxt = c.snd.una;
    c.snd.sack.advance(acked);
    if (c.sackOk) c.snd.rack.acked(ack, now, c.snd.rtt.srtt);
    // RTT: the timed segment (Karn), else timestamps (RFC 7323 4.1). As
    // Linux, the timed one first: with timestamps only our SYN is timed.
    let rtt = -1;
    if (c.snd.rttSeq >= 0 && seqGt(ack, c.snd.rttSeq)) {
      rtt = now - c.snd.rttSentAt;
      c.snd.rttSeq = -1;
    } else if (c.tsOk && opt.tsEcr !== 0) rtt = seqDiff(c.tsNow(), opt.tsEcr);
    if (rtt >= 0) c.snd.rtt.sample(rtt);
    c.snd.retries = 0;
    c.snd.blackholeSavedMss = 0; // a lowered MSS got through: the black hole was real
    c.persistShift = 0;
    c.snd.progressAt = now;
    // RFC 6298 5.2 / 5.3.
    c.rtoAt = c.snd.una === c.snd.max ? 0 : now + c.snd.rtt.rto;
    if (c.snd.inRecovery) {
      if (seqGe(ack, c.snd.recover)) {
        c.snd.inRecovery = false; // full ACK (RFC 6582 3.2 step 3)
        c.snd.dupAcks = 0;
        c.snd.cc.onRecoveryEnd();
        if (c.sackOk) c.snd.rack.recoveryEnded();
      } else if (!c.sackOk) {
        // RFC 6582 3.2 step 5: partial ACK: resend the next hole, deflate.
        const len = Math.min(c.sendRoom, seqDiff(c.snd.dataEnd, c.snd.una));
        if (len > 0) sendSegment(c, c.snd.una, len, ACK);
        c.snd.cc.cwnd = Math.max(c.snd.cc.cwnd - dataAcked + c.effMss, c.effMss);
      }
    } else {
      c.snd.dupAcks = 0;
      c.snd.cc.onRound(rtt, ack, c.snd.nxt);
      // RFC 7661 4.3: the window grows only while it is used, at least half
      // of it in flight when this ACK came; an application that sends less
      // would otherwise build a window the path never carried.
      if (2 * (c.snd.flightSize + acked) >= c.snd.cc.cwnd) {
        c.snd.cc.onAck(dataAcked, now, c.snd.rtt.srtt);
      } else s.cwndValidation.appLimitedAcks++;
      // RFC 6582's "recover" trails SND.UNA (FreeBSD moves snd_recover with
      // snd_una): left behind, it would compare as newer than every ACK
      // once 2^31 bytes have passed, and fast retransmit would never fire.
      if (seqLt(c.snd.recover, c.snd.una)) c.snd.recover = seqAdd(c.snd.una, -1);
    }
    if (dataAcked > 0) {
      if (c.ctx.config.sendBufAuto && !c.snd.finQueued) autoSizeSend(c, dataAcked, now);
      c.events?.onWritable();
    }
  }
  // A duplicate ACK (RFC 5681 2); one that shuts the window tells of no loss.
  const dupAck = acked === 0 && c.snd.flightSize > 0 && dataLen === 0 && !(flags & (SYN | FIN)) &&
    !windowChanged && window !== 0;
  if (c.snd.frto !== 0 && (acked > 0 || dupAck)) frto(c, ack, acked > 0);
  if (c.sackOk) {
    // SACK blocks (RFC 2018) into the scoreboard and RACK's log.
    if (opt.sackCount > 0) takeSack(c, opt, ack, now);
    else if (dupAck && c.snd.sack.empty) {
      // Duplicates without SACK blocks from a peer that agreed to send
      // them: count them as RFC 5681 does (DupThresh), as Linux does.
      s.dupAcksReceived++;
      if (++c.snd.dupAcks === 3 && seqGt(ack, c.snd.recover)) c.snd.rack.markFirstLost();
    }
    if (acked > 0 || c.snd.sack.sackedBytes !== sackedBefore || c.snd.rack.lostBytes > 0) {
      onSackAck(c, now, Math.max(0, acked + c.snd.sack.sackedBytes - sackedBefore));
    }
    const rate = c.snd.rack.rate, rs = rate.take(c.snd.rack.minRtt);
    if (rs !== undefined) c.snd.cc.onRateSample?.(rs, c.snd.pipe, now, rate.deliveredBytes);
  } else if (dupAck) {
    c.snd.dupAcks++;
    s.dupAcksReceived++;
    // RFC 6582 4.1: no new recovery for duplicates of data sent before the last one.
    if (!c.snd.inRecovery && c.snd.dupAcks >= 3 && seqGt(ack, c.snd.recover)) {
      enterRecovery(c, now);
    } else if (c.snd.inRecovery) {
      c.snd.cc.cwnd += c.effMss; // RFC 5681 3.2 step 4: inflate
    }
  }
  // Window update (RFC 9293 3.10.7.4: SND.WL1/SND.WL2 rule).
  if (seqLt(c.snd.wl1, seq) || (c.snd.wl1 === seq && seqLe(c.snd.wl2, ack))) {
    c.snd.wnd = window;
    c.snd.wl1 = seq;
    c.snd.wl2 = ack;
    if (window > c.snd.maxWnd) c.snd.maxWnd = window;
    if (window > 0 && c.persistAt !== 0) {
      c.persistAt = 0;
      c.persistShift = 0;
      // Only a probe byte can be in flight, and a shut window dropped it:
      // send from SND.UNA now, under the normal timer.
      c.snd.nxt = c.snd.una;
      if (c.snd.max !== c.snd.una && c.rtoAt === 0) c.rtoAt = now + c.snd.rtt.rto;
    }
  }
  // Our FIN acknowledged.
  if (acked > 0 && c.snd.finAcked) {
    switch (c.state) {
      case "FIN-WAIT-1":
        c.state = "FIN-WAIT-2";
        if (c.appClosed) {
          c.finWait2At = now + ctx.config.finWait2TimeoutMs;
          ctx.watch(c);
        }
        break;
      case "CLOSING":
        ctx.enterTimeWait(c);
        return true;
      case "LAST-ACK":
        closeConnection(c);
        return true;
    }
  }
  return false;
}

/** NewReno's fast retransmit (RFC 5681 3.2 step 2, RFC 6582): the first unacknowledged segment. */
function enterRecovery(c: Tcb, now: number): void {
  c.snd.inRecovery = true;
  c.snd.recover = c.snd.max;
  c.snd.cc.onLoss(c.snd.flightSize, now, false);
  c.ctx.stats.fastRetransmits++;
  const len = Math.min(c.sendRoom, Math.max(0, seqDiff(c.snd.dataEnd, c.snd.una)));
  if (len > 0) sendSegment(c, c.snd.una, len, ACK);
}

/**
 * Takes an ACK's SACK blocks (RFC 2018) into the scoreboard, as offsets
 * from the (new) SND.UNA, and into RACK's log. A first block below the
 * cumulative ACK, or inside the second, is a D-SACK (RFC 2883 4): it
 * reports a duplicate, so a retransmission was needless.
 */
function takeSack(c: Tcb, opt: TcpOptions, ack: number, now: number): void {
  const sk = opt.sack;
  const dsack = seqLe(sk[1], ack) ||
    (opt.sackCount > 1 && seqGe(sk[0], sk[2]) && seqLe(sk[1], sk[3]));
  if (dsack) {
    c.ctx.stats.dsacksReceived++;
    c.snd.rack.dsack(c.snd.nxt, c.snd.tlpEnd === -1);
    if (c.snd.tlpEnd !== -1) c.snd.tlpDsack = true;
    onDsack(c, sk[0], sk[1]);
  }
  for (let i = dsack ? 1 : 0; i < opt.sackCount; i++) {
    const l = sk[2 * i], r = sk[2 * i + 1];
    if (seqLe(r, c.snd.una) || seqGt(r, c.snd.max) || seqGe(l, r)) continue;
    const from = seqLt(l, c.snd.una) ? c.snd.una : l;
    c.snd.sack.add(seqDiff(from, c.snd.una), seqDiff(r, c.snd.una));
    c.snd.rack.sacked(from, r, now, c.snd.rtt.srtt);
  }
}

/** SYN-SENT (RFC 9293 3.10.7.3). */
function synSent(c: Tcb, seg: TcpSegment): void {
  const ctx = c.ctx;
  const s = ctx.stats;
  const flags = seg.flags;
  const ack = seg.ack;
  const hasAck = (flags & ACK) !== 0;
  if (hasAck && (seqLe(ack, c.snd.iss) || seqGt(ack, c.snd.max))) {
    s.dropped.synSentBadAck++;
    if (!(flags & RST)) {
      sendSegment(c, ack, 0, RST);
      s.resetsSent++;
    }
    return;
  }
  if (flags & RST) {
    // RFC 5961 3.2: in SYN-SENT an RST is acceptable only with an acceptable ACK.
    if (hasAck) {
      s.resetsReceived++;
      s.connectionsRefused++;
      closeConnection(c, new ConnectionRefusedError());
    } else s.dropped.synSentBadAck++;
    return;
  }
  if (!(flags & SYN)) {
    s.dropped.synSentNoSyn++;
    return;
  }
  c.rcv.irs = seg.seq;
  c.rcv.nxt = seqAdd(seg.seq, 1);
  c.rcv.adv = c.rcv.nxt;
  negotiate(c, seg.options);
  negotiateEcn(c, flags);
  if (hasAck) {
    c.snd.una = ack;
    c.snd.synAcked = true;
    if (c.snd.rttSeq >= 0) c.snd.rtt.sample(ctx.now() - c.snd.rttSentAt);
    else if (c.tsOk && seg.options.tsEcr !== 0) {
      c.snd.rtt.sample(seqDiff(c.tsNow(), seg.options.tsEcr));
    }
    c.snd.rttSeq = -1;
    if (c.snd.retries > 0) c.snd.rtt.afterSynTimeout();
    c.snd.retries = 0;
    c.rtoAt = 0;
    c.state = c.snd.finQueued ? "FIN-WAIT-1" : "ESTABLISHED";
    // RFC 7323 2.2: the window of a SYN segment is never scaled.
    c.snd.wnd = seg.window;
    c.snd.maxWnd = c.snd.wnd;
    c.snd.wl1 = seg.seq;
    c.snd.wl2 = ack;
    c.rcv.ackNow = true;
    s.established++;
    c.events?.onEstablished();
    // RFC 9293 3.10.7.3: continue at the sixth step (text, then FIN).
    const len = Math.min(seg.dataLen, c.rcv.buf.window);
    if (len > 0) deliver(c, c.rcv.nxt, seg.buf, seg.dataOffset, len);
    if (flags & FIN && len === seg.dataLen && finArrives(c)) return;
    tcpOutput(c);
    return;
  }
  // Simultaneous open (RFC 9293 3.5 figure 7): answer with SYN,ACK. Text
  // waits for ESTABLISHED (3.10.7.3); a FIN is left for the peer to resend.
  c.state = "SYN-RECEIVED";
  c.snd.nxt = c.snd.iss;
  const len = Math.min(seg.dataLen, c.rcv.buf.window);
  if (len > 0) c.rcv.synData = seg.buf.slice(seg.dataOffset, seg.dataOffset + len);
  tcpOutput(c);
}
