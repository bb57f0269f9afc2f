/**
 * Path-MTU black-hole detection, as FreeBSD's `tcp_timer_rexmt` does it
 * (`net.inet.tcp.pmtud_blackhole_detection`, off by default): a path that
 * drops our full-size segments without sending "fragmentation needed" or
 * "packet too big" (a firewall eating ICMP, RFC 2923 2.1) looks like a dead
 * path to path-MTU discovery. The packetization layer finds it instead
 * (RFC 4821 2, RFC 8899 4.3's black-hole detection): at the second timeout
 * in a row of a flight holding a full segment, the MSS drops to the
 * black-hole MSS (1200 / 1220); at the fourth, to the protocol's minimum
 * (536 / 1220); if the sixth still goes unanswered the path is dead for
 * another reason and the old MSS comes back. Each stage gets two RTOs to
 * prove itself, so a lone loss never shrinks segments.
 *
 * @module
 */

import type { Tcb } from "../tcb.ts";

/** The smallest MSS black-hole detection goes down to (FreeBSD's tcp_mssdflt / tcp_v6mssdflt). */
export function minimumMss(addrLen: number): number {
  return addrLen === 4 ? 536 : 1220;
}

/**
 * Called at each retransmission timeout of `c`, after `c.snd.retries` counted
 * it: lowers or restores the MSS as the stage requires.
 *
 * @example
 * ```ts
 * import { onTimeoutBlackhole } from "./pmtud_blackhole.ts";
 * import { newTcpStats } from "../stats.ts";
 * import { DEFAULT_TCP_CONFIG } from "../config.ts";
 * const c = {
 *   state: "ESTABLISHED",
 *   snd: { retries: 2, mss: 1460, flightSize: 30_000, blackholeSavedMss: 0 },
 *   remote: new Uint8Array(4),
 *   ctx: { config: { ...DEFAULT_TCP_CONFIG, pmtudBlackholeDetection: true }, stats: newTcpStats() },
 * };
 * onTimeoutBlackhole(c as never);
 * c.snd.mss; // 1200
 * ```
 */
export function onTimeoutBlackhole(c: Tcb): void {
  const cfg = c.ctx.config;
  if (!cfg.pmtudBlackholeDetection) return;
  if (c.state !== "ESTABLISHED" && c.state !== "FIN-WAIT-1") return;
  const s = c.ctx.stats.pmtudBlackhole;
  const shift = c.snd.retries;
  const min = minimumMss(c.remote.length);
  if (
    shift >= 2 && shift < 6 && shift % 2 === 0 && c.snd.flightSize >= c.snd.mss && c.snd.mss > min
  ) {
    if (c.snd.blackholeSavedMss === 0) c.snd.blackholeSavedMss = c.snd.mss;
    const first = c.remote.length === 4 ? cfg.pmtudBlackholeMss : cfg.v6PmtudBlackholeMss;
    if (c.snd.mss > first) {
      c.snd.mss = first;
      s.activated++;
    } else {
      c.snd.mss = min;
      s.activatedMinMss++;
    }
  } else if (shift >= 6 && c.snd.blackholeSavedMss !== 0) {
    c.snd.mss = c.snd.blackholeSavedMss;
    c.snd.blackholeSavedMss = 0;
    s.failed++;
  }
}
