/**
 * Link impairment, in the spirit of smoltcp's FaultInjector and Linux's
 * netem: packets between the stack and its link are dropped, duplicated,
 * corrupted, marked CE, delayed, reordered or held to a rate, each
 * direction on its own, from a seeded generator, every decision counted.
 * Time is passed in.
 *
 * A spec is a comma-separated list of `key=value`; a key prefixed `in:`
 * acts on packets the stack receives, `out:` on those it sends, a bare key
 * on both: `drop=1%,out:delay=20ms,jitter=5ms,rate=100mbit,seed=7`.
 *
 * @module
 */

import type { Link, PacketHandler } from "./link.ts";
import { rng } from "./sim.ts";
import { isEct, markCe } from "./wire/ecn.ts";

/** What one direction does to its packets. */
export interface ImpairmentSpec {
  /** Probability a packet is lost. */
  drop: number;
  /** Probability a packet is delivered twice. */
  duplicate: number;
  /** Probability a packet is held back by `reorderMs`, so later ones pass it. */
  reorder: number;
  /** How long a reordered packet is held back, ms. */
  reorderMs: number;
  /** Probability one bit of a packet is flipped. */
  corrupt: number;
  /**
   * Probability an ECN-capable (ECT) packet is marked CE, as an AQM marks
   * where it would drop (RFC 3168 5); Not-ECT packets pass untouched.
   */
  ce: number;
  /** Fixed one-way delay, ms. */
  delayMs: number;
  /** Uniform random delay added to `delayMs`, ±ms (never below zero). */
  jitterMs: number;
  /** Bottleneck rate, bits per second (0: unlimited). */
  rateBps: number;
  /** Packets the rate's queue holds before it drops (tail drop). */
  limit: number;
}

/** A parsed `--impair` spec: both directions and the seed. */
export interface ImpairmentPlan {
  /** Packets the stack receives. */
  in: ImpairmentSpec;
  /** Packets the stack sends. */
  out: ImpairmentSpec;
  /** Seed of the generator: the same seed, the same decisions. */
  seed: number;
}

/** What one direction did, counted. */
// A type, not an interface, so that it fits a CounterTree.
export type ImpairmentCounters = {
  /** Packets offered. */
  packets: number;
  /** Lost by `drop`. */
  dropped: number;
  /** Lost because the rate's queue was full. */
  queueDrops: number;
  /** Delivered twice. */
  duplicated: number;
  /** Held back so later packets overtake them. */
  reordered: number;
  /** With one bit flipped. */
  corrupted: number;
  /** ECT packets marked CE. */
  marked: number;
  /** Held for delay, jitter or rate before delivery. */
  delayed: number;
};

/** The spec of a direction that does nothing. */
export function noImpairment(): ImpairmentSpec {
  return {
    drop: 0,
    duplicate: 0,
    reorder: 0,
    reorderMs: 2,
    corrupt: 0,
    ce: 0,
    delayMs: 0,
    jitterMs: 0,
    rateBps: 0,
    limit: 1000,
  };
}

const PROBABILITY_KEYS = {
  drop: "drop",
  dup: "duplicate",
  reorder: "reorder",
  corrupt: "corrupt",
  ce: "ce",
} as const;
const TIME_KEYS = { delay: "delayMs", jitter: "jitterMs", "reorder-delay": "reorderMs" } as const;
const RATE_UNITS: Record<string, number> = { bit: 1, kbit: 1e3, mbit: 1e6, gbit: 1e9 };

function probability(key: string, v: string): number {
  const m = /^(\d+(?:\.\d+)?)(%?)$/.exec(v);
  const p = m === null ? NaN : Number(m[1]) / (m[2] === "%" ? 100 : 1);
  if (!(p >= 0 && p <= 1)) {
    throw new RangeError(
      `Invalid impairment: ${key}=${v} (a probability such as 1% or 0.01, at most 100%)`,
    );
  }
  return p;
}

