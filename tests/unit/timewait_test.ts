// The TIME_WAIT manager, rule by rule (FreeBSD tcp_timewait.c): crafted
// segments at an entry, the exact bytes of each reply (or silence), and the
// counter that moved.

import assert from "node:assert/strict";
import { sysctlSet } from "../../stack/sysctl.ts";
import { autoMaxTcpTw } from "../../stack/tcp/timewait/timewait.ts";
import { runScale } from "../../bench/timewait_scale.ts";
import { ip, tcpBytes, type TcpSpec } from "../_packets.ts";
import { ISN, listen80, P, passiveOpen, Peer, type Seen, settle } from "../_peer.ts";

/** An active close driven to TIME-WAIT; returns what the entry should hold. */
async function timeWait(peer: Peer, opts: { ts?: boolean; port?: number; listen?: boolean } = {}) {
  const port = opts.port ?? P;
  const { conn, iss, ts } = await passiveOpen(peer, opts);
  const c = conn.block;
  conn.close();
  const [fin] = peer.take();
  assert.equal(fin.flags, "FA");
  peer.send({ sport: port, dport: 80, seq: ISN + 1, ack: iss + 2, flags: "A", ts: ts(502) });
  peer.send({ sport: port, dport: 80, seq: ISN + 1, ack: iss + 2, flags: "FA", ts: ts(503) });
  const [ack] = peer.take();
  return { c, iss, ts, ack, port, sndNxt: iss + 2, rcvNxt: ISN + 2 };
}

type Tw = Awaited<ReturnType<typeof timeWait>>;

/** The TCP bytes the entry must send: seq=snd_nxt, ack=rcv_nxt, last_win, TS. */
function expectedAck(peer: Peer, t: Tw, lastWin: number): Uint8Array {
  return tcpBytes(ip("192.0.2.2"), ip("192.0.2.1"), {
    sport: 80,
    dport: t.port,
    seq: t.sndNxt,
    ack: t.rcvNxt,
    flags: "A",
    window: lastWin,
    ts: t.c.tsOk ? [(Math.floor(peer.now) + t.c.tsOffset) >>> 0, 503] : undefined,
  });
}

function tcpPart(s: Seen): Uint8Array {
  return s.raw.subarray((s.raw[0] & 15) * 4);
}

const stats = (peer: Peer) => peer.stack.tcp.timewait.stats;

/** A data segment at the entry's rcv_nxt that ACKs its snd_nxt. */
function dataAt(t: Tw, bytes: number, tsVal: number, flags = "PA"): TcpSpec {
  return {
    sport: t.port,
    dport: 80,
    seq: t.rcvNxt,
    ack: t.sndNxt,
    flags,
    data: new Uint8Array(bytes),
    ts: [tsVal, 0],
  };
}

Deno.test("timewait: entry holds a compressed record and the block is freed; the pending ACK is exact", async () => {
  const peer = new Peer();
  const t = await timeWait(peer);
  const tw = peer.stack.tcp.timewait;
  assert.equal(peer.stack.tcp.connectionCount, 0, "connection block freed");
  assert.equal(tw.size, 1);
  const [e] = tw.list(peer.now);
  // tcp_twstart: the receive buffer's free space, scaled, rounded up.
  const scale = t.c.rcv.scale;
  const lastWin = Math.min(0xffff, (t.c.rcv.buf.window + (1 << scale) - 1) >>> scale);
  assert.deepEqual(
    {
      local: `${e.localAddress}:${e.localPort}`,
      peer: `${e.peerAddress}:${e.peerPort}`,
      sndNxt: e.sndNxt,
      rcvNxt: e.rcvNxt,
      iss: e.iss,
      irs: e.irs,
      lastWin: e.lastWin,
      timestamps: e.timestamps,
      remainingMs: e.remainingMs,
      rearms: e.rearms,
    },
    {
      local: "192.0.2.2:80",
      peer: `192.0.2.1:${P}`,
      sndNxt: t.sndNxt,
      rcvNxt: t.rcvNxt,
      iss: t.iss,
      irs: ISN,
      lastWin,
      timestamps: true,
      remainingMs: 60_000,
      rearms: 0,
    },
  );
  assert.deepEqual(
    tcpPart(t.ack),
    expectedAck(peer, t, lastWin),
    "ACK sent on entry (tcp_twstart)",
  );
  assert.equal(stats(peer).started, 1);
});

