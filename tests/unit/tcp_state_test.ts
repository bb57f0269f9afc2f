// RFC 9293 state machine, driven by crafted segments from a scripted peer.

import assert from "node:assert/strict";
import type { TcpConn } from "../../stack/tcp/socket.ts";
import { setImmediate } from "node:timers";
import { ISN, P, passiveOpen, Peer, settle } from "../_peer.ts";
import { net, pair } from "../_tcp.ts";

Deno.test("tcp: passive open answers with MSS, window scale, SACK-permitted and timestamps", async () => {
  const peer = new Peer();
  const { conn, synack } = await passiveOpen(peer);
  assert.equal(synack.mss, 1460, "MSS clamped to MTU 1500 - 40");
  assert.equal(synack.wscale, 7, "scale for the 6 MiB a buffer may grow to (maxsockbuf)");
  assert.equal(synack.sackOk, true);
  assert.equal(synack.ts?.[1], 500, "TSecr echoes the SYN's TSval");
  assert.equal(conn.state, "ESTABLISHED");
  assert.equal(conn.remoteAddr.port, P);
  assert.equal(peer.stack.tcp.stats.passiveOpens, 1);
});

Deno.test("tcp: IPv6 MSS is MTU - 60 and options are omitted when the peer sends none", () => {
  const peer = new Peer({}, true);
  peer.stack.listen({ port: 80 });
  peer.send({ sport: P, dport: 80, seq: ISN, flags: "S", mss: 1440 });
  const [synack] = peer.take();
  assert.equal(synack.flags, "SA");
  assert.equal(synack.mss, 1440);
  assert.equal(synack.wscale, -1, "no scaling unless both sides offer it (RFC 7323 2.2)");
  assert.equal(synack.sackOk, false);
  assert.equal(synack.ts, undefined);
});

Deno.test("tcp: active open sends SYN with options and completes on SYN,ACK", async () => {
  const peer = new Peer();
  let conn: TcpConn | undefined;
  peer.stack.connect({ hostname: "192.0.2.1", port: 8080 }).then((c) => conn = c);
  const [syn] = peer.take();
  assert.equal(syn.flags, "S");
  assert.equal(syn.dport, 8080);
  assert.ok(syn.sport >= 49152, "ephemeral port from the IANA range");
  assert.equal(syn.mss, 1460);
  assert.ok(syn.sackOk && syn.ts && syn.wscale >= 0);
  peer.send({
    sport: 8080,
    dport: syn.sport,
    seq: ISN,
    ack: syn.seq + 1,
    flags: "SA",
    mss: 1400,
    wscale: 2,
    sackOk: true,
    ts: [77, syn.ts![0]],
  });
  const [ack] = peer.take();
  assert.equal(ack.flags, "A");
  assert.equal(ack.ack, ISN + 1);
  assert.equal(ack.ts?.[1], 77);
  await settle();
  assert.equal(conn?.state, "ESTABLISHED");
  assert.equal(conn!.block.snd.mss, 1400);
  assert.equal(conn!.block.snd.scale, 2);
});

Deno.test("tcp: a SYN to a closed port gets RST,ACK; an ACK gets RST with SEQ=SEG.ACK (RFC 9293 3.10.7.1)", () => {
  const peer = new Peer();
  peer.send({ sport: P, dport: 81, seq: ISN, flags: "S", data: new Uint8Array(3) });
  let [r] = peer.take();
  assert.equal(r.flags, "RA");
  assert.equal(r.seq, 0);
  assert.equal(r.ack, ISN + 1 + 3);
  peer.send({ sport: P, dport: 81, seq: ISN, ack: 4242, flags: "A" });
  [r] = peer.take();
  assert.equal(r.flags, "R");
  assert.equal(r.seq, 4242);
  peer.send({ sport: P, dport: 81, seq: ISN, flags: "R" });
  assert.equal(peer.take().length, 0, "never answer an RST");
  assert.equal(peer.stack.tcp.stats.dropped.noSocket, 3);
});

Deno.test("tcp: LISTEN ignores RST, resets ACKs, drops segments without SYN", () => {
  const peer = new Peer();
  peer.stack.listen({ port: 80 });
  peer.send({ sport: P, dport: 80, seq: ISN, flags: "R" });
  assert.equal(peer.take().length, 0);
  peer.send({ sport: P, dport: 80, seq: ISN, ack: 99, flags: "A" });
  const [r] = peer.take();
  assert.equal(r.flags, "R");
  assert.equal(r.seq, 99);
  peer.send({ sport: P, dport: 80, seq: ISN, flags: "F" });
  assert.equal(peer.take().length, 0);
  assert.equal(peer.stack.tcp.stats.dropped.listenBadFlags, 3);
});

Deno.test("tcp: SYN backlog is bounded (cookies off: the rest are dropped)", () => {
  const peer = new Peer({ tcp: { synBacklog: 2, synCookies: false } });
  peer.stack.listen({ port: 80 });
  for (let i = 0; i < 4; i++) peer.send({ sport: P + i, dport: 80, seq: ISN, flags: "S" });
  assert.equal(peer.take().length, 2);
  assert.equal(peer.stack.tcp.stats.dropped.listenOverflow, 2);
});

Deno.test("tcp: SYN-RECEIVED + RST returns to LISTEN; a bad ACK gets RST", () => {
  const peer = new Peer();
  peer.stack.listen({ port: 80 });
  peer.send({ sport: P, dport: 80, seq: ISN, flags: "S" });
  const [synack] = peer.take();
  peer.send({ sport: P, dport: 80, seq: ISN + 1, ack: synack.seq + 5, flags: "A" });
  const [r] = peer.take();
  assert.equal(r.flags, "R");
  assert.equal(r.seq, synack.seq + 5);
  peer.send({ sport: P, dport: 80, seq: ISN + 1, flags: "R" });
  assert.equal(peer.stack.tcp.connectionCount, 0);
  assert.equal(peer.stack.tcp.stats.resetsReceived, 1);
});

Deno.test("tcp: SYN-SENT: RST with acceptable ACK refuses; bad ACK gets RST", async () => {
  const peer = new Peer();
  let err: Error | undefined;
  peer.stack.connect({ hostname: "192.0.2.1", port: 9 }).catch((e) => err = e);
  const [syn] = peer.take();
  peer.send({ sport: 9, dport: syn.sport, seq: 5, ack: syn.seq + 7, flags: "A" });
  const [r] = peer.take();
  assert.equal(r.flags, "R");
  assert.equal(r.seq, syn.seq + 7);
  peer.send({ sport: 9, dport: syn.sport, seq: 0, flags: "R" });
  await settle();
  assert.equal(err, undefined, "RST without ACK is ignored in SYN-SENT");
  peer.send({ sport: 9, dport: syn.sport, seq: 0, ack: syn.seq + 1, flags: "RA" });
  await settle();
  assert.equal((err as Error | undefined)?.name, "ConnectionRefused");
  assert.equal(peer.stack.tcp.connectionCount, 0);
});