function milliseconds(key: string, v: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|us|s)$/.exec(v);
  if (m === null) {
    throw new RangeError(`Invalid impairment: ${key}=${v} (a time such as 20ms, 500us or 1s)`);
  }
  const ms = Number(m[1]) * (m[2] === "s" ? 1000 : m[2] === "us" ? 0.001 : 1);
  if (ms > 60_000) throw new RangeError(`Invalid impairment: ${key}=${v} (at most 60s)`);
  return ms;
}

/**
 * Parses an impairment spec (see the module doc). Throws a RangeError that
 * names the bad item.
 *
 * @example
 * ```ts
 * import { parseImpairment } from "./impair.ts";
 * const p = parseImpairment("drop=1%,out:delay=20ms,seed=7");
 * p.in.drop; // 0.01
 * p.out.delayMs; // 20
 * p.in.delayMs; // 0
 * ```
 */
export function parseImpairment(text: string): ImpairmentPlan {
  const plan: ImpairmentPlan = { in: noImpairment(), out: noImpairment(), seed: 1 };
  if (text.trim() === "") throw new RangeError("Invalid impairment: the spec is empty");
  for (const item of text.split(",")) {
    const m = /^(?:(in|out):)?([a-z-]+)=(.+)$/.exec(item.trim());
    if (m === null) {
      throw new RangeError(`Invalid impairment: "${item}" (expected [in:|out:]key=value)`);
    }
    const [, dir, key, v] = m;
    const targets = dir === "in" ? [plan.in] : dir === "out" ? [plan.out] : [plan.in, plan.out];
    if (key === "seed") {
      if (dir !== undefined || !/^\d{1,10}$/.test(v)) {
        throw new RangeError(`Invalid impairment: ${item} (seed=N, for both directions)`);
      }
      plan.seed = Number(v);
    } else if (key in PROBABILITY_KEYS) {
      const p = probability(key, v);
      for (const t of targets) t[PROBABILITY_KEYS[key as keyof typeof PROBABILITY_KEYS]] = p;
    } else if (key in TIME_KEYS) {
      const ms = milliseconds(key, v);
      for (const t of targets) t[TIME_KEYS[key as keyof typeof TIME_KEYS]] = ms;
    } else if (key === "rate") {
      const r = /^(\d+(?:\.\d+)?)(bit|kbit|mbit|gbit)$/.exec(v);
      const bps = r === null ? NaN : Number(r[1]) * RATE_UNITS[r[2]];
      if (!(bps >= 8000)) {
        throw new RangeError(
          `Invalid impairment: rate=${v} (a rate such as 100mbit, at least 8kbit)`,
        );
      }
      for (const t of targets) t.rateBps = bps;
    } else if (key === "limit") {
      if (!/^\d{1,6}$/.test(v) || Number(v) < 1) {
        throw new RangeError(`Invalid impairment: limit=${v} (packets, 1 to 999999)`);
      }
      for (const t of targets) t.limit = Number(v);
    } else {
      throw new RangeError(
        `Invalid impairment: unknown key "${key}" (drop, dup, reorder, reorder-delay, corrupt, ce, delay, jitter, rate, limit, seed)`,
      );
    }
  }
  return plan;
}

/** Whether `s` changes anything. */
function active(s: ImpairmentSpec): boolean {
  return s.drop > 0 || s.duplicate > 0 || s.reorder > 0 || s.corrupt > 0 || s.ce > 0 ||
    s.delayMs > 0 || s.jitterMs > 0 || s.rateBps > 0;
}

interface Held {
  at: number;
  order: number;
  packet: Uint8Array<ArrayBuffer>;
}

/**
 * One direction's impairment: decides each packet's fate and holds the
 * delayed ones until {@linkcode Impairer.release} is called at or after
 * their time. Delivered packets are copies only when held or changed.
 *
 * @example
 * ```ts
 * import { Impairer, noImpairment } from "./impair.ts";
 * const out: number[] = [];
 * const spec = { ...noImpairment(), delayMs: 5 };
 * const imp = new Impairer(spec, Math.random, (p) => out.push(p.length));
 * imp.offer(new Uint8Array(40), 40, 0);
 * imp.release(4); // not yet
 * imp.release(5);
 * out; // [40]
 * ```
 */
