/**
 * A configured TUN interface: the device, its kernel-side addresses and MTU
 * set over netlink, and the packet loop. Knows nothing above IP.
 *
 * @module
 */

import { TunDevice, TunError, TunOffload } from "./device.ts";
import type { PacketHandler } from "../stack/link.ts";
import { PacketLoop } from "./loop.ts";
import { ifIndex, type InterfaceAddress, Netlink } from "./netlink.ts";
import { ReceiveSteering } from "./steering.ts";

/** Smallest and largest MTU accepted (IPv4 minimum, TUN maximum). */
export const MTU_MIN = 68;
/** Largest MTU a TUN device takes. */
export const MTU_MAX = 65535;
/** IPv6 needs at least this MTU (RFC 8200 5). */
export const MTU_MIN_IPV6 = 1280;
/**
 * Packets the kernel queues for us on the device (its transmit queue; a
 * TUN device gets 500). A turn of the stack's loop can outlast 500
 * arrivals: wrk with 500 connections overflowed it (1,836 drops in 3 s,
 * 260 client timeouts, p99 260 ms); with 4096 none, p99 40 ms.
 */
export const TX_QUEUE_LEN = 4096;

/** Options for {@linkcode TunInterface.create}. */
export interface TunInterfaceOptions {
  /** Device name. */
  name: string;
  /** MTU of the device. */
  mtu: number;
  /** Addresses for the kernel's side of the device. */
  addresses: InterfaceAddress[];
  /** Open with `IFF_VNET_HDR`. */
  vnetHdr?: boolean;
  /**
   * Ask for checksum and TCP segmentation offload (implies `vnetHdr`). If
   * the kernel refuses, the device works without them.
   */
  offload?: boolean;
  /**
   * Steer the kernel's receive work for our packets to the CPUs the packet
   * loop is not on ({@linkcode ReceiveSteering}; default true). Needs this
   * device in `/sys/class/net`; otherwise nothing is steered.
   */
  rxSteering?: boolean;
}

/**
 * Checks an MTU for the address families in use. Returns an error message
 * or `undefined`.
 *
 * @example
 * ```ts
 * import { checkMtu } from "./interface.ts";
 * checkMtu(1000, true); // "MTU out of range: ..."
 * ```
 */
export function checkMtu(mtu: number, ipv6: boolean): string | undefined {
  const min = ipv6 ? MTU_MIN_IPV6 : MTU_MIN;
  if (!Number.isInteger(mtu) || mtu < min || mtu > MTU_MAX) {
    return `MTU out of range: ${mtu} (must be ${min} to ${MTU_MAX}${ipv6 ? " with IPv6" : ""})`;
  }
  return undefined;
}

/**
 * A TUN device configured and ready to carry packets.
 *
 * @example
 * ```ts ignore
 * const tun = TunInterface.create({ name: "tunstack0", mtu: 1500, addresses: [] });
 * tun.loop.start(handler);
 * await tun.close();
 * ```
 */
export class TunInterface {
  /** The device. */
  readonly device: TunDevice;
  /** The packet loop, also the stack's link. */
  readonly loop: PacketLoop;
  /** Kernel interface index. */
  readonly index: number;

  private constructor(device: TunDevice, loop: PacketLoop, index: number) {
    this.device = device;
    this.loop = loop;
    this.index = index;
  }

  /** Creates, configures and brings up the device. */
  static create(options: TunInterfaceOptions): TunInterface {
    const bad = checkMtu(options.mtu, options.addresses.some((a) => a.bytes.length === 16));
    if (bad) throw new TunError(bad);
    const device = TunDevice.open({
      name: options.name,
      vnetHdr: options.vnetHdr || options.offload,
    });
    try {
      const index = ifIndex(device.name);
      if (index === 0) throw new TunError(`Device vanished: ${device.name}`);
      const nl = Netlink.open();
      try {
        nl.setLink(index, { mtu: options.mtu, txQueueLen: TX_QUEUE_LEN });
        // IPv6 addresses can only be added to an interface that is up.
        nl.setLink(index, { up: true });
        for (const a of options.addresses) nl.addAddress(index, a);
      } finally {
        nl.close();
      }
      const loop = new PacketLoop(device, options.mtu);
      if (options.offload) {
        const { CSUM, TSO4, TSO6 } = TunOffload;
        if (device.setOffload(CSUM | TSO4 | TSO6)) loop.enableOffload(true);
        else if (device.setOffload(CSUM)) loop.enableOffload(false);
      }
      if (options.rxSteering !== false) loop.steering = ReceiveSteering.open(device.name, index);
      return new TunInterface(device, loop, index);
    } catch (e) {
      device.close();
      throw e;
    }
  }

  /** Starts delivering packets to `handler`. */
  start(handler: PacketHandler): void {
    this.loop.start(handler);
  }

  /** Stops the loop and closes the device, which removes it. */
  async close(): Promise<void> {
    await this.loop.stop();
    this.loop.steering?.close();
    this.device.close();
  }
}
