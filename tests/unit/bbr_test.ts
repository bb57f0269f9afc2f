// BBR (draft-cardwell-iccrg-bbr-congestion-control-00) and the delivery
// rate estimator under it (draft-cheng-iccrg-delivery-rate-estimation-02).

import assert from "node:assert/strict";
import { Bbr } from "../../stack/tcp/cc/bbr.ts";
import type { RateSample } from "../../stack/tcp/cc/delivery_rate.ts";
import { Rack } from "../../stack/tcp/loss/rack.ts";
import { info } from "../../stack/tcp/user.ts";
import { formatConnections } from "../../cli/inspect.ts";
import { net, pair, pattern, readAll, writeAll } from "../_tcp.ts";

const MSS = 1000;

function sample(over: Partial<RateSample>): RateSample {
  return {
    newlyDelivered: 10 * MSS,
    delivered: 10 * MSS,
    interval: 10,
    rate: 1000,
    rtt: 10,
    priorDelivered: 0,
    appLimited: false,
    ...over,
  };
}

// Each controller's clock, ms: the rounds below follow one another.
const clocks = new WeakMap<Bbr, number>();

/**
 * Feeds `n` rounds at `rate` bytes/ms, 10 ms apart, one ACK of a round's
 * data each; returns the next round's delivered count.
 */
function rounds(cc: Bbr, n: number, rate: number, from: number, pipe = 0): number {
  let delivered = from;
  for (let i = 0; i < n; i++) {
    const prior = delivered;
    delivered += rate * 10;
    const now = (clocks.get(cc) ?? 0) + 10;
    clocks.set(cc, now);
    cc.onRateSample(
      sample({ rate, priorDelivered: prior, newlyDelivered: rate * 10 }),
      pipe,
      now,
      delivered,
    );
  }
  return delivered;
}

Deno.test("delivery rate: data delivered since a range's stamp over its longer phase", () => {
  const r = new Rack();
  // Ten 1000-byte segments sent 1 ms apart from t = 0.
  for (let i = 0; i < 10; i++) r.sent(i * MSS, (i + 1) * MSS, i);
  // The first five arrive by t = 14, the rest by t = 19: send phase 4 ms, ACK phase 5 ms.
  r.acked(5 * MSS, 14, 10);
  const first = r.rate.take(1)!;
  assert.equal(first.newlyDelivered, 5 * MSS);
  assert.equal(first.rtt, 10, "the newest range delivered: sent at 4, acked at 14");
  r.acked(10 * MSS, 19, 10);
  const s = r.rate.take(1)!;
  assert.equal(s.newlyDelivered, 5 * MSS);
  assert.equal(s.priorDelivered, 0, "segment 9 was sent before anything was delivered");
  assert.equal(s.delivered, 10 * MSS);
  assert.equal(s.interval, 19, "ACK phase: from the stamp at t = 0 to t = 19");
  assert.equal(s.rate, (10 * MSS) / 19);
  assert.equal(r.rate.take(1), undefined, "an ACK that delivers nothing has no sample");
});

Deno.test("delivery rate: a compressed burst of ACKs reads no faster than the data was sent", () => {
  const r = new Rack();
  r.sent(0, MSS, 0);
  r.acked(MSS, 10, 10);
  r.rate.take(1);
  // Four segments sent over 8 ms, their ACKs all at once at t = 30.
  for (let i = 0; i < 4; i++) r.sent((1 + i) * MSS, (2 + i) * MSS, 10 + 2 * i);
  r.acked(5 * MSS, 30, 10);
  const s = r.rate.take(1)!;
  // Delivered since segment 4's stamp (1000 at t = 10): 4000 bytes.
  assert.equal(s.delivered, 4 * MSS);
  assert.equal(s.interval, 20, "the ACK phase, 10 to 30, is the longer");
  // SACKed ranges count as delivered once, and a later cumulative ACK adds nothing.
  r.sent(5 * MSS, 6 * MSS, 31);
  r.sent(6 * MSS, 7 * MSS, 31);
  r.sacked(6 * MSS, 7 * MSS, 41);
  assert.equal(r.rate.take(1)!.newlyDelivered, MSS);
  r.acked(7 * MSS, 42, 10);
  assert.equal(r.rate.take(1)!.newlyDelivered, MSS, "only the hole's 1000 bytes are new");
});

Deno.test("delivery rate: sends while the application leaves the window unfilled are marked", () => {
  const r = new Rack();
  r.rate.markAppLimited(0);
  r.sent(0, MSS, 0);
  r.acked(MSS, 10, 10);
  assert.equal(r.rate.take(1)!.appLimited, true);
  assert.equal(r.rate.appLimited, false, "the stretch ends once its data is delivered");
  r.sent(MSS, 2 * MSS, 10);
  r.acked(2 * MSS, 20, 10);
  assert.equal(r.rate.take(1)!.appLimited, false);
});

