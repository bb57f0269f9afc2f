// Caps and timeouts that keep a hostile or stalled peer from pinning memory.

import assert from "node:assert/strict";
import { sysctlSet } from "../../stack/sysctl.ts";
import { ISN, P, passiveOpen, Peer, settle } from "../_peer.ts";

/** The peer ACKs everything so far and advertises a zero window. */
function shutWindow(peer: Peer, iss: number, ts: [number, number] | undefined): void {
  peer.send({ sport: P, dport: 80, seq: ISN + 1, ack: iss + 1, flags: "A", ts, window: 0 });
}

Deno.test("limits: out-of-order ranges past the cap are dropped and counted; the ACK still goes out", async () => {
  const peer = new Peer({ tcp: { maxOutOfOrderRanges: 4 } });
  const { iss, ts } = await passiveOpen(peer);
  // Ten 1-byte segments with a hole before each: only four ranges are kept.
  for (let i = 0; i < 10; i++) {
    peer.send({
      sport: P,
      dport: 80,
      seq: ISN + 1 + 2 + 2 * i,
      ack: iss + 1,
      flags: "A",
      ts: ts(600),
      data: new Uint8Array([i]),
    });
  }
  const c = peer.stack.tcp.connections().next().value!;
  assert.equal(c.rcv.buf.rangeCount, 4);
  assert.equal(peer.stack.tcp.stats.dropped.outOfOrderLimit, 6);
  assert.equal(peer.take().filter((s) => s.flags === "A").length, 10, "every segment is ACKed");
  // A segment that extends a range it touches is still taken.
  peer.send({
    sport: P,
    dport: 80,
    seq: ISN + 1 + 4,
    ack: iss + 1,
    flags: "A",
    ts: ts(601),
    data: new Uint8Array([1]),
  });
  assert.equal(peer.stack.tcp.stats.dropped.outOfOrderLimit, 6);
  await settle();
});

Deno.test("limits: out-of-order bytes past the cap are dropped", async () => {
  const peer = new Peer({ tcp: { maxOutOfOrderBytes: 1000 } });
  const { iss, ts } = await passiveOpen(peer);
  const data = new Uint8Array(600);
  peer.send({ sport: P, dport: 80, seq: ISN + 101, ack: iss + 1, flags: "A", ts: ts(600), data });
  peer.send({ sport: P, dport: 80, seq: ISN + 1001, ack: iss + 1, flags: "A", ts: ts(600), data });
  assert.equal(peer.stack.tcp.stats.dropped.outOfOrderLimit, 1);
  // In-order data is never refused by the cap.
  peer.send({
    sport: P,
    dport: 80,
    seq: ISN + 1,
    ack: iss + 1,
    flags: "A",
    ts: ts(601),
    data: new Uint8Array(100),
  });
  const c = peer.stack.tcp.connections().next().value!;
  assert.equal(c.rcv.nxt, ISN + 701);
  await settle();
});

Deno.test("limits: a peer whose window stays shut is dropped after the user timeout", async () => {
  const peer = new Peer({ tcp: { userTimeoutMs: 30_000 } });
  const { conn, iss, ts } = await passiveOpen(peer);
  shutWindow(peer, iss, ts(600));
  await conn.write(new Uint8Array(5000)); // fits the send buffer
  await settle();
  // The peer answers every probe, but its window never opens.
  // Checked at each probe, so it fires at the first probe past 30 s (backed off: ~51 s).
  for (let t = 0; t < 90 && conn.state !== "CLOSED"; t++) {
    await peer.advance(1000);
    for (const s of peer.take()) {
      if (s.flags.includes("R")) continue;
      shutWindow(peer, iss, ts(600 + t));
    }
  }
  assert.equal(conn.state, "CLOSED");
  assert.ok(peer.stack.tcp.stats.windowProbes >= 3, "probed the window first");
  assert.equal(peer.stack.tcp.stats.userTimeouts, 1);
  await assert.rejects(conn.read(new Uint8Array(10)), /no progress for 30000 ms/);
});