export class Impairer {
  /** What this direction did. */
  readonly counters: ImpairmentCounters = {
    packets: 0,
    dropped: 0,
    queueDrops: 0,
    duplicated: 0,
    reordered: 0,
    corrupted: 0,
    marked: 0,
    delayed: 0,
  };
  readonly #spec: ImpairmentSpec;
  readonly #random: () => number;
  readonly #deliver: (packet: Uint8Array<ArrayBuffer>, len: number) => void;
  #held: Held[] = [];
  #order = 0;
  /** When the rate's wire is free again, ms. */
  #wireFreeAt = 0;
  /**
   * When each packet given to the rate's wire has left it, ms, oldest
   * first: those not yet gone are the queue `limit` bounds. Packets only
   * delayed are on the wire, not in its queue.
   */
  #wireEnds: number[] = [];

  /** `deliver` receives each packet that survives, when its time comes. */
  constructor(
    spec: ImpairmentSpec,
    random: () => number,
    deliver: (packet: Uint8Array<ArrayBuffer>, len: number) => void,
  ) {
    this.#spec = spec;
    this.#random = random;
    this.#deliver = deliver;
  }

  /** Time of the next held packet, or Infinity. */
  get nextAt(): number {
    return this.#held.length === 0 ? Infinity : this.#held[0].at;
  }

  /** Takes `packet[0, len)` at time `now` (ms); may deliver it at once. */
  offer(packet: Uint8Array<ArrayBuffer>, len: number, now: number): void {
    const s = this.#spec, c = this.counters, r = this.#random;
    c.packets++;
    if (s.drop > 0 && r() < s.drop) {
      c.dropped++;
      return;
    }
    let p = packet, n = len;
    if (s.corrupt > 0 && r() < s.corrupt) {
      p = packet.slice(0, len);
      p[Math.floor(r() * len)] ^= 1 << Math.floor(r() * 8);
      c.corrupted++;
    }
    if (s.ce > 0 && isEct(p) && r() < s.ce) {
      if (p === packet) p = packet.slice(0, len);
      markCe(p);
      c.marked++;
    }
    const copies = s.duplicate > 0 && r() < s.duplicate ? 2 : 1;
    if (copies === 2) c.duplicated++;
    let at = now + s.delayMs;
    if (s.jitterMs > 0) at = Math.max(now, at + (2 * r() - 1) * s.jitterMs);
    if (s.rateBps > 0) {
      // A bottleneck: each packet occupies the wire for its length at the rate.
      const ends = this.#wireEnds;
      let gone = 0;
      while (gone < ends.length && ends[gone] <= now) gone++;
      if (gone > 0) ends.splice(0, gone);
      if (ends.length >= s.limit) {
        c.queueDrops++;
        return;
      }
      const start = Math.max(now, this.#wireFreeAt);
      this.#wireFreeAt = start + (n * 8 * 1000) / s.rateBps;
      ends.push(this.#wireFreeAt);
      at += this.#wireFreeAt - now;
    }
    if (s.reorder > 0 && r() < s.reorder) {
      at += s.reorderMs;
      c.reordered++;
    }
    if (at <= now && this.#held.length === 0) {
      for (let i = 0; i < copies; i++) this.#deliver(p, n);
      return;
    }
    c.delayed++;
    if (p === packet) p = packet.slice(0, len);
    n = p.length;
    for (let i = 0; i < copies; i++) this.#hold({ at, order: this.#order++, packet: p });
  }

  #hold(h: Held): void {
    // Sorted by (at, order); most inserts land at the end.
    const q = this.#held;
    let i = q.length;
    while (i > 0 && q[i - 1].at > h.at) i--;
    q.splice(i, 0, h);
  }

  /** Delivers every held packet whose time is at or before `now`. */
  release(now: number): void {
    const q = this.#held;
    let i = 0;
    while (i < q.length && q[i].at <= now) {
      const h = q[i++];
      this.#deliver(h.packet, h.packet.length);
    }
    if (i > 0) q.splice(0, i);
  }
}

/**
 * A link and a packet handler with impairments between them and a stack:
 * `link` wraps the device for the stack to send through, `handler` wraps
 * the stack for the device to deliver to. Held packets leave from a timer
 * on the real clock. Offloads are the caller's to turn off: a 64 KB TSO
 * packet dropped as one would be 45 losses, and a corrupted packet whose
 * checksum the device fills would be no corruption.
 *
 * @example
 * ```ts
 * import { ImpairedLink, parseImpairment } from "./impair.ts";
 * import { MemoryLink } from "./memory_link.ts";
 * const sent: Uint8Array[] = [];
 * const imp = new ImpairedLink(
 *   new MemoryLink(1500, (p) => sent.push(p)),
 *   { receive() {} },
 *   parseImpairment("out:drop=100%"),
 * );
 * imp.link.transmit(new Uint8Array(40), 40);
 * sent.length; // 0
 * imp.counters().out.dropped; // 1
 * imp.close();
 * ```
 */
export class ImpairedLink {
  /** Where the stack sends (attach the stack to it). */
  readonly link: Link;
  /** Where the device delivers (start the device's loop with it). */
  readonly handler: PacketHandler;
  readonly #in: Impairer;
  readonly #out: Impairer;
  readonly #clock: () => number;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerAt = Infinity;
  #closed = false;

