import assert from "node:assert/strict";
import { MemoryLink } from "../../stack/memory_link.ts";
import { Stack } from "../../stack/stack.ts";
import { checksum, sum16 } from "../../stack/wire/checksum.ts";
import { Ipv4Packet } from "../../stack/wire/ipv4.ts";
import { Ipv6Packet } from "../../stack/wire/ipv6.ts";
import { formatIp, parseCidr, parseIp } from "../../stack/wire/ip_address.ts";
import { icmpEcho, ip, ipv4, ipv6, pseudo } from "../_packets.ts";
import { sysctlSet } from "../../stack/sysctl.ts";

function stack() {
  const sent: Uint8Array[] = [];
  const s = new Stack({ ipv4: ip("192.0.2.2"), ipv6: ip("2001:db8::2") });
  s.attach(new MemoryLink(1500, (p) => sent.push(p)));
  const rx = (p: Uint8Array) => s.receive(p, p.length);
  return { s, sent, rx };
}

const K4 = "192.0.2.1", S4 = "192.0.2.2", K6 = "2001:db8::1", S6 = "2001:db8::2";
const data = new TextEncoder().encode("abcdefghijklmnopq"); // odd length

Deno.test("ipv4 view: fields of a hand-made header", () => {
  const p = ipv4(K4, S4, 1, new Uint8Array(8), { ttl: 7 });
  const v = new Ipv4Packet();
  assert.equal(v.wrap(p, p.length), undefined);
  assert.equal(v.headerLen, 20);
  assert.equal(v.totalLen, 28);
  assert.equal(v.ident, 0x1234);
  assert.equal(v.ttl, 7);
  assert.equal(v.protocol, 1);
  assert.equal(v.payloadLen, 8);
  assert.equal(formatIp(p, v.srcOffset, 4), K4);
});

Deno.test("ipv6 view: walks hop-by-hop and destination options", () => {
  // HBH (next=60, len 0) + DestOpts (next=58, len 0) + 8 bytes ICMPv6.
  const ext = new Uint8Array(24);
  ext[0] = 60;
  ext[8] = 58;
  const p = ipv6(K6, S6, 0, ext);
  const v = new Ipv6Packet();
  assert.equal(v.wrap(p, p.length), undefined);
  assert.equal(v.protocol, 58);
  assert.equal(v.payloadOffset, 56);
  assert.equal(v.payloadLen, 8);
  // Extension header running past the payload.
  const bad = ipv6(K6, S6, 0, new Uint8Array([58, 5, 0, 0, 0, 0, 0, 0]));
  assert.equal(v.wrap(bad, bad.length), "badExtensionHeader");
  // A non-atomic fragment is described for reassembly; an atomic one
  // (offset 0, M=0) is walked past (RFC 6946).
  const frag = ipv6(K6, S6, 44, new Uint8Array([58, 0, 0, 1, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0]));
  assert.equal(v.wrap(frag, frag.length), undefined);
  assert.equal(v.fragmentHeader, 40);
  assert.equal(v.fragmentNextField, 6);
  assert.equal(v.fragmentOffset, 0);
  assert.equal(v.moreFragments, true);
  assert.equal(v.fragmentId, 9);
  assert.equal(v.protocol, 58);
  const atomic = ipv6(
    K6,
    S6,
    44,
    new Uint8Array([58, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0]),
  );
  assert.equal(v.wrap(atomic, atomic.length), undefined);
  assert.equal(v.protocol, 58);
});

Deno.test("addresses: parse and format", () => {
  assert.equal(formatIp(ip("2001:db8:0:0:1:0:0:1")), "2001:db8::1:0:0:1");
  assert.equal(formatIp(ip("::")), "::");
  assert.equal(formatIp(ip("::ffff:192.0.2.1")), "::ffff:c000:201");
  assert.equal(parseIp("1.2.3"), undefined);
  assert.equal(parseIp("1.2.3.256"), undefined);
  assert.equal(parseIp("01.2.3.4"), undefined);
  assert.equal(parseIp("1::2::3"), undefined);
  assert.equal(parseIp("1:2:3:4:5:6:7:8:9"), undefined);
  assert.throws(() => parseCidr("192.0.2.1/33"), /Invalid prefix/);
  assert.throws(() => parseCidr("192.0.2.1"), /Invalid address/);
  assert.throws(() => parseCidr("2001:db8::1/64", 4), /not IPv4/);
});

