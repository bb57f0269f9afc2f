/**
 * A connection's life at its two ends, used by every part that opens or
 * closes one (active and passive open, SYN cookies, segment arrival, the
 * user calls, timers, ICMP errors): the options the handshake settled on,
 * and the move to CLOSED.
 *
 * @module
 */

import { MAX_WSCALE, type TcpOptions } from "../wire/tcp.ts";
import { pathMss } from "./path/icmp_error.ts";
import { congestionFor } from "./sender.ts";
import { defaultPeerMss, type Tcb } from "./tcb.ts";
import { stopTimers } from "./timer.ts";

/**
 * Applies the options of a SYN (RFC 9293 3.7.1 MSS, RFC 7323 window scale
 * and timestamps, RFC 2018 SACK-permitted) to a new connection.
 *
 * @example
 * ```ts
 * import { exampleConnection } from "../_examples.ts";
 * import { TcpOptions } from "../wire/tcp.ts";
 * import { negotiate } from "./lifecycle.ts";
 * const { conn } = await exampleConnection();
 * const syn = new TcpOptions(); // a SYN that offered MSS 1000 only
 * syn.mss = 1000;
 * negotiate(conn, syn);
 * conn.snd.mss; // 1000: the peer's MSS, below our link's 1460
 * ```
 */
export function negotiate(c: Tcb, opt: TcpOptions): void {
  const cfg = c.ctx.config;
  const peerMss = opt.mss > 0 ? opt.mss : defaultPeerMss(c.local.length);
  c.snd.mss = Math.max(64, pathMss(c, Math.min(peerMss, c.rcv.mss)));
  // FreeBSD's tcp_mss(): both buffers hold whole segments (rounded up to
  // the MSS, within maxsockbuf), so a full window is never a runt short.
  c.snd.buf.capacity = roundToSegments(c.snd.buf.capacity, c.snd.mss, cfg.maxSockBuf);
  c.rcv.buf.capacity = roundToSegments(c.rcv.buf.capacity, c.snd.mss, cfg.maxSockBuf);
  // RFC 7323 2.2: scaling only when both sides sent the option.
  if (opt.wscale >= 0 && cfg.windowScale) {
    c.snd.scale = Math.min(opt.wscale, MAX_WSCALE);
    c.offeredScale = true;
    // Our window field rounds up to a unit (output.ts windowField).
    c.rcv.buf.slack = c.rcv.scale > 0 ? 1 << c.rcv.scale : 0;
  } else {
    c.snd.scale = 0;
    c.rcv.scale = 0;
    c.offeredScale = false;
  }
  if (opt.timestamp && cfg.timestamps) {
    c.tsOk = true;
    c.rcv.tsRecent = opt.tsVal;
    c.rcv.tsRecentAge = c.ctx.now();
  }
  c.sackOk = opt.sackPermitted && cfg.sack;
  // RFC 5681 counts in the sender's MSS, now known (and RFC 6928's IW with it).
  c.snd.cc = congestionFor(cfg, c.effMss, c.ctx.stats.hystart, c.sackOk);
}

function roundToSegments(size: number, mss: number, max: number): number {
  if (size < mss) return size;
  return Math.max(size, Math.min(Math.ceil(size / mss) * mss, max));
}

/**
 * Moves a connection to CLOSED and tells its socket.
 *
 * @example
 * ```ts
 * import { exampleConnection } from "../_examples.ts";
 * import { closeConnection } from "./lifecycle.ts";
 * import { ConnectionResetError } from "./tcb.ts";
 * const { conn, client } = await exampleConnection();
 * closeConnection(conn, new ConnectionResetError());
 * conn.state; // "CLOSED"
 * await client.read(new Uint8Array(1)).catch((e) => e.name); // "ConnectionReset"
 * ```
 */
export function closeConnection(c: Tcb, error?: Error): void {
  if (c.state === "CLOSED") return;
  c.state = "CLOSED";
  stopTimers(c);
  c.ctx.remove(c);
  c.events?.onClosed(error);
}