Deno.test("timewait: RST is dropped (RFC 1337), even exactly in sequence", async () => {
  const peer = new Peer();
  const t = await timeWait(peer);
  peer.send({ sport: P, dport: 80, seq: t.rcvNxt, ack: t.sndNxt, flags: "RA" });
  peer.send({ sport: P, dport: 80, seq: t.rcvNxt, flags: "R" });
  assert.equal(peer.take().length, 0, "silence");
  assert.equal(stats(peer).check.rstDropped, 2);
  assert.equal(peer.stack.tcp.timewait.size, 1, "entry still there");
});

Deno.test("timewait: a SYN above rcv_nxt ends the entry and reaches the listener", async () => {
  const peer = new Peer();
  const t = await timeWait(peer);
  peer.send({ sport: P, dport: 80, seq: t.rcvNxt + 100_000, flags: "S", mss: 1460, ts: [900, 0] });
  const [synack] = peer.take();
  assert.equal(synack.flags, "SA", "answered by the listener as a new connection");
  assert.equal(synack.ack, t.rcvNxt + 100_001);
  assert.equal(stats(peer).check.synReopened, 1);
  assert.equal(peer.stack.tcp.timewait.size, 0);
  assert.equal(peer.stack.tcp.connectionCount, 1);
});

Deno.test("timewait: a SYN at or below rcv_nxt (no ACK flag) is dropped", async () => {
  const peer = new Peer();
  const t = await timeWait(peer);
  peer.send({ sport: P, dport: 80, seq: t.rcvNxt, flags: "S", ts: [900, 0] });
  peer.send({ sport: P, dport: 80, seq: t.rcvNxt - 10, flags: "S", ts: [900, 0] });
  assert.equal(peer.take().length, 0);
  assert.equal(stats(peer).check.noAckDropped, 2);
  assert.equal(stats(peer).check.synReopened, 0);
  assert.equal(peer.stack.tcp.timewait.size, 1);
});

Deno.test("timewait: segments without ACK are dropped", async () => {
  const peer = new Peer();
  const t = await timeWait(peer);
  peer.send({
    sport: P,
    dport: 80,
    seq: t.rcvNxt,
    flags: "P",
    data: new Uint8Array(4),
    ts: [600, 0],
  });
  peer.send({ sport: P, dport: 80, seq: t.rcvNxt - 1, flags: "F", ts: [600, 0] });
  assert.equal(peer.take().length, 0);
  assert.equal(stats(peer).check.noAckDropped, 2);
});

Deno.test("timewait: a retransmitted FIN re-arms 2MSL, moves to the tail, and is ACKed exactly", async () => {
  const peer = new Peer();
  listen80(peer);
  const a = await timeWait(peer, { port: 41001, listen: false });
  peer.now += 10_000;
  const b = await timeWait(peer, { port: 41002, listen: false });
  const tw = peer.stack.tcp.timewait;
  assert.deepEqual(tw.list(peer.now).map((e) => e.peerPort), [41001, 41002]);
  peer.now += 5_000;
  // The peer did not hear our last ACK: its FIN again (seq + 1 == rcv_nxt).
  peer.send({
    sport: 41001,
    dport: 80,
    seq: a.rcvNxt - 1,
    ack: a.sndNxt,
    flags: "FA",
    ts: [503, 0],
  });
  const [ack] = peer.take();
  const lastWin = tw.list(peer.now).find((e) => e.peerPort === 41001)!.lastWin;
  assert.deepEqual(tcpPart(ack), expectedAck(peer, a, lastWin));
  assert.equal(stats(peer).check.finRearmed, 1);
  const list = tw.list(peer.now);
  assert.deepEqual(list.map((e) => e.peerPort), [41002, 41001], "re-armed entry moved to the tail");
  assert.equal(list[1].remainingMs, 60_000);
  assert.equal(list[1].rearms, 1);
  // Expiry follows the new order: b (entered 5 s before the re-arm) first.
  peer.now = peer.now + 55_000 - 1;
  peer.stack.tick(peer.now);
  assert.equal(tw.size, 2);
  peer.now += 2;
  peer.stack.tick(peer.now);
  assert.deepEqual(tw.list(peer.now).map((e) => e.peerPort), [41001]);
  assert.equal(stats(peer).expired, 1);
  void b;
});

