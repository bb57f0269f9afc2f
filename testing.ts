/**
 * Test harnesses: two stacks on a simulated wire with loss, duplication,
 * reordering and delay on a virtual clock, and a seeded random generator.
 *
 * @example
 * ```ts
 * import { SimNetwork } from "./testing.ts";
 * const net = new SimNetwork(
 *   { ipv4: new Uint8Array([192, 0, 2, 1]) },
 *   { ipv4: new Uint8Array([192, 0, 2, 2]) },
 * );
 * net.ab = { loss: 0.01 };
 * await net.advance(10); // 10 ms of virtual time
 * net.now; // 10
 * ```
 *
 * @module
 */

export { type Impairment, rng, SimNetwork } from "./stack/sim.ts";
export { MemoryLink } from "./stack/memory_link.ts";
