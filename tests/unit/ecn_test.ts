// ECN (RFC 3168 6.1) between two stacks: the handshake that agrees to it,
// ECT(0) on new data only, a CE mark echoed until CWR, and the sender's one
// reduction per window.

import assert from "node:assert/strict";
import { sysctlSet } from "../../stack/sysctl.ts";
import { info } from "../../stack/tcp/user.ts";
import type { Tcb } from "../../stack/tcp/tcb.ts";
import type { SimNetwork } from "../../stack/sim.ts";
import { ecnField, markCe } from "../../stack/wire/ecn.ts";
import { net, pair, pattern, readAll } from "../_tcp.ts";

const ECE = 0x40, CWR = 0x80, SYN = 0x02;

function ipHeaderLen(p: Uint8Array): number {
  return p[0] >> 4 === 4 ? (p[0] & 15) * 4 : 40;
}
function tcpFlags(p: Uint8Array): number {
  return p[ipHeaderLen(p) + 13];
}
function payloadLen(p: Uint8Array): number {
  const h = ipHeaderLen(p);
  const total = p[0] >> 4 === 4 ? (p[2] << 8) | p[3] : 40 + ((p[4] << 8) | p[5]);
  return total - h - (p[h + 12] >> 4) * 4;
}
function seqOf(p: Uint8Array): number {
  return new DataView(p.buffer, p.byteOffset).getUint32(ipHeaderLen(p) + 4);
}
function ackOf(p: Uint8Array): number {
  return new DataView(p.buffer, p.byteOffset).getUint32(ipHeaderLen(p) + 8);
}
function seqGe(a: number, b: number): boolean {
  return ((a - b) | 0) >= 0;
}
function block(n: SimNetwork, side: "a" | "b"): Tcb {
  return [...n[side].tcp.connections()][0];
}
function ecnNet(
  a: 0 | 1 | 2 = 1,
  b: 0 | 1 | 2 = 2,
  cc: "newreno" | "cubic" | "bbr" = "newreno",
) {
  return net({ tcp: { ecn: a, congestion: cc } }, { tcp: { ecn: b, congestion: cc } });
}

Deno.test("ecn: an ECN-setup SYN and a SYN,ACK with ECE agree to it (RFC 3168 6.1.1)", async () => {
  const n = ecnNet();
  const { client, server } = await pair(n);
  const syn = n.trace[0];
  assert.equal(tcpFlags(syn.packet) & (SYN | ECE | CWR), SYN | ECE | CWR);
  const synAck = n.trace.find((t) => t.from === "b")!;
  assert.equal(tcpFlags(synAck.packet) & (ECE | CWR), ECE, "ECE without CWR");
  assert.equal(ecnField(syn.packet), 0, "the SYN is Not-ECT");
  assert.equal(ecnField(synAck.packet), 0);
  assert.ok(info(block(n, "a"), n.now).ecn && info(block(n, "b"), n.now).ecn);
  assert.equal(n.a.tcp.stats.ecn.negotiated, 1);
  assert.equal(n.b.tcp.stats.ecn.negotiated, 1);
  client.close();
  server.close();
});

Deno.test("ecn: not agreed when the listener has it off, or when nobody asks", async () => {
  for (const [a, b] of [[1, 0], [2, 2], [0, 1]] as const) {
    const n = ecnNet(a, b);
    await pair(n);
    const asked = (tcpFlags(n.trace[0].packet) & (ECE | CWR)) === (ECE | CWR);
    assert.equal(asked, a === 1, `ecn.enable=${a} asks: ${asked}`);
    const synAck = n.trace.find((t) => t.from === "b")!;
    assert.equal(tcpFlags(synAck.packet) & ECE, 0, `${a}/${b}: no ECE in the SYN,ACK`);
    assert.ok(!block(n, "a").ecnOk && !block(n, "b").ecnOk);
  }
});

Deno.test("ecn: a retransmitted SYN does not ask, in case ECN-setup SYNs are dropped", async () => {
  const n = ecnNet();
  let dropped = 0;
  n.ab.filter = (p) => tcpFlags(p) & SYN && dropped++ === 0 ? true : false;
  await pair(n);
  const syns = n.trace.filter((t) => t.from === "a" && tcpFlags(t.packet) & SYN);
  assert.equal(syns.length, 2);
  assert.equal(tcpFlags(syns[0].packet) & (ECE | CWR), ECE | CWR);
  assert.equal(tcpFlags(syns[1].packet) & (ECE | CWR), 0);
  assert.ok(!block(n, "a").ecnOk && !block(n, "b").ecnOk);
});