Deno.test("timewait: data is answered with an ACK; a pure duplicate ACK is not", async () => {
  const peer = new Peer();
  const t = await timeWait(peer);
  const tw = peer.stack.tcp.timewait;
  const lastWin = tw.list(peer.now)[0].lastWin;
  peer.send(dataAt(t, 3, 504));
  const [ack] = peer.take();
  assert.deepEqual(tcpPart(ack), expectedAck(peer, t, lastWin));
  assert.equal(stats(peer).check.acked, 1);
  peer.send({ sport: P, dport: 80, seq: t.rcvNxt, ack: t.sndNxt, flags: "A", ts: [505, 0] });
  assert.equal(peer.take().length, 0, "pure duplicate ACK: silence");
  assert.equal(stats(peer).check.dupAckIgnored, 1);
  // ACK+PSH without data is not a pure ACK, and neither is one with another ack.
  peer.send({ sport: P, dport: 80, seq: t.rcvNxt, ack: t.sndNxt, flags: "PA", ts: [506, 0] });
  peer.send({ sport: P, dport: 80, seq: t.rcvNxt, ack: t.sndNxt - 1, flags: "A", ts: [507, 0] });
  assert.equal(peer.take().length, 2);
  assert.equal(stats(peer).check.acked, 3);
});

Deno.test("timewait: without timestamps the ACK carries no TS option", async () => {
  const peer = new Peer();
  const t = await timeWait(peer, { ts: false });
  const lastWin = peer.stack.tcp.timewait.list(peer.now)[0].lastWin;
  assert.equal(t.ack.ts, undefined);
  assert.deepEqual(tcpPart(t.ack), expectedAck(peer, t, lastWin));
  assert.equal(peer.stack.tcp.timewait.list(peer.now)[0].timestamps, false);
});

Deno.test("timewait: PAWS is off by default and, when on, drops old timestamps", async () => {
  const peer = new Peer();
  const t = await timeWait(peer);
  const old: [number, number] = [100, 0]; // older than ts_recent 503
  peer.send({ ...dataAt(t, 1, 0), ts: old });
  assert.equal(peer.take().length, 1, "FreeBSD 7: answered");
  assert.equal(stats(peer).check.pawsDropped, 0);
  sysctlSet(peer.stack, "net.inet.tcp.tw_paws", "1");
  peer.send({ ...dataAt(t, 1, 0), ts: old });
  const [ack] = peer.take();
  assert.equal(ack.flags, "A", "RFC 7323 5.3: ACK the old segment, then drop it");
  peer.send({ sport: P, dport: 80, seq: t.rcvNxt + 5, flags: "S", ts: old });
  assert.equal(peer.take().length, 0, "an old SYN is dropped, not reopened");
  assert.equal(stats(peer).check.pawsDropped, 2);
  assert.equal(stats(peer).check.synReopened, 0);
});

Deno.test("timewait: RFC 6191, when on, reopens on a newer timestamp whatever the sequence number", async () => {
  const peer = new Peer();
  const t = await timeWait(peer);
  peer.send({ sport: P, dport: 80, seq: t.rcvNxt - 1000, flags: "S", ts: [9000, 0] });
  assert.equal(peer.take().length, 0, "off: sequence-only, like FreeBSD");
  sysctlSet(peer.stack, "net.inet.tcp.tw_rfc6191", "1");
  peer.send({ sport: P, dport: 80, seq: t.rcvNxt - 1000, flags: "S", ts: [9000, 0] });
  const [synack] = peer.take();
  assert.equal(synack.flags, "SA");
  assert.equal(stats(peer).check.synReopenedByTimestamp, 1);
});

