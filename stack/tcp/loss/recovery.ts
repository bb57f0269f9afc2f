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
import { sendSegment } from "../output.ts";
import { seqAdd, seqDiff, seqGe, seqLt } from "../seq.ts";
import type { Tcb } from "../tcb.ts";
import { paceWait } from "../pacing.ts";

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
 * ```ts
 * import { exampleConnection } from "../../_examples.ts";
 * import { onSackAck } from "./recovery.ts";
 * const { conn, net } = await exampleConnection();
 * onSackAck(conn, net.now, 0); // nothing lost, nothing delivered: no recovery
 * conn.snd.inRecovery; // false
 * ```
 */
export function onSackAck(c: Tcb, now: number, delivered: number): void {
  // In fast recovery the episode also ends when an ACK delivers data: the
  // probe brings no reduction there, and what is resent next, lost in turn
  // with nothing sent after it, may need a probe of its own (FreeBSD's RACK
  // too sends more than one, counting those without new data against a
  // limit).
  const progressed = c.snd.inRecovery && delivered > 0;
  if (c.snd.tlpEnd !== -1 && (seqGe(c.snd.una, c.snd.tlpEnd) || progressed)) {
    // 7.4: the probe's episode is over. Unless a D-SACK said it repaired
    // nothing, the probe was what repaired a loss: respond as to one.
    if (c.snd.tlpRetransmitted && !c.snd.tlpDsack) {
      c.snd.cc.onLoss(c.snd.flightSize, now, true);
      c.snd.cc.onRecoveryEnd();
      c.ctx.stats.tlpRecoveries++;
    }
    c.snd.tlpEnd = -1;
  }
  detectLoss(c, now, delivered);
  armProbe(c, now);
}

/**
 * Marks lost what RACK says is lost and starts recovery when it first
 * finds a loss; the reordering timer covers what is not yet due.
 */
function detectLoss(c: Tcb, now: number, delivered: number): void {
  if (c.snd.sack.empty && !c.snd.inRecovery && c.snd.rack.lostBytes === 0) {
    // Nothing above SND.UNA was delivered: nothing was sent before it.
    c.reoAt = 0;
    return;
  }
  const before = c.snd.rack.lostBytes;
  const rack = c.snd.rack;
  const timeout = rack.detectLoss(now, rack.reoWnd(c.snd.inRecovery, c.snd.rtt.srtt, c.effMss));
  c.reoAt = timeout > 0 ? now + timeout : 0;
  if (c.reoAt !== 0) c.ctx.wakeAt(c, c.reoAt);
  if (c.snd.rack.lostBytes > before) c.ctx.stats.rackLosses++;
  if (!c.snd.inRecovery) {
    if (c.snd.rack.lostBytes > 0) enterSackRecovery(c, now, delivered);
  } else c.snd.prr.onAck(delivered, c.snd.pipe, c.snd.cc.ssthresh, c.effMss);
}

/** Fast recovery begins (RFC 6675 5, RFC 6937): cwnd falls, PRR paces. */
function enterSackRecovery(c: Tcb, now: number, delivered: number): void {
  const s = c.ctx.stats;
  c.snd.inRecovery = true;
  c.snd.recover = c.snd.max;
  c.snd.undoMarker = c.snd.una;
  c.snd.undoRetrans = 0;
  c.snd.undoCwnd = c.snd.cc.cwnd;
  c.snd.undoSsthresh = c.snd.cc.ssthresh;
  c.snd.cc.onLoss(c.snd.flightSize, now, true);
  s.fastRetransmits++;
  s.sackRecoveries++;
  c.snd.prr.start(c.snd.flightSize);
  c.snd.prr.onAck(delivered, c.snd.pipe, c.snd.cc.ssthresh, c.effMss);
  // The first retransmission goes whatever PRR says (RFC 6937 3).
  if (c.snd.prr.quota < c.sendRoom) c.snd.prr.quota = c.sendRoom;
  // A probe that led here has done its work, and this reduction answers
  // what it found: its episode ends, so the recovery may probe in turn.
  c.snd.tlpEnd = -1;
  c.ptoAt = 0;
}

