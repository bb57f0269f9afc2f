// Malformed input, one named case per shape the fuzzer generates: each is
// dropped (or handled) with the right counter and nothing throws.

import assert from "node:assert/strict";
import { checksum, sum16 } from "../../stack/wire/checksum.ts";
import { ip, ipv4, ipv6, pseudo, tcpBytes } from "../_packets.ts";
import { ISN, P, passiveOpen, Peer, settle } from "../_peer.ts";

const K4 = "192.0.2.1", S4 = "192.0.2.2", K6 = "2001:db8::1", S6 = "2001:db8::2";

/** A SYN to port 80 whose options area is `opts` (padded), checksum fixed. */
function synWithOptions(opts: number[], doff?: number): Uint8Array {
  const padded = [...opts];
  while (padded.length % 4) padded.push(0);
  const seg = new Uint8Array(20 + padded.length);
  seg.set(tcpBytes(ip(K4), ip(S4), { sport: P, dport: 80, seq: ISN, flags: "S" }).subarray(0, 20));
  seg.set(padded, 20);
  seg[12] = (doff ?? seg.length / 4) << 4;
  return ipv4(K4, S4, 6, refillChecksum(seg));
}

/** Recomputes the checksum of a K4 -> S4 segment edited after it was built. */
function refillChecksum(seg: Uint8Array): Uint8Array {
  seg[16] = seg[17] = 0;
  const c = checksum(sum16(pseudo(ip(K4), ip(S4), 6, seg.length), seg, 0, seg.length));
  seg[16] = c >> 8;
  seg[17] = c & 255;
  return seg;
}

function dropsOf(peer: Peer): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(peer.stack.tcp.stats.dropped)) if (v) out[k] = v;
  return out;
}

function rx(peer: Peer, pkt: Uint8Array): void {
  peer.stack.receive(pkt, pkt.length);
}

Deno.test("malformed tcp: data offset below 5 words or beyond the segment is dropped", () => {
  for (const doff of [0, 1, 4, 6, 15]) {
    const peer = new Peer();
    peer.stack.listen({ port: 80 });
    rx(peer, synWithOptions([], doff));
    assert.deepEqual(dropsOf(peer), { badDataOffset: 1 }, `doff ${doff}`);
    assert.equal(peer.take().length, 0);
  }
});

Deno.test("malformed tcp: option lengths of 0, 1, past the header, or wrong for the kind are dropped", () => {
  const cases: [string, number[]][] = [
    ["unknown kind with length 0", [30, 0]],
    ["unknown kind with length 1", [30, 1]],
    ["length past the header", [30, 40]],
    ["length 255", [253, 255]],
    ["kind without a length byte", [1, 1, 1, 2]],
    ["MSS of length 3", [2, 3, 5, 0]],
    ["window scale of length 4", [3, 4, 7, 0]],
    ["SACK-permitted of length 3", [4, 3, 0, 0]],
    ["timestamp of length 8", [8, 8, 0, 0, 0, 0, 0, 0]],
    ["SACK with no block", [1, 1, 5, 2]],
    ["SACK of a partial block", [5, 6, 0, 0, 0, 0]],
  ];
  for (const [name, opts] of cases) {
    const peer = new Peer();
    peer.stack.listen({ port: 80 });
    rx(peer, synWithOptions(opts));
    assert.deepEqual(dropsOf(peer), { badOption: 1 }, name);
    assert.equal(peer.take().length, 0, name);
  }
});

Deno.test("malformed tcp: unknown options, NOP runs and EOL are skipped; the SYN is answered", () => {
  const peer = new Peer();
  peer.stack.listen({ port: 80 });
  rx(peer, synWithOptions([1, 1, 1, 30, 4, 0xaa, 0xbb, 2, 4, 5, 0xb4, 0, 99, 99]));
  const [synack] = peer.take();
  assert.equal(synack.flags, "SA");
  assert.deepEqual(dropsOf(peer), {});
});

