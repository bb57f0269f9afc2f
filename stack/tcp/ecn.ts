/**
 * Explicit Congestion Notification for TCP (RFC 3168 6.1): the handshake
 * that agrees to it, which segments go out ECT(0), the receiver's echo of
 * a CE mark until the sender's CWR, and the sender's reduction on ECE, at
 * most once per window of data.
 *
 * @module
 */

import type { IpHeaderFields } from "../ip.ts";
import { EcnCodepoint } from "../wire/ecn.ts";
import { TcpFlags } from "../wire/tcp.ts";
import { seqGt, seqLt } from "./seq.ts";
import type { Tcb } from "./tcb.ts";

const { ACK, CWR, ECE } = TcpFlags;

/**
 * The ECN flags of a SYN we send: an ECN-setup SYN (ECE and CWR) when the
 * connection asks for ECN, a SYN,ACK with ECE when it agreed to a peer's.
 * Only the first SYN asks: a retransmitted one goes without, in case a
 * middlebox drops ECN-setup SYNs (RFC 3168 6.1.1.1, as Linux's fallback).
 *
 * @example
 * ```ts
 * import { exampleConnection } from "../_examples.ts";
 * import { synEcnFlags } from "./ecn.ts";
 * const { conn } = await exampleConnection();
 * synEcnFlags(conn); // 0: ECN was not agreed (net.inet.tcp.ecn.enable=2, nobody asked)
 * ```
 */
export function synEcnFlags(c: Tcb): number {
  if (c.state === "SYN-SENT") {
    if (c.snd.retries > 0) c.ecnAsked = false;
    return c.ecnAsked ? ECE | CWR : 0;
  }
  return c.ecnOk ? ECE : 0;
}

/**
 * Settles ECN from the peer's SYN (passive) or SYN,ACK (active) flags: a
 * SYN asks with ECE and CWR, a SYN,ACK agrees with ECE alone.
 *
 * @example
 * ```ts
 * import { exampleConnection } from "../_examples.ts";
 * import { TcpFlags } from "../wire/tcp.ts";
 * import { negotiateEcn } from "./ecn.ts";
 * const { conn } = await exampleConnection();
 * conn.state = "SYN-RECEIVED"; // as a passive open sees the SYN
 * negotiateEcn(conn, TcpFlags.SYN | TcpFlags.ECE | TcpFlags.CWR);
 * conn.ecnOk; // true: the default (2) accepts a peer's request
 * ```
 */
export function negotiateEcn(c: Tcb, flags: number): void {
  const both = flags & (ECE | CWR);
  c.ecnOk = c.state === "SYN-SENT"
    ? c.ecnAsked && (flags & ACK) !== 0 && both === ECE
    : c.ctx.config.ecn !== 0 && both === (ECE | CWR);
  c.snd.ecnRecover = c.snd.iss;
  if (c.ecnOk) c.ctx.stats.ecn.negotiated++;
}

const ectFields: IpHeaderFields = { ttl: 0, tos: 0 };

/**
 * The ECN part of a segment about to go: returns its flags with ECE (the
 * receiver's echo) and CWR (the sender's answer) added as due, and sets
 * `out.fields` to the socket's IP fields, marked ECT(0) for new data.
 * Retransmissions, window probes, pure ACKs and control segments stay
 * Not-ECT (RFC 3168 6.1.4 to 6.1.6): their loss must still be a loss.
 *
 * @example
 * ```ts
 * import { exampleConnection } from "../_examples.ts";
 * import { TcpFlags } from "../wire/tcp.ts";
 * import { ecnOutput } from "./ecn.ts";
 * const { conn } = await exampleConnection();
 * conn.ecnOk = true;
 * conn.rcv.ecnEcho = true;
 * const out = { fields: conn.ipFields };
 * ecnOutput(conn, conn.snd.nxt, 0, TcpFlags.ACK, out) & TcpFlags.ECE; // 64: a pure ACK echoes CE
 * out.fields.tos; // 0: and is not ECT
 * ```
 */
export function ecnOutput(
  c: Tcb,
  seq: number,
  len: number,
  flags: number,
  out: { fields: IpHeaderFields },
): number {
  out.fields = c.ipFields;
  if (c.rcv.ecnEcho && flags & ACK) flags |= ECE;
  if (len > 0 && !seqLt(seq, c.snd.max) && c.snd.wnd > 0) {
    ectFields.ttl = c.ipFields.ttl;
    ectFields.tos = c.ipFields.tos | EcnCodepoint.ECT0;
    out.fields = ectFields;
    if (c.snd.ecnCwr) {
      c.snd.ecnCwr = false;
      flags |= CWR;
      c.ctx.stats.ecn.cwrSent++;
    }
  }
  return flags;
}

/**
 * A segment's ECN on an ECN connection, once its ACK is acceptable: CWR
 * ends our echo and a CE mark (again) starts it (RFC 3168 6.1.3); ECE on
 * an ACK past the last reduction's window reduces cwnd, unless loss
 * recovery already did, and has the next new data carry CWR (6.1.2).
 *
 * @example
 * ```ts
 * import { exampleConnection } from "../_examples.ts";
 * import { ecnInput } from "./ecn.ts";
 * import { EcnCodepoint } from "../wire/ecn.ts";
 * const { conn } = await exampleConnection();
 * conn.ecnOk = true;
 * ecnInput(conn, 0, conn.snd.una, EcnCodepoint.CE);
 * conn.rcv.ecnEcho; // true: ACKs carry ECE until the peer's CWR
 * ```
 */
export function ecnInput(c: Tcb, flags: number, ack: number, codepoint: number): void {
  const s = c.ctx.stats.ecn;
  if (flags & CWR) {
    s.cwrReceived++;
    c.rcv.ecnEcho = false;
  }
  if (codepoint === EcnCodepoint.CE) {
    s.ceReceived++;
    // The first mark is told at once, not after a delayed ACK (Linux too).
    if (!c.rcv.ecnEcho) c.rcv.ackNow = true;
    c.rcv.ecnEcho = true;
  }
  if (!(flags & ECE)) return;
  s.echoesReceived++;
  if (!seqGt(ack, c.snd.ecnRecover)) return;
  if (!c.snd.inRecovery) {
    c.snd.cc.onEcnEcho(c.snd.flightSize, c.ctx.now());
  }
  s.responses++;
  c.snd.ecnRecover = c.snd.max;
  c.snd.ecnCwr = true;
}