/**
 * A D-SACK for `[left, right)` (RFC 2883): if it reports a retransmission
 * of the last recovery, that one was needless; once all were, the recovery
 * was spurious and its window reduction is undone (RFC 3708 with D-SACK,
 * as Linux's tcp_try_undo_dsack).
 *
 * @example
 * ```ts
 * import { exampleConnection } from "../../_examples.ts";
 * import { onDsack } from "./recovery.ts";
 * const { conn } = await exampleConnection();
 * onDsack(conn, conn.snd.una - 1000, conn.snd.una); // the peer got a segment twice
 * conn.ctx.stats.recoveriesUndone; // 0: no recovery of ours to undo
 * ```
 */
export function onDsack(c: Tcb, left: number, right: number): void {
  if (c.snd.undoMarker === -1 || seqLt(left, c.snd.undoMarker)) return;
  c.snd.undoRetrans -= Math.max(1, Math.ceil(seqDiff(right, left) / c.effMss));
  if (c.snd.undoRetrans > 0) return;
  c.snd.cc.undo(c.snd.undoCwnd, c.snd.undoSsthresh);
  c.snd.undoMarker = -1;
  c.ctx.stats.recoveriesUndone++;
  if (c.snd.inRecovery) {
    c.snd.inRecovery = false;
    c.snd.rack.recoveryEnded();
  }
}

/**
 * The reordering timer fired (RFC 8985 6.2 step 5): what it waited for
 * is now due. A probe no longer armed is armed again, as after an ACK: a
 * recovery begun here cancelled it, and its first retransmission, lost
 * too with nothing sent after it, would otherwise wait for the RTO.
 *
 * @example
 * ```ts
 * import { exampleConnection } from "../../_examples.ts";
 * import { reorderTimeout } from "./recovery.ts";
 * const { conn, net } = await exampleConnection();
 * reorderTimeout(conn, net.now);
 * conn.reoAt; // 0: nothing waited in the reordering window
 * ```
 */
export function reorderTimeout(c: Tcb, now: number): void {
  c.reoAt = 0;
  detectLoss(c, now, 0);
  if (c.ptoAt === 0) armProbe(c, now);
}

/**
 * Arms the probe timeout (RFC 8985 7.2) when a SACK connection has data
 * in flight and no probe is outstanding; a PTO later than the RTO is not
 * armed, the RTO comes first. Unlike RFC 8985, and as FreeBSD's RACK
 * (rack_tlp_in_recovery), also in fast recovery: a lost retransmission
 * with nothing sent after it is otherwise found only by the RTO, and
 * where the path loses whole TSO packets that is most recoveries' tail.
 *
 * @example
 * ```ts
 * import { exampleConnection } from "../../_examples.ts";
 * import { send } from "../user.ts";
 * const { conn, net } = await exampleConnection();
 * send(conn, new Uint8Array(5000), 0, 5000); // calls armProbe after sending
 * conn.ptoAt - net.now < conn.rtoAt - net.now; // true: a tail loss probe comes before the RTO
 * ```
 */
export function armProbe(c: Tcb, now: number): void {
  c.ptoAt = 0;
  if (
    !c.ctx.config.tlp || !c.sackOk || c.snd.tlpEnd !== -1 ||
    c.snd.una === c.snd.max || c.snd.nxt !== c.snd.max || c.persistAt !== 0
  ) return;
  const srtt = c.snd.rtt.srtt;
  let pto = srtt > 0 ? 2 * srtt : INITIAL_PTO_MS;
  // In recovery the peer holds data out of order and ACKs at once
  // (RFC 5681 4.2), so a lone segment's ACK is not delayed.
  if (c.snd.flightSize <= c.effMss && !c.snd.inRecovery) pto += WORST_DELAYED_ACK_MS;
  const at = now + pto + PTO_SLACK_MS;
  if (c.rtoAt !== 0 && at >= c.rtoAt) return;
  c.ptoAt = at;
  c.ctx.wakeAt(c, at);
}

/**
 * The probe timeout fired (RFC 8985 7.3): send one segment of new data if
 * the window lets it go, else the last segment again, so the peer's ACK
 * brings the SACK information RACK needs; then the RTO runs as usual. In
 * fast recovery the segment sent again is the first hole's, what the RTO
 * would send; the recovery has already answered the loss, so the probe
 * episode brings no second window reduction.
 *
 * @example
 * ```ts
 * import { exampleConnection } from "../../_examples.ts";
 * import { send } from "../user.ts";
 * import { probeTimeout } from "./recovery.ts";
 * const { conn, net } = await exampleConnection();
 * send(conn, new Uint8Array(5000), 0, 5000);
 * probeTimeout(conn, conn.ptoAt); // no ACK came in time: probe with the last segment
 * conn.ctx.stats.tailLossProbes; // 1
 * ```
 */