Deno.test("timewait: IPv6 entries are found and answered", async () => {
  const peer = new Peer({}, true);
  const t = await timeWait(peer);
  const [e] = peer.stack.tcp.timewait.list(peer.now);
  assert.equal(e.peerAddress, "2001:db8::1");
  assert.equal(e.localAddress, "2001:db8::2");
  peer.send(dataAt(t, 2, 510));
  const [ack] = peer.take();
  assert.equal(ack.seq, t.sndNxt);
  assert.equal(ack.ack, t.rcvNxt);
});

Deno.test("timewait: maxtcptw caps the table; the oldest entry is recycled", async () => {
  const peer = new Peer();
  sysctlSet(peer.stack, "net.inet.tcp.maxtcptw", "32");
  assert.throws(() => sysctlSet(peer.stack, "net.inet.tcp.maxtcptw", "31"), /at least 32/);
  assert.equal(peer.stack.tcp.timewait.limit, 32, "a refused value changes nothing");
  listen80(peer);
  for (let i = 0; i < 40; i++) {
    peer.now += 1;
    await timeWait(peer, { port: 42000 + i, listen: false });
  }
  const tw = peer.stack.tcp.timewait;
  assert.equal(tw.size, 32);
  assert.equal(stats(peer).recycled, 8);
  const ports = tw.list(peer.now).map((e) => e.peerPort);
  assert.deepEqual(ports, Array.from({ length: 32 }, (_, i) => 42008 + i), "the 8 oldest went");
  assert.equal(tw.lookup(ip("192.0.2.1"), 0, 4, 42000, 80), -1);
});

Deno.test("timewait: automatic size is FreeBSD's min(max(half the port range, 32), maxsockets / 5)", () => {
  assert.equal(autoMaxTcpTw(49152, 65535, 65536), 8191);
  assert.equal(autoMaxTcpTw(10000, 10020, 65536), 32);
  assert.equal(autoMaxTcpTw(49152, 65535, 100), 20);
  const peer = new Peer({
    tcp: { ephemeralLow: 50000, ephemeralHigh: 50200, maxConnections: 1000 },
  });
  assert.equal(peer.stack.tcp.timewait.limit, 100);
  sysctlSet(peer.stack, "net.inet.tcp.maxtcptw", "0");
  assert.equal(peer.stack.tcp.timewait.limit, 100, "0 restores the automatic size");
});

Deno.test("timewait: with no record to recycle the connection closes without TIME_WAIT", async () => {
  // maxConnections 4 makes the automatic cap 4 / 5 = 0.
  const peer = new Peer({ tcp: { maxConnections: 4 } });
  await timeWait(peer);
  assert.equal(peer.stack.tcp.timewait.size, 0);
  assert.equal(stats(peer).closedWithoutTimeWait, 1);
  assert.equal(peer.stack.tcp.connectionCount, 0);
});

Deno.test("timewait: nolocaltimewait skips TIME_WAIT for in-stack loopback connections", async () => {
  for (const on of [false, true]) {
    const peer = new Peer({ timewait: { nolocaltimewait: on } });
    const l = peer.stack.listen({ port: 7 });
    l.accept().then(async (c) => {
      while ((await c.read(new Uint8Array(100))) !== null) { /* drain */ }
      c.close();
    });
    const c = await peer.stack.connect({ hostname: "192.0.2.2", port: 7 });
    c.close(); // the client closes first: it would hold TIME_WAIT
    for (let i = 0; i < 5; i++) await settle();
    assert.equal(peer.stack.tcp.connectionCount, 0);
    assert.equal(peer.stack.tcp.timewait.size, on ? 0 : 1, `nolocaltimewait=${on}`);
    assert.equal(stats(peer).skippedLocal, on ? 1 : 0);
  }
});

