// ICMP errors about our segments reach TCP (RFC 1122 4.2.3.9): path-MTU
// discovery lowers the MSS and resends at once (RFC 1191, RFC 8201), an
// unreachable port refuses a connect, other errors are soft, and an error
// quoting a sequence number not in flight is ignored (RFC 5927).

import assert from "node:assert/strict";
import type { TcpConn } from "../../stack/tcp/socket.ts";
import { checksum, sum16 } from "../../stack/wire/checksum.ts";
import { ip, ipv4, ipv6, pseudo } from "../_packets.ts";
import { ISN, listen80, P, passiveOpen, Peer, type Seen, settle } from "../_peer.ts";

/** An ICMP error from a router on the path, quoting `sent` (what the stack sent). */
function icmpError(peer: Peer, sent: Seen, type: number, code: number, mtu = 0): Uint8Array {
  const v6 = sent.raw[0] >> 4 === 6;
  const quote = sent.raw.subarray(0, Math.min(sent.raw.length, v6 ? 1232 : 548));
  const msg = new Uint8Array(8 + quote.length);
  msg[0] = type;
  msg[1] = code;
  if (v6) new DataView(msg.buffer).setUint32(4, mtu);
  else new DataView(msg.buffer).setUint16(6, mtu);
  msg.set(quote, 8);
  const router = v6 ? "2001:db8::fe" : "192.0.2.254";
  const ps = v6 ? pseudo(ip(router), ip(peer.them), 58, msg.length) : 0;
  const c = checksum(sum16(ps, msg, 0, msg.length));
  msg[2] = c >> 8;
  msg[3] = c & 255;
  return v6 ? ipv6(router, peer.them, 58, msg) : ipv4(router, peer.them, 1, msg);
}

function deliver(peer: Peer, pkt: Uint8Array): void {
  peer.stack.receive(pkt as Uint8Array<ArrayBuffer>, pkt.length);
}

for (const v6 of [false, true]) {
  const name = v6 ? "IPv6 packet too big" : "IPv4 fragmentation needed";
  Deno.test(`icmp: ${name} lowers the MSS and resends what is in flight at once`, async () => {
    const peer = new Peer({}, v6);
    listen80(peer);
    const { conn } = await passiveOpen(peer, { ts: false, listen: false });
    conn.setNoDelay(true);
    await conn.write(new Uint8Array(4000));
    const first = peer.take();
    const full = v6 ? 1440 : 1460;
    assert.equal(first[0].data.length, full);
    const mtu = 1280;
    deliver(peer, icmpError(peer, first[0], v6 ? 2 : 3, v6 ? 0 : 4, mtu));
    const again = peer.take();
    const small = mtu - (v6 ? 60 : 40);
    assert.ok(again.length >= 2, "resent without waiting for an RTO");
    assert.equal(again[0].seq, first[0].seq, "from SND.UNA");
    assert.equal(again[0].data.length, small);
    for (const s of again) {
      assert.ok(s.raw.length <= mtu, `${s.raw.length}-byte packet on a ${mtu}-byte path`);
    }
    const st = peer.stack.tcp.stats.icmp;
    assert.equal(st.pmtuLowered, 1);
    assert.equal(peer.stack.icmp.stats.errors, 1);
    assert.equal(peer.stack.ip.pmtu.get(ip(peer.me), peer.now), mtu);
    // A new connection to that peer starts with the path's MSS.
    const b = await passiveOpen(peer, { ts: false, port: P + 1, listen: false });
    await b.conn.write(new Uint8Array(3000));
    assert.equal(peer.take()[0].data.length, small);
  });
}

Deno.test("icmp: a too-big message never lowers the MTU below 576 (IPv4 minimum)", async () => {
  const peer = new Peer();
  const { conn } = await passiveOpen(peer, { ts: false });
  await conn.write(new Uint8Array(2000));
  const [s] = peer.take();
  deliver(peer, icmpError(peer, s, 3, 4, 68));
  assert.equal(peer.stack.ip.pmtu.get(ip(peer.me), peer.now), 576);
  assert.equal(conn.block.snd.mss, 536);
});

Deno.test("icmp: an error quoting a sequence number not in flight is ignored (RFC 5927)", async () => {
  const peer = new Peer();
  const { conn } = await passiveOpen(peer, { ts: false });
  await conn.write(new Uint8Array(2000));
  const [s] = peer.take();
  peer.send({ sport: P, dport: 80, seq: ISN + 1, ack: s.seq + s.data.length, flags: "A" });
  deliver(peer, icmpError(peer, s, 3, 4, 1280)); // that segment was ACKed
  assert.equal(peer.stack.tcp.stats.icmp.outOfWindow, 1);
  assert.equal(conn.block.snd.mss, 1460);
});

Deno.test("icmp: port unreachable refuses a connect in SYN-SENT; icmp_may_rst=0 makes it soft", async () => {
  const peer = new Peer();
  let err: unknown;
  peer.stack.connect({ hostname: "192.0.2.1", port: 9 }).catch((e) => err = e);
  const [syn] = peer.take();
  deliver(peer, icmpError(peer, syn, 3, 3));
  await settle();
  assert.ok(err instanceof Deno.errors.ConnectionRefused, String(err));
  assert.equal(peer.stack.tcp.stats.icmp.refused, 1);

  peer.stack.tcp.config.icmpMayRst = false;
  let err2: unknown;
  let conn: TcpConn | undefined;
  peer.stack.connect({ hostname: "192.0.2.1", port: 9 }).then((c) => conn = c, (e) => err2 = e);
  const [syn2] = peer.take();
  deliver(peer, icmpError(peer, syn2, 3, 3));
  await settle();
  assert.equal(err2, undefined, "still trying");
  assert.equal(conn, undefined);
  assert.equal(peer.stack.tcp.stats.icmp.soft, 1);
});

Deno.test("icmp: host unreachable is soft, and named when the connection times out", async () => {
  const peer = new Peer({ tcp: { synRetries: 1 } });
  const box: { err?: Error } = {};
  peer.stack.connect({ hostname: "192.0.2.1", port: 9 }).catch((e) => box.err = e);
  const [syn] = peer.take();
  deliver(peer, icmpError(peer, syn, 3, 1));
  await settle();
  assert.ok(!box.err, "soft: still trying");
  await peer.advance(10_000);
  const err: unknown = box.err;
  assert.ok(err instanceof Deno.errors.TimedOut, String(err));
  assert.match(err.message, /no answer to SYN \(last ICMP error: unreachable\)/);
});

Deno.test("icmp: an error quoting someone else's packet is dropped and counted", () => {
  const peer = new Peer();
  const fake = ipv4("192.0.2.9", "192.0.2.1", 6, new Uint8Array(20));
  const seen = { raw: fake } as Seen;
  deliver(peer, icmpError(peer, seen, 3, 4, 1280));
  assert.equal(peer.stack.icmp.stats.dropped.badQuote, 1);
  assert.equal(peer.stack.icmp.stats.errors, 0);
});
