/**
 * tunstack: a userspace IPv4/IPv6 + TCP stack for Deno on a Linux TUN device.
 *
 * @example
 * ```ts ignore
 * import { startTunStack } from "./mod.ts";
 * import { parseCidr, parseIp } from "./stack/wire/ip_address.ts";
 * const running = startTunStack({
 *   name: "tunstack0",
 *   mtu: 1500,
 *   ipv4: parseIp("192.0.2.2"),
 *   kernelIpv4: parseCidr("192.0.2.1/24"),
 * });
 * await running.close();
 * ```
 *
 * @module
 */

import { Stack, type StackOptions } from "./stack/stack.ts";
import type { Cidr } from "./stack/wire/ip_address.ts";
import { TunInterface } from "./tun/interface.ts";

export { Stack, type StackOptions } from "./stack/stack.ts";
export { TunInterface } from "./tun/interface.ts";
export { TunDevice, TunError } from "./tun/device.ts";
export { setRealtimePriority } from "./tun/sched.ts";
export { GsoType, type Link, type PacketHandler, TxOffload } from "./stack/link.ts";
export { formatIp, parseCidr, parseIp } from "./stack/wire/ip_address.ts";
export { formatCounters } from "./stack/stats.ts";
export { BrokenPipeError, TcpConn, TcpListener } from "./stack/tcp/socket.ts";
export { ConnectionRefusedError, ConnectionResetError, TimedOutError } from "./stack/tcp/tcb.ts";
export type { TcpConfig } from "./stack/tcp/config.ts";
export type { TimeWaitEntry, TimeWaitSettings } from "./stack/tcp/timewait.ts";
export { MemoryLink } from "./stack/memory_link.ts";
export { SimNetwork } from "./stack/sim.ts";
export { sysctlGet, sysctlSet } from "./stack/sysctl.ts";

/** Options for {@linkcode startTunStack}. */
export interface TunStackOptions extends StackOptions {
  /** Device name. */
  name: string;
  /** Device MTU. */
  mtu: number;
  /** Kernel-side IPv4 address and prefix. */
  kernelIpv4?: Cidr;
  /** Kernel-side IPv6 address and prefix. */
  kernelIpv6?: Cidr;
  /** Open the device with `IFF_VNET_HDR`. */
  vnetHdr?: boolean;
  /** Use checksum and segmentation offload when the kernel grants it. */
  offload?: boolean;
}

/** A stack running on a TUN device. */
export interface RunningStack {
  /** The stack. */
  stack: Stack;
  /** The device and its packet loop. */
  tun: TunInterface;
  /** Settles if the device fails while running (e.g. deleted from outside). */
  lost: Promise<Error>;
  /** Stops the stack and removes the device. */
  close(): Promise<void>;
}

/**
 * Creates the TUN device, configures the kernel side and runs a stack on it.
 *
 * @example
 * ```ts ignore
 * import { startTunStack } from "./mod.ts";
 * const r = startTunStack({ name: "tunstack0", mtu: 1500 });
 * await r.close();
 * ```
 */
export function startTunStack(options: TunStackOptions): RunningStack {
  const addresses = [options.kernelIpv4, options.kernelIpv6]
    .filter((c): c is Cidr => c !== undefined)
    .map((c) => ({ bytes: c.address, prefix: c.prefix }));
  const tun = TunInterface.create({
    name: options.name,
    mtu: options.mtu,
    addresses,
    vnetHdr: options.vnetHdr,
    offload: options.offload,
  });
  const stack = new Stack(options);
  stack.attach(tun.loop);
  tun.start(stack);
  stack.start();
  return {
    stack,
    tun,
    lost: tun.loop.lost,
    async close() {
      stack.stop();
      await tun.close();
    },
  };
}
