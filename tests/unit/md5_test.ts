// TCP MD5 signatures (RFC 2385) between two stacks: signed both ways with
// the same key, refused without it or with another, and over IPv6.

import assert from "node:assert/strict";
import { md5Digest, type Md5Keys, md5Valid } from "../../stack/tcp/md5.ts";
import { TcpSegment } from "../../stack/wire/tcp.ts";
import { A4, A6, B4, B6, net, pattern, readAll } from "../_tcp.ts";
import type { SimNetwork } from "../../stack/sim.ts";
import type { TcpConn } from "../../stack/tcp/socket.ts";

/** The TCP segment of a raw packet, and the addresses its digest covers. */
function parts(p: Uint8Array) {
  const v6 = p[0] >> 4 === 6;
  const ihl = v6 ? 40 : (p[0] & 15) * 4;
  const n = v6 ? 16 : 4;
  const src = p.slice(v6 ? 8 : 12, (v6 ? 8 : 12) + n);
  const dst = p.slice(v6 ? 24 : 16, (v6 ? 24 : 16) + n);
  const seg = new TcpSegment();
  assert.equal(seg.wrap(p, ihl, p.length - ihl, -1), undefined);
  return { src, dst, seg };
}

function signedWith(key: string, p: Uint8Array): boolean {
  const { src, dst, seg } = parts(p);
  const k = new TextEncoder().encode(key);
  return md5Valid(k, src, dst, seg);
}

async function open(n: SimNetwork, serverKey?: Md5Keys, clientKey?: string, v6 = false) {
  const l = n.b.listen({ port: 179, md5Key: serverKey });
  let server: TcpConn | undefined, client: TcpConn | undefined, failed: unknown;
  l.accept().then((c) => server = c);
  n.a.connect({ hostname: v6 ? B6 : B4, port: 179, md5Key: clientKey })
    .then((c) => client = c, (e) => failed = e);
  await n.run(() => (server !== undefined && client !== undefined) || failed !== undefined, 3_000)
    .catch(() => {});
  return { l, server, client, failed };
}

Deno.test("md5: both ends with one key: every segment is signed, data flows, no TSO", async () => {
  const n = net();
  const { server, client } = await open(n, "bgp-secret", "bgp-secret");
  assert.ok(server && client, "connected");
  const data = pattern(300_000, 7);
  client.write(data).then(() => client.closeWrite());
  let got: Uint8Array | undefined;
  readAll(server, data.length).then((d) => got = d);
  await n.run(() => got !== undefined);
  assert.deepEqual(got, data);
  assert.ok(n.trace.length > 20);
  for (const t of n.trace) {
    assert.ok(signedWith("bgp-secret", t.packet), "every segment, both ways, handshake included");
    assert.ok(t.packet.length <= 1500, "one segment per packet: a signature covers one");
  }
  const d = n.b.tcp.stats.dropped;
  assert.equal(d.md5Missing + d.md5Bad, 0);
});

Deno.test("md5: an unsigned SYN, or one signed with another key, is dropped unanswered", async () => {
  for (const clientKey of [undefined, "other"]) {
    const n = net();
    const { server, client } = await open(n, "bgp-secret", clientKey);
    assert.ok(!server && !client, "no connection");
    assert.ok(n.trace.every((t) => t.from === "a"), "the listener never answered");
    const d = n.b.tcp.stats.dropped;
    assert.ok(clientKey ? d.md5Bad > 0 && d.md5Missing === 0 : d.md5Missing > 0 && d.md5Bad === 0);
  }
});

Deno.test("md5: a signing client and an unsigned server: the server ignores the option, the client drops the answers", async () => {
  const n = net();
  const { server, client } = await open(n, undefined, "k");
  assert.ok(!client, "the client never took the unsigned SYN,ACK");
  assert.ok(n.a.tcp.stats.dropped.md5Missing > 0);
  assert.ok(server === undefined);
});

Deno.test("md5: over IPv6 the digest covers its pseudo-header", async () => {
  const n = net();
  const { server, client } = await open(n, "k6", "k6", true);
  assert.ok(server && client);
  assert.equal(n.trace[0].packet[0] >> 4, 6);
  assert.ok(n.trace.every((t) => signedWith("k6", t.packet)));
  // Tampering with a byte the pseudo-header covers breaks it.
  const p = n.trace[0].packet.slice();
  p[39] ^= 1; // the destination address
  assert.ok(!signedWith("k6", p));
});

Deno.test("md5: the digest is RFC 2385's (pseudo-header, header without options, data, key)", () => {
  const key = new TextEncoder().encode("key");
  const src = new Uint8Array([192, 0, 2, 1]), dst = new Uint8Array([192, 0, 2, 2]);
  const seg = new Uint8Array(24);
  seg.set([0x9c, 0x40, 0x00, 0xb3, 0, 0, 0, 1, 0, 0, 0, 0, 0x60, 0x02, 0xff, 0xff, 0xab, 0xcd]);
  const a = md5Digest(key, src, dst, seg, 0, 24, 24);
  seg[16] = seg[17] = 0x55; // the checksum is not covered
  seg[20] = 1; // nor are the options
  assert.deepEqual(md5Digest(key, src, dst, seg, 0, 24, 24), a);
  seg[13] = 0x12; // the flags are
  assert.notDeepEqual(md5Digest(key, src, dst, seg, 0, 24, 24), a);
});

Deno.test("md5: a key must be 1 to 80 bytes", () => {
  const n = net();
  assert.throws(() => n.b.listen({ port: 179, md5Key: "" }), /Invalid MD5 key: 0 bytes/);
  assert.throws(() => n.b.listen({ port: 179, md5Key: "x".repeat(81) }), /81 bytes/);
  assert.doesNotThrow(() => n.b.listen({ port: 179, md5Key: "x".repeat(80) }), "the port was free");
});

Deno.test("md5: a listener's keys by peer: a named peer must sign with its key, others go unsigned", async () => {
  const keys = { [A4]: "peer-a-v4" }; // the IPv6 address of the same host is another peer
  {
    const n = net();
    const { server, client } = await open(n, keys, "peer-a-v4");
    assert.ok(server && client, "the named peer, signed");
    assert.ok(n.trace.every((t) => signedWith("peer-a-v4", t.packet)));
  }
  {
    const n = net();
    const { server, client } = await open(n, keys, undefined);
    assert.ok(!server && !client, "the named peer, unsigned: dropped");
    assert.ok(n.b.tcp.stats.dropped.md5Missing > 0);
  }
  {
    const n = net();
    const { server, client } = await open(n, keys, undefined, true);
    assert.ok(server && client, `a peer not named (${A6}) goes unsigned`);
    assert.ok(n.trace.every((t) => parts(t.packet).seg.options.md5 === -1));
  }
  assert.throws(
    () => net().b.listen({ port: 179, md5Key: { "192.0.2.300": "k" } }),
    /Invalid MD5 peer: "192\.0\.2\.300" is not an IP address/,
  );
});