Deno.test("tcp: SYN retransmission backs off and gives up", async () => {
  const peer = new Peer({ tcp: { synRetries: 2 } });
  let err: Error | undefined;
  peer.stack.connect({ hostname: "192.0.2.1", port: 9 }).catch((e) => err = e);
  assert.equal(peer.take()[0].flags, "S");
  const times: number[] = [];
  for (let t = 0; t < 10_000 && !err; t += 100) {
    await peer.advance(100);
    for (const s of peer.take()) if (s.flags === "S") times.push(peer.now);
  }
  assert.equal(times.length, 2, "two retransmissions");
  assert.ok(times[1] - times[0] >= 1900, "back-off doubles the 1 s initial RTO");
  assert.equal((err as Error | undefined)?.name, "TimedOut");
});

Deno.test("tcp: ESTABLISHED -> CLOSE-WAIT -> LAST-ACK -> CLOSED; our FIN carries the ACK of theirs", async () => {
  const peer = new Peer();
  const { conn, iss, ts } = await passiveOpen(peer);
  peer.send({ sport: P, dport: 80, seq: ISN + 1, ack: iss + 1, flags: "FA", ts: ts(502) });
  assert.equal(conn.state, "CLOSE-WAIT");
  assert.equal(peer.take().length, 0, "the ACK waits one turn for the application");
  assert.equal(await conn.read(new Uint8Array(10)), null, "EOF after FIN");
  conn.close();
  const segs = peer.take();
  assert.equal(segs.length, 1, "one segment: FIN and ACK together");
  assert.equal(segs[0].flags, "FA");
  assert.equal(segs[0].ack, ISN + 2);
  assert.equal(conn.state, "LAST-ACK");
  await settle();
  assert.equal(peer.take().length, 0, "no separate ACK follows");
  peer.send({ sport: P, dport: 80, seq: ISN + 2, ack: iss + 2, flags: "A", ts: ts(503) });
  assert.equal(conn.state, "CLOSED");
  assert.equal(peer.stack.tcp.timewait.size, 0, "the passive closer holds no TIME_WAIT");
});

Deno.test("tcp: a FIN is ACKed after one turn when the application does not close", async () => {
  const peer = new Peer();
  const { conn, iss, ts } = await passiveOpen(peer);
  peer.send({ sport: P, dport: 80, seq: ISN + 1, ack: iss + 1, flags: "FA", ts: ts(502) });
  assert.equal(peer.take().length, 0);
  await settle();
  const [ack] = peer.take();
  assert.equal(ack.flags, "A");
  assert.equal(ack.ack, ISN + 2);
  assert.equal(conn.state, "CLOSE-WAIT");
});

Deno.test("tcp: ESTABLISHED -> FIN-WAIT-1 -> FIN-WAIT-2 -> TIME-WAIT (active close)", async () => {
  const peer = new Peer();
  const { conn, iss, ts } = await passiveOpen(peer);
  conn.close();
  assert.equal(conn.state, "FIN-WAIT-1");
  const [fin] = peer.take();
  assert.equal(fin.flags, "FA");
  assert.equal(fin.seq, iss + 1);
  peer.send({ sport: P, dport: 80, seq: ISN + 1, ack: iss + 2, flags: "A", ts: ts(502) });
  assert.equal(conn.state, "FIN-WAIT-2");
  peer.send({ sport: P, dport: 80, seq: ISN + 1, ack: iss + 2, flags: "FA", ts: ts(503) });
  const [ack] = peer.take();
  assert.equal(ack.flags, "A");
  assert.equal(ack.ack, ISN + 2);
  assert.equal(peer.stack.tcp.connectionCount, 0, "the block is freed");
  assert.equal(peer.stack.tcp.timewait.size, 1, "a TIME_WAIT record took its place");
});

Deno.test("tcp: FIN-WAIT-1 -> CLOSING -> TIME-WAIT (simultaneous close, crafted)", async () => {
  const peer = new Peer();
  const { conn, iss, ts } = await passiveOpen(peer);
  conn.close();
  peer.take();
  // The peer's FIN crosses ours: it does not ACK our FIN.
  peer.send({ sport: P, dport: 80, seq: ISN + 1, ack: iss + 1, flags: "FA", ts: ts(502) });
  assert.equal(conn.state, "CLOSING");
  peer.send({ sport: P, dport: 80, seq: ISN + 2, ack: iss + 2, flags: "A", ts: ts(503) });
  assert.equal(peer.stack.tcp.timewait.size, 1);
  assert.equal(peer.stack.tcp.connectionCount, 0);
});

Deno.test("tcp: simultaneous open and simultaneous close between two stacks", async () => {
  const n = net();
  let a: TcpConn | undefined, b: TcpConn | undefined;
  n.a.connect({ hostname: "192.0.2.2", port: 6001, localPort: 6000 }).then((c) => a = c);
  n.b.connect({ hostname: "192.0.2.1", port: 6000, localPort: 6001 }).then((c) => b = c);
  await n.run(() => a !== undefined && b !== undefined, 10_000);
  assert.equal(a!.state, "ESTABLISHED");
  assert.equal(b!.state, "ESTABLISHED");
  // Both SYNs crossed: each side went through SYN-RECEIVED.
  const syns = n.trace.filter((t) => {
    const off = (t.packet[0] & 15) * 4;
    return (t.packet[off + 13] & 0x12) === 0x02;
  });
  assert.equal(syns.length, 2);
  a!.close();
  b!.close();
  assert.equal(a!.state, "FIN-WAIT-1");
  assert.equal(b!.state, "FIN-WAIT-1");
  await n.run(() => n.a.tcp.connectionCount === 0 && n.b.tcp.connectionCount === 0, 10_000);
  assert.equal(n.a.tcp.timewait.size, 1, "both sides hold TIME_WAIT after CLOSING");
  assert.equal(n.b.tcp.timewait.size, 1);
});

Deno.test("tcp: half-close: data still flows towards the side that sent FIN", async () => {
  const n = net();
  const l = n.b.listen({ port: 7 });
  let server: TcpConn | undefined, client: TcpConn | undefined;
  l.accept().then((c) => server = c);
  n.a.connect({ hostname: "192.0.2.2", port: 7 }).then((c) => client = c);
  await n.run(() => !!server && !!client);
  await client!.write(new TextEncoder().encode("request"));
  await client!.closeWrite();
  const got: string[] = [];
  (async () => {
    const buf = new Uint8Array(100);
    const k = await server!.read(buf);
    got.push(new TextDecoder().decode(buf.subarray(0, k!)));
    got.push(String(await server!.read(buf)));
    await server!.write(new TextEncoder().encode("reply after your FIN"));
    server!.close();
  })();
  let reply = "";
  let eof = false;
  (async () => {
    const buf = new Uint8Array(100);
    for (;;) {
      const k = await client!.read(buf);
      if (k === null) break;
      reply += new TextDecoder().decode(buf.subarray(0, k));
    }
    eof = true;
  })();
  await n.run(() => eof, 10_000);
  assert.deepEqual(got, ["request", "null"]);
  assert.equal(reply, "reply after your FIN");
  await n.run(() => n.a.tcp.connectionCount === 0 && n.b.tcp.connectionCount === 0, 10_000);
});

