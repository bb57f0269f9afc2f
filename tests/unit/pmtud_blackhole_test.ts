// Path-MTU black-hole detection on the in-memory network: a path that
// drops every packet over 1280 bytes and sends no ICMP (a firewall eating
// "fragmentation needed"), with the stacks' own links at 1500.

import assert from "node:assert/strict";
import { net, pair, pattern, readAll, sha256, writeAll } from "../_tcp.ts";

const SIZE = 300_000;
const narrow = (p: Uint8Array) => p.length > 1280;

async function download(detect: boolean, v6: boolean, limitMs: number) {
  const tcp = { pmtudBlackholeDetection: detect };
  const n = net({ tcp }, { tcp });
  n.tracing = false;
  const { client, server } = await pair(n, 5001, v6);
  n.ba.filter = narrow; // established first: the handshake is small anyway
  const data = pattern(SIZE, 3);
  writeAll(server, data);
  let got: Uint8Array<ArrayBuffer> | undefined;
  readAll(client, SIZE).then((d) => got = d);
  const started = n.now;
  let finished = true;
  try {
    await n.run(() => got !== undefined, limitMs);
  } catch {
    finished = false;
  }
  return { n, got, data, finished, ms: n.now - started };
}

for (const v6 of [false, true]) {
  const family = v6 ? "IPv6" : "IPv4";
  Deno.test(`pmtud black hole (${family}): off, the download never arrives`, async () => {
    const r = await download(false, v6, 20_000);
    assert.equal(r.finished, false);
    assert.equal(r.n.b.tcp.stats.pmtudBlackhole.activated, 0);
  });

  Deno.test(`pmtud black hole (${family}): on, two timeouts lower the MSS and the download arrives`, async () => {
    const r = await download(true, v6, 60_000);
    assert.ok(r.finished, "arrived");
    assert.equal(await sha256(r.got!), await sha256(r.data as Uint8Array<ArrayBuffer>));
    const s = r.n.b.tcp.stats;
    assert.equal(s.pmtudBlackhole.activated, 1);
    assert.equal(s.pmtudBlackhole.activatedMinMss, 0, "1200 / 1220 got through");
    assert.equal(s.timeouts, 2, "two RTOs, then no more");
    const c = [...r.n.b.tcp.connections()][0];
    assert.equal(c.snd.mss, v6 ? 1220 : 1200);
    assert.equal(c.snd.blackholeSavedMss, 0, "confirmed by an ACK");
  });
}

Deno.test("pmtud black hole: a path dead for another reason gets its old MSS back at the sixth timeout", async () => {
  const tcp = { pmtudBlackholeDetection: true };
  const n = net({ tcp }, { tcp });
  const { client, server } = await pair(n);
  n.ba.filter = () => true; // everything from b is lost now
  server.write(new Uint8Array(50_000));
  const c = [...n.b.tcp.connections()][0];
  const mss = c.snd.mss;
  const seen: number[] = [];
  await n.run(() => {
    if (seen.at(-1) !== c.snd.mss) seen.push(c.snd.mss);
    return n.b.tcp.stats.timeouts >= 6;
  }, 120_000);
  assert.deepEqual(seen, [mss, 1200, 536, mss]);
  const s = n.b.tcp.stats.pmtudBlackhole;
  assert.deepEqual(s, { activated: 1, activatedMinMss: 1, failed: 1 });
  client.close();
});
