/**
 * ICMP errors about a connection's segments (RFC 1122 4.2.3.9, RFC 5461,
 * RFC 5927): path-MTU discovery (RFC 1191, RFC 8201) lowers the MSS and
 * resends at once; port or protocol unreachable and administratively
 * prohibited refuse a connection still in SYN-SENT (FreeBSD's
 * icmp_may_rst); every other error is soft, remembered and reported only
 * if the connection then times out.
 *
 * @module
 */

import type { IcmpErrorReport } from "../../ip.ts";
import { readU32, TcpField } from "../../wire/tcp.ts";
import { closeConnection } from "../lifecycle.ts";
import { tcpOutput } from "../output.ts";
import { seqGe, seqLt } from "../seq.ts";
import { ConnectionRefusedError, linkMss, type Tcb } from "../tcb.ts";

/**
 * Acts on an ICMP error quoting a segment of `c`.
 *
 * @example
 * ```ts
 * import { exampleConnection } from "../../_examples.ts";
 * import { IcmpErrorReport } from "../../ip.ts";
 * import { icmpError } from "./icmp_error.ts";
 * const { conn } = await exampleConnection();
 * const e = new IcmpErrorReport(); // "host unreachable", quoting a segment in flight
 * e.kind = "unreachable";
 * e.buf = new Uint8Array(8);
 * e.buf[4] = conn.snd.una >>> 24; // the quoted SEQ
 * icmpError(conn, e);
 * conn.ctx.stats.icmp.outOfWindow; // 1: SND.UNA = SND.MAX, so no sequence number is in flight
 * ```
 */
export function icmpError(c: Tcb, e: IcmpErrorReport): void {
  const s = c.ctx.stats.icmp;
  // RFC 5927 4.1: a blind attacker must guess a sequence number in flight.
  const seq = readU32(e.buf, e.transportOff + TcpField.SEQ);
  if (!(seqGe(seq, c.snd.una) && seqLt(seq, c.snd.max))) {
    s.outOfWindow++;
    return;
  }
  if (e.kind === "packetTooBig") {
    packetTooBig(c, e.mtu);
    return;
  }
  const hard = e.kind === "portUnreachable" || e.kind === "protocolUnreachable" ||
    e.kind === "prohibited";
  if (hard && c.state === "SYN-SENT" && c.ctx.config.icmpMayRst) {
    s.refused++;
    c.ctx.stats.connectionsRefused++;
    closeConnection(c, new ConnectionRefusedError(`Connection refused: ICMP ${e.kind}`));
    return;
  }
  s.soft++;
  c.softError = e.kind;
}

// RFC 1191 / RFC 8201: the path is narrower than our segments. Routers
// that give no MTU (RFC 1191 5's old ones) get the IPv4 minimum.
function packetTooBig(c: Tcb, mtu: number): void {
  const ctx = c.ctx;
  const s = ctx.stats.icmp;
  const ip = ctx.ip;
  const now = ctx.now();
  ip.pmtu.lower(c.remote, mtu, ip.mtu, now);
  const pathMtu = ip.pmtu.get(c.remote, now) ?? ip.mtu;
  const mss = linkMss(pathMtu, c.remote.length);
  if (mss >= c.snd.mss) {
    s.pmtuUnchanged++;
    return;
  }
  s.pmtuLowered++;
  c.snd.mss = mss;
  // What is in flight was cut to the old size and is lost: resend it now
  // in smaller segments instead of waiting for the RTO (RFC 1191 6.5).
  if (c.snd.max !== c.snd.una) {
    c.snd.nxt = c.snd.una;
    c.snd.rttSeq = -1;
    tcpOutput(c);
  }
}

/**
 * The MSS a new connection to `remote` may use after what path-MTU
 * discovery learned: `mss`, or less.
 *
 * @example
 * ```ts
 * import { exampleConnection } from "../../_examples.ts";
 * import { pathMss } from "./icmp_error.ts";
 * const { conn, net } = await exampleConnection();
 * net.a.ip.pmtu.lower(conn.remote, 1280, 1500, net.now); // a "too big" was heard
 * pathMss(conn, 1460); // 1240: 1280 less the IPv4 and TCP headers
 * ```
 */
export function pathMss(c: Tcb, mss: number): number {
  const pmtu = c.ctx.ip.pmtu.get(c.remote, c.ctx.now());
  return pmtu === undefined ? mss : Math.min(mss, linkMss(pmtu, c.remote.length));
}