for (const state of ["ESTABLISHED", "FIN-WAIT-1", "FIN-WAIT-2", "CLOSE-WAIT"] as const) {
  Deno.test(`tcp: RST in ${state}: exact sequence resets, in-window gets a challenge ACK (RFC 5961 3.2)`, async () => {
    const peer = new Peer();
    const { conn, iss, ts } = await passiveOpen(peer);
    let una = iss + 1;
    if (state === "FIN-WAIT-1" || state === "FIN-WAIT-2") {
      conn.close();
      peer.take();
      if (state === "FIN-WAIT-2") {
        peer.send({ sport: P, dport: 80, seq: ISN + 1, ack: iss + 2, flags: "A", ts: ts(502) });
        una = iss + 2;
      }
    }
    let rcv = ISN + 1;
    if (state === "CLOSE-WAIT") {
      peer.send({ sport: P, dport: 80, seq: ISN + 1, ack: una, flags: "FA", ts: ts(502) });
      rcv++;
      peer.take();
    }
    assert.equal(conn.state, state);
    peer.send({ sport: P, dport: 80, seq: rcv + 100, flags: "R" });
    const [ch] = peer.take();
    assert.equal(ch.flags, "A", "challenge ACK");
    assert.equal(ch.ack, rcv);
    assert.equal(conn.state, state, "not reset by an inexact RST");
    peer.send({ sport: P, dport: 80, seq: rcv + 5_000_000, flags: "R" });
    assert.equal(conn.state, state, "out-of-window RST ignored");
    peer.send({ sport: P, dport: 80, seq: rcv, flags: "R" });
    assert.equal(conn.state, "CLOSED");
    assert.equal(peer.stack.tcp.stats.resetsReceived, 1);
    assert.equal(peer.stack.tcp.stats.challengeAcks, 1);
  });
}

Deno.test("tcp: RST in LAST-ACK and CLOSING closes quietly", async () => {
  for (const st of ["LAST-ACK", "CLOSING"]) {
    const peer = new Peer();
    const { conn, iss, ts } = await passiveOpen(peer);
    if (st === "LAST-ACK") {
      peer.send({ sport: P, dport: 80, seq: ISN + 1, ack: iss + 1, flags: "FA", ts: ts(502) });
      conn.close();
    } else {
      conn.close();
      peer.send({ sport: P, dport: 80, seq: ISN + 1, ack: iss + 1, flags: "FA", ts: ts(502) });
    }
    assert.equal(conn.state, st);
    peer.send({ sport: P, dport: 80, seq: ISN + 2, flags: "R" });
    assert.equal(conn.state, "CLOSED");
    assert.equal(peer.stack.tcp.timewait.size, 0);
  }
});

Deno.test("tcp: RFC 5961: SYN in ESTABLISHED gets a challenge ACK, not a reset", async () => {
  const peer = new Peer();
  const { conn } = await passiveOpen(peer);
  peer.send({ sport: P, dport: 80, seq: ISN + 50, flags: "S", ts: [600, 0] });
  const [ch] = peer.take();
  assert.equal(ch.flags, "A");
  assert.equal(ch.ack, ISN + 1);
  assert.equal(conn.state, "ESTABLISHED");
  assert.equal(peer.stack.tcp.stats.dropped.synInWindow, 1);
});

Deno.test("tcp: RFC 5961 5.2: data with an ACK from the future or far past is refused", async () => {
  const peer = new Peer();
  const { conn, iss, ts } = await passiveOpen(peer);
  const data = new TextEncoder().encode("blind");
  peer.send({ sport: P, dport: 80, seq: ISN + 1, ack: iss + 1000, flags: "PA", data, ts: ts(502) });
  assert.equal(peer.take()[0].flags, "A", "challenge ACK");
  // Older than SND.UNA - MAX.SND.WND (the peer offered 65535 << 7).
  peer.send({
    sport: P,
    dport: 80,
    seq: ISN + 1,
    ack: iss - 10_000_000,
    flags: "PA",
    data,
    ts: ts(502),
  });
  assert.equal(peer.stack.tcp.stats.dropped.ackTooNew, 1);
  assert.equal(peer.stack.tcp.stats.dropped.ackTooOld, 1);
  assert.equal(conn.block.rcv.buf.readable, 0, "no blind data accepted");
  // A good segment is accepted.
  peer.send({ sport: P, dport: 80, seq: ISN + 1, ack: iss + 1, flags: "PA", data, ts: ts(502) });
  assert.equal(conn.block.rcv.buf.readable, 5);
});

Deno.test("tcp: RFC 5961 7: challenge ACKs are limited per connection (5 a second)", async () => {
  const peer = new Peer();
  await passiveOpen(peer);
  for (let i = 0; i < 10; i++) peer.send({ sport: P, dport: 80, seq: ISN + 10 + i, flags: "R" });
  assert.equal(peer.take().length, 5);
  assert.equal(peer.stack.tcp.stats.challengeAcksSuppressed, 5);
  await peer.advance(1000);
  peer.send({ sport: P, dport: 80, seq: ISN + 30, flags: "R" });
  assert.equal(peer.take().length, 1, "a new second, a new budget");
});

Deno.test("tcp: the stack-wide challenge-ACK budget is random each second (CVE-2016-5696)", async () => {
  const peer = new Peer({ tcp: { challengeAckLimit: 100, challengeAckPerConnection: 10_000 } });
  await passiveOpen(peer);
  const perSecond: number[] = [];
  for (let sec = 0; sec < 6; sec++) {
    await peer.advance(1000 - (peer.now % 1000));
    for (let i = 0; i < 300; i++) peer.send({ sport: P, dport: 80, seq: ISN + 10 + i, flags: "R" });
    perSecond.push(peer.take().length);
  }
  for (const n of perSecond) assert.ok(n >= 50 && n < 150, `${n} in [limit/2, 3 limit/2)`);
  assert.ok(new Set(perSecond).size > 1, `not one fixed count: ${perSecond}`);
});

Deno.test("tcp: PAWS drops an old timestamp; a segment without timestamps is dropped", async () => {
  const peer = new Peer();
  const { conn, iss } = await passiveOpen(peer);
  const data = new Uint8Array([1, 2, 3]);
  peer.send({ sport: P, dport: 80, seq: ISN + 1, ack: iss + 1, flags: "PA", data, ts: [400, 0] });
  assert.equal(peer.stack.tcp.stats.dropped.paws, 1);
  peer.send({ sport: P, dport: 80, seq: ISN + 1, ack: iss + 1, flags: "PA", data });
  assert.equal(peer.stack.tcp.stats.dropped.missingTimestamp, 1);
  assert.equal(conn.block.rcv.buf.readable, 0);
});

