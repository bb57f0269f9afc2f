/**
 * Pacing (as Linux's internal TCP pacing, `tcp_pacing_check` and
 * `tcp_update_skb_after_send`): data leaves at a rate instead of in
 * bursts as ACKs free the window, so a bottleneck with a shallow queue
 * takes a round's data without overflowing. BBR sets the rate from its
 * model; with `pacing` at 2, NewReno and CUBIC are paced at Linux's rates
 * for them (`tcp_update_pacing_rate`, as under the fq qdisc). Each data segment moves the connection's
 * clock on by its length over the rate; data waits while the clock is
 * ahead of now, and the connection wakes when it is not. The stack's
 * timers fire in whole milliseconds, so the clock may fall at most a
 * millisecond behind now: that much credit covers a late wake-up, and
 * at rates where a millisecond's data fills the window (the gigabytes a
 * second of a TUN device) pacing holds nothing back.
 *
 * @module
 */

import type { Tcb } from "./tcb.ts";

/** Credit the pacing clock keeps when it falls behind, ms (the timers' resolution). */
const CREDIT_MS = 2;
/** A paced TSO packet carries this long's data at the rate, ms (Linux's sk_pacing_shift of 1/1024 s). */
const TSO_BURST_MS = 1;
/** Loss-based windows are paced at this multiple of cwnd/SRTT in slow start (tcp_pacing_ss_ratio) ... */
const SS_RATIO = 2;
/** ... and at this one after it (tcp_pacing_ca_ratio). */
const CA_RATIO = 1.2;

/**
 * The rate `c` sends at, bytes per ms, or 0: not paced. A loss-based
 * window (with `pacing` at 2) goes at twice cwnd per SRTT while it is
 * under half of ssthresh, so that slow start may still double it each
 * round, and at 1.2 times after.
 *
 * @example
 * ```ts
 * import { exampleConnection } from "../_examples.ts";
 * import { pacingRate } from "./pacing.ts";
 * const { conn } = await exampleConnection();
 * pacingRate(conn); // 0: NewReno is paced only with net.inet.tcp.pacing=2
 * conn.ctx.config.pacing = 2;
 * pacingRate(conn) === 2 * conn.snd.cc.cwnd / conn.snd.rtt.srtt; // true: slow start
 * ```
 */
export function pacingRate(c: Tcb): number {
  const mode = c.ctx.config.pacing, cc = c.snd.cc;
  if (mode === 0) return 0;
  if (cc.pacingRate !== undefined) return cc.pacingRate;
  const srtt = c.snd.rtt.srtt;
  if (mode === 1 || srtt <= 0) return 0;
  return ((cc.cwnd < cc.ssthresh / 2 ? SS_RATIO : CA_RATIO) * cc.cwnd) / srtt;
}

/**
 * Whether data must wait for the pacing clock; if so, the connection's
 * pacing timer is armed for when it may go.
 *
 * @example
 * ```ts
 * import { exampleConnection } from "../_examples.ts";
 * import { paceWait } from "./pacing.ts";
 * const { conn, net } = await exampleConnection();
 * conn.snd.nextSendAt = net.now + 2;
 * paceWait(conn, 1000); // true: the clock is 2 ms ahead
 * conn.paceAt - net.now; // 2
 * paceWait(conn, 0); // false: not paced
 * ```
 */
export function paceWait(c: Tcb, rate: number): boolean {
  if (rate === 0 || c.snd.nextSendAt <= c.ctx.now()) return false;
  c.paceAt = c.snd.nextSendAt;
  c.ctx.wakeAt(c, c.paceAt);
  return true;
}

/**
 * `len` data bytes left at `now`: the pacing clock moves past them.
 *
 * @example
 * ```ts
 * import { exampleConnection } from "../_examples.ts";
 * import { paceSent } from "./pacing.ts";
 * const { conn, net } = await exampleConnection();
 * paceSent(conn, 3000, net.now, 1000);
 * conn.snd.nextSendAt - net.now; // 2: 3 ms of data at 1000 B/ms, less 1 ms of credit
 * ```
 */
export function paceSent(c: Tcb, len: number, now: number, rate: number): void {
  if (rate === 0) return;
  c.snd.nextSendAt = Math.max(c.snd.nextSendAt, now - CREDIT_MS) + len / rate;
}

/**
 * The most data a TSO packet carries at `rate` (Linux's tcp_tso_autosize):
 * a millisecond's worth in whole segments of `mss`, at least two, at most
 * `limit`; `limit` when not paced.
 *
 * @example
 * ```ts
 * import { pacedBurst } from "./pacing.ts";
 * pacedBurst(12_500, 1448, 65_160); // 11584: 100 Mbit/s, eight segments
 * pacedBurst(0, 1448, 65_160); // 65160: not paced
 * pacedBurst(1000, 1448, 65_160); // 2896: never fewer than two
 * ```
 */
export function pacedBurst(rate: number, mss: number, limit: number): number {
  if (rate === 0) return limit;
  const goal = rate * TSO_BURST_MS;
  return Math.min(limit, Math.max(2 * mss, goal - (goal % mss)));
}
