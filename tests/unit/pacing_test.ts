// Pacing (stack/tcp/pacing.ts) and the rates BBR sets for it.

import assert from "node:assert/strict";
import { Bbr } from "../../stack/tcp/cc/bbr.ts";
import { NewReno } from "../../stack/tcp/cc/reno.ts";
import type { RateSample } from "../../stack/tcp/cc/delivery_rate.ts";
import { send } from "../../stack/tcp/user.ts";
import { net, pair, pattern, readAll, writeAll } from "../_tcp.ts";

const MSS = 1000;

/** One ACK of `acked` bytes at `now` with `pipe` in flight after it, at 1000 B/ms and an RTT of 10 ms. */
function ack(cc: Bbr, now: number, pipe: number, delivered: number, acked = 1000): number {
  const rs: RateSample = {
    newlyDelivered: acked,
    delivered: 10_000,
    interval: 10,
    rate: 1000,
    rtt: 10,
    priorDelivered: delivered - 10_000,
    appLimited: false,
  };
  cc.onRateSample(rs, pipe, now, delivered + acked);
  return delivered + acked;
}

/** A BBR that has measured 1000 B/ms and 10 ms and entered PROBE_BW at `now`. */
function probing(): { cc: Bbr; now: number; d: number } {
  const cc = new Bbr(MSS);
  let d = 0, now = 0;
  // Four rounds without growth fill the pipe; a pipe of one BDP drains it.
  for (let i = 0; i < 5; i++) {
    const rs: RateSample = {
      newlyDelivered: 10_000,
      delivered: 10_000,
      interval: 10,
      rate: 1000,
      rtt: 10,
      priorDelivered: d,
      appLimited: false,
    };
    now += 10;
    d += 10_000;
    cc.onRateSample(rs, i < 4 ? 50_000 : 10_000, now, d);
  }
  assert.equal(cc.mode, "probe_bw");
  return { cc, now, d };
}

Deno.test("pacing: BBR paces at 2/ln 2 of the bandwidth in STARTUP, at the cycle's gain in PROBE_BW, 1% under", () => {
  const fresh = new Bbr(MSS);
  assert.equal(fresh.pacingGain, 2 / Math.LN2);
  // No sample yet: the initial window over 1 ms, at the STARTUP gain.
  assert.equal(Math.round(fresh.pacingRate), Math.round((2 / Math.LN2) * 10_000));
  const { cc } = probing();
  assert.ok([1, 1.25].includes(cc.pacingGain), `PROBE_BW never starts at 0.75: ${cc.pacingGain}`);
  assert.equal(cc.pacingRate, cc.pacingGain * 1000 * 0.99);
});

Deno.test("pacing: PROBE_BW probes at 1.25 until the pipe holds 1.25 BDPs, drains at 0.75 until it is one, then six phases at 1", () => {
  let { cc, now, d } = probing();
  // Phases last more than a minimum RTT (10 ms); at most seven to reach 1.25.
  for (let i = 0; i < 8 && cc.pacingGain !== 1.25; i++) d = ack(cc, now += 11, 10_000, d);
  assert.equal(cc.pacingGain, 1.25);
  assert.equal(cc.pacingRate, 1.25 * 1000 * 0.99);
  // 1.25 BDPs and three bursts of 2000 are 18,500: a pipe under that keeps probing.
  d = ack(cc, now += 11, 10_000, d);
  assert.equal(cc.pacingGain, 1.25, "the probe has not filled the pipe yet");
  d = ack(cc, now += 11, 18_500, d);
  assert.equal(cc.pacingGain, 0.75);
  // The drain phase ends early once the pipe is one BDP and the bursts (16,000).
  d = ack(cc, now += 1, 17_000, d);
  assert.equal(cc.pacingGain, 0.75);
  d = ack(cc, now += 1, 16_000, d);
  assert.equal(cc.pacingGain, 1);
  const gains: number[] = [];
  for (let i = 0; i < 6; i++) {
    d = ack(cc, now += 5, 10_000, d); // half a phase: no change
    d = ack(cc, now += 6, 10_000, d);
    gains.push(cc.pacingGain);
  }
  assert.deepEqual(gains, [1, 1, 1, 1, 1, 1.25], "six phases at 1, then the probe again");
});

