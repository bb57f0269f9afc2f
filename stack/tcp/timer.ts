/**
 * Connection timers (gVisor's `timer`): retransmission (RFC 6298 5),
 * persist (RFC 9293 3.8.6.1), delayed ACK (RFC 9293 3.8.6.3), keepalive
 * (RFC 9293 3.8.4) and the FIN-WAIT-2 limit. Each is an absolute deadline
 * in the block; the layer scans the connections that have one.
 *
 * @module
 */

import { TcpFlags } from "../wire/tcp.ts";
import { closeConnection } from "./lifecycle.ts";
import { armPersist, sendAck, sendSegment, tcpOutput } from "./output.ts";
import { onTimeoutBlackhole } from "./path/pmtud_blackhole.ts";
import { probeTimeout, reorderTimeout } from "./loss/recovery.ts";
import { seqAdd, seqDiff } from "./seq.ts";
import { isSynchronized } from "./state.ts";
import { type Tcb, TimedOutError } from "./tcb.ts";

const { PSH, ACK } = TcpFlags;

/**
 * Stops every timer of `c` (on CLOSED, or when TIME_WAIT takes over).
 *
 * @example
 * ```ts
 * import { exampleConnection } from "../_examples.ts";
 * import { armPersist } from "./output.ts";
 * import { stopTimers } from "./timer.ts";
 * const { conn } = await exampleConnection();
 * armPersist(conn);
 * stopTimers(conn);
 * conn.persistAt; // 0
 * ```
 */
export function stopTimers(c: Tcb): void {
  c.rtoAt =
    c.ptoAt =
    c.reoAt =
    c.paceAt =
    c.delackAt =
    c.persistAt =
    c.keepAt =
    c.finWait2At =
      0;
}

/**
 * Runs the timers of `c` that are due. Returns true while any is armed.
 *
 * @example
 * ```ts
 * import { exampleConnection } from "../_examples.ts";
 * import { runTimers } from "./timer.ts";
 * const { conn, net } = await exampleConnection();
 * runTimers(conn, net.now); // false: nothing armed on an idle connection
 * ```
 */
export function runTimers(c: Tcb, now: number): boolean {
  if (c.rtoAt !== 0 && now >= c.rtoAt) retransmitTimeout(c, now);
  if (gone(c)) return false;
  if (c.ptoAt !== 0 && now >= c.ptoAt) probeTimeout(c, now);
  if (c.reoAt !== 0 && now >= c.reoAt) {
    reorderTimeout(c, now);
    tcpOutput(c);
  }
  if (c.paceAt !== 0 && now >= c.paceAt) {
    c.paceAt = 0;
    tcpOutput(c);
  }
  if (c.persistAt !== 0 && now >= c.persistAt) persistTimeout(c, now);
  if (gone(c)) return false;
  if (c.delackAt !== 0 && now >= c.delackAt) {
    c.delackAt = 0;
    c.ctx.stats.delayedAcks++;
    // No answer carried it: the exchange is no request/response (Linux
    // leaves ping-pong mode here too).
    c.rcv.pingpong = false;
    sendAck(c);
  }
  if (c.keepAt !== 0 && now >= c.keepAt) keepaliveTimeout(c, now);
  if (gone(c)) return false;
  if (c.finWait2At !== 0 && now >= c.finWait2At) {
    c.finWait2At = 0;
    if (c.state === "FIN-WAIT-2") closeConnection(c);
  }
  return c.rtoAt !== 0 || c.ptoAt !== 0 || c.reoAt !== 0 || c.paceAt !== 0 || c.persistAt !== 0 ||
    c.delackAt !== 0 ||
    c.keepAt !== 0 ||
    c.finWait2At !== 0;
}

// RFC 1122 4.2.3.9: a soft ICMP error is reported when the connection fails.
function soft(c: Tcb): string {
  return c.softError === undefined ? "" : ` (last ICMP error: ${c.softError})`;
}

// A timer may close the connection; TypeScript's narrowing cannot see that.
function gone(c: Tcb): boolean {
  return c.state === "CLOSED";
}

// RFC 5482 / Linux TCP_USER_TIMEOUT: sent data stuck this long (unACKed, or
// behind a window that never opens) ends the connection, so a stalled peer
// cannot pin its buffers for ever.
function userTimedOut(c: Tcb, now: number): boolean {
  const limit = c.ctx.config.userTimeoutMs;
  if (limit <= 0 || seqDiff(c.snd.dataEnd, c.snd.una) <= 0 || now - c.snd.progressAt < limit) {
    return false;
  }
  c.ctx.stats.connectionsTimedOut++;
  c.ctx.stats.userTimeouts++;
  closeConnection(c, new TimedOutError(`Connection timed out: no progress for ${limit} ms`));
  return true;
}

