/**
 * The contract between the stack and whatever carries its packets: a TUN
 * device (`tun/`), an in-memory link for tests, or anything else. It knows
 * no TCP and no FFI.
 *
 * @module
 */

/** Receives packets from the loop. Implemented by the stack; knows no FFI. */
export interface PacketHandler {
  /**
   * Handles one IP packet in `buf[0, len)`; must not keep `buf`.
   * `csumValid`: the device says the transport checksum needs no check
   * (already verified, or left partial by a local sender).
   */
  receive(buf: Uint8Array<ArrayBuffer>, len: number, csumValid?: boolean): void;
  /**
   * Whether the last packets left the application something to do now (a
   * read that waited is satisfied): the caller should let the event loop
   * run before it hands over the next packet. Reading clears it.
   */
  takeYield?(): boolean;
}

/** virtio_net_hdr GSO types (linux/virtio_net.h). */
export const GsoType = { NONE: 0, TCPV4: 1, TCPV6: 4 } as const;

/**
 * Offload work a packet leaves to the device (the virtio_net_hdr fields):
 * a partial checksum at `csumStart + csumOffset`, and, when `gsoType` is
 * set, segmentation into pieces of `gsoSize` bytes after `hdrLen` bytes of
 * headers. One instance is reused by the sender.
 *
 * @example
 * ```ts
 * import { GsoType, TxOffload } from "./link.ts";
 * const o = new TxOffload();
 * o.gsoType = GsoType.TCPV4;
 * o.gsoSize = 1448; // the device cuts the payload into 1448-byte segments
 * ```
 */
export class TxOffload {
  /** A {@linkcode GsoType}. */
  gsoType = 0;
  /** Payload bytes per segment. */
  gsoSize = 0;
  /** Length of the headers copied into every segment. */
  hdrLen = 0;
  /** Where checksumming starts (the transport header). */
  csumStart = 0;
  /** Offset of the checksum field from `csumStart`. */
  csumOffset = 0;
}

/** Where the stack's outgoing packets go. */
export interface Link {
  /** Bytes the link needs in front of each packet (the caller leaves them zero). */
  readonly headroom: number;
  /** Largest IP packet the link carries. */
  readonly mtu: number;
  /** The device computes transport checksums marked partial. */
  readonly csumOffload: boolean;
  /** Largest packet the device segments for us (`mtu` without TSO). */
  readonly gsoMax: number;
  /**
   * Sends `frame[headroom, headroom + len)`; `frame[0, headroom)` is free
   * for the link. `offload` asks the device for checksum or segmentation.
   * Returns false when the packet was dropped.
   */
  transmit(frame: Uint8Array<ArrayBuffer>, len: number, offload?: TxOffload): boolean;
}