Deno.test("pacing: a loss ends the probing phase once it has lasted a minimum RTT", () => {
  let { cc, now, d } = probing();
  for (let i = 0; i < 8 && cc.pacingGain !== 1.25; i++) d = ack(cc, now += 11, 10_000, d);
  assert.equal(cc.pacingGain, 1.25);
  cc.onLoss();
  d = ack(cc, now += 5, 10_000, d);
  assert.equal(cc.pacingGain, 1.25, "not before a minimum RTT");
  ack(cc, now += 6, 10_000, d);
  assert.equal(cc.pacingGain, 0.75);
});

Deno.test("pacing: data leaves at the rate, with at most 2 ms of credit, and the connection wakes for the rest", async () => {
  const n = net({ tcp: { congestion: "bbr" } }, {});
  const { client } = await pair(n);
  // BBR's own rate comes from its model; this one is set by hand.
  const c = client.block;
  const seg = c.effMss;
  // A window that never binds and a rate of one segment per ms.
  c.snd.cc = Object.assign(new NewReno(seg), { cwnd: 1 << 20, pacingRate: seg });
  await n.advance(10); // the clock began at 0: room for the credit
  const start = n.trace.length, t0 = n.now;
  send(c, new Uint8Array(30 * seg), 0, 30 * seg);
  const sent = () =>
    n.trace.slice(start).filter((p) => p.from === "a" && p.packet.length > 100).length;
  // Idle long enough: 2 ms of credit and the segment due now.
  assert.equal(sent(), 3);
  assert.ok(c.paceAt > t0, "the pacing timer is armed");
  await n.advance(10);
  // One more each millisecond since.
  assert.ok(sent() >= 12 && sent() <= 14, `${sent()} segments after 10 ms`);
  client.close();
});

/**
 * 5 MB over 10 MB/s with a round trip of 10 ms (a BDP of 100 KB) and a
 * bottleneck queue of `queueBytes`: virtual ms taken and packets the
 * queue dropped.
 */
async function shallow(
  congestion: "bbr" | "cubic",
  pacing: number,
  queueBytes: number,
): Promise<{ ms: number; drops: number }> {
  const n = net({ tcp: { congestion, pacing } }, {}, 7);
  n.tracing = false;
  n.ab.delayMs = n.ba.delayMs = 5;
  const { client, server } = await pair(n);
  n.ab.bytesPerMs = 10_000;
  n.ab.queueBytes = queueBytes;
  const data = pattern(5_000_000, 3);
  const start = n.now;
  writeAll(client, data);
  let got: Uint8Array | undefined;
  readAll(server, data.length).then((b) => got = b);
  await n.run(() => got !== undefined, 120_000);
  assert.deepEqual(got, data);
  client.close();
  server.close();
  return { ms: n.now - start, drops: n.queueDrops };
}

Deno.test("pacing: over a shallow bottleneck queue BBR loses a fraction of what it loses unpaced", async () => {
  const paced = await shallow("bbr", 1, 30_000), unpaced = await shallow("bbr", 0, 30_000);
  // Measured: 553 against 4,702.
  assert.ok(
    paced.drops * 4 < unpaced.drops,
    `drops paced ${paced.drops}, unpaced ${unpaced.drops}`,
  );
  // 5 MB at 10 MB/s is 500 ms at best.
  assert.ok(paced.ms < 600, `paced ${paced.ms} ms (unpaced ${unpaced.ms})`);
});

Deno.test("pacing: at net.inet.tcp.pacing=2 CUBIC is paced too, and fills a shallow-queued bottleneck sooner", async () => {
  // A queue of 15 KB, 0.15 of the path's BDP; pacing 1 leaves CUBIC unpaced.
  const paced = await shallow("cubic", 2, 15_000), unpaced = await shallow("cubic", 1, 15_000);
  // Measured: 584 against 816 ms.
  assert.ok(paced.ms * 1.2 < unpaced.ms, `paced ${paced.ms} ms, unpaced ${unpaced.ms} ms`);
});