Deno.test("malformed tcp: a header cut short by the IP length is dropped as truncated", () => {
  const peer = new Peer();
  peer.stack.listen({ port: 80 });
  const seg = tcpBytes(ip(K4), ip(S4), { sport: P, dport: 80, seq: ISN, flags: "S" });
  rx(peer, ipv4(K4, S4, 6, seg.subarray(0, 19)));
  assert.deepEqual(dropsOf(peer), { truncated: 1 });
});

Deno.test("malformed tcp: every flag combination at a listener, a closed port and a connection", async () => {
  const peer = new Peer();
  const { iss } = await passiveOpen(peer);
  peer.take();
  const names = "FSRPAU";
  for (let f = 0; f < 256; f++) {
    let flags = "";
    for (let i = 0; i < 6; i++) if (f & (1 << i)) flags += names[i];
    for (const [sport, dport] of [[P + 1, 80], [P, 81], [P, 80]]) {
      const seg = tcpBytes(ip(K4), ip(S4), {
        sport,
        dport,
        seq: ISN + 1,
        ack: iss + 1,
        flags,
        ts: [600, 0],
      });
      seg[13] = f; // ECE and CWR too
      rx(peer, ipv4(K4, S4, 6, refillChecksum(seg)));
    }
  }
  await settle();
  const s = peer.stack.tcp.stats;
  assert.equal(s.segmentsReceived, 3 * 256 + 2);
  assert.equal(
    s.segmentsReceived,
    s.demux.connection + s.demux.listener + s.demux.timeWait + s.dropped.noSocket,
  );
});

Deno.test("malformed ipv6: extension-header chains that lie are dropped with their reason", () => {
  const tcp = tcpBytes(ip(K6), ip(S6), { sport: P, dport: 80, seq: ISN, flags: "S" });
  const ext = (next: number, hdrLen: number, size: number) => {
    const b = new Uint8Array(size);
    b[0] = next;
    b[1] = hdrLen;
    return b;
  };
  const cat = (...parts: Uint8Array[]) => {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let o = 0;
    for (const p of parts) (out.set(p, o), o += p.length);
    return out;
  };
  const frag = (next: number, offset: number, more: boolean) => {
    const b = new Uint8Array(8);
    b[0] = next;
    b[2] = offset >> 5;
    b[3] = ((offset << 3) & 0xf8) | (more ? 1 : 0);
    return b;
  };
  const withByte = (b: Uint8Array, i: number, v: number) => (b[i] = v, b);
  // An options header holding one option of `type` with 4 bytes of data, padded to 8.
  const option = (next: number, type: number) => Uint8Array.from([next, 0, type, 4, 0, 0, 0, 0]);
  const cases: [string, string, Uint8Array, number][] = [
    ["badExtensionHeader", "hop-by-hop longer than the packet", ext(6, 200, 8), 0],
    ["badExtensionHeader", "routing header cut short", ext(6, 0, 4), 43],
    ["badExtensionHeader", "fragment header cut short", new Uint8Array(4), 44],
    // RFC 8200 4.3: hop-by-hop only right after the fixed header.
    [
      "hopByHopNotFirst",
      "hop-by-hop after destination options",
      cat(ext(0, 0, 8), ext(6, 0, 8)),
      60,
    ],
    // RFC 8200 4.4 / RFC 5095: segments left means forwarding, which a host does not do.
    [
      "routingHeader",
      "routing header with segments left",
      cat(withByte(ext(6, 0, 8), 3, 1), tcp),
      43,
    ],
    // RFC 8200 4.2: an unknown option whose action bits say discard (10: and send ICMP).
    ["unknownOption", "destination option of type 0x8a", cat(option(6, 0x8a), tcp), 60],
    ["unknownOption", "hop-by-hop jumbo payload (0xc2)", cat(option(6, 0xc2), tcp), 0],
    // A non-final fragment whose length is no multiple of 8 (RFC 8200 4.5).
    ["fragment", "a ragged first fragment", cat(frag(6, 0, true), tcp.subarray(0, 13)), 44],
    ["unknownProtocol", "ESP", cat(ext(6, 0, 8), tcp), 50],
    ["unknownProtocol", "no next header", tcp, 59],
    ["unknownProtocol", "AH (not walked)", cat(ext(6, 1, 16), tcp), 51],
    [
      "unknownProtocol",
      "a chain ending in an unknown header",
      cat(ext(60, 0, 8), ext(253, 0, 8)),
      0,
    ],
  ];
  // The ICMPv6 Parameter Problem each deserves (RFC 8200 4): code, pointer.
  const problems: Record<string, [number, number]> = {
    "hop-by-hop after destination options": [1, 40],
    "routing header with segments left": [0, 43],
    "destination option of type 0x8a": [2, 42],
    "hop-by-hop jumbo payload (0xc2)": [2, 42],
    "ESP": [1, 6],
    "AH (not walked)": [1, 6],
    "a chain ending in an unknown header": [1, 48],
  };
  for (const [reason, name, payload, next] of cases) {
    const peer = new Peer();
    peer.stack.listen({ port: 80 });
    rx(peer, ipv6(K6, S6, next, payload));
    const d = peer.stack.ip.stats.dropped as Record<string, number>;
    assert.equal(d[reason], 1, name);
    const icmp = peer.out.filter((p) => p[6] === 58).map((p) => [p[41], p[47]]);
    assert.deepEqual(icmp, problems[name] ? [problems[name]] : [], name);
    assert.equal(peer.take().length, 0, name);
  }
  // An atomic fragment (offset 0, no more) and a long chain of options are fine.
  const peer = new Peer();
  peer.stack.listen({ port: 80 });
  // hop-by-hop -> destination options (16 bytes) -> routing -> atomic fragment -> TCP
  const chain = cat(ext(60, 0, 8), ext(43, 1, 16), ext(44, 0, 8), frag(6, 0, false), tcp);
  rx(peer, ipv6(K6, S6, 0, chain));
  assert.equal(peer.take()[0]?.flags, "SA");
  // An unknown option with action bits 00 is skipped (a router alert too).
  rx(peer, ipv6(K6, S6, 0, cat(option(60, 0x05), option(6, 0x1e), tcp)));
  assert.equal(peer.take()[0]?.flags, "SA");
});

