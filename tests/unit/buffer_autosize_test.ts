import assert from "node:assert/strict";
import { DEFAULT_TCP_CONFIG, type TcpConfig } from "../../stack/tcp/config.ts";
import { Receiver } from "../../stack/tcp/receiver.ts";
import { Sender } from "../../stack/tcp/sender.ts";
import { info } from "../../stack/tcp/user.ts";
import { net, pair, pattern, readAll, writeAll } from "../_tcp.ts";

const MIB = 1 << 20;
const SEG = 1448;
/** 1 MiB rounded up to whole 1460-byte segments, as a connection starts in the simulation. */
const START = 1_049_740;

Deno.test("autosize: the receive buffer grows by half when three eighths of it came in half a round trip", () => {
  const rcv = new Receiver(MIB, 1460);
  // 480 KB within 51 ms of a 100 ms round trip: the peer fills the window.
  for (let t = 0; t <= 50; t += 10) rcv.autoSize(80_000, t, 100, SEG, 6 * MIB);
  assert.equal(rcv.buf.capacity, MIB, "nothing before half a round trip has passed");
  assert.equal(rcv.autoSize(SEG, 51, 100, SEG, 6 * MIB), true);
  assert.equal(rcv.buf.capacity, 1_572_528, "1.5 MiB, in whole segments");
  assert.equal(rcv.buf.capacity % SEG, 0);
  // The next half round trip measures afresh: 300 KB is not three eighths of 1.5 MiB.
  for (let t = 52; t <= 102; t += 10) rcv.autoSize(50_000, t, 100, SEG, 6 * MIB);
  assert.equal(rcv.autoSize(SEG, 103, 100, SEG, 6 * MIB), false);
  assert.equal(rcv.buf.capacity, 1_572_528);
});

Deno.test("autosize: no receive growth without an RTT sample, below three eighths, in bursts, or at the cap", () => {
  const noRtt = new Receiver(MIB, 1460);
  for (let t = 0; t < 1000; t += 10) noRtt.autoSize(500_000, t, 0, SEG, 6 * MIB);
  assert.equal(noRtt.buf.capacity, MIB, "no round trip known: nothing to measure against");
  const slow = new Receiver(MIB, 1460);
  for (let t = 0; t < 1000; t += 10) slow.autoSize(30_000, t, 100, SEG, 6 * MIB);
  assert.equal(slow.buf.capacity, MIB, "180 KB per half round trip: the window is not the limit");
  // A 0.3 ms path read in batches: a whole window within 0.2 ms every 2 ms
  // (500 MB/s), which half a round trip alone would call 10 GB/s.
  const bursts = new Receiver(MIB, 1460);
  for (let t = 0; t < 1000; t += 2) {
    for (let i = 0; i < 16; i++) bursts.autoSize(MIB / 16, t + i * 0.0125, 0.3, SEG, 6 * MIB);
  }
  assert.equal(bursts.buf.capacity, MIB, "a 1 MiB window carries 3.5 GB/s over 0.3 ms");
  const capped = new Receiver(MIB, 1460);
  for (let t = 0; t < 1000; t += 10) capped.autoSize(500_000, t, 100, SEG, 1_200_000);
  assert.equal(capped.buf.capacity, 1_200_000 - (1_200_000 % SEG), "never past the cap");
});

Deno.test("autosize: the send buffer grows when three eighths of it was acknowledged in half a round trip", () => {
  const full = (sndBuf = 65536) => {
    const snd = new Sender({ ...DEFAULT_TCP_CONFIG, sndBuf }, 1460);
    snd.buf.append(new Uint8Array(sndBuf), 0, sndBuf); // the application keeps it full
    snd.wnd = 8 * MIB;
    return snd;
  };
  // 30 KB acknowledged within 50 ms of a 100 ms round trip: over 24 KB.
  const ack = (snd: Sender, cap = 6 * MIB) => {
    snd.autoSize(30_000, 0, 100, SEG, cap);
    return snd.autoSize(SEG, 51, 100, SEG, cap);
  };
  const grows = full();
  assert.equal(ack(grows), true);
  assert.equal(grows.buf.capacity, 97_016, "half as much again, in whole segments");
  const behind = new Sender({ ...DEFAULT_TCP_CONFIG, sndBuf: 65536 }, 1460);
  behind.buf.append(new Uint8Array(50_000), 0, 50_000);
  behind.wnd = 8 * MIB;
  assert.equal(ack(behind), false, "the application does not keep it 7/8 full");
  const smallPeerWindow = full();
  smallPeerWindow.wnd = 40_000; // 5/4 of it is under the buffer
  assert.equal(ack(smallPeerWindow), false);
  const atCap = full();
  assert.equal(ack(atCap, 65536), false);
  assert.equal(atCap.buf.capacity, 65536);
  // A path of microseconds: 64 KB ACKs 50 us apart, 40 us round trips.
  const lan = full(MIB);
  for (let i = 0; i < 10_000; i++) lan.autoSize(65536, i * 0.05, 0.04, SEG, 6 * MIB);
  assert.equal(lan.buf.capacity, MIB, "a round trip of data is a fraction of the buffer");
});

