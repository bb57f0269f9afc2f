/**
 * Loss recovery on SACK connections (gVisor's `rack` and `sack_recovery`):
 * RACK-TLP (RFC 8985) decides what is lost, fast recovery sends it again at
 * the rate PRR allows (RFC 6937), and a tail loss probe asks for the SACK
 * information an RTO would otherwise wait for. Connections without SACK keep
 * NewReno's duplicate-ACK counting (RFC 5681, RFC 6582) in input.ts.
 *
 * @module
 */

import { TcpFlags } from "../../wire/tcp.ts";
import { pipe, sendSegment } from "../output.ts";
import { seqAdd, seqDiff, seqGe, seqLt } from "../seq.ts";
import type { TcpConnection } from "../tcb.ts";

const { ACK, FIN, PSH } = TcpFlags;

/** RFC 8985 7.2 WCDelAckT: the worst delay of an ACK for a lone segment, ms. */
const WORST_DELAYED_ACK_MS = 200;
/** PTO without an RTT sample (RFC 8985 7.2), ms. */
const INITIAL_PTO_MS = 1000;
/**
 * Added to 2 SRTT: room for the peer's turnaround on a path of a few µs
 * (Linux adds two timer ticks, TCP_TIMEOUT_MIN).
 */
const PTO_SLACK_MS = 2;

/**
 * RACK's work for one ACK (RFC 8985 6.2 steps 4 and 5, 7.4) after the log
 * has taken its cumulative and selective acknowledgments: ends a TLP
 * episode, marks what is lost, arms the reordering timer, starts fast
 * recovery or feeds PRR with `delivered` bytes.
 *
 * @example
 * ```ts ignore
 * onSackAck(conn, now, ackedBytes + newlySackedBytes);
 * ```
 */
export function onSackAck(c: TcpConnection, now: number, delivered: number): void {
  if (c.tlpEnd !== -1 && seqGe(c.sndUna, c.tlpEnd)) {
    // 7.4: the probe's episode is over. Unless a D-SACK said it repaired
    // nothing, the probe was what repaired a loss: respond as to one.
    if (c.tlpRetransmitted && !c.tlpDsack) {
      c.cc.onLoss(c.flightSize, now, true);
      c.cc.onRecoveryEnd();
      c.ctx.stats.tlpRecoveries++;
    }
    c.tlpEnd = -1;
  }
  detectLoss(c, now, delivered);
  armProbe(c, now);
}

/**
 * Marks lost what RACK says is lost and starts recovery when it first
 * finds a loss; the reordering timer covers what is not yet due.
 */
function detectLoss(c: TcpConnection, now: number, delivered: number): void {
  if (c.sack.empty && !c.inRecovery && c.rack.lostBytes === 0) {
    // Nothing above SND.UNA was delivered: nothing was sent before it.
    c.reoAt = 0;
    return;
  }
  const before = c.rack.lostBytes;
  const timeout = c.rack.detectLoss(now, c.rack.reoWnd(c.inRecovery, c.rtt.srtt));
  c.reoAt = timeout > 0 ? now + timeout : 0;
  if (c.reoAt !== 0) c.ctx.wakeAt(c, c.reoAt);
  if (c.rack.lostBytes > before) c.ctx.stats.rackLosses++;
  if (!c.inRecovery) {
    if (c.rack.lostBytes > 0) enterSackRecovery(c, now, delivered);
  } else c.prr.onAck(delivered, pipe(c), c.cc.ssthresh, c.effMss);
}

/** Fast recovery begins (RFC 6675 5, RFC 6937): cwnd falls, PRR paces. */
function enterSackRecovery(c: TcpConnection, now: number, delivered: number): void {
  const s = c.ctx.stats;
  c.inRecovery = true;
  c.recover = c.sndMax;
  c.undoMarker = c.sndUna;
  c.undoRetrans = 0;
  c.undoCwnd = c.cc.cwnd;
  c.undoSsthresh = c.cc.ssthresh;
  c.cc.onLoss(c.flightSize, now, true);
  s.fastRetransmits++;
  s.sackRecoveries++;
  c.prr.start(c.flightSize);
  c.prr.onAck(delivered, pipe(c), c.cc.ssthresh, c.effMss);
  // The first retransmission goes whatever PRR says (RFC 6937 3).
  if (c.prr.quota < c.sendRoom) c.prr.quota = c.sendRoom;
  c.ptoAt = 0;
}

/**
 * A D-SACK for `[left, right)` (RFC 2883): if it reports a retransmission
 * of the last recovery, that one was needless; once all were, the recovery
 * was spurious and its window reduction is undone (RFC 3708 with D-SACK,
 * as Linux's tcp_try_undo_dsack).
 *
 * @example
 * ```ts ignore
 * onDsack(conn, left, right);
 * ```
 */