Deno.test("icmpv4: echo request gets an exact echo reply", () => {
  const { s, sent, rx } = stack();
  rx(ipv4(K4, S4, 1, icmpEcho(8, 0x4242, 7, data)));
  assert.equal(sent.length, 1);
  const r = sent[0];
  assert.equal(r.length, 20 + 8 + data.length);
  assert.equal(checksum(sum16(0, r, 0, 20)), 0, "IPv4 header checksum");
  assert.equal(formatIp(r, 12, 4), S4);
  assert.equal(formatIp(r, 16, 4), K4);
  assert.equal(r[9], 1);
  assert.deepEqual(r.subarray(20), icmpEcho(0, 0x4242, 7, data));
  assert.equal(s.icmp.stats.echoReplies, 1);
});

Deno.test("icmpv6: echo request gets an exact echo reply", () => {
  const { s, sent, rx } = stack();
  const ps = pseudo(ip(K6), ip(S6), 58, 8 + data.length);
  rx(ipv6(K6, S6, 58, icmpEcho(128, 9, 1, data, ps)));
  assert.equal(sent.length, 1);
  const r = sent[0];
  assert.equal(formatIp(r, 8, 16), S6);
  assert.equal(formatIp(r, 24, 16), K6);
  const ps2 = pseudo(ip(S6), ip(K6), 58, 8 + data.length);
  assert.deepEqual(r.subarray(40), icmpEcho(129, 9, 1, data, ps2));
  assert.equal(s.icmp.stats.echoReplies, 1);
});

Deno.test("icmpv6: kernel noise is counted and not answered", () => {
  const { s, sent, rx } = stack();
  const ll = "fe80::1";
  const noise: [string, number][] = [["ff02::2", 133], ["ff02::16", 143], ["ff02::1:ff00:2", 135]];
  for (const [dst, type] of noise) {
    const body = new Uint8Array(24);
    body[0] = type;
    const ps = pseudo(ip(ll), ip(dst), 58, body.length);
    const c = checksum(sum16(ps, body, 0, body.length));
    body[2] = c >> 8;
    body[3] = c & 0xff;
    rx(ipv6(ll, dst, 58, body, 255));
  }
  assert.equal(sent.length, 0);
  assert.equal(s.icmp.stats.ignored.routerSolicitation, 1);
  assert.equal(s.icmp.stats.ignored.mldReport, 1);
  assert.equal(s.icmp.stats.ignored.neighborSolicitation, 1);
});

Deno.test("ip: every malformed packet is dropped with its reason", () => {
  const echo = icmpEcho(8, 1, 1, data);
  const cases: [string, Uint8Array][] = [
    ["truncated", ipv4(K4, S4, 1, echo).subarray(0, 19)],
    ["badVersion", Uint8Array.from([0x55, ...new Array(30).fill(0)])],
    ["badHeaderLength", ipv4(K4, S4, 1, echo, { ihl: 4 })],
    ["badTotalLength", ipv4(K4, S4, 1, echo, { totalLen: 500 })],
    ["badTotalLength", ipv4(K4, S4, 1, echo, { totalLen: 10 })],
    ["badChecksum", ipv4(K4, S4, 1, echo, { badChecksum: true })],
    ["badSource", ipv4("255.255.255.255", S4, 1, echo)],
    ["badSource", ipv4("224.0.0.1", S4, 1, echo)],
    ["notForUs", ipv4(K4, "192.0.2.77", 1, echo)],
    ["unknownProtocol", ipv4(K4, S4, 99, echo)],
    ["badPayloadLength", ipv6(K6, S6, 58, echo).subarray(0, 50)],
    ["truncated", ipv6(K6, S6, 58, echo).subarray(0, 39)],
    ["badSource", ipv6("ff02::1", S6, 58, echo)],
    ["notForUs", ipv6(K6, "2001:db8::99", 58, echo)],
    ["empty", new Uint8Array(0)],
  ];
  for (const [reason, pkt] of cases) {
    const { s, sent, rx } = stack();
    rx(pkt);
    // Only an unknown protocol is worth telling the sender (protocol unreachable).
    assert.equal(sent.length, reason === "unknownProtocol" ? 1 : 0, reason);
    const d = s.ip.stats.dropped as Record<string, number>;
    assert.equal(d[reason], 1, `expected drop reason ${reason}`);
    const total = Object.values(d).reduce((a, b) => a + b, 0);
    assert.equal(total, 1, `only ${reason} moved`);
  }
});

