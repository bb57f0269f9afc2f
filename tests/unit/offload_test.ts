// Checksum and segmentation offload as the stack sees it: a link that
// claims both gets partial checksums and 64 KB segments with the right
// virtio_net_hdr fields; packets the device vouches for skip verification.

import assert from "node:assert/strict";
import type { Link, TxOffload } from "../../stack/link.ts";
import { Stack } from "../../stack/stack.ts";
import { fold } from "../../stack/wire/checksum.ts";
import { TcpSegment } from "../../stack/wire/tcp.ts";
import { md5Valid } from "../../stack/tcp/md5.ts";
import { ip, ipv4, pseudo, tcpBytes, type TcpSpec } from "../_packets.ts";
import type { TcpConn } from "../../stack/tcp/socket.ts";
import { decode, settle } from "../_peer.ts";

class OffloadLink implements Link {
  readonly headroom = 0;
  readonly mtu = 1500;
  readonly csumOffload = true;
  readonly gsoMax = 65535;
  readonly sent: { packet: Uint8Array; o?: TxOffload }[] = [];
  transmit(frame: Uint8Array, len: number, o?: TxOffload): boolean {
    this.sent.push({ packet: frame.slice(0, len), o: o && { ...o } });
    return true;
  }
}

/** A stack on an offloading link with one accepted connection on port 80. */
async function established(window = 65535, wscale = 7) {
  const stack = new Stack({ ipv4: ip("192.0.2.2"), clock: () => 0 });
  const link = new OffloadLink();
  stack.attach(link);
  const l = stack.listen({ port: 80 });
  let conn: TcpConn | undefined;
  l.accept().then((c) => conn = c);
  const send = (spec: TcpSpec, csumValid = false) => {
    const p = ipv4("192.0.2.1", "192.0.2.2", 6, tcpBytes(ip("192.0.2.1"), ip("192.0.2.2"), spec));
    stack.receive(p, p.length, csumValid);
  };
  send({
    sport: 5555,
    dport: 80,
    seq: 100,
    flags: "S",
    mss: 1460,
    wscale: wscale >= 0 ? wscale : undefined, // -1: no window scale option
    sackOk: true,
    window,
    ts: [1, 0],
  });
  const synack = decode(link.sent[0].packet);
  send({
    sport: 5555,
    dport: 80,
    seq: 101,
    ack: synack.seq + 1,
    flags: "A",
    window,
    ts: [2, synack.ts![0]],
  });
  await settle();
  link.sent.length = 0;
  // The peer's next ACK, with `spec` over the defaults.
  const ack = (spec: Partial<TcpSpec>) =>
    send({ sport: 5555, dport: 80, seq: 101, flags: "A", window: 65535, ts: [3, 0], ...spec });
  return { stack, link, conn: conn!, synack, ack };
}

Deno.test("offload: TSO segments, partial checksums and virtio fields", async () => {
  const { stack, link, conn, synack } = await established();
  await conn.write(new Uint8Array(14_480)); // the initial window: 10 segments
  await settle();
  // Half the window each, so that two are in flight (Linux's tcp_cwnd_test).
  assert.equal(link.sent.length, 2, "two 5-segment packets instead of ten");
  const { packet, o } = link.sent[0];
  const tcpLen = packet.length - 20;
  assert.equal(tcpLen, 32 + 7_240);
  assert.equal(o?.gsoType, 1, "GSO TCPV4");
  assert.equal(o?.gsoSize, 1448, "MSS 1460 minus the 12-byte timestamp option");
  assert.equal(o?.hdrLen, 20 + 32);
  assert.equal(o?.csumStart, 20);
  assert.equal(o?.csumOffset, 16);
  const field = (packet[36] << 8) | packet[37];
  assert.equal(
    field,
    fold(pseudo(ip("192.0.2.2"), ip("192.0.2.1"), 6, tcpLen)),
    "pseudo-header sum only",
  );
  // A packet whose checksum the device vouches for is not verified...
  const bad = tcpBytes(ip("192.0.2.1"), ip("192.0.2.2"), {
    sport: 5555,
    dport: 80,
    seq: 101,
    ack: synack.seq + 1 + 14_480,
    flags: "PA",
    data: new Uint8Array([7]),
    ts: [3, 0],
  });
  bad[16] ^= 0xff;
  const p = ipv4("192.0.2.1", "192.0.2.2", 6, bad);
  stack.receive(p, p.length, true);
  assert.equal(conn.block.rcv.buf.readable, 1);
  // ...one it does not vouch for is.
  stack.receive(p, p.length, false);
  assert.equal(stack.tcp.stats.dropped.badChecksum, 1);
});