Deno.test("timewait: expiry after 2MSL with bounded work per scan; counters follow FreeBSD", async () => {
  const peer = new Peer({ timewait: { mslMs: 1000 } });
  listen80(peer);
  for (let i = 0; i < 10; i++) await timeWait(peer, { port: 43000 + i, listen: false });
  const tw = peer.stack.tcp.timewait;
  const tcps = peer.stack.tcp.stats.freebsd;
  assert.equal(tcps.tcps_closed, 0, "no tcps_closed until a record ends (tcp_twclose)");
  tw.scanBudget = 3;
  assert.equal(tw.scan(peer.now + 1999), 0, "not yet");
  assert.equal(tw.scan(peer.now + 2000), 3, "bounded work per scan");
  assert.equal(tw.size, 7);
  await peer.advance(2010);
  assert.equal(tw.size, 0);
  assert.equal(stats(peer).expired, 10);
  assert.equal(tcps.tcps_closed, 10);
});

Deno.test("timewait: replies count as tcps_sndacks and tcps_sndtotal", async () => {
  const peer = new Peer();
  const t = await timeWait(peer);
  const f = peer.stack.tcp.stats.freebsd;
  const before = { acks: f.tcps_sndacks, total: f.tcps_sndtotal };
  peer.send(dataAt(t, 1, 510));
  assert.equal(f.tcps_sndacks, before.acks + 1);
  assert.equal(f.tcps_sndtotal, before.total + 1);
});

Deno.test("timewait: the index survives heavy churn (tombstones never fill it)", async () => {
  const { IpLayer } = await import("../../stack/ip.ts");
  const { newTcpStats } = await import("../../stack/tcp/stats.ts");
  const { TimeWaitTable } = await import("../../stack/tcp/timewait/timewait.ts");
  let now = 0;
  const ipl = new IpLayer({ ipv4: ip("192.0.2.2") });
  const tw = new TimeWaitTable(
    { ip: ipl, tcpStats: newTcpStats(), now: () => now },
    { maxtcptw: 64, nolocaltimewait: false, mslMs: 1, paws: false, rfc6191: false },
    64,
  );
  const block = {
    remote: new Uint8Array([10, 0, 0, 1]),
    localPort: 80,
    remotePort: 0,
    snd: { max: 1, iss: 3 },
    rcv: { nxt: 2, irs: 4, adv: 100, buf: { window: 98 }, scale: 0, tsRecent: 0, ackNow: false },
    tsOk: false,
    tsOffset: 0,
    createdAt: 0,
    ipFields: { ttl: 0, tos: 0 },
    noDelay: false,
    keepAlive: false,
  };
  for (let round = 0; round < 200; round++) {
    for (let i = 0; i < 60; i++) {
      block.remotePort = 1000 + round * 60 + i;
      tw.start(block as never);
    }
    for (let i = 0; i < 60; i++) {
      assert.ok(tw.lookup(block.remote, 0, 4, 1000 + round * 60 + i, 80) >= 0, "present");
    }
    assert.equal(tw.lookup(block.remote, 0, 4, 999, 80), -1, "a miss terminates");
    now += 5;
    tw.scan(now);
    assert.equal(tw.size, 0);
  }
  assert.equal(tw.stats.expired, 200 * 60);
});

Deno.test("timewait: a record reopened by a SYN starts its ISS above the old snd_nxt (RFC 1122 4.2.2.13)", async () => {
  const peer = new Peer();
  const t = await timeWait(peer);
  peer.send({ sport: P, dport: 80, seq: t.rcvNxt + 100_000, flags: "S", mss: 1460, ts: [900, 0] });
  const [synack] = peer.take();
  assert.equal(synack.flags, "SA");
  assert.equal(synack.seq, (t.sndNxt + 65537) >>> 0, "old snd_nxt + 65537, as Linux");
});

Deno.test("timewait: RFC 6191 checks the timestamp first: an older TSval is refused even with a higher seq", async () => {
  const peer = new Peer();
  const t = await timeWait(peer); // ts_recent 503
  sysctlSet(peer.stack, "net.inet.tcp.tw_rfc6191", "1");
  peer.send({ sport: P, dport: 80, seq: t.rcvNxt + 100_000, flags: "S", ts: [400, 0] });
  assert.equal(peer.take().length, 0, "dropped silently");
  assert.equal(stats(peer).check.synReopened, 0);
  assert.equal(peer.stack.tcp.timewait.size, 1, "the record stays");
  // An equal TSval lets the sequence number decide.
  peer.send({ sport: P, dport: 80, seq: t.rcvNxt + 100_000, flags: "S", ts: [503, 0] });
  assert.equal(peer.take()[0].flags, "SA");
  assert.equal(stats(peer).check.synReopened, 1);
});