Deno.test("tcp: out-of-order data is held, SACKed, and merged when the gap fills", async () => {
  const peer = new Peer();
  const { conn, iss, ts } = await passiveOpen(peer);
  const d = (s: string) => new TextEncoder().encode(s);
  peer.send({
    sport: P,
    dport: 80,
    seq: ISN + 1 + 4,
    ack: iss + 1,
    flags: "A",
    data: d("EFGH"),
    ts: ts(502),
  });
  let [ack] = peer.take();
  assert.equal(ack.ack, ISN + 1, "duplicate ACK at once for out-of-order data");
  assert.deepEqual(ack.sack, [[ISN + 5, ISN + 9]]);
  peer.send({
    sport: P,
    dport: 80,
    seq: ISN + 1 + 12,
    ack: iss + 1,
    flags: "A",
    data: d("MN"),
    ts: ts(503),
  });
  [ack] = peer.take();
  assert.deepEqual(ack.sack, [[ISN + 13, ISN + 15], [ISN + 5, ISN + 9]], "newest block first");
  peer.send({
    sport: P,
    dport: 80,
    seq: ISN + 1,
    ack: iss + 1,
    flags: "A",
    data: d("ABCD"),
    ts: ts(504),
  });
  [ack] = peer.take();
  assert.equal(ack.ack, ISN + 9, "gap filled, ACKed at once");
  assert.deepEqual(ack.sack, [[ISN + 13, ISN + 15]]);
  const buf = new Uint8Array(20);
  const k = await conn.read(buf);
  assert.equal(new TextDecoder().decode(buf.subarray(0, k!)), "ABCDEFGH");
});

Deno.test("tcp: a slow reader closes the window; the sender probes it and resumes", async () => {
  const n = net({ tcp: { sndBuf: 65536 } }, { tcp: { rcvBuf: 65536 } });
  const l = n.b.listen({ port: 7 });
  let server: TcpConn | undefined, client: TcpConn | undefined;
  l.accept().then((c) => server = c);
  n.a.connect({ hostname: "192.0.2.2", port: 7 }).then((c) => client = c);
  await n.run(() => !!server && !!client);
  const total = 300_000;
  let written = false;
  client!.write(new Uint8Array(total)).then(() => written = true);
  await n.advance(3000);
  assert.equal(written, false, "write waits while the peer does not read");
  const sb = server!.block;
  assert.ok(sb.rcv.buf.window < sb.rcv.mss, "receive buffer full (no room for a segment)");
  assert.equal(sb.rcv.lastWindowField, 0, "zero window advertised");
  assert.ok(n.a.tcp.stats.windowProbes >= 1, "zero-window probes sent");
  let got = 0;
  const buf = new Uint8Array(65536);
  while (got < total) {
    const p = server!.read(buf);
    let k: number | null = null;
    p.then((x) => k = x);
    await n.run(() => k !== null, 60_000);
    got += k!;
  }
  await n.run(() => written, 10_000);
  assert.equal(got, total);
});

/**
 * A 64 KB receive buffer holding 28 unread segments (40 KB), every ACK
 * out: what the last one offered, about 24 KB (under half the buffer).
 */
async function unreadHalf() {
  const peer = new Peer({ tcp: { rcvBuf: 65536 } });
  const { conn, sendData } = await passiveOpen(peer);
  for (let i = 0; i < 28; i++) sendData(new Uint8Array(1448), i * 1448, "A");
  await peer.advance(50); // every ACK, delayed ones included, is out
  const scale = conn.block.rcv.scale;
  const offered = peer.take().filter((s) => s.data.length === 0).at(-1)!.window << scale;
  assert.ok(offered < 30_000 && offered >= 2 * 1460, `offered ${offered}`);
  /** The segment sent next must be an ACK offering at least twice as much. */
  const updateNow = () => {
    const [update] = peer.take();
    assert.ok(update && update.data.length === 0, "an ACK at once");
    assert.ok(update.window << scale >= 2 * offered, `window ${update.window << scale}`);
  };
  return { peer, conn, updateNow };
}

Deno.test("tcp: a reader emptying a buffer over half full sends the opened window at once", async () => {
  const { conn, updateNow } = await unreadHalf();
  assert.equal(await conn.read(new Uint8Array(65536)), 28 * 1448);
  // The window more than doubles: the update leaves now, not within the
  // delayed-ACK time (the sender may be waiting on what it was offered).
  updateNow();
});

Deno.test("tcp: a reader taking a small offer's bytes in pieces sends the opened window at once", async () => {
  const { peer, conn, updateNow } = await unreadHalf();
  // The first half read leaves less than twice the offer: no ACK yet.
  assert.equal(await conn.read(new Uint8Array(14 * 1448)), 14 * 1448);
  assert.equal(peer.take().length, 0, "nothing for the first piece");
  // The second leaves under half the buffer held, as a reader keeping up
  // would, and offers twice as much: that goes at once, not in 40 ms.
  assert.equal(await conn.read(new Uint8Array(14 * 1448)), 14 * 1448);
  updateNow();
});

Deno.test("tcp: without window scaling, a reader keeping up sends no window update per read", async () => {
  // No quick ACKs: each lone segment of a fresh connection would get one.
  const peer = new Peer({ tcp: { quickAck: false } });
  const { conn, sendData } = await passiveOpen(peer, { wscale: false });
  // 64 KB is the most the field can offer, far under the 1 MB buffer: each
  // read frees a segment, never twice what stands offered.
  const buf = new Uint8Array(65536);
  let acks = 0;
  for (let i = 0; i < 8; i++) {
    sendData(new Uint8Array(1448), i * 1448, "A");
    assert.equal(await conn.read(buf), 1448);
    await settle();
    acks += peer.take().filter((s) => s.data.length === 0).length;
  }
  assert.ok(acks <= 4, `${acks} ACKs for 8 segments (RFC 5681: one per two)`);
});

Deno.test("tcp: reading a request against the handshake's small offer sends no window update", async () => {
  const peer = new Peer();
  const { conn, sendData } = await passiveOpen(peer);
  // The SYN-ACK's unscaled field offered 64 KB of a 1 MB buffer: reading
  // opens far more than twice that, but no sender waits on it, and the
  // answer written next carries the ACK and the window.
  sendData(new Uint8Array(100));
  assert.equal(await conn.read(new Uint8Array(4096)), 100);
  await conn.write(new Uint8Array(10));
  await settle();
  const [first] = peer.take();
  assert.ok(first && first.data.length === 10, "the answer comes first, with the ACK");
});