  /** Impairs traffic between `device` (sending) and `stack` (receiving) by `plan`. */
  constructor(
    device: Link,
    stack: PacketHandler,
    plan: ImpairmentPlan,
    clock: () => number = () => performance.now(),
  ) {
    this.#clock = clock;
    const random = rng(plan.seed);
    // The device may reuse its frame after transmit: held packets are copies,
    // written back into a frame with the device's headroom when they leave.
    const frame = new Uint8Array(device.headroom + 65536);
    this.#out = new Impairer(plan.out, random, (p, len) => {
      if (p.byteOffset === device.headroom && p.buffer.byteLength >= device.headroom + len) {
        device.transmit(new Uint8Array(p.buffer), len);
      } else {
        frame.set(p.subarray(0, len), device.headroom);
        device.transmit(frame, len);
      }
    });
    this.#in = new Impairer(plan.in, random, (p, len) => stack.receive(p, len));
    const outActive = active(plan.out), inActive = active(plan.in);
    this.link = {
      headroom: device.headroom,
      mtu: device.mtu,
      // Whole wire packets with complete checksums, whatever the device offers.
      csumOffload: false,
      gsoMax: device.mtu,
      transmit: (frame: Uint8Array<ArrayBuffer>, len: number): boolean => {
        if (!outActive) return device.transmit(frame, len);
        this.#out.offer(frame.subarray(device.headroom), len, this.#clock());
        this.#arm();
        return true;
      },
    };
    this.handler = {
      receive: (buf: Uint8Array<ArrayBuffer>, len: number): void => {
        if (!inActive) return stack.receive(buf, len);
        this.#in.offer(buf, len, this.#clock());
        this.#arm();
      },
      takeYield: () => stack.takeYield?.() ?? false,
    };
  }

  /** Counters of both directions. */
  counters(): { in: ImpairmentCounters; out: ImpairmentCounters } {
    return { in: { ...this.#in.counters }, out: { ...this.#out.counters } };
  }

  /** Stops the timer; held packets are dropped. */
  close(): void {
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #arm(): void {
    const at = Math.min(this.#in.nextAt, this.#out.nextAt);
    if (this.#closed || at === Infinity || at >= this.#timerAt) return;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#timerAt = Infinity;
      const now = this.#clock();
      this.#in.release(now);
      this.#out.release(now);
      this.#arm();
    }, Math.max(0, at - this.#clock()));
  }
}
