/**
 * The sender's SACK scoreboard (RFC 6675 2, RFC 2018 5): which bytes above
 * SND.UNA the peer holds (pipe's "SACKed"; RACK's log says what is lost). Ranges are kept as offsets from SND.UNA so that
 * plain numbers compare correctly; the connection shifts them as SND.UNA moves.
 *
 * @module
 */

import { insertRange, rangesLength } from "../buffers/_ranges.ts";

/**
 * Sorted, disjoint `[start, end)` offsets from SND.UNA.
 *
 * @example
 * ```ts
 * import { SackScoreboard } from "./sack.ts";
 * const s = new SackScoreboard();
 * s.add(10, 20);
 * s.add(20, 30);
 * s.sackedBytes; // 20
 * s.advance(15); // SND.UNA moved 15 bytes
 * s.sackedBytes; // 15
 * ```
 */
export class SackScoreboard {
  #r: number[] = [];
  /** Bytes marked as held by the peer. */
  sackedBytes = 0;

  /** Whether there is any SACK information. */
  get empty(): boolean {
    return this.#r.length === 0;
  }

  /** Records `[start, end)` as SACKed. */
  add(start: number, end: number): void {
    if (end <= start) return;
    insertRange(this.#r, start, end);
    this.sackedBytes = rangesLength(this.#r);
  }

  /** SND.UNA moved forward by `n`: shift and trim. */
  advance(n: number): void {
    const r = this.#r;
    let w = 0;
    for (let i = 0; i < r.length; i += 2) {
      const s = Math.max(0, r[i] - n), e = r[i + 1] - n;
      if (e <= 0) continue;
      r[w++] = s;
      r[w++] = e;
    }
    r.length = w;
    this.sackedBytes = rangesLength(r);
  }

  /** Forgets everything (RFC 6675 5.1: after an RTO the peer may renege). */
  clear(): void {
    this.#r.length = 0;
    this.sackedBytes = 0;
  }
}