Deno.test("tcp: Nagle holds a second small segment until the first is ACKed; setNoDelay sends it", async () => {
  const peer = new Peer();
  const { conn } = await passiveOpen(peer);
  await conn.write(new Uint8Array([1]));
  await conn.write(new Uint8Array([2]));
  let sent = peer.take().filter((s) => s.data.length > 0);
  assert.equal(sent.length, 1, "Nagle: one small segment in flight");
  conn.setNoDelay(true);
  sent = peer.take().filter((s) => s.data.length > 0);
  assert.deepEqual(sent.map((s) => [...s.data]), [[2]], "turning Nagle off flushes the held byte");
  await conn.write(new Uint8Array([3]));
  sent = peer.take().filter((s) => s.data.length > 0);
  assert.deepEqual(sent.map((s) => [...s.data]), [[3]], "and small writes go at once");
});

Deno.test("tcp: delayed ACK fires after its timeout; every second segment is ACKed within the turn", async () => {
  // RFC 5681 4.2 alone, as FreeBSD: no quick-ACK mode at the start.
  const peer = new Peer({ tcp: { quickAck: false } });
  const { iss, ts } = await passiveOpen(peer);
  const full = new Uint8Array(1448);
  peer.send({
    sport: P,
    dport: 80,
    seq: ISN + 1,
    ack: iss + 1,
    flags: "A",
    data: full,
    ts: ts(502),
  });
  assert.equal(peer.take().length, 0, "first full segment: ACK delayed");
  peer.send({
    sport: P,
    dport: 80,
    seq: ISN + 1 + 1448,
    ack: iss + 1,
    flags: "A",
    data: full,
    ts: ts(503),
  });
  assert.equal(peer.take().length, 0, "second: due, sent when the turn's reads are done");
  await settle();
  assert.equal(peer.take().length, 1, "second: ACKed within the turn, no timer");
  peer.send({
    sport: P,
    dport: 80,
    seq: ISN + 1 + 2896,
    ack: iss + 1,
    flags: "A",
    data: full,
    ts: ts(504),
  });
  assert.equal(peer.take().length, 0);
  await peer.advance(45);
  const acks = peer.take();
  assert.equal(acks.length, 1);
  assert.equal(acks[0].ack, ISN + 1 + 3 * 1448);
  assert.equal(peer.stack.tcp.stats.delayedAcks, 1);
});

Deno.test("tcp: a waiting read takes in-order data straight into its buffer, asks for its turn when full, the rest after it in order", async () => {
  const peer = new Peer();
  const { conn, iss, ts } = await passiveOpen(peer);
  const bytes = (from: number, n: number) =>
    Uint8Array.from({ length: n }, (_, i) => (from + i) & 255);
  const seg = (at: number, n: number) =>
    peer.send({
      sport: P,
      dport: 80,
      seq: ISN + 1 + at,
      ack: iss + 1,
      flags: "A",
      data: bytes(at, n),
      ts: ts(502),
    });
  const buf = new Uint8Array(3000);
  const reading = conn.read(buf);
  await settle();
  // Two segments in one batch: the first and part of the second fit the
  // waiting buffer; the rest is queued in the receive buffer. The buffer
  // once full, the stack asks its packet source for the reader's turn.
  seg(0, 1448);
  assert.equal(peer.stack.takeYield(), false, "room left in the reader's buffer");
  seg(1448, 1448 * 2);
  const rcv = conn.block.rcv;
  assert.deepEqual([rcv.directLen, rcv.buf.readable], [3000, 4344 - 3000]);
  assert.deepEqual([peer.stack.takeYield(), peer.stack.takeYield()], [true, false]);
  assert.equal(await reading, 3000);
  assert.deepEqual(buf, bytes(0, 3000));
  const rest = new Uint8Array(4000);
  assert.equal(await conn.read(rest), 1344);
  assert.deepEqual(rest.subarray(0, 1344), bytes(3000, 1344));
  // Out of order, nothing goes straight in; the segment that fills the gap
  // goes through the buffer too, which then holds both, in order.
  const later = conn.read(buf);
  await settle();
  seg(4344 + 1448, 1448);
  seg(4344, 1448);
  assert.deepEqual([rcv.directLen, rcv.buf.readable], [0, 2896]);
  assert.equal(await later, 2896);
  assert.deepEqual(buf.subarray(0, 2896), bytes(4344, 2896));
  assert.equal(rcv.direct, undefined, "the buffer is given back");
});

Deno.test("tcp: coalesced segments read in one turn get one ACK, unless a quarter of the buffer waits", async () => {
  const peer = new Peer({ tcp: { rcvBuf: 1 << 20 } });
  const { iss, ts } = await passiveOpen(peer);
  const seg = (i: number, n: number) =>
    peer.send({
      sport: P,
      dport: 80,
      seq: ISN + 1 + i * 14_480,
      ack: iss + 1,
      flags: "A",
      data: new Uint8Array(n),
      ts: ts(502),
    });
  // Three 10-segment packets (a GRO device's) in one batch of reads.
  for (let i = 0; i < 3; i++) seg(i, 14_480);
  assert.equal(peer.take().length, 0);
  await settle();
  const acks = peer.take();
  assert.equal(acks.length, 1, "one ACK for the batch");
  assert.equal(acks[0].ack, ISN + 1 + 3 * 14_480);
  // 300 KB unacknowledged, over a quarter of 1 MiB: that one goes at once.
  for (let i = 3; i < 24; i++) seg(i, 14_480);
  const now = peer.take();
  assert.equal(now.length, 1, "an ACK inside the batch");
  assert.ok(now[0].ack - ISN - 1 - 3 * 14_480 >= (1 << 20) / 4);
});

Deno.test("quick ack: a lone segment at the start is ACKed within the turn, by the answer if there is one", async () => {
  const peer = new Peer();
  const { conn, iss } = await passiveOpen(peer, { ts: false });
  const data = (n: number, seq: number) => ({
    sport: P,
    dport: 80,
    seq,
    ack: iss + 1,
    flags: "PA",
    data: new Uint8Array(n),
  });
  peer.send(data(100, ISN + 1));
  assert.deepEqual(peer.take(), [], "not inside the packet's own processing");
  await settle(); // the turn ends: nobody answered
  const [ack] = peer.take();
  assert.equal(ack?.ack, ISN + 101, "ACKed at the turn's end, not after 40 ms");
  assert.equal(ack.data.length, 0);
  // An application that answers in the same turn carries the ACK.
  await conn.read(new Uint8Array(100));
  peer.send(data(100, ISN + 101));
  await conn.read(new Uint8Array(100));
  await conn.write(new Uint8Array(10));
  await settle();
  const sent = peer.take();
  assert.equal(sent.length, 1, "one segment: the answer");
  assert.equal(sent[0].ack, ISN + 201);
  assert.equal(sent[0].data.length, 10);
  assert.equal(peer.stack.tcp.stats.delayedAcks, 0);
});