Deno.test("ip: a TTL or hop limit below 2 is no reason to drop (RFC 1122 3.2.1.7)", () => {
  for (const ttl of [0, 1]) {
    const { s, sent, rx } = stack();
    rx(ipv4(K4, S4, 1, icmpEcho(8, 1, 1, data), { ttl }));
    assert.equal(sent.length, 1, `TTL ${ttl}: echo answered`);
    assert.equal(s.icmp.stats.echoRequests, 1);
  }
});

Deno.test("icmp: bad checksum and truncation are dropped and counted", () => {
  const { s, sent, rx } = stack();
  const bad = icmpEcho(8, 1, 1, data);
  bad[9] ^= 0xff;
  rx(ipv4(K4, S4, 1, bad));
  rx(ipv4(K4, S4, 1, new Uint8Array([8, 0, 0])));
  // ICMPv6 with the checksum computed without the pseudo-header is wrong.
  rx(ipv6(K6, S6, 58, icmpEcho(128, 1, 1, data)));
  assert.equal(sent.length, 0);
  assert.equal(s.icmp.stats.dropped.badChecksum, 2);
  assert.equal(s.icmp.stats.dropped.truncated, 1);
});

Deno.test("ip: trailing link padding beyond total length is ignored", () => {
  const { sent, rx } = stack();
  const p = ipv4(K4, S4, 1, icmpEcho(8, 1, 2, data));
  const padded = new Uint8Array(p.length + 6);
  padded.set(p);
  rx(padded);
  assert.equal(sent.length, 1);
  assert.equal(sent[0].length, p.length);
});

// The ICMP error the stack sent, checked for checksums and addresses.
function icmpError(r: Uint8Array, v6: boolean, src: string, dst: string) {
  const hl = v6 ? 40 : 20;
  assert.equal(r[v6 ? 6 : 9], v6 ? 58 : 1, "an ICMP message");
  assert.equal(formatIp(r, v6 ? 8 : 12, v6 ? 16 : 4), src, "from");
  assert.equal(formatIp(r, v6 ? 24 : 16, v6 ? 16 : 4), dst, "to");
  const ps = v6 ? pseudo(ip(src), ip(dst), 58, r.length - hl) : 0;
  assert.equal(checksum(sum16(ps, r, hl, r.length)), 0, "ICMP checksum");
  const pointer = new DataView(r.buffer, r.byteOffset).getUint32(hl + 4);
  return { type: r[hl], code: r[hl + 1], pointer, quote: r.subarray(hl + 8) };
}

Deno.test("icmp errors: an unknown protocol gets protocol unreachable (v4) or parameter problem code 1 (v6)", () => {
  const { s, sent, rx } = stack();
  const udp = ipv4(K4, S4, 17, data);
  rx(udp);
  const e4 = icmpError(sent[0], false, S4, K4);
  assert.deepEqual([e4.type, e4.code], [3, 2]);
  assert.deepEqual(e4.quote, udp, "the whole packet is quoted");
  // RFC 8200 4: the pointer names the next-header byte of the header that names it.
  const dest = Uint8Array.from([17, 0, 1, 4, 0, 0, 0, 0]);
  const udp6 = ipv6(K6, S6, 60, Uint8Array.from([...dest, ...data]));
  rx(udp6);
  const e6 = icmpError(sent[1], true, S6, K6);
  assert.deepEqual([e6.type, e6.code, e6.pointer], [4, 1, 40]);
  assert.deepEqual(e6.quote, udp6);
  // No Next Header is nothing to report (RFC 8200 4.7).
  rx(ipv6(K6, S6, 59, new Uint8Array(0)));
  assert.equal(sent.length, 2);
  assert.deepEqual(s.icmp.stats.sent, { protocolUnreachable: 1, parameterProblem: 1 });
  assert.equal(s.ip.stats.dropped.unknownProtocol, 3);
});

