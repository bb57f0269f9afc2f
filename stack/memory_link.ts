/**
 * An in-memory link for tests and for running a stack without a device:
 * transmitted packets are copied to a callback or kept in a list.
 *
 * @module
 */

import type { Link } from "./link.ts";

/**
 * A link that hands every transmitted packet (a copy) to `deliver`.
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

  transmit(frame: Uint8Array, len: number): boolean {
    this.#deliver(frame.slice(this.headroom, this.headroom + len));
    return true;
  }
}
