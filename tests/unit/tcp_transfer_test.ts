// 10 MB each way on one connection over impaired simulated links; the
// SHA-256 on arrival must match and both sides must close cleanly.

import assert from "node:assert/strict";
import { type Impairment, net, pair, pattern, readAll, sha256, writeAll } from "../_tcp.ts";

const SIZE = 10 * 1024 * 1024;

async function transfer(
  name: string,
  imp: Impairment,
  opts: { v6?: boolean; cubic?: boolean; noSack?: boolean } = {},
) {
  const tcp = {
    congestion: opts.cubic ? "cubic" as const : "newreno" as const,
    sack: !opts.noSack,
  };
  const n = net({ tcp }, { tcp }, 7);
  n.tracing = false;
  n.ab = { ...imp };
  n.ba = { ...imp };
  const { client, server } = await pair(n, 5001, opts.v6);
  const up = pattern(SIZE, 1), down = pattern(SIZE, 2);
  let upGot: Uint8Array<ArrayBuffer> | undefined, downGot: Uint8Array<ArrayBuffer> | undefined;
  const errors: unknown[] = [];
  writeAll(client, up).catch((e) => errors.push(e));
  writeAll(server, down).catch((e) => errors.push(e));
  readAll(server, SIZE).then((d) => upGot = d, (e) => errors.push(e));
  readAll(client, SIZE).then((d) => downGot = d, (e) => errors.push(e));
  await n.run(() => (upGot !== undefined && downGot !== undefined) || errors.length > 0, 3_600_000);
  assert.deepEqual(errors, [], name);
  assert.equal(upGot!.length, SIZE, `${name}: bytes up`);
  assert.equal(downGot!.length, SIZE, `${name}: bytes down`);
  assert.equal(
    await sha256(upGot!),
    await sha256(up as Uint8Array<ArrayBuffer>),
    `${name}: sha256 up`,
  );
  assert.equal(
    await sha256(downGot!),
    await sha256(down as Uint8Array<ArrayBuffer>),
    `${name}: sha256 down`,
  );
  client.close();
  server.close();
  // Both FINs were sent and received: each side ends in TIME-WAIT or CLOSED.
  await n.run(() => n.a.tcp.connectionCount === 0 && n.b.tcp.connectionCount === 0, 120_000);
  const tw = n.a.tcp.timewait.size + n.b.tcp.timewait.size;
  assert.ok(tw >= 1, `${name}: one side holds TIME_WAIT`);
  for (const st of [n.a.tcp.stats, n.b.tcp.stats]) {
    assert.equal(st.connectionsAborted, 0, `${name}: no abort`);
    assert.equal(st.resetsSent, 0, `${name}: no RST`);
  }
  return { a: n.a.tcp.stats, b: n.b.tcp.stats, time: n.now };
}

Deno.test("tcp transfer: 10 MB each way, clean link", async () => {
  const r = await transfer("clean", {});
  assert.equal(r.a.retransmittedSegments + r.b.retransmittedSegments, 0);
});

Deno.test("tcp transfer: 10 MB each way, 1% loss (SACK)", async () => {
  const r = await transfer("1% loss", { loss: 0.01, delayMs: 1 });
  assert.ok(r.a.sackRecoveries + r.b.sackRecoveries > 0, "SACK recovery was used");
});

Deno.test("tcp transfer: 10 MB each way, 5% loss (SACK)", async () => {
  await transfer("5% loss", { loss: 0.05, delayMs: 1 });
});

Deno.test("tcp transfer: 10 MB each way, 5% loss without SACK (NewReno)", async () => {
  const r = await transfer("5% loss NewReno", { loss: 0.05, delayMs: 1 }, { noSack: true });
  assert.equal(r.a.sackRecoveries + r.b.sackRecoveries, 0);
  assert.ok(r.a.fastRetransmits + r.b.fastRetransmits > 0);
});

Deno.test("tcp transfer: 10 MB each way, reordering and duplication, IPv6", async () => {
  const r = await transfer(
    "reorder",
    { reorder: 0.05, reorderMs: 2, duplicate: 0.02, delayMs: 1 },
    {
      v6: true,
    },
  );
  assert.ok(r.a.outOfOrderSegments + r.b.outOfOrderSegments > 0);
});

Deno.test("tcp transfer: 10 MB each way, 1% loss with CUBIC", async () => {
  await transfer("cubic", { loss: 0.01, delayMs: 1 }, { cubic: true });
});

Deno.test("tcp transfer: with SACK blocks in flight both ways, no segment exceeds the MTU (RFC 6691)", async () => {
  const n = net({}, {}, 3);
  n.tracing = false;
  n.ab = { loss: 0.02 };
  n.ba = { loss: 0.02 };
  const { client, server } = await pair(n, 5002);
  const size = 2 * 1024 * 1024;
  let up: Uint8Array | undefined, down: Uint8Array | undefined;
  writeAll(client, pattern(size, 3));
  writeAll(server, pattern(size, 4));
  readAll(server, size).then((d) => up = d);
  readAll(client, size).then((d) => down = d);
  await n.run(() => up !== undefined && down !== undefined, 3_600_000);
  assert.equal(up!.length, size);
  assert.equal(down!.length, size);
  for (const s of [n.a, n.b]) {
    assert.equal(s.ip.stats.txLinkDropped, 0, "no packet refused by the 1500-byte link");
  }
  assert.ok(n.a.tcp.stats.outOfOrderSegments + n.b.tcp.stats.outOfOrderSegments > 0);
});