export function onDsack(c: TcpConnection, left: number, right: number): void {
  if (c.undoMarker === -1 || seqLt(left, c.undoMarker)) return;
  c.undoRetrans -= Math.max(1, Math.ceil(seqDiff(right, left) / c.effMss));
  if (c.undoRetrans > 0) return;
  c.cc.undo(c.undoCwnd, c.undoSsthresh);
  c.undoMarker = -1;
  c.ctx.stats.recoveriesUndone++;
  if (c.inRecovery) {
    c.inRecovery = false;
    c.rack.recoveryEnded();
  }
}

/**
 * The reordering timer fired (RFC 8985 6.2 step 5): what it waited for
 * is now due.
 *
 * @example
 * ```ts ignore
 * reorderTimeout(conn, now); tcpOutput(conn);
 * ```
 */
export function reorderTimeout(c: TcpConnection, now: number): void {
  c.reoAt = 0;
  detectLoss(c, now, 0);
}

/**
 * Arms the probe timeout (RFC 8985 7.2) when a SACK connection has data
 * in flight, is not recovering, and no probe is outstanding; a PTO later
 * than the RTO is not armed, the RTO comes first.
 *
 * @example
 * ```ts ignore
 * armProbe(conn, now); // after new data went out, or an ACK came
 * ```
 */
export function armProbe(c: TcpConnection, now: number): void {
  c.ptoAt = 0;
  if (
    !c.ctx.config.tlp || !c.sackOk || c.inRecovery || c.tlpEnd !== -1 ||
    c.sndUna === c.sndMax || c.sndNxt !== c.sndMax || c.persistAt !== 0
  ) return;
  const srtt = c.rtt.srtt;
  let pto = srtt > 0 ? 2 * srtt : INITIAL_PTO_MS;
  if (c.flightSize <= c.effMss) pto += WORST_DELAYED_ACK_MS;
  const at = now + pto + PTO_SLACK_MS;
  if (c.rtoAt !== 0 && at >= c.rtoAt) return;
  c.ptoAt = at;
  c.ctx.wakeAt(c, at);
}

/**
 * The probe timeout fired (RFC 8985 7.3): send one segment of new data if
 * the window lets it go, else the last segment again, so the peer's ACK
 * brings the SACK information RACK needs; then the RTO runs as usual.
 *
 * @example
 * ```ts ignore
 * probeTimeout(conn, now);
 * ```
 */
export function probeTimeout(c: TcpConnection, now: number): void {
  c.ptoAt = 0;
  // A shut window is the persist timer's to probe.
  if (c.inRecovery || c.sndUna === c.sndMax || c.sndNxt !== c.sndMax || c.sndWnd === 0) return;
  if (c.persistAt !== 0) return;
  const avail = seqDiff(c.dataEnd, c.sndNxt);
  const room = c.sndWnd - seqDiff(c.sndNxt, c.sndUna);
  const len = Math.min(avail, c.sendRoom);
  if (avail > 0 && room >= len) {
    sendSegment(c, c.sndNxt, len, len === avail ? ACK | PSH : ACK);
    c.tlpRetransmitted = false;
  } else {
    // The highest segment sent: up to one MSS ending at SND.MAX, FIN included.
    const fin = c.finQueued && c.sndMax === seqAdd(c.dataEnd, 1);
    const top = fin ? c.dataEnd : c.sndMax;
    const n = Math.min(c.sendRoom, seqDiff(top, c.sndUna));
    sendSegment(c, seqAdd(top, -n), n, fin ? ACK | FIN : ACK);
    c.tlpRetransmitted = true;
  }
  c.ctx.stats.tailLossProbes++;
  c.tlpEnd = c.sndNxt;
  c.tlpDsack = false;
  c.rtoAt = now + c.rtt.rto;
  c.ctx.watch(c);
}

/**
 * In fast recovery: sends again what RACK judged lost, in sequence order,
 * as far as PRR's quota goes. Returns true when something was sent.
 *
 * @example
 * ```ts ignore
 * if (conn.inRecovery && conn.sackOk) retransmitLost(conn);
 * ```
 */
export function retransmitLost(c: TcpConnection): boolean {
  let sent = false;
  for (let r = c.rack.nextLost(); r !== undefined; r = c.rack.nextLost()) {
    const [seq, end] = r;
    const finEnd = c.finQueued && end === seqAdd(c.dataEnd, 1);
    const data = Math.min(seqDiff(finEnd ? c.dataEnd : end, seq), c.sendRoom);
    const fin = finEnd && seqAdd(seq, data) === c.dataEnd;
    if ((data <= 0 && !fin) || data > c.prr.allowance(c.sendRoom)) break;
    sendSegment(c, seq, data, fin ? ACK | FIN : ACK);
    sent = true;
  }
  return sent;
}