Deno.test("ping-pong: once answers follow requests, a lone segment waits for the answer or 40 ms", async () => {
  const peer = new Peer();
  const { conn, iss } = await passiveOpen(peer, { ts: false });
  let seq = ISN + 1, acked = iss + 1;
  const request = () => {
    peer.send({ sport: P, dport: 80, seq, ack: acked, flags: "PA", data: new Uint8Array(50) });
    seq += 50;
  };
  request();
  await conn.read(new Uint8Array(50));
  await conn.write(new Uint8Array(20)); // an answer within the delayed-ACK time: ping-pong
  acked += 20;
  peer.take();
  assert.equal(conn.block.rcv.pingpong, true);
  request(); // no answer this time
  await settle();
  assert.deepEqual(peer.take(), [], "in ping-pong the ACK waits for an answer");
  await peer.advance(45);
  const [late] = peer.take();
  assert.equal(late?.ack, seq, "the delayed ACK");
  assert.equal(conn.block.rcv.pingpong, false, "an answer that did not come ends ping-pong");
});

Deno.test("quick ack: a peer holding its second small write for Nagle is not held 40 ms", async () => {
  const elapsed: Record<string, number> = {};
  for (const quickAck of [true, false]) {
    const n = net({}, { tcp: { quickAck } });
    const { client, server } = await pair(n);
    const start = n.now;
    // A request in two writes: Nagle holds the second until the first is ACKed.
    await client.write(new Uint8Array(100));
    await client.write(new Uint8Array(100));
    let got = 0;
    (async () => {
      const b = new Uint8Array(200);
      while (got < 200) got += (await server.read(b.subarray(got))) ?? 200;
      await server.write(new Uint8Array(10));
    })();
    let answer = 0;
    client.read(new Uint8Array(10)).then((k) => answer = k ?? 0);
    await n.run(() => answer > 0, 10_000);
    elapsed[String(quickAck)] = n.now - start;
    client.close();
    server.close();
  }
  assert.ok(elapsed.true < 5, `with quick ACKs: ${elapsed.true} ms`);
  assert.ok(elapsed.false >= 40, `without: ${elapsed.false} ms`);
});

Deno.test("tcp: retransmission timeout resends the first unacknowledged segment", async () => {
  const peer = new Peer();
  const { conn, iss } = await passiveOpen(peer);
  await conn.write(new TextEncoder().encode("lost"));
  const [first] = peer.take();
  assert.equal(first.seq, iss + 1);
  await peer.advance(250);
  const [again] = peer.take();
  assert.equal(again.seq, iss + 1);
  assert.deepEqual(again.data, first.data);
  assert.equal(peer.stack.tcp.stats.timeouts, 1);
});

Deno.test("tcp: three duplicate ACKs trigger fast retransmit (RFC 5681 3.2)", async () => {
  const peer = new Peer();
  const { conn, iss, ts } = await passiveOpen(peer);
  conn.setNoDelay(true);
  await conn.write(new Uint8Array(1448 * 6));
  const segs = peer.take();
  assert.equal(segs.length, 6);
  // One ACK for segment 0, then three duplicates of it.
  for (let i = 0; i < 4; i++) {
    peer.send({
      sport: P,
      dport: 80,
      seq: ISN + 1,
      ack: iss + 1 + 1448,
      flags: "A",
      ts: ts(510 + i),
    });
  }
  const re = peer.take().filter((s) => s.seq === iss + 1 + 1448);
  assert.equal(re.length, 1, "the segment after the ACKed one is resent");
  assert.equal(peer.stack.tcp.stats.fastRetransmits, 1);
});

Deno.test("tcp: SACK blocks steer retransmission to the holes (RFC 6675)", async () => {
  const peer = new Peer();
  const { conn, iss, ts } = await passiveOpen(peer);
  await conn.write(new Uint8Array(1448 * 8));
  peer.take();
  const base = iss + 1;
  // Segments 0 and 3 lost; the peer SACKs 1-2 and 4-7.
  const blocks: [number, number][] = [[base + 4 * 1448, base + 8 * 1448], [
    base + 1448,
    base + 3 * 1448,
  ]];
  peer.send({
    sport: P,
    dport: 80,
    seq: ISN + 1,
    ack: base,
    flags: "A",
    ts: ts(510),
    sack: blocks,
  });
  const re = peer.take().filter((s) => s.data.length > 0).map((s) => (s.seq - base) / 1448);
  assert.deepEqual(re, [0, 3], "both holes, nothing that was SACKed");
  assert.equal(peer.stack.tcp.stats.sackRecoveries, 1);
});

Deno.test("tcp: keepalive probes an idle connection and drops it when unanswered", async () => {
  const peer = new Peer({ tcp: { keepIdleMs: 1000, keepIntervalMs: 200, keepCount: 3 } });
  const { conn, iss } = await passiveOpen(peer);
  conn.setKeepAlive(true);
  await peer.advance(1100);
  const [probe] = peer.take();
  assert.equal(probe.seq, iss, "SEG.SEQ = SND.NXT - 1");
  assert.equal(probe.data.length, 0);
  await peer.advance(1000);
  assert.equal(conn.state, "CLOSED");
  assert.equal(peer.stack.tcp.stats.keepaliveProbes, 3);
});

Deno.test("tcp: closing with unread data sends RST (RFC 9293 3.10.4)", async () => {
  const peer = new Peer();
  const { conn, sendData } = await passiveOpen(peer);
  sendData(new Uint8Array(5));
  peer.take();
  conn.close();
  const [r] = peer.take();
  assert.equal(r.flags, "RA");
  assert.equal(conn.state, "CLOSED");
});

Deno.test("tcp: in-stack loopback connects to our own address without the link", async () => {
  const peer = new Peer();
  const l = peer.stack.listen({ port: 7 });
  const got: string[] = [];
  (async () => {
    const c = await l.accept();
    const buf = new Uint8Array(10);
    const k = await c.read(buf);
    got.push(new TextDecoder().decode(buf.subarray(0, k!)));
    c.close();
  })();
  const c = await peer.stack.connect({ hostname: "192.0.2.2", port: 7 });
  await c.write(new TextEncoder().encode("self"));
  await settle();
  c.close();
  await settle();
  assert.deepEqual(got, ["self"]);
  assert.equal(peer.out.length, 0, "nothing on the link");
  assert.ok(peer.stack.ip.stats.loopbackPackets > 0);
});

Deno.test("tcp: a reader draining a full buffer yields to the event loop (the stack keeps running)", async () => {
  const peer = new Peer();
  const { conn, iss, ts } = await passiveOpen(peer);
  const seg = new Uint8Array(1448);
  const total = 600 * 1024;
  for (let off = 0; off < total; off += 1448) {
    peer.send({
      sport: P,
      dport: 80,
      seq: ISN + 1 + off,
      ack: iss + 1,
      flags: "A",
      data: seg,
      ts: ts(502),
    });
  }
  let read = 0, readWhenLoopRan = -1;
  setImmediate(() => readWhenLoopRan = read);
  const buf = new Uint8Array(16 * 1024);
  while (read < total) read += (await conn.read(buf))!;
  assert.ok(
    readWhenLoopRan >= 0 && readWhenLoopRan < total,
    `event loop ran at ${readWhenLoopRan}`,
  );
});

