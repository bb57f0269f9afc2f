/**
 * The receiving half of a connection (gVisor's `receiver`): the receive
 * sequence variables of RFC 9293 3.3.1, the receive buffer with its
 * out-of-order ranges, what the next ACK must say (D-SACK, the window
 * last advertised) and when it must go, and RFC 7323's TS.Recent. Only
 * segment arrival, the ACKs output sends and the user's RECEIVE change it.
 *
 * @module
 */

import { grownCapacity, RoundTripMeter } from "./buffers/autosize.ts";
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
  /** A window has gone out past the SYN, whose field is never scaled (RFC 7323 2.2). */
  offeredPastSyn = false;
  /** TS.Recent (RFC 7323 4.3). */
  tsRecent = 0;
  /** When TS.Recent was recorded, ms. */
  tsRecentAge = 0;
  /** Last.ACK.sent (RFC 7323 4.3). */
  lastAckSent = 0;
  /** Send an ACK at the next output. */
  ackNow = false;
  /** A CE mark arrived: every ACK carries ECE until the peer's CWR (RFC 3168 6.1.3). */
  ecnEcho = false;
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
  /**
   * The buffer of a reader waiting on an empty receive buffer: in-order
   * data goes straight into it, one copy instead of two (into the buffer,
   * then out of it); `directLen` bytes so far.
   */
  direct: Uint8Array | undefined;
  directLen = 0;
  /** In-order arrivals per half round trip, for autosizing (FreeBSD's rfbuf_ts and rfbuf_cnt). */
  readonly arrivals: RoundTripMeter = new RoundTripMeter();

  /** A receiver with a buffer of `size` bytes, offering `mss`. */
  constructor(size: number, mss: number) {
    this.buf = new ReceiveBuffer(size);
    this.mss = mss;
  }

  /**
   * Receive-buffer autosizing (FreeBSD's tcp_autorcvbuf), for `len` bytes of
   * in-order data that filled no gap, at `now` with a smoothed round trip of
   * `srtt` ms: when more than three eighths of the buffer comes per half
   * round trip, the peer sends three quarters of the window per round trip,
   * and the buffer grows by half, in whole `seg`-byte segments, up to `max`.
   * Returns whether it grew.
   *
   * @example
   * ```ts
   * import { Receiver } from "./receiver.ts";
   * const rcv = new Receiver(1 << 20, 1460);
   * for (let t = 0; t <= 50; t += 10) rcv.autoSize(100_000, t, 100, 1460, 6 << 20); // 600 KB in 50 ms
   * rcv.autoSize(100_000, 51, 100, 1460, 6 << 20); // true: past half of the 100 ms round trip
   * rcv.buf.capacity; // 1572420: half as much again, in whole segments
   * ```
   */
  autoSize(len: number, now: number, srtt: number, seg: number, max: number): boolean {
    const cap = this.buf.capacity;
    if (!this.arrivals.count(len, now, srtt, cap)) return false;
    this.buf.capacity = grownCapacity(cap, seg, max);
    return this.buf.capacity > cap;
  }
}
