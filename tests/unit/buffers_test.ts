// The socket rings against plain-array models under random operations,
// across wrap-around and growth.

import assert from "node:assert/strict";
import { rng } from "../../stack/sim.ts";
import { ReceiveBuffer } from "../../stack/tcp/buffers/receive_buffer.ts";
import { SendBuffer } from "../../stack/tcp/buffers/send_buffer.ts";
import { EMPTY, growRing, releaseRing } from "../../stack/tcp/buffers/_ring.ts";

Deno.test("send buffer: appends, acks and reads match a model while it grows and wraps", () => {
  const r = rng(3);
  const b = new SendBuffer(50_000);
  let model: number[] = [];
  let counter = 0;
  for (let step = 0; step < 3000; step++) {
    const op = r();
    if (op < 0.5) {
      const n = Math.floor(r() * 3000);
      const src = Uint8Array.from({ length: n }, () => counter++ & 0xff);
      const took = b.append(src, 0, n);
      assert.equal(took, Math.min(n, 50_000 - model.length));
      model.push(...src.subarray(0, took));
    } else if (op < 0.8) {
      const n = Math.floor(r() * 3000);
      b.consume(n);
      model = model.slice(Math.min(n, model.length));
    } else if (model.length > 0) {
      const from = Math.floor(r() * model.length);
      const n = Math.min(model.length - from, Math.floor(r() * 2000));
      const out = new Uint8Array(n);
      b.copyOut(from, out, 0, n);
      assert.deepEqual([...out], model.slice(from, from + n));
    }
    assert.equal(b.length, model.length);
  }
});

Deno.test("receive buffer: in-order, out-of-order and reads match a model while it grows", () => {
  const r = rng(5);
  const cap = 40_000;
  const b = new ReceiveBuffer(cap);
  const stream = Uint8Array.from({ length: 400_000 }, (_, i) => (i * 7) & 0xff);
  let nxt = 0; // stream offset of RCV.NXT
  let read = 0; // stream offset the application has read
  const have = new Set<number>(); // out-of-order stream offsets held
  for (let step = 0; step < 4000 && read < 300_000; step++) {
    if (r() < 0.6) {
      const off = r() < 0.5 ? 0 : Math.floor(r() * 6000);
      const n = 1 + Math.floor(r() * 1500);
      if (nxt + off + n > stream.length) continue;
      const adv = b.write(off, stream, nxt + off, n);
      const room = cap - (nxt - read);
      if (off < room) { for (let i = off; i < Math.min(off + n, room); i++) have.add(nxt + i); }
      let expect = 0;
      while (have.has(nxt + expect)) have.delete(nxt + expect++);
      assert.equal(adv, expect, `step ${step}`);
      nxt += adv;
    } else {
      const out = new Uint8Array(1 + Math.floor(r() * 5000));
      const n = b.read(out);
      assert.deepEqual([...out.subarray(0, n)], [...stream.subarray(read, read + n)]);
      read += n;
    }
    assert.equal(b.readable, nxt - read);
    assert.equal(b.window, cap - (nxt - read));
  }
  assert.ok(read > 50_000, "the test moved real data");
});

Deno.test("buffers: a ring that never held data works from empty", () => {
  const b = new SendBuffer(1000);
  b.consume(0);
  b.consume(5);
  assert.equal(b.append(new Uint8Array([1, 2, 3]), 0, 3), 3);
  const out = new Uint8Array(3);
  b.copyOut(0, out, 0, 3);
  assert.deepEqual([...out], [1, 2, 3]);
  const r = new ReceiveBuffer(1000);
  assert.equal(r.read(new Uint8Array(10)), 0);
  assert.equal(r.window, 1000);
  assert.equal(r.write(0, new Uint8Array([9]), 0, 1), 1);
  assert.equal(r.read(out), 1);
});

Deno.test("receive buffer: SACK blocks repeat the most recently reported first (RFC 2018 4)", () => {
  const b = new ReceiveBuffer(100_000);
  const seg = new Uint8Array(100);
  for (const at of [1000, 3000, 5000]) b.write(at, seg, 0, 100);
  const out = new Array(8).fill(0);
  assert.equal(b.sackBlocks(out, 3), 3);
  assert.deepEqual(out.slice(0, 6), [5000, 5100, 3000, 3100, 1000, 1100], "newest first");
  b.write(2000, seg, 0, 100);
  b.sackBlocks(out, 3);
  assert.deepEqual(out.slice(0, 6), [2000, 2100, 5000, 5100, 3000, 3100]);
  b.write(0, new Uint8Array(1100), 0, 1100); // fills up to 1100: the first block is in order
  assert.equal(b.sackBlocks(out, 3), 3);
  assert.deepEqual(out.slice(0, 6), [900, 1000, 3900, 4000, 1900, 2000], "offsets follow RCV.NXT");
});

Deno.test("buffers: a released ring serves the next buffer, given back only when nothing waits in it", () => {
  const ring = growRing(EMPTY, 0, 10, 1 << 20);
  releaseRing(ring);
  assert.equal(growRing(EMPTY, 0, 10, 1 << 20), ring, "the spare ring comes back");
  // A bulk connection's megabyte ring too, with the bytes of the smaller
  // one it grows from copied in.
  const big = growRing(EMPTY, 0, 1 << 20, 1 << 20);
  releaseRing(big);
  const small = growRing(EMPTY, 0, 10, 1 << 20);
  small.set([1, 2, 3]);
  const again = growRing(small, 0, 600_000, 1 << 20);
  assert.equal(again, big, "the spare megabyte comes back");
  assert.deepEqual([...again.subarray(0, 3)], [1, 2, 3]);
  const a = new ReceiveBuffer(1 << 20);
  a.write(0, new Uint8Array([7, 7, 7]), 0, 3);
  a.write(100, new Uint8Array([8]), 0, 1); // out of order: dropped with the ring
  a.release(); // three bytes wait for the application: kept
  const three = new Uint8Array(3);
  assert.equal(a.read(three), 3);
  assert.deepEqual([...three], [7, 7, 7]);
  a.release();
  assert.equal(a.rangeCount, 0);
  assert.equal(a.read(new Uint8Array(4)), 0, "a late read finds nothing");
  // The next rings of the smallest size are reused ones: their old bytes
  // are never read, only what is written.
  const b = new SendBuffer(1 << 20);
  b.append(new Uint8Array([1, 2]), 0, 2);
  const out = new Uint8Array(2);
  b.copyOut(0, out, 0, 2);
  assert.deepEqual([...out], [1, 2]);
  const c = new ReceiveBuffer(1 << 20);
  assert.equal(c.write(1, new Uint8Array([5]), 0, 1), 0);
  assert.deepEqual(c.sackBlocks([], 4), 1);
  assert.equal(c.write(0, new Uint8Array([4]), 0, 1), 2);
  assert.equal(c.read(out), 2);
  assert.deepEqual([...out], [4, 5]);
});

Deno.test("buffers: a gone connection's send ring is given back with its unsent bytes dropped", () => {
  // An aborted bulk sender still holds data; its ring must serve the next
  // connection (an odd capacity, so that no other test's spare answers).
  const cap = 300_001;
  const b = new SendBuffer(cap);
  assert.equal(b.append(new Uint8Array(cap).fill(9), 0, cap), cap);
  b.release();
  assert.equal(b.length, 0, "nothing is left to send");
  const next = growRing(EMPTY, 0, cap, cap);
  assert.equal(next[0], 9, "the next ring of that size is the released one, not a fresh one");
});