Deno.test("tcp: simultaneous open completes on the peer's SYN,ACK, without waiting for an RTO", async () => {
  const peer = new Peer();
  let conn: TcpConn | undefined;
  peer.stack.connect({ hostname: "192.0.2.1", port: 8080 }).then((c) => conn = c);
  const [syn] = peer.take();
  // The peer's SYN crosses ours: we answer SYN,ACK (RFC 9293 figure 7).
  peer.send({ sport: 8080, dport: syn.sport, seq: ISN, flags: "S", mss: 1460 });
  const [synack] = peer.take();
  assert.equal(synack.flags, "SA");
  assert.equal(synack.seq, syn.seq);
  assert.equal(synack.ack, ISN + 1);
  // Its SYN,ACK repeats its SYN (seq = IRS) and ACKs ours: ESTABLISHED at once.
  peer.send({ sport: 8080, dport: syn.sport, seq: ISN, ack: syn.seq + 1, flags: "SA", mss: 1460 });
  await settle();
  assert.ok(conn, "established");
  assert.equal(conn!.state, "ESTABLISHED");
  assert.equal(peer.stack.tcp.stats.synRetransmits, 0, "no RTO was needed");
});

Deno.test("tcp: a retransmitted SYN in SYN-RECEIVED gets the SYN,ACK again", () => {
  const peer = new Peer();
  peer.stack.listen({ port: 80 });
  const syn = { sport: P, dport: 80, seq: ISN, flags: "S", mss: 1460 };
  peer.send(syn);
  const [first] = peer.take();
  assert.equal(first.flags, "SA");
  peer.send(syn); // our SYN,ACK was lost
  const [again] = peer.take();
  assert.equal(again.flags, "SA");
  assert.equal(again.seq, first.seq);
  assert.equal(again.ack, ISN + 1);
  assert.equal(peer.stack.tcp.stats.synRetransmitsAnswered, 1);
});

Deno.test("tcp: closing a listener resets its half-open connections; none is left unowned", () => {
  const peer = new Peer();
  const l = peer.stack.listen({ port: 80 });
  peer.send({ sport: P, dport: 80, seq: ISN, flags: "S", mss: 1460 });
  const [synack] = peer.take();
  l.close();
  const [rst] = peer.take();
  assert.equal(rst.flags, "RA");
  assert.equal(rst.seq, synack.seq + 1);
  assert.equal(peer.stack.tcp.connectionCount, 0);
  // The handshake's ACK now finds nothing: a reset, not an ESTABLISHED orphan.
  peer.send({ sport: P, dport: 80, seq: ISN + 1, ack: synack.seq + 1, flags: "A" });
  assert.equal(peer.take()[0].flags, "R");
  assert.equal(peer.stack.tcp.connectionCount, 0);
  // A new listener on the port starts with a clean SYN count.
  const l2 = peer.stack.listen({ port: 80, backlog: 1 });
  peer.send({ sport: P + 1, dport: 80, seq: ISN, flags: "S", mss: 1460 });
  assert.equal(peer.take()[0].flags, "SA");
  l2.close();
  assert.equal(peer.stack.tcp.connectionCount, 0);
});

Deno.test("tcp: setKeepAlive on a connection handed to TIME_WAIT arms nothing", async () => {
  const peer = new Peer();
  const { conn, iss } = await passiveOpen(peer, { ts: false });
  conn.close();
  peer.take();
  peer.send({ sport: P, dport: 80, seq: ISN + 1, ack: iss + 2, flags: "FA" });
  assert.equal(peer.take()[0].flags, "A", "TIME_WAIT's ACK of the FIN");
  assert.equal(peer.stack.tcp.timewait.size, 1);
  conn.setKeepAlive(true);
  assert.equal(conn.block.keepAt, 0);
  await peer.advance(3 * 3600_000);
  assert.deepEqual(peer.take(), [], "no keepalive probe");
});

Deno.test("tcp: cork holds small writes and the FIN; uncork sends them as one segment", async () => {
  const peer = new Peer();
  const { conn } = await passiveOpen(peer, { ts: false });
  conn.cork();
  await conn.write(new Uint8Array(10));
  await conn.write(new Uint8Array(20));
  conn.closeWrite();
  assert.deepEqual(peer.take(), [], "held while corked");
  conn.uncork();
  const sent = peer.take();
  assert.equal(sent.length, 1);
  assert.equal(sent[0].flags, "FPA");
  assert.equal(sent[0].data.length, 30);
});

Deno.test("tcp: writev sends its buffers in order as whole segments and one tail; a cork stays", async () => {
  const peer = new Peer();
  const { conn } = await passiveOpen(peer, { ts: false });
  conn.setNoDelay(true);
  const parts = [
    new Uint8Array(100).fill(1),
    new Uint8Array(2000).fill(2),
    new Uint8Array(50).fill(3),
  ];
  assert.equal(await conn.writev(parts), 2150);
  const sent = peer.take().filter((s) => s.data.length > 0);
  assert.deepEqual(sent.map((s) => s.data.length), [1460, 690], "not 100, 1360, 640, 50");
  const bytes = new Uint8Array([...sent[0].data, ...sent[1].data]);
  assert.deepEqual(bytes, new Uint8Array([...parts[0], ...parts[1], ...parts[2]]));
  // Inside an application's own cork, writev leaves it in place.
  conn.cork();
  await conn.writev([new Uint8Array(10), new Uint8Array(10)]);
  assert.deepEqual(peer.take().filter((s) => s.data.length > 0), [], "still corked");
  conn.uncork();
  assert.equal(peer.take().filter((s) => s.data.length > 0)[0].data.length, 20);
});

Deno.test("tcp: a cork left in place is released by the persist timer", async () => {
  const peer = new Peer();
  const { conn } = await passiveOpen(peer, { ts: false });
  conn.cork();
  await conn.write(new Uint8Array(10));
  assert.deepEqual(peer.take(), []);
  await peer.advance(1500);
  const sent = peer.take();
  assert.ok(sent.length >= 1, "sent within 1.5 s");
  assert.equal(sent[0].data.length, 10);
  assert.ok(sent.every((s) => s.seq === sent[0].seq), "then only retransmitted, unACKed");
});

