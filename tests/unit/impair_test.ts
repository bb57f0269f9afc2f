// Link impairment: the spec parser's errors, each impairment's effect on a
// seeded stream of packets, and the link wrapper on the real clock.

import assert from "node:assert/strict";
import { ImpairedLink, Impairer, noImpairment, parseImpairment } from "../../stack/impair.ts";
import { MemoryLink } from "../../stack/memory_link.ts";
import { rng } from "../../stack/sim.ts";
import { checksum, sum16 } from "../../stack/wire/checksum.ts";

Deno.test("impair: a spec sets each direction; bare keys set both", () => {
  const p = parseImpairment(
    "drop=1%,in:dup=0.5%,out:reorder=2%,reorder-delay=3ms,corrupt=0.01,delay=20ms,jitter=500us,rate=100mbit,limit=50,seed=7",
  );
  assert.equal(p.seed, 7);
  assert.equal(p.in.drop, 0.01);
  assert.equal(p.out.drop, 0.01);
  assert.equal(p.in.duplicate, 0.005);
  assert.equal(p.out.duplicate, 0);
  assert.equal(p.out.reorder, 0.02);
  assert.equal(p.in.reorder, 0);
  assert.equal(p.in.reorderMs, 3);
  assert.equal(p.in.corrupt, 0.01);
  assert.equal(p.out.delayMs, 20);
  assert.equal(p.out.jitterMs, 0.5);
  assert.equal(p.in.rateBps, 100e6);
  assert.equal(p.out.limit, 50);
});

