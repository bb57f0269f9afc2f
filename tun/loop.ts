/**
 * The packet loop: drain the non-blocking TUN fd in batches with synchronous
 * reads, wake on `poll` (run on the FFI thread pool), write synchronously.
 * One receive buffer is reused for every packet. The design follows
 * `../shared/notes/deno-tun-io.md`.
 *
 * @module
 */

import { errno, libc, SyscallError } from "./_libc.ts";
import { setImmediate } from "node:timers";
import { TunDevice, VNET_HDR_LEN } from "./device.ts";

/** Receives packets from the loop. Implemented by the stack; knows no FFI. */
export interface PacketHandler {
  /** Handles one IP packet in `buf[0, len)`; must not keep `buf`. */
  receive(buf: Uint8Array<ArrayBuffer>, len: number): void;
  /** Called once after each batch, so output can be coalesced. */
  flush(): void;
}

/** Where the stack's outgoing packets go. */
export interface Link {
  /** Bytes the link needs in front of each packet (the caller leaves them zero). */
  readonly headroom: number;
  /** Largest IP packet the link carries. */
  readonly mtu: number;
  /**
   * Sends `frame[headroom, headroom + len)`; `frame[0, headroom)` is free
   * for the link. Returns false when the packet was dropped.
   */
  transmit(frame: Uint8Array<ArrayBuffer>, len: number): boolean;
}

/** Counters of the loop. */
export interface LoopStats {
  /** Packets read from the device. */
  rxPackets: number;
  /** Bytes read. */
  rxBytes: number;
  /** Packets written. */
  txPackets: number;
  /** Bytes written. */
  txBytes: number;
  /** Writes refused because the device queue was full. */
  txDropped: number;
  /** Batches drained. */
  batches: number;
  /** Times the loop slept in poll. */
  polls: number;
}

const POLLIN = 0x1;
/** Most packets handled before yielding to the event loop. */
const BATCH = 256;
/** Drain attempts (yielding between them) before sleeping in poll. */
const SPIN = 2;

/**
 * Runs a {@linkcode TunDevice} against a {@linkcode PacketHandler} and acts as
 * the handler's {@linkcode Link}.
 *
 * @example
 * ```ts ignore
 * const dev = TunDevice.open({ name: "tunstack0" });
 * const loop = new PacketLoop(dev, 1500);
 * loop.start(handler);
 * await loop.stop();
 * ```
 */
export class PacketLoop implements Link {
  readonly headroom: number;
  readonly mtu: number;
  /** Counters. */
  readonly stats: LoopStats = {
    rxPackets: 0,
    rxBytes: 0,
    txPackets: 0,
    txBytes: 0,
    txDropped: 0,
    batches: 0,
    polls: 0,
  };
  #dev: TunDevice;
  #rx: Uint8Array<ArrayBuffer>;
  #rxPacket: Uint8Array<ArrayBuffer>;
  #rxSize: bigint;
  #pollfds = new Uint8Array(16);
  #wakeFd: number;
  #running: Promise<void> | undefined;
  #stopping = false;

  /** Wraps an open device carrying packets up to `mtu` bytes. */
  constructor(dev: TunDevice, mtu: number) {
    this.#dev = dev;
    this.mtu = mtu;
    this.headroom = dev.vnetHdr ? VNET_HDR_LEN : 0;
    // vnet mode may deliver 64 KB GSO packets whatever the MTU.
    const size = this.headroom + (dev.vnetHdr ? 65535 : Math.max(mtu, 1280));
    this.#rx = new Uint8Array(size);
    this.#rxPacket = this.#rx.subarray(this.headroom);
    this.#rxSize = BigInt(size);
    this.#wakeFd = libc().eventfd(0, 0o4000 | 0o2000000);
    if (this.#wakeFd < 0) throw new SyscallError("eventfd", errno());
    const v = new DataView(this.#pollfds.buffer);
    v.setInt32(0, dev.fd, true);
    v.setInt16(4, POLLIN, true);
    v.setInt32(8, this.#wakeFd, true);
    v.setInt16(12, POLLIN, true);
  }

  /** Starts delivering packets to `handler`. */
  start(handler: PacketHandler): void {
    if (this.#running) throw new Error("Packet loop already started");
    this.#running = this.#run(handler);
  }

  /** Stops the loop and waits for it to finish. Does not close the device. */
  async stop(): Promise<void> {
    this.#stopping = true;
    const one = new Uint8Array(8);
    one[0] = 1;
    libc().write(this.#wakeFd, one, 8n);
    await this.#running;
    libc().close(this.#wakeFd);
  }

  transmit(frame: Uint8Array<ArrayBuffer>, len: number): boolean {
    const total = len + this.headroom;
    if (this.#dev.write(frame, total)) {
      this.stats.txPackets++;
      this.stats.txBytes += len;
      return true;
    }
    this.stats.txDropped++;
    return false;
  }

  async #run(handler: PacketHandler): Promise<void> {
    const dev = this.#dev;
    const c = libc();
    let idle = 0;
    while (!this.#stopping) {
      let n = 0;
      for (; n < BATCH; n++) {
        const len = dev.read(this.#rx, this.#rxSize);
        if (len === 0) break;
        this.stats.rxPackets++;
        this.stats.rxBytes += len - this.headroom;
        try {
          handler.receive(this.#rxPacket, len - this.headroom);
        } catch (err) {
          // A bug in packet handling must not take the device down.
          console.error("tunstack: packet handler failed:", err);
        }
      }
      if (n > 0) {
        this.stats.batches++;
        handler.flush();
        idle = 0;
        // Let the application and timers run before the next batch.
        await yieldToEventLoop();
        continue;
      }
      if (idle++ < SPIN) {
        await yieldToEventLoop();
        continue;
      }
      idle = 0;
      this.stats.polls++;
      this.#pollfds[6] =
        this.#pollfds[7] =
        this.#pollfds[14] =
        this.#pollfds[15] =
          0;
      // errno is not readable here (poll ran on another thread); a failed
      // poll (EINTR) just loops back to draining.
      await c.poll(this.#pollfds, 2n, -1);
    }
  }
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
