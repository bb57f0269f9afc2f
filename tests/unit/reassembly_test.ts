// IP fragment reassembly: the reassembler's rules (order, duplicates,
// overlaps per RFC 5722, caps, timeout) and fragmented TCP segments over
// IPv4 and IPv6 reaching a connection whole.

import assert from "node:assert/strict";
import { Reassembler } from "../../stack/reassembly.ts";
import { ip, ipv4, ipv6, tcpBytes } from "../_packets.ts";
import { ISN, P, passiveOpen, Peer } from "../_peer.ts";

const bytes = (n: number, v: number) => new Uint8Array(n).fill(v);
const HDR = new Uint8Array(20);

Deno.test("reassembly: fragments in any order make the datagram; a duplicate is ignored", () => {
  const r = new Reassembler();
  assert.equal(r.add("k", 16, false, bytes(5, 3), undefined, 0), true);
  assert.equal(r.add("k", 8, true, bytes(8, 2), undefined, 1), true);
  assert.equal(r.add("k", 8, true, bytes(8, 2), undefined, 2), true, "duplicate");
  const d = r.add("k", 0, true, bytes(8, 1), HDR, 3);
  assert.ok(typeof d === "object");
  assert.deepEqual([...d.payload], [...bytes(8, 1), ...bytes(8, 2), ...bytes(5, 3)]);
  assert.equal(d.header, HDR);
  assert.equal(r.size, 0);
  assert.equal(r.bytesHeld, 0);
  assert.equal(r.stats.duplicates, 1);
  assert.equal(r.stats.reassembled, 1);
});

Deno.test("reassembly: overlapping fragments discard the datagram (RFC 5722)", () => {
  const r = new Reassembler();
  r.add("k", 0, true, bytes(16, 1), HDR, 0);
  assert.equal(r.add("k", 8, false, bytes(16, 2), undefined, 1), false);
  assert.equal(r.stats.overlapDropped, 1);
  assert.equal(r.size, 0, "nothing kept");
  // A later fragment of it starts a new datagram that never completes from the old parts.
  assert.equal(r.add("k", 16, false, bytes(4, 3), undefined, 2), true);
  assert.equal(r.size, 1);
});

Deno.test("reassembly: bad fragments are refused: ragged, past 64 KiB, past the end", () => {
  const r = new Reassembler();
  assert.equal(r.add("a", 0, true, bytes(7, 1), HDR, 0), false, "not a multiple of 8");
  assert.equal(r.add("b", 65528, false, bytes(16, 1), undefined, 0), false, "beyond 65535");
  r.add("c", 8, false, bytes(8, 1), undefined, 0);
  assert.equal(r.add("c", 16, true, bytes(8, 1), undefined, 0), false, "past the last fragment");
  assert.equal(r.stats.bad, 3);
});

Deno.test("reassembly: the timeout and both caps bound what is held", () => {
  const r = new Reassembler();
  r.limits.timeoutMs = 1000;
  r.add("old", 0, true, bytes(8, 1), HDR, 0);
  r.add("new", 0, true, bytes(8, 1), HDR, 999);
  r.add("x", 0, true, bytes(8, 1), HDR, 1000); // "old" expires now
  assert.equal(r.stats.timedOut, 1);
  assert.equal(r.size, 2);
  r.limits.maxDatagrams = 2;
  r.add("y", 0, true, bytes(8, 1), HDR, 1001); // evicts the oldest ("new")
  assert.equal(r.size, 2);
  assert.equal(r.stats.evicted, 1);
  r.limits.maxBytes = 24;
  r.add("z", 0, true, bytes(16, 1), HDR, 1002);
  assert.ok(r.bytesHeld <= 24, `${r.bytesHeld} bytes held`);
  assert.equal(r.add("big", 0, true, bytes(32, 1), HDR, 1003), false, "larger than the cap");
});

/** Splits an IPv4 packet into fragments of `size` payload bytes, last first. */
function fragmentV4(pkt: Uint8Array, src: string, dst: string, size: number): Uint8Array[] {
  const payload = pkt.subarray(20);
  const out: Uint8Array[] = [];
  for (let off = 0; off < payload.length; off += size) {
    const more = off + size < payload.length;
    const ff = (more ? 0x2000 : 0) | (off / 8);
    out.push(ipv4(src, dst, 6, payload.subarray(off, off + size), { flagsFrag: ff }));
  }
  return out.reverse();
}

/** Splits an IPv6 packet (no extension headers) into fragments, last first. */
function fragmentV6(pkt: Uint8Array, src: string, dst: string, size: number): Uint8Array[] {
  const payload = pkt.subarray(40);
  const out: Uint8Array[] = [];
  for (let off = 0; off < payload.length; off += size) {
    const more = off + size < payload.length;
    const chunk = payload.subarray(off, off + size);
    const f = new Uint8Array(8 + chunk.length);
    f[0] = pkt[6];
    f[2] = off >> 8;
    f[3] = (off & 0xf8) | (more ? 1 : 0);
    f.set([0, 0, 0x12, 0x34], 4);
    f.set(chunk, 8);
    out.push(ipv6(src, dst, 44, f));
  }
  return out.reverse();
}

for (const v6 of [false, true]) {
  Deno.test(`reassembly: a TCP segment in three fragments reaches the connection (IPv${v6 ? 6 : 4})`, async () => {
    const peer = new Peer({}, v6);
    const { conn, iss } = await passiveOpen(peer, { ts: false });
    const data = new Uint8Array(3000).map((_, i) => i % 251);
    const seg = tcpBytes(ip(peer.me), ip(peer.them), {
      sport: P,
      dport: 80,
      seq: ISN + 1,
      ack: iss + 1,
      flags: "PA",
      data,
    });
    const whole = v6 ? ipv6(peer.me, peer.them, 6, seg) : ipv4(peer.me, peer.them, 6, seg);
    const frags = v6
      ? fragmentV6(whole, peer.me, peer.them, 1232)
      : fragmentV4(whole, peer.me, peer.them, 1480);
    assert.equal(frags.length, 3);
    for (const f of frags) peer.stack.receive(f, f.length);
    const got = new Uint8Array(4000);
    const n = conn.tryRead(got);
    assert.equal(n, 3000);
    assert.deepEqual(got.subarray(0, 3000), data);
    const ip6 = peer.stack.ip.stats;
    assert.equal(ip6.fragmentsTaken, 3);
    assert.equal(ip6.reassembled, 1);
    assert.equal(
      ip6.rxPackets + ip6.reassembled,
      ip6.delivered + ip6.fragmentsTaken,
      "accounting",
    );
  });
}
