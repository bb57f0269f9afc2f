/**
 * RACK-TLP loss detection (RFC 8985) over the sender's transmission log.
 *
 * The log holds every sent and not yet cumulatively acknowledged range in
 * sequence order, with the time it was last sent and whether it was
 * retransmitted, SACKed or judged lost, and a send counter: RACK's "sent
 * after" compares that (RFC 8985 compares times, then sequence numbers, which
 * puts a retransmission wrongly before new data sent within the same clock
 * tick, as on a millisecond clock). RACK judges by time, not by counting
 * duplicates: a segment is lost once a segment sent after it was delivered
 * and a round trip plus the reordering window has passed since it was sent.
 * That finds lost retransmissions without a timeout, and a tail loss probe
 * (section 7) turns the loss of a flight's last segments into SACK
 * recovery instead of an RTO. Time is passed in, in ms.
 *
 * @module
 */

import { DeliveryRate } from "../cc/delivery_rate.ts";
import { seqGe, seqGt, seqLe, seqLt } from "../seq.ts";

const RETRANSMITTED = 1;
const SACKED = 2;
const LOST = 4;
/** Sent in an application-limited stretch (the delivery rate's P.is_app_limited). */
const APP_LIMITED = 8;

/** RFC 8985 6.2 step 4: DupThresh, in segments (RFC 6675's, also in bytes). */
const DUP_THRESH = 3;
/** RFC 8985 6.2 step 4: DSACK-free recoveries before the window shrinks back. */
const REO_WND_PERSIST = 16;

/**
 * The transmission log and RACK's state (RFC 8985 6.1).
 *
 * @example
 * ```ts
 * import { Rack } from "./rack.ts";
 * const r = new Rack();
 * r.sent(1000, 2000, 0); // [1000, 2000) at t = 0
 * r.sent(2000, 3000, 1);
 * r.sacked(2000, 3000, 3); // the later segment arrived: a 2 ms round trip
 * r.detectLoss(3, 2); // 1: with a 2 ms reordering window, look again in 1 ms
 * r.lostBytes; // 0
 * r.detectLoss(4, 2); // 0: now the first is lost
 * r.lostBytes; // 1000
 * r.nextLost(); // [1000, 2000]
 * ```
 */
export class Rack {
  // Columns, one row per range, in sequence order.
  #seq: number[] = [];
  #end: number[] = [];
  #time: number[] = [];
  #order: number[] = [];
  #flags: number[] = [];
  // The delivery rate's stamps of each row's last transmission (P.delivered,
  // P.delivered_time, P.first_sent_time).
  #dlv: number[] = [];
  #dlvTime: number[] = [];
  #firstSent: number[] = [];
  /** Sends so far: the order of each row's last transmission. */
  #sends = 0;

  /** The delivery rate estimator the log stamps and feeds. */
  readonly rate: DeliveryRate = new DeliveryRate();
  /** Bytes judged lost and not retransmitted since (RFC 6675 pipe's "lost"). */
  lostBytes = 0;
  /** Ranges SACKed in the log (for the DupThresh rule). */
  #sackedSegments = 0;
  /** Bytes SACKed in the log: a TSO range is many segments. */
  #sackedBytes = 0;
  /** RACK.xmit_ts: send time of the most recently sent delivered segment, or -1. */
  #xmitTs = -1;
  /** Send order of that segment (in place of RACK.end_seq). */
  #xmitOrder = 0;
  /** RACK.rtt: round trip measured on it, ms. */
  #rtt = 0;
  /** RACK.min_RTT, ms. */
  minRtt = Infinity;
  /** RACK.fack: highest end sequence delivered (cumulatively or by SACK). */
  #fack = -1;
  /** Some segment was delivered after one sent later (reordering seen). */
  reorderingSeen = false;
  /** RACK.reo_wnd_mult, grown by D-SACKs. */
  #reoWndMult = 1;
  #reoWndPersist = 0;
  /** RACK.dsack_round: SND.NXT when the last D-SACK grew the window, or -1. */
  #dsackRound = -1;

