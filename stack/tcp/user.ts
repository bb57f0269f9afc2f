/**
 * The user calls of RFC 9293 3.10 on one connection: SEND (3.10.2),
 * RECEIVE (3.10.3), CLOSE (3.10.4, half and full), ABORT (3.10.5) and
 * STATUS (3.10.6). OPEN is `TcpLayer.connect` (active) and `listen`
 * (passive), as it needs the connection table. `socket.ts` adapts these
 * calls to promises and streams; the state changes happen here.
 *
 * @module
 */

import { Bbr, type BbrMode } from "./cc/bbr.ts";
import { pacingRate } from "./pacing.ts";
import { closeConnection } from "./lifecycle.ts";
import { sendAbortReset, tcpOutput } from "./output.ts";
import { isSynchronized, receivesData, type TcpState } from "./state.ts";
import { ConnectionResetError, type Tcb } from "./tcb.ts";
import { formatIp } from "../wire/ip_address.ts";

/**
 * SEND: queues what fits of `p[off, off + n)` and sends what the windows
 * allow; returns how many bytes were queued.
 *
 * @example
 * ```ts
 * import { exampleConnection } from "../_examples.ts";
 * import { send } from "./user.ts";
 * const { conn } = await exampleConnection();
 * send(conn, new Uint8Array(5000), 0, 5000); // 5000: queued, and the first segments sent
 * conn.snd.flightSize; // 5000: all of it fits the initial window
 * ```
 */
export function send(c: Tcb, p: Uint8Array, off: number, n: number): number {
  // The user timeout counts from when data waits, not from an idle past.
  if (c.snd.buf.length === 0) c.snd.progressAt = c.ctx.now();
  const k = c.snd.buf.append(p, off, n);
  if (k > 0) tcpOutput(c);
  return k;
}

/**
 * RECEIVE: copies buffered in-order data into `p` and returns its length,
 * telling the peer when the window opened enough to matter.
 *
 * @example
 * ```ts
 * import { exampleConnection } from "../_examples.ts";
 * import { receive } from "./user.ts";
 * const { conn, net, server } = await exampleConnection();
 * await server.write(new TextEncoder().encode("hello"));
 * await net.run(() => conn.rcv.buf.readable === 5);
 * receive(conn, new Uint8Array(16)); // 5
 * ```
 */
export function receive(c: Tcb, p: Uint8Array): number {
  const n = c.rcv.buf.read(p);
  if (n > 0) windowUpdate(c);
  return n;
}

// RFC 9293 3.8.6.2.2: tell the peer when reading opened the window by at
// least two segments or half the buffer. At once if the peer may be
// stalled: under two segments offered, or at most half the most we can
// offer and now twice as much (Linux's tcp_cleanup_rbuf), as what we
// offered may be in flight, or lost, and the sender waits on it. That
// holds however the reader takes the bytes: in pieces, or while a hole
// keeps RCV.NXT back (the offer was fixed when the hole opened, and a
// sender whose retransmission is lost may need the room to send the data
// that shows it). Not against the handshake's offer, which the SYN's
// unscaled field kept small. Otherwise within the delayed-ACK time, so
// that a reply about to be sent carries the update.
function windowUpdate(c: Tcb): void {
  if (!receivesData(c.state)) return;
  const offered = Math.max(0, (c.rcv.adv - c.rcv.nxt) | 0);
  // The most the window field can say: without scaling, 64 KB of any buffer.
  const most = Math.min(c.rcv.buf.capacity, 0xffff << c.rcv.scale);
  const window = Math.min(c.rcv.buf.window, most);
  if (window - offered < Math.min(most / 2, 2 * c.rcv.mss)) return;
  const small = c.rcv.offeredPastSyn && 2 * offered <= most;
  if (offered < 2 * c.rcv.mss || (small && window >= 2 * offered)) {
    c.rcv.ackNow = true;
    tcpOutput(c);
  } else if (c.delackAt === 0) {
    c.delackAt = c.ctx.now() + c.ctx.config.delayedAckMs;
    c.ctx.watch(c);
  }
}

