/**
 * The stack: IP, ICMP and TCP over one link. It receives packets through
 * {@linkcode Stack.receive} and sends through the {@linkcode Link} it is
 * attached to; it never touches FFI, so tests drive it over an in-memory link.
 *
 * @module
 */

import type { Link, PacketHandler } from "../tun/loop.ts";
import { Icmp } from "./icmp.ts";
import { IpLayer } from "./ip.ts";
import type { CounterTree } from "./stats.ts";
import type { IpAddress } from "./wire/ip_address.ts";

/** Configuration of a {@linkcode Stack}. */
export interface StackOptions {
  /** The stack's own IPv4 address. */
  ipv4?: IpAddress;
  /** The stack's own IPv6 address. */
  ipv6?: IpAddress;
  /** TTL / hop limit of packets we send (default 64). */
  ttl?: number;
}

/**
 * A userspace IPv4/IPv6 stack.
 *
 * @example
 * ```ts
 * import { Stack } from "./stack.ts";
 * import { parseIp } from "./wire/ip_address.ts";
 * const stack = new Stack({ ipv4: parseIp("192.0.2.2") });
 * stack.counters(); // { ip: {...}, icmp: {...} }
 * ```
 */
export class Stack implements PacketHandler {
  /** The IP layer. */
  readonly ip: IpLayer;
  /** The ICMP layer. */
  readonly icmp: Icmp;

  /** Creates a stack; attach it to a link before it can send. */
  constructor(options: StackOptions) {
    this.ip = new IpLayer(options);
    this.icmp = new Icmp(this.ip);
  }

  /** Connects the stack to its link. */
  attach(link: Link): void {
    this.ip.attach(link);
  }

  /** Handles one packet from the link. */
  receive(buf: Uint8Array, len: number): void {
    this.ip.receive(buf, len);
  }

  /** Called after a batch of packets. */
  flush(): void {}

  /** All counters as a tree. */
  counters(): CounterTree {
    return { ip: this.ip.stats, icmp: this.icmp.stats };
  }
}
