/**
 * The receiving half of a connection (gVisor's `receiver`): the receive
 * sequence variables of RFC 9293 3.3.1, the receive buffer with its
 * out-of-order ranges, what the next ACK must say (D-SACK, the window
 * last advertised) and when it must go, and RFC 7323's TS.Recent. Only
 * segment arrival, the ACKs output sends and the user's RECEIVE change it.
 *
 * @module
 */

import { ReceiveBuffer } from "./buffers/receive_buffer.ts";

/**
 * What the receiver owns.
 *
 * @example
 * ```ts
 * import { Receiver } from "./receiver.ts";
 * const rcv = new Receiver(1 << 20, 1460);
 * rcv.buf.window; // 1048576: all free
 * ```
 */
export class Receiver {
  /** Initial receive sequence number. */
  irs = 0;
  /** RCV.NXT: next sequence number expected. */
  nxt = 0;
  /** Right edge of the window we last advertised. */
  adv = 0;
  /** Shift applied to the window we advertise. */
  scale = 0;
  /** Our MSS as advertised. */
  mss: number;
  /** The peer's FIN has been received (in order). */
  finReceived = false;
  /** Sequence number of an out-of-order FIN, or -1. */
  oooFinSeq = -1;
  /** Received, in-order bytes and out-of-order ranges. */
  readonly buf: ReceiveBuffer;
  /** A duplicate to report in the next ACK's first SACK block (RFC 2883), or -1. */
  dsackLeft = -1;
  /** Its right edge. */
  dsackRight = 0;
  /** Text that came with the peer's SYN in SYN-SENT, held until ESTABLISHED. */
  synData: Uint8Array | undefined;
  /** The window field last sent (unscaled), for TIME_WAIT's last_win. */
  lastWindowField = 0;
  /** TS.Recent (RFC 7323 4.3). */
  tsRecent = 0;
  /** When TS.Recent was recorded, ms. */
  tsRecentAge = 0;
  /** Last.ACK.sent (RFC 7323 4.3). */
  lastAckSent = 0;
  /** Send an ACK at the next output. */
  ackNow = false;
  /** An ACK waits for the application's turn (`TcpContext.deferAck`). */
  ackPending = false;
  /** Full-size segments received since the last ACK. */
  unackedSegments = 0;
  /**
   * Lone segments still to ACK within the turn instead of the delayed-ACK
   * time (Linux's quick-ACK count), refilled after an idle spell.
   */
  quickAcks = 0;
  /**
   * Request/response: our data has been answering the peer's soon enough
   * to carry the ACK (Linux's ping-pong mode), so lone segments wait.
   */
  pingpong = false;
  /** Last time in-order data arrived, ms (0: never). */
  lastDataAt = 0;
  /** Last time a segment arrived, ms. */
  lastRecvAt = 0;
  /** In-order bytes received from the peer. */
  bytesReceived = 0;

  /** A receiver with a buffer of `size` bytes, offering `mss`. */
  constructor(size: number, mss: number) {
    this.buf = new ReceiveBuffer(size);
    this.mss = mss;
  }
}
