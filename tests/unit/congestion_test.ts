// Congestion control on loss: RFC 5681 3.2 inflates the window by the
// three duplicate ACKs; SACK recovery (RFC 6675 5) starts at ssthresh.

import assert from "node:assert/strict";
import { HyStart } from "../../stack/tcp/cc/hystart.ts";
import { NewReno } from "../../stack/tcp/cc/reno.ts";
import { net, pair, pattern, readAll, writeAll } from "../_tcp.ts";
import type { TcpConn } from "../../stack/tcp/socket.ts";
import { ISN, P, Peer, settle } from "../_peer.ts";

Deno.test("congestion: NewReno on loss: ssthresh + 3 SMSS without SACK, ssthresh with SACK", () => {
  for (const sack of [false, true]) {
    const cc = new NewReno(1460);
    cc.onLoss(40 * 1460, 0, sack);
    assert.equal(cc.ssthresh, 20 * 1460);
    assert.equal(cc.cwnd, sack ? 20 * 1460 : 23 * 1460, sack ? "RFC 6675" : "RFC 5681");
  }
});

Deno.test("rtt: a 0 ms sample is a sample (RFC 6298 2.2/2.3 smoothing continues from it)", async () => {
  const { RttEstimator } = await import("../../stack/tcp/rtt.ts");
  const r = new RttEstimator({ rtoMinMs: 1, rtoSlopMs: 0, rtoInitialMs: 1000 });
  r.sample(0);
  r.sample(100);
  assert.equal(r.srtt, 12.5, "smoothed, not restarted at 100");
});

Deno.test("congestion: cwnd counts in the peer's MSS, initial window per RFC 6928", async () => {
  // 9000 is clamped to our link's 1460 (MTU 1500).
  for (const [mss, want] of [[536, 5360], [1460, 14600], [9000, 14600]] as const) {
    const peer = new Peer({ tcp: { timestamps: false } });
    const l = peer.stack.listen({ port: 80 });
    let conn: TcpConn | undefined;
    l.accept().then((c) => conn = c);
    peer.send({ sport: P, dport: 80, seq: ISN, flags: "S", mss });
    const [synack] = peer.take();
    peer.send({ sport: P, dport: 80, seq: ISN + 1, ack: synack.seq + 1, flags: "A" });
    await settle();
    assert.ok(conn);
    assert.equal(conn.block.snd.cc.cwnd, want, `peer MSS ${mss}`);
    l.close();
  }
});

// Feeds `rounds` rounds of `acks` ACKs of 1000 bytes each with RTT
// `rtt(round)`; SND.NXT runs 10 segments ahead. Returns the rounds'
// cwnd growth and whether slow start ended.
function rounds(cc: NewReno, first: number, rtts: number[], acks = 10) {
  let ack = first, ended = -1, endCwnd = 0;
  const grown: number[] = [];
  for (const [i, rtt] of rtts.entries()) {
    const before = cc.cwnd;
    for (let k = 0; k < acks; k++) {
      ack += 1000;
      cc.onRound(rtt, ack, ack + acks * 1000);
      if (ended < 0 && cc.ssthresh < Number.MAX_SAFE_INTEGER) (ended = i, endCwnd = cc.cwnd);
      cc.onAck(1000);
    }
    grown.push(cc.cwnd - before);
  }
  return { grown, ended, endCwnd };
}

Deno.test("hystart++: a rising RTT turns slow start conservative, and five rounds later ends it (RFC 9406 4.2)", () => {
  const counters = { cssEntered: 0, cssSpurious: 0, exits: 0 };
  const cc = new NewReno(1000, new HyStart(true, counters));
  // Three rounds at 10 ms, then the queue builds: 15 ms (> 10 + max(4, 10/8)).
  const { grown, ended, endCwnd } = rounds(cc, 0, [10, 10, 10, 15, 15, 15, 15, 15, 15, 15]);
  assert.equal(grown[0], 10_000, "slow start: one MSS per MSS acked");
  assert.equal(counters.cssEntered, 1);
  // CSS starts at the 8th sample of round 3: from that ACK on, a quarter.
  assert.equal(grown[3], 7 * 1000 + 3 * 250);
  assert.equal(grown[4], 2500, "CSS: a quarter");
  assert.equal(ended, 8, "five CSS rounds, then congestion avoidance");
  assert.equal(counters.exits, 1);
  assert.ok(grown[9] < 1000, "avoidance: about one MSS per round");
  assert.equal(cc.ssthresh, endCwnd, "ssthresh = cwnd when it ended");
});

