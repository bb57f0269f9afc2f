import assert from "node:assert/strict";
import { COOKIE_MSS, SynCookies } from "../../stack/tcp/open/syncookie.ts";
import type { TcpConn } from "../../stack/tcp/socket.ts";
import { ip, ipv4, tcpBytes } from "../_packets.ts";
import { ISN, P, Peer, type Seen, settle } from "../_peer.ts";

/** A stack whose port-80 backlog (2) is already full of half-open connections. */
function fullBacklog(opts: { synCookies?: boolean } = {}) {
  const peer = new Peer({ tcp: { synBacklog: 2, ...opts } });
  const accepted: TcpConn[] = [];
  const l = peer.stack.listen({ port: 80 });
  (async () => {
    for await (const c of l) accepted.push(c);
  })();
  for (let i = 0; i < 2; i++) peer.send({ sport: 30000 + i, dport: 80, seq: 5, flags: "S" });
  peer.take();
  return { peer, accepted };
}

/** A client SYN with MSS, window scale, SACK-permitted and a timestamp; returns the reply. */
function synWithEveryOption(peer: Peer, tsVal: number) {
  peer.send({
    sport: P,
    dport: 80,
    seq: ISN,
    flags: "S",
    mss: 1460,
    wscale: 7,
    sackOk: true,
    ts: [tsVal, 0],
  });
  return peer.take()[0];
}

/** The client's ACK of a cookie SYN,ACK, echoing its TSval. */
function ackCookie(peer: Peer, synack: Seen, tsVal: number, window?: number): void {
  peer.send({
    sport: P,
    dport: 80,
    seq: ISN + 1,
    ack: synack.seq + 1,
    flags: "A",
    ts: [tsVal, synack.ts![0]],
    window,
  });
}

Deno.test("syncookie: a full backlog answers with a cookie; the ACK opens the connection with every option", async () => {
  const { peer, accepted } = fullBacklog();
  const synack = synWithEveryOption(peer, 777);
  assert.equal(synack.flags, "SA");
  assert.equal(synack.ack, ISN + 1);
  assert.equal(synack.mss, 1460);
  assert.equal(synack.wscale, 7); // the 6 MiB a buffer may grow to needs shift 7
  assert.equal(synack.sackOk, true);
  assert.deepEqual(synack.ts?.[1], 777);
  assert.equal(synack.ts![0] & 63, 7 | 16, "window scale and SACK ride in the TSval");
  assert.equal(peer.stack.tcp.connectionCount, 2, "no state was kept");
  assert.equal(peer.stack.tcp.stats.synCookies.sent, 1);

  ackCookie(peer, synack, 778, 1000);
  await settle();
  assert.equal(accepted.length, 1);
  const c = accepted[0].block;
  assert.equal(c.state, "ESTABLISHED");
  assert.equal(c.snd.mss, 1460);
  assert.equal(c.snd.scale, 7);
  assert.equal(c.snd.wnd, 1000 << 7);
  assert.equal(c.sackOk, true);
  assert.equal(c.tsOk, true);
  assert.equal(peer.stack.tcp.stats.synCookies.accepted, 1);

  // Data flows both ways, and our timestamps continue from the SYN,ACK's.
  peer.send({
    sport: P,
    dport: 80,
    seq: ISN + 1,
    ack: synack.seq + 1,
    flags: "PA",
    ts: [779, synack.ts![0]],
    data: new Uint8Array([1, 2, 3]),
  });
  const buf = new Uint8Array(8);
  assert.equal(await accepted[0].read(buf), 3);
  await accepted[0].write(new Uint8Array([9]));
  await settle();
  const out = peer.take().filter((s) => s.data.length > 0);
  assert.equal(out.length, 1);
  assert.equal(out[0].seq, synack.seq + 1);
  assert.ok(out[0].ts![0] >= synack.ts![0]);
});

Deno.test("syncookie: ECN rides in the cookie's TSval as well (Linux's bit 5)", async () => {
  const { peer, accepted } = fullBacklog();
  peer.send({ sport: P, dport: 80, seq: ISN, flags: "SEW", mss: 1460, sackOk: true, ts: [5, 0] });
  const [synack] = peer.take();
  const flags = synack.raw[20 + 13];
  assert.equal(flags & 0xc0, 0x40, "the SYN,ACK agrees with ECE alone");
  assert.equal(synack.ts![0] & 32, 32);
  ackCookie(peer, synack, 6);
  await settle();
  assert.equal(accepted.length, 1);
  assert.ok(accepted[0].block.ecnOk, "the connection the cookie stood for uses ECN");
  // A SYN that does not ask gets no ECE, and its connection no ECN.
  peer.send({ sport: P + 1, dport: 80, seq: ISN, flags: "S", mss: 1460, ts: [7, 0] });
  const [plain] = peer.take();
  assert.equal(plain.raw[20 + 13] & 0xc0, 0);
  assert.equal(plain.ts![0] & 32, 0);
});