  /**
   * `[seq, end)` was sent at `now`: appended when new, else the ranges it
   * covers are marked retransmitted and no longer lost.
   */
  sent(seq: number, end: number, now: number): void {
    const n = this.#seq.length;
    const order = ++this.#sends;
    const rate = this.rate;
    if (n === 0) rate.restart(now);
    const app = rate.appLimited ? APP_LIMITED : 0;
    if (n === 0 || seqGe(seq, this.#end[n - 1])) {
      this.#push(n, seq, end, now, order, app);
      return;
    }
    for (let i = this.#split(seq); i < this.#seq.length && seqLt(this.#seq[i], end); i++) {
      if (seqGt(this.#end[i], end)) this.#splitAt(i, end);
      const f = this.#flags[i];
      if (f & SACKED) continue;
      if (f & LOST) this.lostBytes -= (this.#end[i] - this.#seq[i]) >>> 0;
      this.#flags[i] = ((f | RETRANSMITTED) & ~(LOST | APP_LIMITED)) | app;
      this.#time[i] = now;
      this.#order[i] = order;
      this.#dlv[i] = rate.deliveredBytes;
      this.#dlvTime[i] = rate.deliveredTime;
      this.#firstSent[i] = rate.firstSentTime;
    }
    if (seqGt(end, this.#end[this.#seq.length - 1])) {
      this.#push(this.#seq.length, this.#end[this.#seq.length - 1], end, now, order, app);
    }
  }

  /** SND.UNA moved to `una` at `now`: what it passed is delivered. */
  acked(una: number, now: number, srtt: number): void {
    let k = 0;
    const n = this.#seq.length;
    while (k < n && seqLe(this.#end[k], una)) {
      const f = this.#flags[k];
      if (f & SACKED) {
        this.#sackedSegments--;
        this.#sackedBytes -= (this.#end[k] - this.#seq[k]) >>> 0;
      } else {
        if (f & LOST) this.lostBytes -= (this.#end[k] - this.#seq[k]) >>> 0;
        this.#delivered(k, now, srtt, (this.#end[k] - this.#seq[k]) >>> 0);
      }
      k++;
    }
    if (k > 0) {
      this.#seq.splice(0, k);
      this.#end.splice(0, k);
      this.#time.splice(0, k);
      this.#order.splice(0, k);
      this.#flags.splice(0, k);
      this.#dlv.splice(0, k);
      this.#dlvTime.splice(0, k);
      this.#firstSent.splice(0, k);
    }
    if (this.#seq.length > 0 && seqLt(this.#seq[0], una)) {
      // Part of a range: the rest stays, and counts as delivered news.
      const f = this.#flags[0];
      if (f & LOST) this.lostBytes -= (una - this.#seq[0]) >>> 0;
      if (f & SACKED) this.#sackedBytes -= (una - this.#seq[0]) >>> 0;
      else this.#delivered(0, now, srtt, (una - this.#seq[0]) >>> 0);
      this.#seq[0] = una;
    }
    if (this.#dsackRound !== -1 && seqGe(una, this.#dsackRound)) this.#dsackRound = -1;
  }

  /** The peer SACKed `[left, right)` (RFC 2018) at `now`. */
  sacked(left: number, right: number, now: number, srtt = Infinity): void {
    for (let i = this.#split(left); i < this.#seq.length && seqLt(this.#seq[i], right); i++) {
      if (seqGt(this.#end[i], right)) this.#splitAt(i, right);
      const f = this.#flags[i];
      if (f & SACKED) continue;
      if (f & LOST) this.lostBytes -= (this.#end[i] - this.#seq[i]) >>> 0;
      this.#delivered(i, now, srtt, (this.#end[i] - this.#seq[i]) >>> 0);
      this.#flags[i] = (f | SACKED) & ~LOST;
      this.#sackedSegments++;
      this.#sackedBytes += (this.#end[i] - this.#seq[i]) >>> 0;
    }
  }

  /**
   * A D-SACK arrived (RFC 2883): a retransmission was needless; the window
   * grows for this round (RFC 8985 6.2 step 4). `reordered`: it was a fast
   * retransmission's, so the original came late, which is reordering (as
   * Linux finds it when an undo sees the hole filled by the original); a
   * tail loss probe's only says the tail was not lost.
   */
  dsack(sndNxt: number, reordered: boolean): void {
    if (reordered) this.reorderingSeen = true;
    if (this.#dsackRound !== -1) return;
    this.#dsackRound = sndNxt;
    this.#reoWndMult++;
    this.#reoWndPersist = REO_WND_PERSIST;
  }

  /** A recovery (fast or timeout) ended without D-SACK news. */
  recoveryEnded(): void {
    if (--this.#reoWndPersist <= 0) this.#reoWndMult = 1;
  }

  /**
   * RFC 8985 6.2 step 4: the reordering window, ms. DupThresh SACKed
   * segments count as RFC 6675's IsLost counts them: that many ranges, or
   * more than DupThresh - 1 segments of `smss` bytes.
   */
  reoWnd(inRecovery: boolean, srtt: number, smss: number): number {
    const dupThresh = this.#sackedSegments >= DUP_THRESH ||
      this.#sackedBytes > (DUP_THRESH - 1) * smss;
    if (!this.reorderingSeen && (inRecovery || dupThresh)) return 0;
    if (this.minRtt === Infinity) return 0;
    return Math.min((this.#reoWndMult * this.minRtt) / 4, srtt);
  }

  /**
   * RFC 8985 6.2 step 5: marks lost every range sent before the most
   * recently delivered one and older than its round trip plus `reoWnd`.
   * Returns when to look again (the reordering timer, ms from now), or 0.
   */
  detectLoss(now: number, reoWnd: number): number {
    if (this.#xmitTs < 0) return 0;
    let timeout = 0;
    for (let i = 0; i < this.#seq.length; i++) {
      const f = this.#flags[i];
      if (f & (SACKED | LOST)) continue;
      // RACK_sent_after: only what was sent before the delivered segment.
      if (this.#order[i] >= this.#xmitOrder) continue;
      const t = this.#time[i];
      const remaining = t + this.#rtt + reoWnd - now;
      if (remaining <= 0) {
        this.#flags[i] = f | LOST;
        this.lostBytes += (this.#end[i] - this.#seq[i]) >>> 0;
      } else if (remaining > timeout) timeout = remaining;
    }
    return timeout;
  }

  /** The first range judged lost and not retransmitted since, as `[seq, end]`, or undefined. */
  nextLost(): [number, number] | undefined {
    if (this.lostBytes === 0) return undefined;
    for (let i = 0; i < this.#seq.length; i++) {
      if (this.#flags[i] & LOST) return [this.#seq[i], this.#end[i]];
    }
    return undefined;
  }

  /**
   * End of the first hole: of the ranges from the first on that are not
   * SACKed, or -1 when there are none (an empty log, or a peer that
   * SACKed SND.UNA itself).
   */
  firstHoleEnd(): number {
    let i = 0;
    while (i < this.#seq.length && !(this.#flags[i] & SACKED)) i++;
    return i === 0 ? -1 : this.#end[i - 1];
  }

  /**
   * Three duplicate ACKs without SACK blocks: the first range is lost
   * (RFC 5681 3.2's fast retransmit, for a peer that sends no blocks).
   */
  markFirstLost(): void {
    if (this.#seq.length === 0 || this.#flags[0] & (SACKED | LOST)) return;
    this.#flags[0] |= LOST;
    this.lostBytes += (this.#end[0] - this.#seq[0]) >>> 0;
  }

  /**
   * A retransmission timeout: the SACK marks go with the scoreboard (the
   * peer may have reneged) and nothing is judged lost any more, since going
   * back to SND.UNA resends it all (RFC 8985 6.3's "all lost", done by
   * the sender rather than the log).
   */
  timedOut(): void {
    this.lostBytes = 0;
    this.#sackedSegments = this.#sackedBytes = 0;
    for (let i = 0; i < this.#seq.length; i++) this.#flags[i] &= ~(SACKED | LOST);
  }

  /** `bytes` of row `i` were just delivered: the rate sample, then RFC 8985 6.2 steps 2 and 3. */
  #delivered(i: number, now: number, srtt: number, bytes: number): void {
    const t = this.#time[i], end = this.#end[i], order = this.#order[i], f = this.#flags[i];
    this.rate.delivered(
      bytes,
      now,
      order,
      t,
      this.#dlv[i],
      this.#dlvTime[i],
      this.#firstSent[i],
      (f & APP_LIMITED) !== 0,
      (f & RETRANSMITTED) !== 0,
    );
    const rtt = now - t;
    if (f & RETRANSMITTED) {
      // The ACK may be for the original: only a round trip that cannot be
      // shorter than the path's counts (step 2, without timestamps' help).
      if (rtt < Math.min(this.minRtt, srtt)) return;
    } else if (rtt < this.minRtt) this.minRtt = rtt;
    this.#rtt = rtt;
    if (order > this.#xmitOrder) {
      this.#xmitTs = t;
      this.#xmitOrder = order;
    }
    // Step 3: delivered below the highest delivered sequence: reordering
    // (a retransmission filling a hole is no evidence of it).
    if (this.#fack !== -1 && seqLt(end, this.#fack)) {
      if (!(this.#flags[i] & RETRANSMITTED)) this.reorderingSeen = true;
    } else this.#fack = end;
  }

  /** Index of the first row ending after `seq`, split so that it starts at `seq`. */
  #split(seq: number): number {
    let i = 0;
    while (i < this.#seq.length && seqLe(this.#end[i], seq)) i++;
    if (i < this.#seq.length && seqLt(this.#seq[i], seq)) {
      this.#splitAt(i, seq);
      i++;
    }
    return i;
  }

  /** Cuts row `i` at `at` into two rows with the same time and flags. */
  #splitAt(i: number, at: number): void {
    const f = this.#flags[i];
    this.#push(i + 1, at, this.#end[i], this.#time[i], this.#order[i], f);
    this.#dlv[i + 1] = this.#dlv[i];
    this.#dlvTime[i + 1] = this.#dlvTime[i];
    this.#firstSent[i + 1] = this.#firstSent[i];
    this.#end[i] = at;
    if (f & SACKED) this.#sackedSegments++;
  }

  /** Inserts a row at `i`, stamped with the delivery rate's state now. */
  #push(i: number, seq: number, end: number, time: number, order: number, flags: number): void {
    const r = this.rate;
    if (i === this.#seq.length) {
      // New data, every sent segment: push allocates nothing, splice an empty array each.
      this.#seq.push(seq);
      this.#end.push(end);
      this.#time.push(time);
      this.#order.push(order);
      this.#flags.push(flags);
      this.#dlv.push(r.deliveredBytes);
      this.#dlvTime.push(r.deliveredTime);
      this.#firstSent.push(r.firstSentTime);
      return;
    }
    this.#seq.splice(i, 0, seq);
    this.#end.splice(i, 0, end);
    this.#time.splice(i, 0, time);
    this.#order.splice(i, 0, order);
    this.#flags.splice(i, 0, flags);
    this.#dlv.splice(i, 0, r.deliveredBytes);
    this.#dlvTime.splice(i, 0, r.deliveredTime);
    this.#firstSent.splice(i, 0, r.firstSentTime);
  }
}
