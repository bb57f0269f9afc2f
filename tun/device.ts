/**
 * A Linux TUN device opened through FFI: `/dev/net/tun`, `TUNSETIFF` with
 * `IFF_TUN | IFF_NO_PI`, optionally `IFF_VNET_HDR`, and a non-blocking fd.
 *
 * This file knows packets only as bytes; it never parses them.
 *
 * @module
 */

import { afterFailure, cString, Errno, errno, libc, OpenFlags, SyscallError } from "./_libc.ts";

const { O_RDWR, O_NONBLOCK, O_CLOEXEC } = OpenFlags;

const TUNSETIFF = 0x400454can;
const TUNSETVNETHDRSZ = 0x400454d8n;
const TUNSETOFFLOAD = 0x400454d0n;

/** `TUNSETOFFLOAD` flags (linux/if_tun.h). */
export const TunOffload = {
  CSUM: 0x01,
  TSO4: 0x02,
  TSO6: 0x04,
} as const;
const IFF_TUN = 0x0001;
const IFF_NO_PI = 0x1000;
const IFF_VNET_HDR = 0x4000;
const IFNAMSIZ = 16;

/** A read that found nothing (or was interrupted): try again later. */
function readAgain(e: number): boolean {
  return e === Errno.EAGAIN || e === Errno.EINTR;
}

/**
 * A write whose packet is lost, not the device: a full queue, an
 * interruption, or EIO (the interface is down, as a cable pulled).
 */
function writeLost(e: number): boolean {
  return e === Errno.EAGAIN || e === Errno.EINTR || e === Errno.EIO;
}

/** Length of `struct virtio_net_hdr` placed before each packet in vnet mode. */
export const VNET_HDR_LEN = 10;

/** Options for {@linkcode TunDevice.open}. */
export interface TunOptions {
  /** Interface name, at most 15 bytes. */
  name: string;
  /** Prefix each packet with a `virtio_net_hdr` (for offloads). */
  vnetHdr?: boolean;
  /** Path of the clone device; tests point it elsewhere. */
  path?: string;
}

/**
 * Raised when the device cannot be created, with a one-line reason.
 *
 * @example
 * ```ts
 * import { TunError } from "./device.ts";
 * new TunError("Device name in use: tunstack0") instanceof Error; // true
 * ```
 */
export class TunError extends Error {
  /** Builds the error. */
  constructor(message: string) {
    super(message);
    this.name = "TunError";
  }
}

/**
 * Checks an interface name as the kernel will. Returns an error message or `undefined`.
 *
 * @example
 * ```ts
 * import { checkIfName } from "./device.ts";
 * checkIfName("tunstack0"); // undefined: valid
 * ```
 */
export function checkIfName(name: string): string | undefined {
  const len = new TextEncoder().encode(name).length;
  if (len === 0 || len >= IFNAMSIZ) {
    return `Invalid device name: "${name}" must be 1 to 15 bytes`;
  }
  if (/[\s/:]/.test(name) || name === "." || name === "..") {
    return `Invalid device name: "${name}" contains a space, '/' or ':'`;
  }
  return undefined;
}

/**
 * An open TUN device. Reads and writes are synchronous and non-blocking:
 * `read` returns 0 when no packet is waiting.
 *
 * @example
 * ```ts ignore
 * const dev = TunDevice.open({ name: "tunstack0" });
 * const buf = new Uint8Array(65536);
 * const n = dev.read(buf); // 0 when nothing is queued
 * dev.close();
 * ```
 */
export class TunDevice {
  /** The file descriptor. */
  readonly fd: number;
  /** The interface name the kernel gave the device. */
  readonly name: string;
  /** Whether each packet carries a `virtio_net_hdr` prefix. */
  readonly vnetHdr: boolean;
  #closed = false;

  private constructor(fd: number, name: string, vnetHdr: boolean) {
    this.fd = fd;
    this.name = name;
    this.vnetHdr = vnetHdr;
  }