// A 20 MB/s bottleneck with 50 ms each way: a bandwidth-delay product of
// 2 MB, twice the 1 MiB the buffers start with.
async function longFatPath(
  bytes: number,
  bytesPerMs: number,
  auto = true,
  extra: Partial<TcpConfig> = {},
) {
  const tcp = { recvBufAuto: auto, sendBufAuto: auto, ...extra };
  const n = net({ tcp }, { tcp });
  n.tracing = false;
  n.ab.delayMs = n.ba.delayMs = 50;
  const { client, server } = await pair(n);
  n.ab.bytesPerMs = bytesPerMs;
  const data = pattern(bytes, 3);
  const start = n.now;
  writeAll(client, data);
  let got: Uint8Array | undefined;
  readAll(server, data.length).then((d) => got = d);
  await n.run(() => got !== undefined, 600_000);
  assert.deepEqual(got, data);
  const result = {
    ms: n.now - start,
    sender: info(client.block, n.now),
    receiver: info(server.block, n.now),
    sent: { ...n.a.tcp.stats.bufferAutosize },
    received: { ...n.b.tcp.stats.bufferAutosize },
    leftAfterClose: 0,
  };
  client.close();
  server.close();
  await n.run(() => n.a.tcp.connectionCount + n.b.tcp.connectionCount === 0, 600_000);
  result.leftAfterClose = n.a.tcp.stats.bufferAutosize.bytes + n.b.tcp.stats.bufferAutosize.bytes;
  return result;
}

Deno.test("autosize: over a 100 ms, 20 MB/s path both buffers grow and 40 MB beat any 1 MiB window", async () => {
  const r = await longFatPath(40_000_000, 20_000);
  // A 1 MiB window carries at most 1 MiB per 100 ms round trip: 3.8 s for 40 MB.
  const windowBound = 40_000_000 / (MIB / 100);
  assert.ok(r.ms < 0.8 * windowBound, `took ${r.ms} ms, a fixed 1 MiB window ${windowBound} ms`);
  assert.ok(r.receiver.rcvBuf > 2 * MIB, `receive buffer ${r.receiver.rcvBuf}`);
  assert.ok(r.receiver.rcvBuf <= DEFAULT_TCP_CONFIG.recvBufMax);
  assert.ok(r.sender.sndBuf > 2 * MIB, `send buffer ${r.sender.sndBuf}`);
  assert.ok(r.sender.sndBuf <= DEFAULT_TCP_CONFIG.sendBufMax);
  assert.ok(r.received.receive > 0 && r.sent.send > 0, JSON.stringify(r));
  assert.equal(r.received.bytes, r.receiver.rcvBuf - START, "the budget counts the growth");
  assert.equal(r.sent.bytes, r.sender.sndBuf - START);
  assert.equal(r.leftAfterClose, 0, "closed connections give their growth back");
  assert.equal(
    r.received.send + r.sent.receive,
    0,
    "the receiver sent nothing, the sender received nothing",
  );
  const fixed = await longFatPath(4_000_000, 20_000, false);
  assert.equal(fixed.receiver.rcvBuf, START, "off: the buffers keep their size");
  assert.equal(fixed.sender.sndBuf, fixed.receiver.rcvBuf);
});

Deno.test("autosize: a path the window already fills leaves both buffers as they started", async () => {
  // 1 MB/s over 100 ms: 100 KB in flight are enough.
  const r = await longFatPath(3_000_000, 1000);
  assert.equal(r.received.receive, 0);
  assert.equal(r.receiver.rcvBuf, START);
  assert.ok(r.sender.sndBuf <= 2 * MIB, `send buffer ${r.sender.sndBuf}`);
});

Deno.test("autosize: both ends take their first RTT from the timed SYN, not the millisecond timestamp clock", async () => {
  const n = net();
  n.ab.delayMs = n.ba.delayMs = 0.2;
  const { client, server } = await pair(n);
  assert.ok(client.block.tsOk && server.block.tsOk, "timestamps in use");
  // Timestamps would have said 0 or 1 ms for this 0.4 ms round trip.
  for (const c of [client, server]) {
    const rtt = c.block.snd.rtt;
    assert.ok(Math.abs(rtt.srtt - 0.4) < 0.05, `srtt ${rtt.srtt} ms`);
    assert.equal(rtt.min, rtt.srtt, "one sample so far");
  }
  client.close();
  server.close();
});

Deno.test("autosize: the stack-wide budget stops growth, and a closed connection gives it back", async () => {
  const r = await longFatPath(20_000_000, 20_000, true, { autosizeBudget: 600_000 });
  assert.ok(r.receiver.rcvBuf <= START + 600_000, `receive buffer ${r.receiver.rcvBuf}`);
  assert.ok(r.sender.sndBuf <= START + 600_000, `send buffer ${r.sender.sndBuf}`);
  assert.ok(r.received.bytes > 0 && r.received.bytes <= 600_000, JSON.stringify(r.received));
  assert.equal(r.leftAfterClose, 0);
});