Deno.test("hystart++: an RTT that falls back below CSS's baseline resumes slow start", () => {
  const counters = { cssEntered: 0, cssSpurious: 0, exits: 0 };
  const cc = new NewReno(1000, new HyStart(true, counters));
  const { grown, ended } = rounds(cc, 0, [10, 10, 20, 20, 12, 12]);
  assert.equal(counters.cssEntered, 1);
  assert.equal(counters.cssSpurious, 1);
  assert.equal(grown[5], 10_000, "full slow start again");
  assert.equal(ended, -1);
});

Deno.test("hystart++: fewer than 8 samples a round decide nothing; a loss ends it; off is RFC 3465", () => {
  const cc = new NewReno(1000, new HyStart(true));
  assert.equal(rounds(cc, 0, [10, 10, 30, 30, 30], 7).ended, -1);
  assert.equal(rounds(cc, 35_000, [30, 30, 30]).grown[0], 10_000, "still slow start");
  cc.onLoss(cc.cwnd, 0, true);
  const after = new NewReno(1000, new HyStart(false));
  after.onAck(5000);
  assert.equal(after.cwnd, 10_000 + 2000, "L = 2 per ACK (RFC 3465 2.2)");
  const limited = new NewReno(1000, new HyStart(true));
  limited.onAck(20_000);
  assert.equal(limited.cwnd, 10_000 + 8000, "L = 8 with HyStart++ (RFC 9406 4.3)");
});

Deno.test("hystart++: over a path whose delay grows, a transfer leaves slow start without a loss", async () => {
  const n = net({ tcp: { congestion: "cubic" } }, {});
  n.tracing = false;
  n.ab.delayMs = n.ba.delayMs = 5;
  const { client, server } = await pair(n);
  const data = pattern(4_000_000, 9);
  writeAll(client, data);
  let got: Uint8Array | undefined;
  readAll(server, data.length).then((d) => got = d);
  // Each packet sent once cwnd passes 40 segments waits 4 ms longer: a queue.
  const conn = [...n.a.tcp.connections()][0];
  n.ab.filter = () => {
    n.ab.delayMs = conn.snd.cc.cwnd > 40 * 1448 ? 9 : 5;
    return false;
  };
  await n.run(() => got !== undefined, 60_000);
  const s = n.a.tcp.stats;
  assert.equal(s.hystart.cssEntered, 1);
  assert.equal(s.hystart.exits, 1);
  assert.equal(s.retransmittedSegments, 0);
  assert.ok(conn.snd.cc.ssthresh < Number.MAX_SAFE_INTEGER, "slow start ended without a loss");
  client.close();
  server.close();
});

Deno.test("cwnd validation: an application that sends little grows no window (RFC 7661 4.3)", async () => {
  const n = net();
  const { client, server } = await pair(n);
  const iw = client.block.snd.cc.cwnd;
  server.readable.pipeTo(new WritableStream()).catch(() => {});
  for (let i = 0; i < 50; i++) {
    await client.write(new Uint8Array(500));
    const until = n.now + 20;
    await n.run(() => n.now >= until);
  }
  assert.equal(client.block.snd.cc.cwnd, iw, "still the initial window");
  assert.ok(n.a.tcp.stats.cwndValidation.appLimitedAcks >= 20);
  client.close();
  server.close();
});

Deno.test("cwnd validation: after an RTO's idleness the window restarts from IW (RFC 5681 4.1), unless switched off", async () => {
  for (const on of [true, false]) {
    const n = net({ tcp: { slowStartAfterIdle: on } });
    n.tracing = false;
    const { client, server } = await pair(n);
    server.readable.pipeTo(new WritableStream()).catch(() => {});
    const iw = client.block.snd.cc.cwnd;
    await client.write(new Uint8Array(500_000));
    await n.run(() => client.block.snd.flightSize === 0 && client.block.snd.buf.length === 0);
    const grown = client.block.snd.cc.cwnd;
    assert.ok(grown > 4 * iw, `grew to ${grown}`);
    const until = n.now + 2000;
    await n.run(() => n.now >= until);
    client.write(new Uint8Array(100));
    assert.equal(client.block.snd.cc.cwnd, on ? iw : grown);
    assert.equal(n.a.tcp.stats.cwndValidation.idleRestarts, on ? 1 : 0);
    client.close();
    server.close();
  }
});