  /** Creates the device. Throws {@linkcode TunError} with a clear reason. */
  static open(options: TunOptions): TunDevice {
    const bad = checkIfName(options.name);
    if (bad) throw new TunError(bad);
    const c = libc();
    // TUNSETIFF would attach to an existing persistent TUN device of that
    // name; refuse any existing interface so we never hijack one.
    if (c.if_nametoindex(cString(options.name)) !== 0) {
      throw new TunError(
        `Device name in use: an interface named "${options.name}" already exists`,
      );
    }
    const path = options.path ?? "/dev/net/tun";
    const fd = c.open(cString(path), O_RDWR | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
      const e = errno();
      if (e === Errno.ENOENT || e === Errno.ENODEV) {
        throw new TunError(`No TUN device: ${path} does not exist (load the tun module)`);
      }
      if (e === Errno.EACCES || e === Errno.EPERM) {
        throw new TunError(`Permission denied: opening ${path} needs root or CAP_NET_ADMIN`);
      }
      throw new TunError(new SyscallError("open " + path, e).message);
    }
    const ifr = new Uint8Array(40);
    ifr.set(new TextEncoder().encode(options.name));
    const flags = IFF_TUN | IFF_NO_PI | (options.vnetHdr ? IFF_VNET_HDR : 0);
    new DataView(ifr.buffer).setUint16(IFNAMSIZ, flags, true);
    if (c.ioctl(fd, TUNSETIFF, ifr) < 0) {
      const e = errno();
      c.close(fd);
      if (e === Errno.EPERM || e === Errno.EACCES) {
        throw new TunError(
          "Permission denied: creating a TUN device needs root or CAP_NET_ADMIN",
        );
      }
      if (e === Errno.EBUSY || e === Errno.EEXIST) {
        throw new TunError(`Device name in use: "${options.name}" is taken`);
      }
      throw new TunError(
        new SyscallError("ioctl TUNSETIFF", e, "Cannot create TUN device").message,
      );
    }
    if (options.vnetHdr) {
      const sz = new Uint8Array(4);
      new DataView(sz.buffer).setInt32(0, VNET_HDR_LEN, true);
      if (c.ioctl(fd, TUNSETVNETHDRSZ, sz) < 0) {
        const e = errno();
        c.close(fd);
        throw new TunError(new SyscallError("ioctl TUNSETVNETHDRSZ", e).message);
      }
    }
    const end = ifr.indexOf(0);
    const name = new TextDecoder().decode(ifr.subarray(0, end < 0 ? IFNAMSIZ : end));
    return new TunDevice(fd, name, options.vnetHdr ?? false);
  }

  /**
   * Reads one packet into `buf`. Returns its length, or 0 when none is
   * queued. Throws on a real error.
   */
  read(buf: Uint8Array<ArrayBuffer>, size: bigint): number {
    const c = libc();
    let n = c.read(this.fd, buf, size);
    if (n >= 0) return n;
    n = afterFailure(c.read, this.fd, buf, size, readAgain);
    if (n >= 0) return n;
    if (readAgain(-n)) return 0;
    throw new SyscallError("read " + this.name, -n);
  }

  /**
   * Writes one packet. Returns false when the device queue is full (the
   * packet is dropped, as a NIC would) and throws on a real error.
   */
  write(buf: Uint8Array<ArrayBuffer>, len: number): boolean {
    const c = libc(), size = BigInt(len);
    let n = c.write(this.fd, buf, size);
    if (n >= 0) return true;
    n = afterFailure(c.write, this.fd, buf, size, writeLost);
    if (n >= 0) return true;
    if (writeLost(-n)) return false;
    throw new SyscallError("write " + this.name, -n);
  }

  /**
   * Asks the kernel for offloads (`TUNSETOFFLOAD`): with `CSUM` it may hand
   * us packets whose TCP checksum is left to us (`NEEDS_CSUM`), with TSO it
   * may hand us and take from us segments up to 64 KB. Needs `vnetHdr`.
   * Returns false when the kernel refuses.
   */
  setOffload(flags: number): boolean {
    if (!this.vnetHdr) return false;
    // TUNSETOFFLOAD takes the flags as the argument itself, not a pointer.
    return libc().ioctl_int(this.fd, TUNSETOFFLOAD, BigInt(flags)) >= 0;
  }

  /** Closes the fd; the kernel removes the (non-persistent) device. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    libc().close(this.fd);
  }
}