Deno.test("ecn: new data goes ECT(0); ACKs and retransmissions stay Not-ECT (RFC 3168 6.1.5)", async () => {
  const n = ecnNet();
  const { client, server } = await pair(n);
  let lost: Uint8Array | undefined;
  n.ab.filter = (p) => {
    if (lost || payloadLen(p) === 0) return false;
    lost = p;
    return true;
  };
  const data = pattern(200_000, 3);
  client.write(data).then(() => client.closeWrite());
  let got: Uint8Array | undefined;
  readAll(server, data.length).then((d) => got = d);
  await n.run(() => got !== undefined);
  assert.equal(got!.length, data.length);
  const copies = n.trace.filter((t) =>
    t.from === "a" && seqOf(t.packet) === seqOf(lost!) && payloadLen(t.packet) > 0
  );
  assert.equal(copies.length, 2, "the lost segment, and its retransmission");
  assert.equal(ecnField(copies[0].packet), 2, "first sent ECT(0)");
  assert.equal(ecnField(copies[1].packet), 0, "sent again Not-ECT");
  const acks = n.trace.filter((t) =>
    t.from === "b" && payloadLen(t.packet) === 0 && !(tcpFlags(t.packet) & SYN)
  );
  assert.ok(
    acks.length > 0 && acks.every((t) => ecnField(t.packet) === 0),
    "pure ACKs are Not-ECT",
  );
  assert.ok(acks.every((t) => (tcpFlags(t.packet) & ECE) === 0), "nothing was marked: no ECE");
  assert.equal(n.b.tcp.stats.ecn.ceReceived, 0);
});

/** Sends `bytes` a to b with the `nth` data packet marked CE; the trace from that mark on. */
async function transferWithMark(n: SimNetwork, bytes: number, nth: number, v6 = false) {
  n.ab.delayMs = n.ba.delayMs = 1;
  const { client, server } = await pair(n, 5000, v6);
  let seen = 0, markAt = -1;
  n.ab.filter = (p) => {
    if (payloadLen(p) > 0 && ++seen === nth) {
      markCe(p);
      markAt = n.trace.length - 1;
    }
    return false;
  };
  const data = pattern(bytes, 5);
  const before = { cwnd: 0, ssthresh: 0, cwndAfter: 0 };
  client.write(data).then(() => client.closeWrite());
  let got: Uint8Array | undefined;
  readAll(server, data.length).then((d) => got = d);
  await n.run(() => {
    const c = block(n, "a");
    // The window just before the reduction, and the threshold it left.
    if (markAt >= 0 && n.a.tcp.stats.ecn.responses === 0) before.cwnd = c.snd.cc.cwnd;
    if (n.a.tcp.stats.ecn.responses > 0 && before.ssthresh === 0) {
      before.ssthresh = c.snd.cc.ssthresh;
      before.cwndAfter = c.snd.cc.cwnd;
    }
    return got !== undefined;
  });
  assert.equal(got!.length, data.length);
  return {
    after: n.trace.slice(markAt),
    cwndAtMark: before.cwnd,
    ssthresh: before.ssthresh,
    cwndAfter: before.cwndAfter,
  };
}