Deno.test("syncookie: without timestamps the MSS is rounded down; window scale and SACK are lost", async () => {
  const { peer, accepted } = fullBacklog();
  peer.send({ sport: P, dport: 80, seq: ISN, flags: "S", mss: 1400, wscale: 7, sackOk: true });
  const [synack] = peer.take();
  assert.equal(synack.wscale, -1);
  assert.equal(synack.sackOk, false);
  assert.equal(synack.ts, undefined);
  peer.send({ sport: P, dport: 80, seq: ISN + 1, ack: synack.seq + 1, flags: "A", window: 1000 });
  await settle();
  const c = accepted[0].block;
  assert.equal(c.snd.mss, 1220);
  assert.equal(c.snd.scale, 0);
  assert.equal(c.rcv.scale, 0);
  assert.equal(c.sackOk, false);
});

Deno.test("syncookie: a forged, stale or misplaced cookie gets RST and opens nothing", async () => {
  const { peer, accepted } = fullBacklog();
  peer.send({ sport: P, dport: 80, seq: ISN, flags: "S", mss: 1460 });
  const [synack] = peer.take();
  const tries = [
    { seq: ISN + 1, ack: synack.seq + 2 }, // wrong cookie
    { seq: ISN + 2, ack: synack.seq + 1 }, // another client ISN
    { seq: ISN + 1, ack: synack.seq + 1, sport: P + 1 }, // another port
  ];
  for (const t of tries) {
    peer.send({ sport: t.sport ?? P, dport: 80, seq: t.seq, ack: t.ack, flags: "A" });
    assert.equal(peer.take()[0]?.flags, "R");
  }
  // Two periods later the good one is stale too.
  peer.now += 129_000;
  peer.send({ sport: P, dport: 80, seq: ISN + 1, ack: synack.seq + 1, flags: "A" });
  assert.equal(peer.take()[0]?.flags, "R");
  await settle();
  assert.equal(accepted.length, 0);
  assert.equal(peer.stack.tcp.stats.synCookies.rejected, 3);
  assert.equal(peer.stack.tcp.stats.synCookies.accepted, 0);
});

Deno.test("syncookie: with cookies off a full backlog drops the SYN", () => {
  const { peer } = fullBacklog({ synCookies: false });
  peer.send({ sport: P, dport: 80, seq: ISN, flags: "S" });
  assert.equal(peer.take().length, 0);
  assert.equal(peer.stack.tcp.stats.dropped.listenOverflow, 1);
});

Deno.test("syncookie: 100,000 spoofed SYNs keep memory at the backlog; a real client still connects", async () => {
  const backlog = 128;
  const peer = new Peer({ tcp: { synBacklog: backlog } });
  const l = peer.stack.listen({ port: 80 });
  let accepted: TcpConn | undefined;
  l.accept().then((c) => accepted = c);
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const heap0 = Deno.memoryUsage().heapUsed;
  const dst = ip("192.0.2.2");
  const src = new Uint8Array([198, 51, 100, 0]);
  let sent = 0;
  for (let i = 0; i < 100_000; i++) {
    src[2] = 100 + (i >> 16);
    src[3] = (i >> 8) & 255;
    const sport = 1024 + (i & 0xffff) % 60000;
    const seg = tcpBytes(src, dst, {
      sport,
      dport: 80,
      seq: i * 7919,
      flags: "S",
      mss: 1460,
      ts: [i, 0],
    });
    const pkt = ipv4(`198.51.${src[2]}.${src[3]}`, "192.0.2.2", 6, seg);
    peer.stack.receive(pkt, pkt.length);
    sent += peer.out.length;
    peer.out.length = 0;
    if (i % 10_000 === 0) peer.stack.tick(peer.now += 10);
  }
  const tcp = peer.stack.tcp;
  assert.ok(tcp.connectionCount <= backlog, `${tcp.connectionCount} connections`);
  assert.equal(tcp.stats.synCookies.sent, 100_000 - backlog);
  assert.ok(sent >= 100_000, "every SYN was answered");
  gc?.();
  const grown = Deno.memoryUsage().heapUsed - heap0;
  assert.ok(grown < 8 << 20, `heap grew ${grown} bytes`);
  // The real client, in the middle of the flood.
  const synack = synWithEveryOption(peer, 1);
  ackCookie(peer, synack, 2);
  await settle();
  assert.equal(accepted?.block.state, "ESTABLISHED");
});

Deno.test("syncookie: every MSS in the table survives the round trip", () => {
  const cookies = new SynCookies([7, 9]);
  const tuple = [1, 2, 3];
  for (const mss of COOKIE_MSS) {
    assert.equal(cookies.check(tuple, 42, cookies.make(tuple, 42, mss, 5000), 5000), mss);
    assert.equal(cookies.check(tuple, 42, cookies.make(tuple, 42, mss + 1, 5000), 70_000), mss);
  }
  assert.equal(cookies.check(tuple, 42, cookies.make(tuple, 42, 1460, 0), 130_000), -1);
});