Deno.test("limits: a peer that never ACKs is dropped after the user timeout, before the retries run out", async () => {
  const peer = new Peer({ tcp: { userTimeoutMs: 10_000, dataRetries: 100 } });
  const { conn } = await passiveOpen(peer);
  conn.write(new Uint8Array(100)).catch(() => {});
  await peer.advance(20_000);
  assert.equal(conn.state, "CLOSED");
  assert.equal(peer.stack.tcp.stats.userTimeouts, 1);
});

Deno.test("limits: with the user timeout off, a shut window is probed for as long as the peer answers", async () => {
  const peer = new Peer({ tcp: { userTimeoutMs: 0 } });
  const { conn, iss, ts } = await passiveOpen(peer);
  shutWindow(peer, iss, ts(600));
  conn.write(new Uint8Array(5000)).catch(() => {});
  for (let t = 0; t < 30; t++) {
    await peer.advance(5000);
    for (const _ of peer.take()) {
      shutWindow(peer, iss, ts(600 + t));
    }
  }
  assert.equal(conn.state, "ESTABLISHED");
});

Deno.test("limits: the connection cap refuses new SYNs and connects, counted, without throwing from input", async () => {
  const peer = new Peer({ tcp: { maxConnections: 2 } });
  peer.stack.listen({ port: 80 });
  for (let i = 0; i < 3; i++) peer.send({ sport: P + i, dport: 80, seq: ISN, flags: "S" });
  assert.equal(peer.take().length, 2);
  assert.equal(peer.stack.tcp.stats.dropped.tooManyConnections, 1);
  await assert.rejects(
    peer.stack.connect({ hostname: "192.0.2.1", port: 5000 }),
    /Too many connections/,
  );
});

Deno.test("limits: every cap is a sysctl; bad values are refused and change nothing", () => {
  const peer = new Peer();
  const s = peer.stack;
  const caps: [string, string, () => number | boolean][] = [
    ["kern.ipc.maxsockets", "100", () => s.tcp.config.maxConnections],
    ["kern.ipc.soacceptqueue", "16", () => s.tcp.config.acceptBacklog],
    ["net.inet.tcp.syncache.bucketlimit", "8", () => s.tcp.config.synBacklog],
    ["net.inet.tcp.sendspace", "65536", () => s.tcp.config.sndBuf],
    ["net.inet.tcp.recvspace", "65536", () => s.tcp.config.rcvBuf],
    ["net.inet.tcp.recvbuf_max", "2097152", () => s.tcp.config.recvBufMax],
    ["net.inet.tcp.sendbuf_max", "2097152", () => s.tcp.config.sendBufMax],
    ["net.inet.tcp.autosize_budget", "1048576", () => s.tcp.config.autosizeBudget],
    ["net.inet.tcp.reass.maxqueuelen", "10", () => s.tcp.config.maxOutOfOrderRanges],
    ["net.inet.tcp.reass.maxbytes", "4096", () => s.tcp.config.maxOutOfOrderBytes],
    ["net.inet.tcp.user_timeout", "5000", () => s.tcp.config.userTimeoutMs],
  ];
  for (const [name, value, get] of caps) {
    assert.deepEqual(sysctlSet(s, name, value), { [name]: Number(value) });
    assert.equal(get(), Number(value));
    assert.throws(() => sysctlSet(s, name, "-1"), new RegExp(`Invalid value for ${name}: -1`));
    assert.equal(get(), Number(value), `${name} unchanged by a refused value`);
  }
  sysctlSet(s, "net.inet.tcp.syncookies", "0");
  assert.equal(s.tcp.config.synCookies, false);
  assert.throws(() => sysctlSet(s, "net.inet.tcp.syncookies", "2"), /must be 0 or 1/);
  // A new listener takes the new backlog.
  s.listen({ port: 80 });
  for (let i = 0; i < 10; i++) peer.send({ sport: P + i, dport: 80, seq: ISN, flags: "S" });
  assert.equal(peer.take().length, 8);
  assert.equal(s.tcp.stats.dropped.listenOverflow, 2);
});
