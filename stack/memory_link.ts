/**
 * An in-memory link for tests and for running a stack without a device:
 * transmitted packets are copied to a callback or kept in a list.
 *
 * @module
 */

import type { Link } from "./link.ts";

/**
 * A link that hands every transmitted packet (a copy) to `deliver`, and,
 * like a real one, refuses packets larger than its MTU (counted in `tooBig`).
 *
 * @example
 * ```ts
 * import { MemoryLink } from "./memory_link.ts";
 * const sent: Uint8Array[] = [];
 * const link = new MemoryLink(1500, (p) => sent.push(p));
 * link.transmit(new Uint8Array([0x45]), 1);
 * sent.length; // 1
 * ```
 */
export class MemoryLink implements Link {
  readonly headroom = 0;
  readonly mtu: number;
  readonly csumOffload = false;
  readonly gsoMax: number;
  #deliver: (packet: Uint8Array) => void;

  /** A link of `mtu` bytes handing packets to `deliver`. */
  constructor(mtu: number, deliver: (packet: Uint8Array) => void) {
    this.mtu = mtu;
    this.gsoMax = mtu;
    this.#deliver = deliver;
  }

  /** Packets refused for exceeding the MTU (a real link would drop them too). */
  tooBig = 0;

  transmit(frame: Uint8Array, len: number): boolean {
    if (len > this.mtu) {
      this.tooBig++;
      return false;
    }
    this.#deliver(frame.slice(this.headroom, this.headroom + len));
    return true;
  }
}