Deno.test("bbr: STARTUP grows by what is delivered, ends after three flat rounds, DRAIN then PROBE_BW", () => {
  const cc = new Bbr(MSS);
  let d = rounds(cc, 1, 1000, 0);
  assert.equal(cc.mode, "startup");
  assert.equal(cc.cwnd, 10 * MSS + 10 * MSS, "the initial window plus the 10,000 delivered");
  d = rounds(cc, 3, 1000, d, 50 * MSS); // no growth: three flat rounds, a queue built
  assert.equal(cc.mode, "drain");
  assert.equal(cc.bandwidth, 1000);
  assert.equal(cc.minRtt, 10);
  // With the queue gone (pipe at one BDP, 10,000 bytes), PROBE_BW.
  rounds(cc, 1, 1000, d, 10 * MSS);
  assert.equal(cc.mode, "probe_bw");
});

Deno.test("bbr: in PROBE_BW the window is two BDPs and three bursts, whatever the losses", () => {
  const cc = new Bbr(MSS);
  let d = rounds(cc, 4, 1000, 0);
  d = rounds(cc, 20, 1000, d, 10 * MSS);
  assert.equal(cc.mode, "probe_bw");
  // 2 x 1000 B/ms x 10 ms + 3 x max(2 MSS, 1 ms of data) = 20,000 + 6000,
  // and 10,000 for ACK aggregation: each round's data came in one ACK.
  assert.equal(cc.cwnd, 36_000);
  // A loss: the first round conserves packets (pipe plus what is delivered) ...
  cc.onLoss();
  cc.onRateSample(
    sample({ rate: 900, priorDelivered: d - 5000, newlyDelivered: 2000 }),
    12_000,
    300,
    d + 2000,
  );
  assert.equal(cc.cwnd, 14_000);
  // ... for a whole round: an ACK of data sent before the loss is still in it.
  cc.onRateSample(
    sample({ rate: 900, priorDelivered: d, newlyDelivered: 1000 }),
    13_000,
    301,
    d + 3000,
  );
  assert.equal(cc.cwnd, 14_000, "the pipe and what was delivered, no growth");
  // ... and the end of recovery brings back the window from before it.
  cc.onRecoveryEnd();
  assert.equal(cc.cwnd, 36_000);
  assert.equal(cc.bandwidth, 1000, "a loss is no measurement of the path");
});

Deno.test("bbr: an application-limited sample never lowers the bandwidth, a full one raises it", () => {
  const cc = new Bbr(MSS);
  let d = rounds(cc, 4, 1000, 0);
  // Twenty rounds of an application that sends little: the estimate stays.
  for (let i = 0; i < 20; i++) {
    cc.onRateSample(
      sample({ rate: 100, appLimited: true, priorDelivered: d }),
      0,
      50 + i,
      d + 1000,
    );
    d += 1000;
  }
  assert.equal(cc.bandwidth, 1000);
  cc.onRateSample(sample({ rate: 1500, appLimited: true, priorDelivered: d }), 0, 60, d + 15_000);
  assert.equal(cc.bandwidth, 1500, "an application-limited sample above the estimate counts");
});

Deno.test("bbr: the bandwidth filter forgets a rate after ten rounds", () => {
  const cc = new Bbr(MSS);
  let d = rounds(cc, 4, 2000, 0);
  assert.equal(cc.bandwidth, 2000);
  d = rounds(cc, 9, 1000, d, 10 * MSS);
  assert.equal(cc.bandwidth, 2000, "still within ten rounds");
  rounds(cc, 2, 1000, d, 10 * MSS);
  assert.equal(cc.bandwidth, 1000);
});

Deno.test("bbr: a minimum RTT ten seconds old sends it to PROBE_RTT: four segments, 200 ms and a round", () => {
  const cc = new Bbr(MSS);
  let d = rounds(cc, 4, 1000, 0);
  d = rounds(cc, 2, 1000, d, 10 * MSS);
  assert.equal(cc.mode, "probe_bw");
  const big = cc.cwnd;
  // RTT samples above the minimum for ten seconds.
  cc.onRateSample(sample({ rtt: 12, priorDelivered: d }), 20 * MSS, 10_200, d + 10_000);
  d += 10_000;
  assert.equal(cc.mode, "probe_rtt");
  assert.equal(cc.cwnd, 4 * MSS);
  cc.onRateSample(sample({ rtt: 12, priorDelivered: d }), 4 * MSS, 10_210, d + 1000); // pipe down: 200 ms start
  d += 1000;
  cc.onRateSample(sample({ rtt: 12, priorDelivered: d }), 4 * MSS, 10_300, d + 1000);
  d += 1000;
  assert.equal(cc.mode, "probe_rtt", "not before 200 ms");
  cc.onRateSample(sample({ rtt: 12, priorDelivered: d }), 4 * MSS, 10_420, d + 1000);
  assert.equal(cc.mode, "probe_bw");
  assert.equal(cc.minRtt, 12, "measured again");
  assert.equal(big, 36_000);
  assert.equal(
    cc.cwnd,
    40_000,
    "the window comes back, to the new model's 2 x 1000 x 12 + 6000 + 10,000",
  );
});