Deno.test("timewait: after msl is lowered, new records expire on their own deadline, not behind older ones", async () => {
  const peer = new Peer();
  listen80(peer);
  const tw = peer.stack.tcp.timewait;
  await timeWait(peer, { port: 41001, listen: false }); // 2 × 30 s
  sysctlSet(peer.stack, "net.inet.tcp.msl", "1000");
  const b = await timeWait(peer, { port: 41002, listen: false }); // 2 × 1 s
  assert.equal(tw.size, 2);
  await peer.advance(2010);
  assert.deepEqual(tw.list(peer.now).map((e) => e.peerPort), [41001], "the short one expired");
  assert.equal(tw.size, 1);
  // Its tuple is free again: a lookup finds nothing, a SYN is a new connection.
  assert.equal(tw.lookup(ip("192.0.2.1"), 0, 4, 41002, 80), -1);
  peer.send({ sport: 41002, dport: 80, seq: b.rcvNxt - 5, flags: "S", mss: 1460 });
  assert.equal(peer.take()[0].flags, "SA");
});

Deno.test("timewait: a record past its deadline is never listed or matched, even before a scan", async () => {
  const peer = new Peer();
  sysctlSet(peer.stack, "net.inet.tcp.msl", "1000");
  const t = await timeWait(peer);
  const tw = peer.stack.tcp.timewait;
  peer.now += 2000; // no tick: the scan has not run
  assert.deepEqual(tw.list(peer.now), []);
  assert.equal(tw.lookup(ip("192.0.2.1"), 0, 4, P, 80), -1);
  assert.equal(tw.size, 0, "expired on lookup");
  peer.send({ sport: P, dport: 80, seq: t.rcvNxt, ack: t.sndNxt, flags: "A" });
  assert.equal(peer.take()[0].flags, "R", "no record answers any more");
});

Deno.test("timewait: at the cap, the record nearest expiry is recycled", async () => {
  const peer = new Peer();
  listen80(peer);
  const tw = peer.stack.tcp.timewait;
  sysctlSet(peer.stack, "net.inet.tcp.maxtcptw", "32");
  await timeWait(peer, { port: 43000, listen: false }); // oldest, 60 s
  sysctlSet(peer.stack, "net.inet.tcp.msl", "5000");
  for (let i = 1; i < 32; i++) {
    await timeWait(peer, { port: 43000 + i, listen: false }); // 10 s each
    peer.now += 1;
  }
  await timeWait(peer, { port: 43100, listen: false });
  const ports = tw.list(peer.now).map((e) => e.peerPort);
  assert.equal(ports.length, 32);
  assert.ok(ports.includes(43000), "the oldest but longest-lived record stays");
  assert.ok(!ports.includes(43001), "the one nearest expiry was recycled");
  assert.equal(stats(peer).recycled, 1);
});

Deno.test("timewait: TSvals continue across incarnations to the same peer (offset hashed from the address pair)", async () => {
  const peer = new Peer();
  listen80(peer);
  const a = await timeWait(peer, { port: 41001, listen: false });
  const b = await timeWait(peer, { port: 41002, listen: false });
  assert.equal(a.c.tsOffset, b.c.tsOffset, "same address pair, same offset");
  const tcp = peer.stack.tcp;
  assert.notEqual(
    tcp.timestampOffset(ip("192.0.2.2"), ip("192.0.2.1")),
    tcp.timestampOffset(ip("192.0.2.2"), ip("192.0.2.9")),
    "another peer, another offset",
  );
});

Deno.test("timewait: the bench's scale run fills, finds and expires every record of both families", async () => {
  // deno task bench part 1 at a thousandth of its size: that it runs, not how fast.
  for (const family of [4, 6] as const) {
    const r = await runScale(family, 1000);
    assert.equal(r.entries, 1000);
    assert.ok(r.slabBytesPerEntry > 0 && r.insertPerSec > 0 && r.expirePerSec > 0);
  }
});