export function probeTimeout(c: Tcb, now: number): void {
  c.ptoAt = 0;
  // A shut window is the persist timer's to probe.
  if (c.snd.una === c.snd.max || c.snd.nxt !== c.snd.max || c.snd.wnd === 0) return;
  if (c.persistAt !== 0) return;
  const avail = seqDiff(c.snd.dataEnd, c.snd.nxt);
  const room = c.snd.wnd - seqDiff(c.snd.nxt, c.snd.una);
  const len = Math.min(avail, c.sendRoom);
  const fin = c.snd.finQueued && c.snd.max === seqAdd(c.snd.dataEnd, 1);
  if (avail > 0 && room >= len) {
    sendSegment(c, c.snd.nxt, len, len === avail ? ACK | PSH : ACK);
    c.snd.tlpRetransmitted = false;
  } else if (c.snd.inRecovery) {
    // Up to one MSS from SND.UNA within the first hole, FIN included.
    let holeEnd = c.snd.rack.firstHoleEnd();
    if (holeEnd === -1) holeEnd = c.snd.max;
    const finInHole = fin && holeEnd === c.snd.max;
    const n = Math.min(c.sendRoom, seqDiff(finInHole ? c.snd.dataEnd : holeEnd, c.snd.una));
    const withFin = finInHole && seqAdd(c.snd.una, n) === c.snd.dataEnd;
    sendSegment(c, c.snd.una, n, withFin ? ACK | FIN : ACK);
    c.snd.tlpRetransmitted = false;
  } else {
    // The highest segment sent: up to one MSS ending at SND.MAX, FIN included.
    const top = fin ? c.snd.dataEnd : c.snd.max;
    const n = Math.min(c.sendRoom, seqDiff(top, c.snd.una));
    sendSegment(c, seqAdd(top, -n), n, fin ? ACK | FIN : ACK);
    c.snd.tlpRetransmitted = true;
  }
  c.ctx.stats.tailLossProbes++;
  c.snd.tlpEnd = c.snd.nxt;
  c.snd.tlpDsack = false;
  c.rtoAt = now + c.snd.rtt.rto;
  c.ctx.watch(c);
}

/**
 * In fast recovery: sends again what RACK judged lost, in sequence order,
 * in packets of up to `maxSeg` bytes (TSO), as far as PRR's quota (or
 * BBR's window) goes and pacing at `rate` (bytes per ms, 0: none) lets
 * it. Returns true when something was sent.
 *
 * @example
 * ```ts
 * import { exampleConnection } from "../../_examples.ts";
 * import { retransmitLost } from "./recovery.ts";
 * const { conn } = await exampleConnection();
 * retransmitLost(conn); // false: RACK judged nothing lost
 * ```
 */
export function retransmitLost(c: Tcb, maxSeg = c.sendRoom, rate = 0): boolean {
  let sent = false;
  const full = c.sendRoom;
  for (let r = c.snd.rack.nextLost(); r !== undefined; r = c.snd.rack.nextLost()) {
    const [seq, end] = r;
    const finEnd = c.snd.finQueued && end === seqAdd(c.snd.dataEnd, 1);
    let data = Math.min(seqDiff(finEnd ? c.snd.dataEnd : end, seq), maxSeg);
    // As Linux resends a lost TSO packet whole: a lost 64 KB range goes
    // again as one packet where the allowance covers it, else as many
    // whole segments as it does.
    const allowance = c.snd.recoveryAllowance(full);
    if (data > allowance) data = allowance >= full ? allowance - (allowance % full) : 0;
    const fin = finEnd && seqAdd(seq, data) === c.snd.dataEnd;
    if (data <= 0 && !fin) break;
    if (data > 0 && paceWait(c, rate)) break;
    sendSegment(c, seq, data, fin ? ACK | FIN : ACK);
    sent = true;
  }
  return sent;
}