/**
 * CLOSE of the sending side (half-close): a FIN follows the queued data.
 * In SYN-SENT and SYN-RECEIVED it waits for the handshake.
 *
 * @example
 * ```ts
 * import { exampleConnection } from "../_examples.ts";
 * import { shutdown } from "./user.ts";
 * const { conn } = await exampleConnection();
 * shutdown(conn);
 * conn.state; // "FIN-WAIT-1": our FIN is out
 * ```
 */
export function shutdown(c: Tcb): void {
  if (c.snd.finQueued || c.state === "CLOSED") return;
  c.snd.finQueued = true;
  if (c.state === "ESTABLISHED") c.state = "FIN-WAIT-1";
  else if (c.state === "CLOSE-WAIT") c.state = "LAST-ACK";
  tcpOutput(c);
}

/**
 * CLOSE: the application is done with the connection. In SYN-SENT it is
 * deleted; unread data resets it (RFC 9293 3.10.4, RFC 2525 2.17);
 * otherwise the FIN follows the data and the FIN-WAIT-2 limit applies.
 *
 * @example
 * ```ts
 * import { exampleConnection } from "../_examples.ts";
 * import { close } from "./user.ts";
 * const { conn, net } = await exampleConnection();
 * close(conn);
 * await net.run(() => conn.state === "FIN-WAIT-2");
 * conn.finWait2At > net.now; // true: FIN-WAIT-2 is bounded once the application is gone
 * ```
 */
export function close(c: Tcb): void {
  c.appClosed = true;
  if (c.state === "CLOSED") return;
  if (c.state === "SYN-SENT") closeConnection(c);
  else if (c.rcv.buf.readable > 0) abort(c);
  else {
    shutdown(c);
    if (c.state === "FIN-WAIT-2" && c.finWait2At === 0) {
      c.finWait2At = c.ctx.now() + c.ctx.config.finWait2TimeoutMs;
      c.ctx.watch(c);
    }
  }
}

/**
 * ABORT (RFC 9293 3.10.5): RST to the peer when synchronized, then CLOSED.
 *
 * @example
 * ```ts
 * import { exampleConnection } from "../_examples.ts";
 * import { abort } from "./user.ts";
 * const { conn, net } = await exampleConnection();
 * abort(conn);
 * [conn.state, net.trace.length]; // ["CLOSED", 4]: SYN, SYN,ACK, ACK, then our RST
 * ```
 */
export function abort(
  c: Tcb,
  error: Error = new ConnectionResetError("Connection aborted"),
): void {
  if (c.state === "CLOSED") return;
  if (isSynchronized(c.state) || c.state === "SYN-RECEIVED") sendAbortReset(c);
  c.ctx.stats.connectionsAborted++;
  closeConnection(c, error);
}

/** What STATUS reports. */
export interface ConnectionStatus {
  /** The RFC 9293 state. */
  state: TcpState;
  /** Received bytes the application has not read (Recv-Q). */
  receiveQueue: number;
  /** Bytes queued to send or not yet acknowledged (Send-Q). */
  sendQueue: number;
}

/** STATUS with what `ss -ti` shows: addresses, timers, windows, options, counters. */
export interface ConnectionInfo extends ConnectionStatus {
  /** Our address. */
  localAddress: string;
  /** Our port. */
  localPort: number;
  /** The peer's address. */
  peerAddress: string;
  /** The peer's port. */
  peerPort: number;
  /** Smoothed round trip, ms (0 before the first sample). */
  srttMs: number;
  /** Round-trip variation, ms. */
  rttvarMs: number;
  /** Retransmission timeout, ms. */
  rtoMs: number;
  /** Congestion window, bytes. */
  cwnd: number;
  /** Slow-start threshold, bytes (null before the first loss). */
  ssthresh: number | null;
  /** BBR's model of the path (null under NewReno or CUBIC). */
  bbr: { mode: BbrMode; bandwidthBytesPerSec: number; minRttMs: number | null } | null;
  /** The rate data is paced at, bytes per second (null: not paced; `net.inet.tcp.pacing`). */
  pacingRateBytesPerSec: number | null;
  /** Send MSS (the peer's, clamped to the path). */
  mss: number;
  /** Window scale shifts, ours to receive and the peer's (null without scaling). */
  rcvWscale: number | null;
  /** The peer's shift. */
  sndWscale: number | null;
  /** Timestamps in use (RFC 7323). */
  timestamps: boolean;
  /** SACK in use (RFC 2018). */
  sack: boolean;
  /** ECN in use (RFC 3168). */
  ecn: boolean;
  /** The peer's window, bytes. */
  sndWnd: number;
  /** Receive buffer, bytes (grown by autosizing from `net.inet.tcp.recvspace`). */
  rcvBuf: number;
  /** Send buffer, bytes (grown by autosizing from `net.inet.tcp.sendspace`). */
  sndBuf: number;
  /** In fast recovery. */
  inRecovery: boolean;
  /** Segments sent again. */
  retransmits: number;
  /** Bytes of ours the peer acknowledged. */
  bytesAcked: number;
  /** Bytes received in order. */
  bytesReceived: number;
  /** Since data was last sent, ms (null if never). */
  lastSendMsAgo: number | null;
  /** Since a segment last arrived, ms (null if never). */
  lastRecvMsAgo: number | null;
}

