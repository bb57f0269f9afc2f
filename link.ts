/**
 * Running the stack on a link of your own: the contract between the stack
 * and whatever carries its packets (a TUN device, a socket, a test), the
 * TUN device and its packet loop, and an in-memory link.
 *
 * @example
 * ```ts
 * import { MemoryLink, Stack } from "./link.ts";
 * const sent: Uint8Array[] = [];
 * const stack = new Stack({ ipv4: new Uint8Array([192, 0, 2, 2]) });
 * stack.attach(new MemoryLink(1500, (p) => sent.push(p)));
 * stack.receive(new Uint8Array(20), 20); // a malformed packet: dropped and counted
 * sent.length; // 0
 * ```
 *
 * @module
 */

export { Stack, type StackOptions, TICK_MS } from "./stack/stack.ts";
export { GsoType, type Link, type PacketHandler, TxOffload } from "./stack/link.ts";
export { MemoryLink } from "./stack/memory_link.ts";
export { TunDevice, TunError } from "./tun/device.ts";
export { TunInterface, type TunInterfaceOptions } from "./tun/interface.ts";
export { BUSY_POLL_US, type LoopStats, PacketLoop } from "./tun/loop.ts";
