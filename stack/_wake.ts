// The stack's one timer for deadlines finer than its tick (tail loss
// probes, RACK's reordering window), kept in whole milliseconds.

/**
 * Runs `fire` at the earliest time asked for, at most a millisecond late.
 * Timers fire in whole milliseconds, so one already due within a
 * millisecond after a new request serves it as well as a new timer would:
 * every ACK moves a probe, and in a bulk download three re-arms in four
 * moved it earlier by 46 µs on average, each a clearTimeout and a
 * setTimeout. Delays are rounded up, so the timer never fires before the
 * time asked for only to find nothing due.
 */
export class WakeTimer<Id> {
  #clock: () => number;
  #fire: () => void;
  #set: (fn: () => void, ms: number) => Id;
  #clear: (id: Id) => void;
  #id: Id | undefined;
  /** When the pending timer fires, on the clock. */
  #at = 0;

  /** `set` and `clear` as `setTimeout` and `clearTimeout` (a test passes fakes). */
  constructor(
    clock: () => number,
    fire: () => void,
    set: (fn: () => void, ms: number) => Id,
    clear: (id: Id) => void,
  ) {
    this.#clock = clock;
    this.#fire = fire;
    this.#set = set;
    this.#clear = clear;
  }

  /** Asks for `fire` at `at` (clock milliseconds) or within a millisecond after. */
  request(at: number): void {
    if (this.#id !== undefined && this.#at < at + 1) return;
    if (this.#id !== undefined) this.#clear(this.#id);
    const now = this.#clock();
    const delay = Math.max(0, Math.ceil(at - now));
    this.#at = now + delay;
    this.#id = this.#set(() => {
      this.#id = undefined;
      this.#fire();
    }, delay);
  }

  /** Stops the pending timer, if any. */
  cancel(): void {
    if (this.#id !== undefined) this.#clear(this.#id);
    this.#id = undefined;
  }
}