Deno.test("ecn: a CE mark is echoed on every ACK until CWR, and cwnd is cut once (RFC 3168 6.1.2, 6.1.3)", async () => {
  const n = ecnNet();
  const { after, cwndAtMark, ssthresh, cwndAfter } = await transferWithMark(n, 400_000, 40);
  assert.equal(cwndAfter, ssthresh, "cwnd cut to the new threshold at once");
  // b's ACKs from the one that covers the marked segment on.
  const marked = after[0].packet;
  const markedEnd = seqOf(marked) + payloadLen(marked);
  const echoing = after.filter((t) => t.from === "b" && seqGe(ackOf(t.packet), markedEnd));
  assert.ok(tcpFlags(echoing[0].packet) & ECE, "the ACK of the marked segment echoes it");
  const cwrAt = after.findIndex((t) => t.from === "a" && tcpFlags(t.packet) & CWR);
  assert.ok(cwrAt > 0, "the sender answered with CWR");
  const cwr = after[cwrAt].packet;
  assert.ok(payloadLen(cwr) > 0 && ecnField(cwr) === 2, "on new data");
  const cwrEnd = seqOf(cwr) + payloadLen(cwr);
  const before = echoing.filter((t) => !seqGe(ackOf(t.packet), cwrEnd));
  const past = echoing.filter((t) => seqGe(ackOf(t.packet), cwrEnd));
  assert.ok(before.length > 1 && before.every((t) => tcpFlags(t.packet) & ECE), "ECE until CWR");
  assert.ok(past.length > 0 && past.every((t) => !(tcpFlags(t.packet) & ECE)), "none after it");
  const sa = n.a.tcp.stats.ecn, sb = n.b.tcp.stats.ecn;
  assert.equal(sb.ceReceived, 1);
  assert.equal(sa.responses, 1, "one response for the window, however many ECEs");
  assert.ok(sa.echoesReceived > 1);
  assert.equal(sa.cwrSent, 1);
  assert.equal(sb.cwrReceived, 1);
  assert.equal(n.a.tcp.stats.retransmittedSegments, 0, "no data was lost");
  // NewReno halves: ssthresh = max(FlightSize / 2, 2 SMSS), the flight at most the window.
  assert.ok(
    cwndAtMark > 0 && ssthresh <= cwndAtMark / 2 + 2 * 1448,
    `${ssthresh} of ${cwndAtMark}`,
  );
});

Deno.test("ecn: IPv6 carries the marks in its traffic class", async () => {
  const n = ecnNet();
  const { after } = await transferWithMark(n, 200_000, 20, true);
  assert.equal(after[0].packet[0] >> 4, 6);
  assert.equal(n.b.tcp.stats.ecn.ceReceived, 1);
  assert.equal(n.a.tcp.stats.ecn.responses, 1);
  assert.equal(n.a.tcp.stats.ecn.cwrSent, 1);
});

Deno.test("ecn: BBR answers with CWR but keeps its window, as Linux's BBR does", async () => {
  const n = ecnNet(1, 2, "bbr");
  const { cwndAtMark, cwndAfter } = await transferWithMark(n, 400_000, 40);
  assert.ok(cwndAfter >= cwndAtMark, `${cwndAfter} after ${cwndAtMark}`);
  const s = n.a.tcp.stats.ecn;
  assert.equal(n.b.tcp.stats.ecn.ceReceived, 1);
  assert.equal(s.responses, 1, "the echo was taken as one congestion event");
  assert.equal(s.cwrSent, 1, "and answered, so the receiver stops echoing");
  assert.ok(n.a.tcp.stats.ecn.echoesReceived > 0);
});

Deno.test("ecn: CUBIC reduces by its beta", async () => {
  const n = ecnNet(1, 2, "cubic");
  const { cwndAtMark, ssthresh } = await transferWithMark(n, 400_000, 40);
  assert.ok(Math.abs(ssthresh - 0.7 * cwndAtMark) <= 1, `${ssthresh} of ${cwndAtMark}`);
});

Deno.test("ecn: net.inet.tcp.ecn.enable takes 0 to 2", () => {
  const n = ecnNet();
  sysctlSet(n.a, "net.inet.tcp.ecn.enable", "0");
  assert.equal(n.a.tcp.config.ecn, 0);
  assert.throws(
    () => sysctlSet(n.a, "net.inet.tcp.ecn.enable", "3"),
    /net\.inet\.tcp\.ecn\.enable/,
  );
  assert.equal(n.a.tcp.config.ecn, 0, "unchanged");
});

Deno.test("ecn: the sim link's ce marks only ECN-capable packets", async () => {
  const n = ecnNet();
  n.ab.ce = n.ba.ce = 1;
  const { client, server } = await pair(n);
  assert.equal(n.b.tcp.stats.ecn.ceReceived, 0, "the handshake is Not-ECT: nothing to mark");
  await client.write(new Uint8Array(1000));
  let got: Uint8Array | undefined;
  client.closeWrite();
  readAll(server, 1000).then((d) => got = d);
  await n.run(() => got !== undefined);
  assert.equal(n.b.tcp.stats.ecn.ceReceived, 1, "the one data segment");
  const data = n.trace.find((t) => t.from === "a" && payloadLen(t.packet) > 0)!;
  assert.equal(ecnField(data.packet), 3);
  assert.ok(n.trace.filter((t) => t.from === "b").every((t) => ecnField(t.packet) === 0));
});