function retransmitTimeout(c: Tcb, now: number): void {
  const ctx = c.ctx;
  const s = ctx.stats;
  c.rtoAt = 0;
  if (isSynchronized(c.state) && userTimedOut(c, now)) return;
  if (c.state === "SYN-SENT" || c.state === "SYN-RECEIVED") {
    if (++c.snd.retries > ctx.config.synRetries || now - c.createdAt >= ctx.config.keepInitMs) {
      s.connectionsTimedOut++;
      closeConnection(c, new TimedOutError(`Connection timed out: no answer to SYN${soft(c)}`));
      return;
    }
    s.synRetransmits++;
    c.snd.rtt.backOff();
    c.snd.nxt = c.snd.iss;
    tcpOutput(c);
    return;
  }
  if (c.snd.max === c.snd.una) return;
  if (++c.snd.retries > ctx.config.dataRetries) {
    s.connectionsTimedOut++;
    closeConnection(
      c,
      new TimedOutError(`Connection timed out: retransmissions unanswered${soft(c)}`),
    );
    return;
  }
  s.timeouts++;
  onTimeoutBlackhole(c);
  // The first timeout of a run keeps what it is about to undo, and either
  // the TSval its retransmission carries (sent below, this ms) for Eifel
  // (RFC 3522), or without timestamps, SND.MAX for F-RTO (RFC 5682 2.1
  // step 1).
  c.snd.eifelTsVal = -1;
  c.snd.frto = 0;
  if (c.snd.retries === 1) {
    c.snd.timeoutCwnd = c.snd.cc.cwnd;
    c.snd.timeoutSsthresh = c.snd.cc.ssthresh;
    if (c.tsOk) c.snd.eifelTsVal = c.tsNow();
    else {
      c.snd.frto = 1;
      c.snd.frtoRecover = c.snd.max;
    }
  }
  c.snd.cc.onTimeout(c.snd.flightSize, now);
  c.snd.rtt.backOff();
  if (c.sackOk) {
    if (c.snd.inRecovery) c.snd.rack.recoveryEnded();
    c.snd.rack.timedOut();
    c.snd.tlpEnd = -1;
    c.snd.undoMarker = -1; // a timeout is undone by Eifel, not by D-SACKs
    c.ptoAt = c.reoAt = 0;
  }
  c.snd.inRecovery = false;
  c.snd.dupAcks = 0;
  c.snd.recover = c.snd.max; // RFC 6582 4.1: no fast retransmit for data sent before
  c.snd.sack.clear(); // RFC 6675 5.1 / RFC 2018 8: the peer may have reneged
  c.snd.nxt = c.snd.una; // go back N
  c.snd.rttSeq = -1;
  tcpOutput(c);
  if (c.rtoAt === 0 && c.snd.max !== c.snd.una && c.persistAt === 0) {
    c.rtoAt = now + c.snd.rtt.rto;
  }
}

function persistTimeout(c: Tcb, now: number): void {
  c.persistAt = 0;
  if (seqDiff(c.snd.dataEnd, c.snd.una) <= 0) return;
  if (userTimedOut(c, now)) return;
  const usable = c.snd.wnd - seqDiff(c.snd.nxt, c.snd.una);
  if (usable > 0) {
    // SWS override (RFC 9293 3.8.6.2.1): send what the window takes.
    const len = Math.min(usable, c.sendRoom, seqDiff(c.snd.dataEnd, c.snd.nxt));
    if (len > 0) {
      c.ctx.stats.windowProbes++;
      sendSegment(c, c.snd.nxt, len, PSH | ACK);
    }
    tcpOutput(c);
    return;
  }
  c.ctx.stats.windowProbes++;
  // One byte beyond the window; the peer's ACK tells us its window.
  const at = c.snd.nxt === c.snd.una ? c.snd.nxt : c.snd.una;
  sendSegment(c, at, 1, ACK);
  c.rtoAt = 0; // the persist timer owns the probe
  c.persistShift++;
  armPersist(c);
}

function keepaliveTimeout(c: Tcb, now: number): void {
  c.keepAt = 0;
  if (!c.keepAlive || !isSynchronized(c.state)) return;
  if (c.keepProbes >= c.keepCount) {
    c.ctx.stats.connectionsTimedOut++;
    closeConnection(c, new TimedOutError("Connection timed out: keepalive unanswered"));
    return;
  }
  if (c.keepProbes === 0 && now - c.rcv.lastRecvAt < c.keepIdleMs) {
    c.keepAt = c.rcv.lastRecvAt + c.keepIdleMs;
    return;
  }
  // RFC 9293 3.8.4: SEG.SEQ = SND.NXT-1 makes the peer answer with an ACK.
  sendSegment(c, seqAdd(c.snd.una, -1), 0, ACK);
  c.keepProbes++;
  c.ctx.stats.keepaliveProbes++;
  c.keepAt = now + c.keepIntervalMs;
}