/**
 * STATUS with details, for `tunstack ss -i`.
 *
 * @example
 * ```ts
 * import { exampleConnection } from "../_examples.ts";
 * import { info } from "./user.ts";
 * const { conn, net } = await exampleConnection();
 * info(conn, net.now).peerAddress; // "192.0.2.2"
 * ```
 */
export function info(c: Tcb, now: number): ConnectionInfo {
  // After the handshake options are negotiated, offeredScale means "in use".
  const scaled = c.offeredScale && c.state !== "SYN-SENT";
  const pace = pacingRate(c);
  return {
    ...status(c),
    localAddress: formatIp(c.local),
    localPort: c.localPort,
    peerAddress: formatIp(c.remote),
    peerPort: c.remotePort,
    srttMs: c.snd.rtt.srtt,
    rttvarMs: c.snd.rtt.rttvar,
    rtoMs: c.snd.rtt.rto,
    // Whole bytes: CUBIC's and BBR's windows grow by fractions.
    cwnd: Math.round(c.snd.cc.cwnd),
    ssthresh: c.snd.cc.ssthresh >= Number.MAX_SAFE_INTEGER ? null : Math.round(c.snd.cc.ssthresh),
    bbr: c.snd.cc instanceof Bbr
      ? {
        mode: c.snd.cc.mode,
        bandwidthBytesPerSec: Math.round(c.snd.cc.bandwidth * 1000),
        minRttMs: c.snd.cc.minRtt === Infinity ? null : c.snd.cc.minRtt,
      }
      : null,
    pacingRateBytesPerSec: pace > 0 ? Math.round(pace * 1000) : null,
    mss: c.snd.mss,
    rcvWscale: scaled ? c.rcv.scale : null,
    sndWscale: scaled ? c.snd.scale : null,
    timestamps: c.tsOk,
    sack: c.sackOk,
    ecn: c.ecnOk,
    sndWnd: c.snd.wnd,
    rcvBuf: c.rcv.buf.capacity,
    sndBuf: c.snd.buf.capacity,
    inRecovery: c.snd.inRecovery,
    retransmits: c.snd.retransmits,
    bytesAcked: c.snd.bytesAcked,
    bytesReceived: c.rcv.bytesReceived,
    lastSendMsAgo: c.snd.lastSendAt === 0 ? null : now - c.snd.lastSendAt,
    lastRecvMsAgo: c.rcv.lastRecvAt === 0 ? null : now - c.rcv.lastRecvAt,
  };
}

/**
 * STATUS (RFC 9293 3.10.6).
 *
 * @example
 * ```ts
 * import { exampleConnection } from "../_examples.ts";
 * import { status } from "./user.ts";
 * const { conn } = await exampleConnection();
 * status(conn); // { state: "ESTABLISHED", receiveQueue: 0, sendQueue: 0 }
 * ```
 */
export function status(c: Tcb): ConnectionStatus {
  return { state: c.state, receiveQueue: c.rcv.buf.readable, sendQueue: c.snd.buf.length };
}
