/**
 * The budget for RFC 5961's challenge ACKs (section 7), hardened against
 * CVE-2016-5696: a blind attacker counted the challenge ACKs that a
 * shared, exact per-second budget let through. Each second's budget is
 * random in [limit/2, 3·limit/2) (Linux since 4.7), and each connection
 * has its own small budget per second (FreeBSD's ack_war_cnt per
 * ack_war_timewindow).
 *
 * @module
 */

import type { TcpConfig } from "./config.ts";
import type { Tcb } from "./tcb.ts";

/**
 * The stack-wide budget; each connection keeps its own count in its block.
 *
 * @example
 * ```ts
 * import { exampleConnection } from "../_examples.ts";
 * import { ChallengeAcks } from "./challenge_ack.ts";
 * const { conn } = await exampleConnection();
 * const budget = new ChallengeAcks({ challengeAckLimit: 1000, challengeAckPerConnection: 5 });
 * const sent = Array.from({ length: 8 }, () => budget.allow(conn, 0)).filter(Boolean).length;
 * sent; // 5: the connection's own budget for this second
 * ```
 */
export class ChallengeAcks {
  #config: Pick<TcpConfig, "challengeAckLimit" | "challengeAckPerConnection">;
  #second = -1;
  #count = 0;
  #budget = 0;

  /** A budget read from `config` (so sysctl changes apply at once). */
  constructor(config: Pick<TcpConfig, "challengeAckLimit" | "challengeAckPerConnection">) {
    this.#config = config;
  }

  /** May `c` send a challenge ACK at `now` (ms)? Counts it if so. */
  allow(c: Tcb, now: number): boolean {
    const cfg = this.#config;
    if (now - c.challengeWindowAt >= 1000) {
      c.challengeWindowAt = now;
      c.challengeCount = 0;
    }
    if (++c.challengeCount > cfg.challengeAckPerConnection) return false;
    const sec = Math.floor(now / 1000);
    if (sec !== this.#second) {
      this.#second = sec;
      this.#count = 0;
      const limit = cfg.challengeAckLimit;
      this.#budget = Math.floor(limit / 2 + Math.random() * limit);
    }
    return ++this.#count <= this.#budget;
  }
}