Deno.test("bbr: a connection opened when the clock is past ten seconds starts in STARTUP, not PROBE_RTT", () => {
  const cc = new Bbr(MSS);
  clocks.set(cc, 3_600_000); // an hour into the stack's life
  rounds(cc, 3, 1000, 0);
  assert.equal(cc.mode, "startup");
  assert.ok(cc.cwnd > 10 * MSS, `cwnd ${cc.cwnd} grows`);
});

Deno.test("bbr: over a 10 MB/s bottleneck with 2% random loss, near the link rate; NewReno far below", async () => {
  const elapsed: Record<string, number> = {};
  for (const congestion of ["bbr", "newreno"] as const) {
    const n = net({ tcp: { congestion } }, {}, 7);
    n.tracing = false;
    n.ab.delayMs = n.ba.delayMs = 5;
    const { client, server } = await pair(n);
    n.ab.bytesPerMs = 10_000;
    n.ab.loss = 0.02;
    const data = pattern(5_000_000, 3);
    const start = n.now;
    writeAll(client, data);
    let got: Uint8Array | undefined;
    readAll(server, data.length).then((d) => got = d);
    await n.run(() => got !== undefined, 120_000);
    elapsed[congestion] = n.now - start;
    assert.deepEqual(got, data);
    const cc = client.block.snd.cc;
    if (cc instanceof Bbr) {
      assert.ok(Math.abs(cc.bandwidth - 10_000) < 1500, `bandwidth ${cc.bandwidth} B/ms`);
      assert.ok(cc.minRtt >= 10 && cc.minRtt < 12, `min RTT ${cc.minRtt} ms`);
      assert.equal(n.a.tcp.stats.timeouts, 0);
    }
    client.close();
    server.close();
  }
  // 5 MB at 10 MB/s is 500 ms at best.
  assert.ok(elapsed.bbr < 700, `BBR took ${elapsed.bbr} ms`);
  assert.ok(
    elapsed.newreno > 3 * elapsed.bbr,
    `NewReno ${elapsed.newreno} ms, BBR ${elapsed.bbr} ms`,
  );
});

Deno.test("bbr: ss -i shows the model of a connection that has sent", async () => {
  const n = net({ tcp: { congestion: "bbr" } }, {});
  n.tracing = false;
  n.ab.delayMs = n.ba.delayMs = 1;
  const { client, server } = await pair(n);
  const data = pattern(1_000_000, 5);
  writeAll(client, data);
  let got: Uint8Array | undefined;
  readAll(server, data.length).then((d) => got = d);
  await n.run(() => got !== undefined, 60_000);
  const row = info(client.block, n.now);
  assert.ok(row.bbr, "BBR's fields are there");
  assert.ok(row.bbr.bandwidthBytesPerSec > 0);
  assert.ok(row.bbr.minRttMs !== null && row.bbr.minRttMs >= 2, `min RTT ${row.bbr.minRttMs}`);
  assert.match(
    formatConnections([row], true),
    /cwnd:\d+ bbr:\(mode:(startup|drain|probe_bw|probe_rtt),bw:[\d.]+Mbps,mrtt:[\d.]+\) pacing_rate:[\d.]+Mbps/,
  );
  assert.equal(row.pacingRateBytesPerSec, Math.round(client.block.snd.cc.pacingRate! * 1000));
  assert.equal(info(server.block, n.now).bbr, null, "the other end runs NewReno");
  assert.equal(info(server.block, n.now).pacingRateBytesPerSec, null, "... unpaced");
  client.close();
  server.close();
});

Deno.test("bbr: ACKs that come in bursts add the burst to the window; smooth ones about one ACK", () => {
  const windowAfter = (burst: number) => {
    const cc = new Bbr(MSS);
    let d = rounds(cc, 4, 1000, 0);
    d = rounds(cc, 4, 1000, d, 10 * MSS);
    let now = clocks.get(cc)!;
    // 1000 B/ms for 100 ms, the ACKs `burst` ms apart, each of `burst` ms of data.
    for (let t = 0; t < 100; t += burst) {
      now += burst;
      const acked = 1000 * burst;
      for (let k = 0; k < 5; k++) {
        cc.onRateSample(
          sample({ rate: 1000, priorDelivered: d - 10_000, newlyDelivered: acked / 5 }),
          10 * MSS,
          now,
          d + acked / 5,
        );
        d += acked / 5;
      }
    }
    assert.equal(cc.mode, "probe_bw");
    return cc.cwnd;
  };
  // The set-up's rounds (one ACK of 10,000 each) are in both.
  const smooth = windowAfter(1), bursty = windowAfter(40);
  assert.ok(smooth <= 2 * 1000 * 10 + 3 * 2000 + 10_000, `smooth: ${smooth}`);
  assert.ok(
    bursty - smooth >= 25_000,
    `bursty ${bursty}, smooth ${smooth}: room for 40,000 at once`,
  );
});