Deno.test("icmp errors: the quote stops at 576 / 1280 bytes in all", () => {
  const { sent, rx } = stack();
  rx(ipv4(K4, S4, 17, new Uint8Array(1400)));
  rx(ipv6(K6, S6, 17, new Uint8Array(1400)));
  assert.deepEqual(sent.map((p) => p.length), [576, 1280]);
});

Deno.test("icmp errors: routing header and unknown options get parameter problems (RFC 8200 4.2, 4.4)", () => {
  const { s, sent, rx } = stack();
  const tcp = new Uint8Array(20);
  const routing = Uint8Array.from([6, 0, 0, 2, 0, 0, 0, 0]); // segments left 2
  const option = (type: number) => Uint8Array.from([6, 0, type, 4, 0, 0, 0, 0]);
  rx(ipv6(K6, S6, 43, Uint8Array.from([...routing, ...tcp])));
  rx(ipv6(K6, S6, 60, Uint8Array.from([...option(0x8a), ...tcp])));
  rx(ipv6(K6, S6, 60, Uint8Array.from([...option(0xca), ...tcp])));
  rx(ipv6(K6, S6, 60, Uint8Array.from([...option(0x4a), ...tcp]))); // 01: drop silently
  const got = sent.map((p) => icmpError(p, true, S6, K6)).map((e) => [e.type, e.code, e.pointer]);
  assert.deepEqual(got, [[4, 0, 43], [4, 2, 42], [4, 2, 42]]);
  assert.equal(s.ip.stats.dropped.routingHeader, 1);
  assert.equal(s.ip.stats.dropped.unknownOption, 3);
});

Deno.test("icmp errors: none about ICMP errors, to multicast (unless the option asks), or from no single host", () => {
  const { s, sent, rx } = stack();
  const icmpErr = Uint8Array.from([1, 4, 0, 0, 0, 0, 0, 0]); // an ICMPv6 port unreachable
  const routing = (next: number) => Uint8Array.from([next, 0, 0, 1, 0, 0, 0, 0]);
  rx(ipv6(K6, S6, 43, Uint8Array.from([...routing(58), ...icmpErr])));
  assert.equal(s.icmp.stats.suppressed.aboutIcmpError, 1);
  // An echo request behind the same header is no error: it is answered with one.
  rx(ipv6(K6, S6, 43, Uint8Array.from([...routing(58), 128, 0, 0, 0, 0, 0, 0, 0])));
  assert.equal(sent.length, 1);
  rx(ipv4(K4, "224.0.0.22", 2, data)); // IGMP, which we do not speak
  rx(ipv4(K4, "255.255.255.255", 17, data));
  const opt = (type: number) => Uint8Array.from([59, 0, type, 4, 0, 0, 0, 0]);
  rx(ipv6(K6, "ff02::1", 60, opt(0xca))); // 11: not to multicast
  assert.equal(s.icmp.stats.suppressed.multicast, 3);
  rx(ipv6(K6, "ff02::1", 60, opt(0x8a))); // 10: even to multicast, from our address
  assert.equal(sent.length, 2);
  const e = icmpError(sent[1], true, S6, K6);
  assert.deepEqual([e.type, e.code], [4, 2]);
  rx(ipv6("::", S6, 17, data));
  assert.equal(s.icmp.stats.suppressed.badSource, 1);
  assert.equal(sent.length, 2);
});

Deno.test("icmp errors: rate-limited by net.inet.icmp.icmplim per second", () => {
  let now = 0;
  const sent: Uint8Array[] = [];
  const s = new Stack({ ipv4: ip(S4), clock: () => now });
  s.attach(new MemoryLink(1500, (p) => sent.push(p)));
  sysctlSet(s, "net.inet.icmp.icmplim", "5");
  const udp = ipv4(K4, S4, 17, data);
  for (let i = 0; i < 10; i++) s.receive(udp, udp.length);
  assert.equal(sent.length, 5);
  assert.equal(s.icmp.stats.suppressed.rateLimited, 5);
  now += 400; // two tokens back
  for (let i = 0; i < 10; i++) s.receive(udp, udp.length);
  assert.equal(sent.length, 7);
  sysctlSet(s, "net.inet.icmp.icmplim", "0");
  now += 5000;
  s.receive(udp, udp.length);
  assert.equal(sent.length, 7, "0 sends none");
});