Deno.test("offload: a window-limited burst ends on a segment boundary", async () => {
  // The peer offers 5000 bytes: three whole segments fit, not four.
  const { link, conn } = await established(5000, -1); // no scaling: 5000 means 5000
  await conn.write(new Uint8Array(20_000));
  const data = link.sent.map((s) => decode(s.packet).data.length).filter((n) => n > 0);
  assert.deepEqual(data, [3 * 1448]);
});

Deno.test("offload: a lost TSO packet is resent as one packet as soon as what follows it is SACKed", async () => {
  const { stack, link, conn, synack, ack } = await established();
  const seg = 14_480; // ten segments
  const base = synack.seq + 1;
  await conn.write(new Uint8Array(seg)); // the initial window
  await settle();
  ack({ ack: base + seg });
  link.sent.length = 0;
  await conn.write(new Uint8Array(2 * seg));
  await settle();
  // B, lost on the way, then C: half the window each.
  const [b, c, ...more] = link.sent.map((s) => decode(s.packet)).filter((s) => s.data.length > 0);
  assert.ok(more.length === 0 && b.seq === base + seg && b.data.length > 3 * 1448);
  assert.ok(c.seq === b.seq + b.data.length && c.data.length > 3 * 1448);
  link.sent.length = 0;
  // One ACK SACKs C: one range of several segments above the hole (RFC
  // 6675's DupThresh in bytes), so B is lost now, with no reordering window.
  ack({ ack: b.seq, sack: [[c.seq, c.seq + c.data.length]] });
  const resent = link.sent.filter((s) => decode(s.packet).data.length > 0);
  assert.equal(resent.length, 1, "one packet, not a segment per write");
  // PRR lets go ssthresh - pipe: half the flight, nothing else in the pipe.
  const allowed = Math.floor((b.data.length + c.data.length) / 2 / 1448) * 1448;
  const r = decode(resent[0].packet);
  assert.deepEqual([r.seq, r.data.length], [b.seq, Math.min(allowed, b.data.length)]);
  assert.equal(resent[0].o?.gsoSize, 1448);
  assert.equal(stack.tcp.stats.retransmittedSegments, r.data.length / 1448, "counted in segments");
  assert.equal(stack.tcp.stats.rackLosses, 1);
});

Deno.test("offload: writes in one turn behind data in flight leave as one packet, not one per write", async () => {
  const { link, conn, synack, ack } = await established();
  await conn.write(new Uint8Array(14_480)); // the initial window, in flight
  await settle();
  ack({ ack: synack.seq + 1 + 10 * 1448 }); // the window opens to 20 segments
  link.sent.length = 0;
  // Nothing in flight: the first write goes at once. The next two, partial
  // TSO packets behind it, wait for the end of the turn and go together.
  conn.tryWrite(new Uint8Array(5_000));
  conn.tryWrite(new Uint8Array(5_000));
  conn.tryWrite(new Uint8Array(4_000));
  const sizes = () => link.sent.map((s) => decode(s.packet).data.length);
  assert.deepEqual(sizes(), [5_000]);
  await settle();
  assert.deepEqual(sizes(), [5_000, 9_000]);
});

Deno.test("offload: a signed connection (RFC 2385) sends no TSO packets; its digests hold with the device's checksums", async () => {
  const { link, conn } = await established();
  const key = new TextEncoder().encode("bgp");
  conn.block.md5Key = key; // as if agreed at the open: only output is looked at here
  await conn.write(new Uint8Array(14_480));
  await settle();
  const data = link.sent.filter((s) => decode(s.packet).data.length > 0);
  assert.ok(data.length >= 10, `${data.length} packets: one segment each`);
  for (const { packet, o } of data) {
    assert.equal(o?.gsoType ?? 0, 0, "no segmentation asked of the device");
    const seg = decode(packet);
    assert.ok(seg.data.length <= 1448 - 20, "the MSS less timestamps and the signature");
    const t = new TcpSegment();
    t.wrap(packet, 20, packet.length - 20, -1);
    const ok = md5Valid(key, ip("192.0.2.2"), ip("192.0.2.1"), t);
    assert.ok(ok, "signed over a zero checksum, which the device fills in later");
  }
});