Deno.test("malformed tcp: sequence numbers across the 2^32 wrap are in order", async () => {
  const peer = new Peer();
  peer.stack.listen({ port: 80 });
  const conn = peer.stack.tcp;
  const isn = 0xfffffffa;
  let accepted: { read(p: Uint8Array): Promise<number | null> } | undefined;
  peer.stack.listen({ port: 81 }).accept().then((c) => accepted = c);
  peer.send({ sport: P, dport: 81, seq: isn, flags: "S", mss: 1460 });
  const [synack] = peer.take();
  peer.send({ sport: P, dport: 81, seq: isn + 1, ack: synack.seq + 1, flags: "A" });
  await settle();
  // 10 bytes starting 5 before the wrap, then 10 more after it.
  const data = new TextEncoder().encode("0123456789abcdefghij");
  peer.send({
    sport: P,
    dport: 81,
    seq: (isn + 1) >>> 0,
    ack: synack.seq + 1,
    flags: "PA",
    data: data.subarray(0, 10),
  });
  peer.send({
    sport: P,
    dport: 81,
    seq: (isn + 11) >>> 0,
    ack: synack.seq + 1,
    flags: "PA",
    data: data.subarray(10),
  });
  await settle();
  const buf = new Uint8Array(64);
  const n = await accepted!.read(buf);
  assert.equal(new TextDecoder().decode(buf.subarray(0, n!)), "0123456789abcdefghij");
  assert.equal(conn.stats.dropped.outOfWindow, 0);
  const acks = peer.take().filter((s) => s.flags === "A");
  assert.equal(acks.at(-1)?.ack, (isn + 21) >>> 0);
});
