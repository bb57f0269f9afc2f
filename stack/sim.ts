/**
 * A simulated network for tests: stacks joined by links that can drop,
 * duplicate, reorder and delay packets, on a virtual clock. Time advances
 * only when nothing else can happen, so a 10 MB transfer with timeouts runs
 * in moments and the same seed gives the same run.
 *
 * @module
 */

import { isEct, markCe } from "./wire/ecn.ts";
import { setImmediate } from "node:timers";
import { MemoryLink } from "./memory_link.ts";
import { Stack, type StackOptions } from "./stack.ts";

/** Impairments of one direction of a link. */
export interface Impairment {
  /** Probability a packet is lost. */
  loss?: number;
  /** Probability a packet is delivered twice. */
  duplicate?: number;
  /** Probability a packet is held back by `reorderMs` extra. */
  reorder?: number;
  /** Extra delay of reordered packets, ms. */
  reorderMs?: number;
  /** One-way delay, ms. */
  delayMs?: number;
  /** A bottleneck: bytes per ms the wire carries, packets queueing for it. */
  bytesPerMs?: number;
  /** Bytes the bottleneck's queue holds; a packet that would not fit is dropped (default: no limit). */
  queueBytes?: number;
  /** Drop packets for which this returns true (after the random impairments). */
  filter?: (packet: Uint8Array) => boolean;
  /** Probability an ECN-capable (ECT) packet is marked CE, as an AQM marks where it would drop. */
  ce?: number;
}

interface Pending {
  at: number;
  seq: number;
  to: Stack;
  packet: Uint8Array;
}

/**
 * A deterministic pseudo-random generator (mulberry32).
 *
 * @example
 * ```ts
 * import { rng } from "./sim.ts";
 * const r = rng(1);
 * r() < 1; // true
 * ```
 */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Two stacks on one simulated wire.
 *
 * @example
 * ```ts
 * import { SimNetwork } from "./sim.ts";
 * import { parseIp } from "./wire/ip_address.ts";
 * const net = new SimNetwork({ ipv4: parseIp("192.0.2.1") }, { ipv4: parseIp("192.0.2.2") });
 * net.ab.loss = 0.01; // 1% of a's packets lost
 * net.b.listen({ port: 80 });
 * let done = false;
 * net.a.connect({ hostname: "192.0.2.2", port: 80 }).then(() => done = true);
 * await net.run(() => done, 60_000);
 * net.now < 60_000; // true: virtual milliseconds
 * ```
 */
export class SimNetwork {
  /** Virtual time, ms. */
  now = 0;
  /** The two stacks. */
  readonly a: Stack;
  /** The second stack. */
  readonly b: Stack;
  /** Impairments from a to b. */
  ab: Impairment = {};
  /** Impairments from b to a. */
  ba: Impairment = {};
  /** Every packet put on the wire, in order, for assertions. */
  readonly trace: { at: number; from: "a" | "b"; packet: Uint8Array }[] = [];
  /** Keep `trace` (off for bulk transfers). */
  tracing = true;
  /** Packets a full bottleneck queue dropped (`queueBytes`). */
  queueDrops = 0;
  #queue: Pending[] = [];
  #seq = 0;
  /** When each direction's bottleneck is free again, ms. */
  #wireFree = { a: 0, b: 0 };
  #rand: () => number;

  /** Two stacks with these options, on a 1500-byte wire. */
  constructor(a: StackOptions, b: StackOptions, seed = 1, mtu = 1500) {
    const clock = () => this.now;
    this.#rand = rng(seed);
    this.a = new Stack({ ...a, clock });
    this.b = new Stack({ ...b, clock });
    this.a.attach(new MemoryLink(mtu, (p) => this.#send("a", p)));
    this.b.attach(new MemoryLink(mtu, (p) => this.#send("b", p)));
  }

  #send(from: "a" | "b", packet: Uint8Array): void {
    if (this.tracing) this.trace.push({ at: this.now, from, packet });
    const imp = from === "a" ? this.ab : this.ba;
    const to = from === "a" ? this.b : this.a;
    const r = this.#rand;
    if (imp.loss && r() < imp.loss) return;
    if (imp.filter?.(packet)) return;
    if (imp.ce && isEct(packet) && r() < imp.ce) markCe(packet);
    let at = this.now + (imp.delayMs ?? 0.05);
    if (imp.bytesPerMs) {
      // What waits for the wire is the time it stays busy, in bytes.
      if (
        imp.queueBytes !== undefined &&
        (this.#wireFree[from] - this.now) * imp.bytesPerMs + packet.length > imp.queueBytes
      ) {
        this.queueDrops++;
        return;
      }
      const start = Math.max(this.now, this.#wireFree[from]);
      this.#wireFree[from] = start + packet.length / imp.bytesPerMs;
      at += this.#wireFree[from] - this.now;
    }
    if (imp.reorder && r() < imp.reorder) at += imp.reorderMs ?? 1;
    this.#push({ at, seq: this.#seq++, to, packet });
    if (imp.duplicate && r() < imp.duplicate) {
      this.#push({ at: at + 0.01, seq: this.#seq++, to, packet });
    }
  }

  #push(p: Pending): void {
    // Kept sorted by (at, seq); most inserts land at the end.
    const q = this.#queue;
    let i = q.length;
    while (i > 0 && (q[i - 1].at > p.at || (q[i - 1].at === p.at && q[i - 1].seq > p.seq))) i--;
    q.splice(i, 0, p);
  }

  /**
   * Runs until `done()` or `limitMs` of virtual time passed. Between
   * events, the event loop runs so application code reacts.
   */
  async run(done: () => boolean, limitMs = 600_000): Promise<void> {
    const end = this.now + limitMs;
    let idle = 0;
    while (!done()) {
      await new Promise((r) => setImmediate(r));
      if (done()) break;
      const q = this.#queue;
      if (q.length > 0 && q[0].at <= this.now) {
        const p = q.shift()!;
        p.to.receive(p.packet, p.packet.length);
        idle = 0;
        continue;
      }
      // Let application code that just woke up act before time moves.
      if (idle++ < 3) continue;
      idle = 0;
      const nextPacket = q.length > 0 ? q[0].at : Infinity;
      const nextTick = Math.floor(this.now) + 1;
      this.now = Math.min(nextPacket, nextTick);
      if (this.now > end) throw new Error(`Simulation limit reached at ${this.now} ms`);
      if (this.now === nextTick) {
        this.a.tick(this.now);
        this.b.tick(this.now);
      }
    }
  }

  /** Lets `ms` of virtual time pass, running everything due. */
  async advance(ms: number): Promise<void> {
    const until = this.now + ms;
    await this.run(() => this.now >= until, ms + 1);
  }
}
