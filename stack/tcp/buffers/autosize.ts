/**
 * Socket-buffer autosizing: a buffer grows while a round trip's worth of
 * data no longer fits it. FreeBSD's tcp_autorcvbuf measures the bytes that
 * arrive in half a round trip and grows the receive buffer by half once
 * they pass three eighths of it (the peer sends three quarters of the
 * window per round trip); the send side here takes the same measure of the
 * bytes acknowledged. Measures last at least {@linkcode MEASURE_MIN_MS}.
 *
 * @module
 */

/**
 * Shortest measure, ms. FreeBSD counts packets as they arrive; the packet
 * loop handles them in batches, and one batch after a busy turn can hold a
 * whole window read in microseconds. Over a path of a millisecond or less
 * half a round trip would catch such a burst and call it the rate: buffers
 * of megabytes that only cost cache (uploads measured slower). Over 10 ms
 * the bursts average out, and the rate is compared per half round trip.
 */
export const MEASURE_MIN_MS = 10;

/**
 * Bytes per half round trip, measured against a buffer's capacity.
 *
 * @example
 * ```ts
 * import { RoundTripMeter } from "./autosize.ts";
 * const m = new RoundTripMeter();
 * m.count(300_000, 0, 100, 1 << 20); // false: the measure began
 * m.count(200_000, 40, 100, 1 << 20); // false: half the 100 ms round trip not yet over
 * m.count(1000, 51, 100, 1 << 20); // true: 500 KB in it, over three eighths of 1 MiB
 * ```
 */
export class RoundTripMeter {
  #since = -1;
  #bytes = 0;

  /**
   * Counts `n` bytes at `now` (ms). Once half of `rtt` (and at least
   * {@linkcode MEASURE_MIN_MS}) has passed since the measure began, says
   * whether more than three eighths of `capacity` came per half round trip,
   * and the next `count` begins a new measure. An `rtt` of 0 (no sample
   * yet) only counts.
   */
  count(n: number, now: number, rtt: number, capacity: number): boolean {
    if (this.#since < 0) this.#since = now;
    const elapsed = now - this.#since;
    if (rtt === 0 || elapsed <= Math.max(rtt / 2, MEASURE_MIN_MS)) {
      this.#bytes += n;
      return false;
    }
    const full = this.#bytes * (rtt / 2) / elapsed > capacity / 8 * 3;
    this.#since = -1;
    this.#bytes = 0;
    return full;
  }
}

/**
 * The capacity after one step of growth: half as much again, in whole
 * `seg`-byte segments, at most `max`; `capacity` itself when that is no more.
 *
 * @example
 * ```ts
 * import { grownCapacity } from "./autosize.ts";
 * grownCapacity(1 << 20, 1460, 6 << 20); // 1572420
 * grownCapacity(6 << 20, 1460, 6 << 20); // 6291456: at the cap
 * ```
 */
export function grownCapacity(capacity: number, seg: number, max: number): number {
  let next = Math.min(max, capacity + capacity / 2);
  next -= next % seg;
  return next > capacity ? next : capacity;
}