Deno.test("tcp: Nagle (Minshall): a response's short tail goes at once; a second short one waits", async () => {
  const peer = new Peer();
  const { conn, iss } = await passiveOpen(peer, { ts: false });
  await conn.write(new Uint8Array(1460 + 100));
  let sent = peer.take().filter((s) => s.data.length > 0);
  assert.deepEqual(
    sent.map((s) => s.data.length),
    [1460, 100],
    "tail not held behind the full segment",
  );
  await conn.write(new Uint8Array(10));
  assert.deepEqual(peer.take().filter((s) => s.data.length > 0), [], "a short segment is unACKed");
  peer.send({ sport: P, dport: 80, seq: ISN + 1, ack: iss + 1 + 1560, flags: "A" });
  sent = peer.take().filter((s) => s.data.length > 0);
  assert.deepEqual(sent.map((s) => s.data.length), [10], "sent once the short one is ACKed");
});

Deno.test("tcp: fast retransmit still fires after 2^31 bytes (recover trails SND.UNA)", async () => {
  const peer = new Peer();
  const { conn } = await passiveOpen(peer, { ts: false });
  conn.setNoDelay(true);
  const c = conn.block;
  // As if just under 2 GiB had been ACKed since the last recovery: two
  // more segments, and a recover left behind would compare as newer.
  c.snd.recover = (c.snd.una - 2 ** 31 + 2000) >>> 0;
  await conn.write(new Uint8Array(1460 * 6));
  const first = peer.take().filter((s) => s.data.length > 0);
  assert.equal(first.length, 6);
  const ack = (n: number) => peer.send({ sport: P, dport: 80, seq: ISN + 1, ack: n, flags: "A" });
  ack(first[1].seq);
  ack(first[2].seq);
  peer.take();
  assert.equal(c.snd.recover, (c.snd.una - 1) >>> 0, "recover trails SND.UNA");
  // Three duplicates: the third segment was lost.
  for (let i = 0; i < 3; i++) ack(first[2].seq);
  const rtx = peer.take().filter((s) => s.data.length > 0);
  assert.equal(rtx[0]?.seq, first[2].seq, "resent on the third duplicate");
  assert.equal(peer.stack.tcp.stats.fastRetransmits, 1);
});

Deno.test("tcp: a zero window met with data in flight is probed for as long as the peer answers (RFC 1122 4.2.2.17)", async () => {
  const peer = new Peer({ tcp: { dataRetries: 3 } });
  const { conn, iss } = await passiveOpen(peer, { ts: false });
  await conn.write(new Uint8Array(3000));
  peer.take();
  // The peer takes nothing and shuts its window.
  const zero = () =>
    peer.send({ sport: P, dport: 80, seq: ISN + 1, ack: iss + 1, flags: "A", window: 0 });
  zero();
  let probes = 0;
  for (let t = 0; t < 120_000; t += 500) {
    await peer.advance(500);
    const sent = peer.take();
    if (sent.length > 0) {
      probes += sent.length;
      zero(); // each probe is answered: still a zero window
    }
  }
  assert.equal(conn.state, "ESTABLISHED", "alive after two minutes of zero window");
  assert.ok(probes >= 3, `${probes} probes`);
  // The window opens: the data flows.
  peer.send({ sport: P, dport: 80, seq: ISN + 1, ack: iss + 1, flags: "A", window: 512 });
  await peer.advance(10);
  const sent = peer.take().filter((s) => s.data.length > 0);
  assert.ok(sent.length > 0 && sent[0].seq === iss + 1, "resumes from SND.UNA");
});

Deno.test("tcp: after a SYN timeout with no RTT sample, data starts with RTO = 3 s (RFC 6298 5.7)", async () => {
  const peer = new Peer({ tcp: { timestamps: false } });
  let conn: TcpConn | undefined;
  peer.stack.connect({ hostname: "192.0.2.1", port: 8080 }).then((c) => conn = c);
  const [syn] = peer.take();
  await peer.advance(1100);
  assert.equal(peer.take()[0]?.flags, "S", "SYN retransmitted");
  peer.send({ sport: 8080, dport: syn.sport, seq: ISN, ack: syn.seq + 1, flags: "SA", mss: 1460 });
  await settle();
  assert.ok(conn);
  assert.equal(conn!.block.snd.rtt.rto, 3000);
});

Deno.test("tcp: an abort behind a zero window is an RST the peer accepts (at its window's edge)", async () => {
  const peer = new Peer();
  const { conn, iss, ts } = await passiveOpen(peer);
  await conn.write(new Uint8Array(100));
  peer.take();
  // The peer ACKs the data and shuts its window; a persist probe follows.
  peer.send({
    sport: P,
    dport: 80,
    seq: ISN + 1,
    ack: iss + 101,
    flags: "A",
    window: 0,
    ts: ts(600),
  });
  await conn.write(new Uint8Array(100));
  await peer.advance(2000);
  const probe = peer.take().find((s) => s.data.length === 1);
  assert.ok(probe, "a zero-window probe went out");
  // Data the application never reads: close() aborts (RFC 9293 3.10.4).
  const data = new Uint8Array([7]);
  peer.send({
    sport: P,
    dport: 80,
    seq: ISN + 1,
    ack: iss + 101,
    flags: "PA",
    window: 0,
    data,
    ts: ts(700),
  });
  peer.take();
  conn.close();
  const rst = peer.take().find((s) => s.flags.includes("R"));
  assert.equal(rst?.seq, iss + 101, "at SND.UNA + window (0), not past the probe byte");
});

Deno.test("tcp: after 2^32 bytes SND.UNA meets the ISS again; an ACK there is not taken for our SYN", async () => {
  const peer = new Peer();
  const { conn } = await passiveOpen(peer, { ts: false });
  const c = conn.block;
  c.snd.iss = c.snd.una; // as if 2^32 bytes had been sent since the handshake
  await conn.write(new Uint8Array(100));
  const [seg] = peer.take().filter((s) => s.data.length > 0);
  peer.send({ sport: P, dport: 80, seq: ISN + 1, ack: seg.seq + 100, flags: "A" });
  assert.equal(c.snd.buf.length, 0, "all 100 bytes acknowledged, none kept for a SYN");
  await conn.write(new Uint8Array([9]));
  const [next] = peer.take().filter((s) => s.data.length > 0);
  assert.equal(next.seq, seg.seq + 100);
  assert.deepEqual([...next.data], [9]);
});

Deno.test("tcp: an out-of-order FIN position that data later passes is forgotten (no FIN 2^32 bytes on)", async () => {
  const peer = new Peer();
  const { conn, iss } = await passiveOpen(peer, { ts: false });
  const c = conn.block;
  // A FIN beyond a gap (not this stream's end, as the data after it shows).
  peer.send({ sport: P, dport: 80, seq: ISN + 101, ack: iss + 1, flags: "FA" });
  assert.equal(c.rcv.oooFinSeq, (ISN + 101) >>> 0);
  peer.send({
    sport: P,
    dport: 80,
    seq: ISN + 1,
    ack: iss + 1,
    flags: "PA",
    data: new Uint8Array(200),
  });
  assert.equal(c.rcv.nxt, (ISN + 201) >>> 0);
  assert.equal(c.rcv.oooFinSeq, -1);
  assert.equal(conn.state, "ESTABLISHED");
});
