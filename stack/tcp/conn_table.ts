/**
 * The connection table: connections by 4-tuple (a seeded hash, so peers
 * cannot aim collisions), and the ephemeral-port search that keeps a new
 * active open off every tuple in use, in the table or in TIME_WAIT.
 *
 * @module
 */

import { ipEquals } from "../wire/ip_address.ts";
import type { Tcb } from "./tcb.ts";
import { hashTuple } from "./tuple.ts";

/**
 * Raised for a local address/port already taken, or no free port.
 *
 * @example
 * ```ts
 * import { Stack } from "../stack.ts";
 * import { AddressInUseError } from "./conn_table.ts";
 * const stack = new Stack({ ipv4: new Uint8Array([192, 0, 2, 2]) });
 * stack.listen({ port: 80 });
 * try {
 *   stack.listen({ port: 80 });
 * } catch (e) {
 *   e instanceof AddressInUseError && e instanceof Deno.errors.AddrInUse; // true
 * }
 * ```
 */
export class AddressInUseError extends Deno.errors.AddrInUse {
  /** Builds the error. */
  constructor(message: string) {
    super(message);
  }
}

/**
 * Connections by 4-tuple. A bucket holds one connection, or an array when
 * tuples collide.
 *
 * @example
 * ```ts
 * import { ConnectionTable } from "./conn_table.ts";
 * const t = new ConnectionTable();
 * t.find(new Uint8Array([192, 0, 2, 1]), 0, 4, 40000, 80); // undefined
 * ```
 */
export class ConnectionTable {
  #buckets = new Map<number, Tcb | Tcb[]>();
  #count = 0;
  #seed = crypto.getRandomValues(new Uint32Array(1))[0];

  /** Connections held. */
  get size(): number {
    return this.#count;
  }

  /** Every connection. */
  *[Symbol.iterator](): IterableIterator<Tcb> {
    for (const v of this.#buckets.values()) {
      if (Array.isArray(v)) yield* v;
      else yield v;
    }
  }

  /** The connection with peer `buf[off, off+len)`:`rport` on our port `lport`. */
  find(
    buf: Uint8Array,
    off: number,
    len: number,
    rport: number,
    lport: number,
  ): Tcb | undefined {
    const v = this.#buckets.get(hashTuple(this.#seed, buf, off, len, rport, lport));
    if (v === undefined) return undefined;
    if (!Array.isArray(v)) return matches(v, buf, off, len, rport, lport) ? v : undefined;
    for (const c of v) if (matches(c, buf, off, len, rport, lport)) return c;
    return undefined;
  }

  /** Adds `c` (its tuple must be free). */
  insert(c: Tcb): void {
    c.hash = hashTuple(this.#seed, c.remote, 0, c.remote.length, c.remotePort, c.localPort);
    const v = this.#buckets.get(c.hash);
    if (v === undefined) this.#buckets.set(c.hash, c);
    else if (Array.isArray(v)) v.push(c);
    else this.#buckets.set(c.hash, [v, c]);
    this.#count++;
  }

  /** Removes `c`; false if it was not held. */
  remove(c: Tcb): boolean {
    const v = this.#buckets.get(c.hash);
    if (v === c) this.#buckets.delete(c.hash);
    else if (Array.isArray(v)) {
      const i = v.indexOf(c);
      if (i < 0) return false;
      v.splice(i, 1);
      if (v.length === 1) this.#buckets.set(c.hash, v[0]);
    } else return false;
    this.#count--;
    return true;
  }
}

/**
 * Ephemeral ports, tried in sequence from a random start (RFC 6056 3.3.1
 * style), skipping ports with a listener and tuples in use.
 *
 * @example
 * ```ts
 * import { EphemeralPorts } from "./conn_table.ts";
 * const ports = new EphemeralPorts(49152, 65535);
 * const p = ports.pick(() => false);
 * p >= 49152 && p <= 65535; // true
 * ```
 */
export class EphemeralPorts {
  #low: number;
  #high: number;
  #next: number;

  /** Ports `low` to `high`, inclusive. */
  constructor(low: number, high: number) {
    this.#low = low;
    this.#high = high;
    this.#next = low + Math.floor(Math.random() * (high - low + 1));
  }

  /** The next port for which `busy(port)` is false; throws when none is. */
  pick(busy: (port: number) => boolean): number {
    const lo = this.#low, hi = this.#high;
    for (let i = 0; i <= hi - lo; i++) {
      const p = this.#next;
      this.#next = p >= hi ? lo : p + 1;
      if (!busy(p)) return p;
    }
    throw new AddressInUseError("Address in use: no free ephemeral port to that peer");
  }
}

function matches(
  c: Tcb,
  buf: Uint8Array,
  off: number,
  len: number,
  rport: number,
  lport: number,
): boolean {
  return c.remotePort === rport && c.localPort === lport && c.remote.length === len &&
    ipEquals(buf, off, c.remote);
}
