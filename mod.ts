/**
 * tunstack: a userspace IPv4/IPv6 + TCP stack for Deno on a Linux TUN
 * device. This module is the application API: start a stack on a device,
 * listen and connect, read its TIME_WAIT table, counters and settings.
 * Running the stack on a link of your own is `./link.ts`; simulated
 * networks for tests are `./testing.ts`.
 *
 * @example
 * ```ts ignore
 * import { parseCidr, parseIp, startTunStack } from "./mod.ts";
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

import { ImpairedLink, type ImpairmentPlan } from "./stack/impair.ts";
import { Stack, type StackOptions } from "./stack/stack.ts";
import type { CounterTree } from "./stack/stats.ts";
import type { Cidr } from "./stack/wire/ip_address.ts";
import { TunInterface } from "./tun/interface.ts";
import { Netlink } from "./tun/netlink.ts";
import { inNetns } from "./tun/netns.ts";
import { formatIp, inPrefix } from "./stack/wire/ip_address.ts";
import { BUSY_POLL_US } from "./tun/loop.ts";

export { Stack, type StackOptions, type TimeWaitSnapshot } from "./stack/stack.ts";
export { TunError } from "./tun/device.ts";
export { MAX_RT_PRIORITY, setRealtimePriority } from "./tun/sched.ts";
export { BUSY_POLL_US } from "./tun/loop.ts";
export {
  type Cidr,
  formatIp,
  inPrefix,
  type IpAddress,
  parseCidr,
  parseIp,
} from "./stack/wire/ip_address.ts";
export { type CounterTree, flattenCounters, formatCounters } from "./stack/stats.ts";
export { type CapturedPacket, PcapngWriter } from "./stack/capture.ts";
export {
  type ImpairmentCounters,
  type ImpairmentPlan,
  type ImpairmentSpec,
  parseImpairment,
} from "./stack/impair.ts";
export { BrokenPipeError, TcpConn, TcpListener } from "./stack/tcp/socket.ts";
export type { ConnectionInfo, ConnectionStatus } from "./stack/tcp/user.ts";
export { ConnectionRefusedError, ConnectionResetError, TimedOutError } from "./stack/tcp/tcb.ts";
export { AddressInUseError } from "./stack/tcp/conn_table.ts";
export type { TcpConfig } from "./stack/tcp/config.ts";
export type { IpFieldOptions } from "./stack/ip.ts";
export type { Md5Keys } from "./stack/tcp/md5.ts";
export type { BbrMode } from "./stack/tcp/cc/bbr.ts";
export type { CongestionName } from "./stack/tcp/cc/congestion.ts";
export type { TimeWaitEntry, TimeWaitSettings } from "./stack/tcp/timewait/timewait.ts";
export {
  parseAssignment,
  SYSCTL_NAMES,
  sysctlDescriptions,
  sysctlGet,
  sysctlSet,
} from "./stack/sysctl.ts";

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
  /** Busy-poll window after traffic, µs, before sleeping in poll (default {@linkcode BUSY_POLL_US}). */
  busyPollUs?: number;
  /**
   * Steer the kernel's receive work for the stack's packets to the CPUs
   * its thread is not on (RPS; default true; not with `netns`).
   */
  rxSteering?: boolean;
  /**
   * Configure the kernel side even if its prefix overlaps an address already
   * on an interface of this namespace (then routes compete; see README).
   */
  force?: boolean;
  /**
   * Impair the traffic between device and stack ({@linkcode parseImpairment}).
   * Turns offloads off: impairments act on wire-sized packets.
   */
  impair?: ImpairmentPlan;
  /**
   * Create the device in this network namespace (`ip netns add NAME`), so
   * the kernel side and its addresses live there and not in the namespace
   * the stack runs in.
   */
  netns?: string;
}

/** A stack running on a TUN device. */
export interface RunningStack {
  /** The stack. */
  stack: Stack;
  /** The device's name. */
  device: string;
  /** What the kernel granted: no offload, checksum offload, or checksum and TSO. */
  offload: "none" | "checksum" | "checksum+TSO";
  /** The kernel's receive work for our packets is steered off the stack's CPU while it sends in bulk. */
  rxSteering: boolean;
  /** The packet loop's counters (packets, bytes, batches, polls), and the impairments'. */
  linkCounters(): CounterTree;
  /** Settles if the device fails while running (e.g. deleted from outside). */
  lost: Promise<Error>;
  /** Stops the stack and removes the device. */
  close(): Promise<void>;
}

/**
 * Refuses kernel-side prefixes that overlap an address of an interface in
 * this namespace: the kernel would route the stack's addresses there (a
 * host whose own interface holds 192.0.2.2/24 answers ping itself and
 * refuses curl, and the stack sees nothing).
 */
function checkOverlap(mine: { bytes: Uint8Array; prefix: number }[]): void {
  const nl = Netlink.open();
  let existing;
  try {
    existing = nl.addresses();
  } finally {
    nl.close();
  }
  for (const m of mine) {
    for (const e of existing) {
      if (e.bytes.length !== m.bytes.length) continue;
      const p = Math.min(e.prefix, m.prefix);
      if (!inPrefix(e.bytes, m.bytes, p)) continue;
      throw new Error(
        `Address overlap: the kernel side's ${formatIp(m.bytes)}/${m.prefix} overlaps ${
          formatIp(e.bytes)
        }/${e.prefix} on ${e.name}; choose other addresses (tunstack up: --kernel-ipv4/--ipv4, --kernel-ipv6/--ipv6) or --force`,
      );
    }
  }
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
  // In a namespace of its own, the overlap check looks at that namespace.
  const tun = inNetns(options.netns, () => {
    if (!options.force) checkOverlap(addresses);
    return TunInterface.create({
      name: options.name,
      mtu: options.mtu,
      addresses,
      vnetHdr: options.vnetHdr,
      offload: options.impair === undefined && options.offload,
      // sysfs shows the namespace it was mounted in, not the device's.
      rxSteering: options.netns === undefined && options.rxSteering !== false,
    });
  });
  const loop = tun.loop;
  loop.busyPollUs = options.busyPollUs ?? BUSY_POLL_US;
  const stack = new Stack(options);
  const impaired = options.impair && new ImpairedLink(loop, stack, options.impair, stack.clock);
  stack.attach(impaired ? impaired.link : loop);
  tun.start(impaired ? impaired.handler : stack);
  stack.start();
  return {
    stack,
    device: tun.device.name,
    offload: loop.gsoMax > loop.mtu ? "checksum+TSO" : loop.csumOffload ? "checksum" : "none",
    rxSteering: loop.steering !== undefined,
    linkCounters: () => ({ ...loop.stats, ...(impaired && { impairment: impaired.counters() }) }),
    lost: loop.lost,
    async close() {
      impaired?.close();
      stack.stop();
      await tun.close();
    },
  };
}