Deno.test("impair: a bad spec is refused with the item named", () => {
  const cases: [string, RegExp][] = [
    ["", /^Invalid impairment: the spec is empty$/],
    ["drop", /^Invalid impairment: "drop" \(expected \[in:\|out:\]key=value\)$/],
    ["drop=101%", /^Invalid impairment: drop=101% \(a probability such as 1%/],
    ["drop=x", /^Invalid impairment: drop=x/],
    ["up:drop=1%", /^Invalid impairment: "up:drop=1%"/],
    ["delay=20", /^Invalid impairment: delay=20 \(a time such as 20ms/],
    ["delay=61s", /^Invalid impairment: delay=61s \(at most 60s\)$/],
    ["rate=10", /^Invalid impairment: rate=10 \(a rate such as 100mbit/],
    ["rate=1kbit", /at least 8kbit/],
    ["limit=0", /^Invalid impairment: limit=0 \(packets/],
    ["in:seed=3", /^Invalid impairment: in:seed=3 \(seed=N, for both directions\)$/],
    ["loss=1%", /^Invalid impairment: unknown key "loss" \(drop, dup,/],
  ];
  for (const [spec, want] of cases) {
    assert.throws(() => parseImpairment(spec), { name: "RangeError", message: want }, spec);
  }
});

/** Offers `n` numbered packets (byte 0..3 = index) at 1 ms spacing; returns what came out. */
function stream(spec: string, n: number, size = 100): { got: Uint8Array[]; imp: Impairer } {
  const got: Uint8Array[] = [];
  const plan = parseImpairment(spec);
  const imp = new Impairer(plan.out, rng(plan.seed), (p, len) => got.push(p.slice(0, len)));
  const buf = new Uint8Array(size);
  for (let i = 0; i < n; i++) {
    new DataView(buf.buffer).setUint32(0, i);
    imp.offer(buf, size, i);
    imp.release(i);
  }
  imp.release(Infinity);
  return { got, imp };
}

const index = (p: Uint8Array) => new DataView(p.buffer, p.byteOffset).getUint32(0);

Deno.test("impair: drop and dup act at their rates, in order, and are counted", () => {
  const { got, imp } = stream("drop=5%,dup=2%,seed=3", 20_000);
  const c = imp.counters;
  assert.equal(c.packets, 20_000);
  assert.ok(c.dropped > 800 && c.dropped < 1200, `dropped ${c.dropped}`);
  assert.ok(c.duplicated > 250 && c.duplicated < 510, `duplicated ${c.duplicated}`);
  assert.equal(got.length, 20_000 - c.dropped + c.duplicated);
  for (let i = 1; i < got.length; i++) assert.ok(index(got[i]) >= index(got[i - 1]));
  // The same seed, the same decisions.
  assert.deepEqual(stream("drop=5%,dup=2%,seed=3", 20_000).imp.counters, c);
  assert.notDeepEqual(stream("drop=5%,dup=2%,seed=4", 20_000).imp.counters, c);
});

Deno.test("impair: corrupt flips exactly one bit of a copy", () => {
  const { got, imp } = stream("corrupt=100%", 50);
  assert.equal(imp.counters.corrupted, 50);
  for (const [i, p] of got.entries()) {
    const want = new Uint8Array(100);
    new DataView(want.buffer).setUint32(0, i);
    let bits = 0;
    for (let j = 0; j < 100; j++) {
      for (let x = p[j] ^ want[j]; x; x &= x - 1) bits++;
    }
    assert.equal(bits, 1, `packet ${i}`);
  }
});

Deno.test("impair: delay and jitter hold packets within their bounds; order kept without jitter", () => {
  const times: number[] = [];
  const imp = new Impairer({ ...noImpairment(), delayMs: 20 }, rng(1), () => times.push(now));
  let now = 0;
  for (; now < 100; now++) {
    imp.offer(new Uint8Array(10), 10, now);
    imp.release(now);
  }
  for (; now < 200; now++) imp.release(now);
  assert.equal(times.length, 100);
  assert.deepEqual(times, Array.from({ length: 100 }, (_, i) => i + 20));

  const spread: number[] = [];
  const j = new Impairer({ ...noImpairment(), delayMs: 10, jitterMs: 5 }, rng(2), (p) => {
    spread.push(now - p[0]);
  });
  for (now = 0; now < 200; now++) {
    j.offer(new Uint8Array([now]), 1, now);
    j.release(now);
  }
  for (; now < 300; now++) j.release(now);
  assert.equal(spread.length, 200);
  assert.ok(Math.min(...spread) >= 5 && Math.max(...spread) <= 15, String(spread));
  assert.ok(Math.max(...spread) - Math.min(...spread) >= 8, "jitter spreads the delays");
});

Deno.test("impair: reorder lets later packets pass a held one", () => {
  const { got, imp } = stream("reorder=10%,reorder-delay=3ms,seed=5", 1000);
  assert.ok(imp.counters.reordered > 60 && imp.counters.reordered < 140);
  assert.equal(got.length, 1000);
  let inversions = 0;
  for (let i = 1; i < got.length; i++) if (index(got[i]) < index(got[i - 1])) inversions++;
  assert.ok(inversions > 50, `inversions ${inversions}`);
});

Deno.test("impair: rate spaces packets by their length and tail-drops past the queue limit", () => {
  const times: number[] = [];
  let now = 0;
  // 1500 bytes at 12 Mbit/s: 1 ms each. Ten offered at once, queue of 5.
  const imp = new Impairer(
    { ...noImpairment(), rateBps: 12e6, limit: 5 },
    rng(1),
    () => times.push(now),
  );
  for (let i = 0; i < 10; i++) imp.offer(new Uint8Array(1500), 1500, 0);
  for (; now <= 10; now++) imp.release(now);
  assert.deepEqual(times, [1, 2, 3, 4, 5]);
  assert.equal(imp.counters.queueDrops, 5);
  // The queue drained: the wire takes packets again.
  imp.offer(new Uint8Array(1500), 1500, now);
  imp.release(now + 1);
  assert.equal(times.length, 6);
});

Deno.test("impair: packets that only wait out the delay are past the queue, as on a long wire", () => {
  let delivered = 0;
  // 1 ms per packet on the wire, 50 ms of delay after it, a queue of 2.
  const imp = new Impairer(
    { ...noImpairment(), rateBps: 12e6, delayMs: 50, limit: 2 },
    rng(1),
    () => delivered++,
  );
  // One packet a millisecond for 40 ms: the wire keeps up, so nothing
  // queues, though 40 are held for the delay at the end.
  for (let now = 0; now < 40; now++) imp.offer(new Uint8Array(1500), 1500, now);
  assert.equal(imp.counters.queueDrops, 0);
  // Four at once: the queue (the packet on the wire counted, as above)
  // takes two, and two are dropped.
  for (let i = 0; i < 4; i++) imp.offer(new Uint8Array(1500), 1500, 40);
  assert.equal(imp.counters.queueDrops, 2);
  imp.release(200);
  assert.equal(delivered, 42);
});

Deno.test("impair: ImpairedLink delays what the stack sends, on the real clock", async () => {
  const sent: Uint8Array[] = [];
  const received: number[] = [];
  const imp = new ImpairedLink(
    new MemoryLink(1500, (p) => sent.push(p)),
    { receive: (_b, len) => received.push(len) },
    parseImpairment("out:delay=5ms,in:drop=100%"),
  );
  assert.equal(imp.link.csumOffload, false);
  const frame = new Uint8Array(60);
  frame[0] = 0x45;
  imp.link.transmit(frame, 60);
  frame[0] = 0; // the sender reuses its frame: the held copy is unchanged
  imp.handler.receive(new Uint8Array(40), 40);
  assert.equal(sent.length, 0);
  await new Promise((r) => setTimeout(r, 30));
  assert.equal(sent.length, 1);
  assert.equal(sent[0][0], 0x45);
  assert.equal(sent[0].length, 60);
  assert.deepEqual(received, []);
  const c = imp.counters();
  assert.equal(c.out.delayed, 1);
  assert.equal(c.in.dropped, 1);
  imp.close();
});

Deno.test("impair: ce marks ECN-capable packets CE, as an AQM would, and leaves Not-ECT ones alone", () => {
  const got: Uint8Array[] = [];
  const spec = { ...parseImpairment("ce=100%").out };
  const imp = new Impairer(spec, rng(1), (p, len) => got.push(p.slice(0, len)));
  const v4 = (tos: number) => {
    const p = new Uint8Array(40);
    p.set([0x45, tos, 0, 40, 0, 1, 0x40, 0, 64, 6]);
    p.set([192, 0, 2, 1, 192, 0, 2, 2], 12);
    const c = checksum(sum16(0, p, 0, 20));
    p[10] = c >> 8;
    p[11] = c & 255;
    return p;
  };
  const ect0 = v4(0xb8 | 2), notEct = v4(0xb8);
  const v6 = new Uint8Array(48);
  v6.set([0x6b, 0x90]); // traffic class 0xb9: DSCP EF, ECT(1)
  for (const p of [ect0, notEct, v6]) imp.offer(p, p.length, 0);
  assert.equal(imp.counters.marked, 2);
  assert.equal(got[0][1], 0xbb, "DSCP kept, ECN field CE");
  assert.equal(checksum(sum16(0, got[0], 0, 20)), 0, "and the header checksum still holds");
  assert.equal(ect0[1], 0xba, "a copy was marked, not the sender's buffer");
  assert.deepEqual(got[1], notEct, "a Not-ECT packet passes as it was");
  assert.equal(((got[2][0] & 15) << 4) | (got[2][1] >> 4), 0xbb);
  assert.equal(parseImpairment("out:ce=2%").out.ce, 0.02);
  assert.equal(parseImpairment("out:ce=2%").in.ce, 0);
});
