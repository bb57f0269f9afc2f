// A socket's TTL and TOS (IP_TTL, IP_TOS, IPV6_UNICAST_HOPS, IPV6_TCLASS):
// on every packet it sends, inherited from its listener, kept by TIME_WAIT,
// and on the RST a bound, not listening socket answers with.

import assert from "node:assert/strict";
import { ConnectionRefusedError } from "../../stack/tcp/tcb.ts";
import { TcpListener } from "../../stack/tcp/socket.ts";
import { B4, net, pair } from "../_tcp.ts";
import { ISN, listen80, P, passiveOpen, Peer } from "../_peer.ts";

/** TTL (hop limit) and TOS (traffic class) of a raw IPv4 or IPv6 packet. */
function fields(p: Uint8Array): { ttl: number; tos: number } {
  if (p[0] >> 4 === 4) return { ttl: p[8], tos: p[1] };
  return { ttl: p[7], tos: ((p[0] & 15) << 4) | (p[1] >> 4) };
}

function tcpFlags(p: Uint8Array): number {
  return p[(p[0] >> 4 === 4 ? (p[0] & 15) * 4 : 40) + 13];
}

Deno.test("ip fields: connect and listen options mark the handshake, the data, and setTtl/setTos change them", async () => {
  const n = net();
  const l = n.b.listen({ port: 5000, ttl: 9, tos: 0x20 });
  let server: Awaited<ReturnType<typeof l.accept>> | undefined;
  l.accept().then((c) => server = c);
  let client: Awaited<ReturnType<typeof n.a.connect>> | undefined;
  n.a.connect({ hostname: B4, port: 5000, ttl: 5, tos: 0xb8 }).then((c) => client = c);
  await n.run(() => server !== undefined && client !== undefined);
  const syn = n.trace.find((t) => t.from === "a")!;
  assert.equal(tcpFlags(syn.packet), 0x02);
  assert.deepEqual(fields(syn.packet), { ttl: 5, tos: 0xb8 }, "the SYN");
  const synAck = n.trace.find((t) => t.from === "b")!;
  assert.equal(tcpFlags(synAck.packet), 0x12);
  assert.deepEqual(fields(synAck.packet), { ttl: 9, tos: 0x20 }, "the listener's SYN,ACK");

  await server!.write(new Uint8Array(100));
  assert.deepEqual(fields(n.trace.at(-1)!.packet), { ttl: 9, tos: 0x20 }, "accepted: inherited");

  client!.setNoDelay(); // each write goes out at once
  client!.setTtl(7);
  client!.setTos(0);
  await client!.write(new Uint8Array(100));
  assert.deepEqual(fields(n.trace.at(-1)!.packet), { ttl: 7, tos: 0 });
  client!.setTtl(0);
  await client!.write(new Uint8Array(100));
  assert.equal(fields(n.trace.at(-1)!.packet).ttl, 64, "0 is the stack's default again");
  client!.setTos(0x28);
  const i = n.trace.length;
  await server!.write(new Uint8Array(100));
  await n.run(() => n.trace.slice(i).some((t) => t.from === "a"));
  const ack = n.trace.slice(i).find((t) => t.from === "a")!;
  assert.deepEqual(fields(ack.packet), { ttl: 64, tos: 0x28 }, "its ACKs too");
});

Deno.test("ip fields: IPv6 carries them as hop limit and traffic class", async () => {
  const n = net();
  const { client, server } = await pair(n, 5000, true);
  client.setTtl(3);
  client.setTos(0xe0);
  await client.write(new Uint8Array(10));
  const p = n.trace.at(-1)!.packet;
  assert.equal(p[0] >> 4, 6);
  assert.deepEqual(fields(p), { ttl: 3, tos: 0xe0 });
  assert.equal(((p[1] & 15) << 16) | (p[2] << 8) | p[3], 0, "flow label 0");
  await server.write(new Uint8Array(10));
  assert.deepEqual(fields(n.trace.at(-1)!.packet), { ttl: 64, tos: 0 }, "the other end's own");
});

Deno.test("ip fields: a TIME_WAIT record answers a retransmitted FIN with its socket's TTL and TOS", async () => {
  const peer = new Peer();
  const { conn, iss, ts } = await passiveOpen(peer);
  conn.setTtl(6);
  conn.setTos(0xe0);
  conn.close();
  const [fin] = peer.take();
  assert.equal(fin.flags, "FA");
  assert.deepEqual(fields(fin.raw), { ttl: 6, tos: 0xe0 });
  peer.send({ sport: P, dport: 80, seq: ISN + 1, ack: iss + 2, flags: "FA", ts: ts(502) });
  const [ack] = peer.take();
  assert.deepEqual(fields(ack.raw), { ttl: 6, tos: 0xe0 }, "the ACK entering TIME_WAIT");
  assert.equal(peer.stack.tcp.timewait.size, 1);
  // The peer lost that ACK and sends its FIN again: the record answers.
  peer.send({ sport: P, dport: 80, seq: ISN + 1, ack: iss + 2, flags: "FA", ts: ts(503) });
  const [again] = peer.take();
  assert.equal(again.flags, "A");
  assert.deepEqual(fields(again.raw), { ttl: 6, tos: 0xe0 }, "the record's ACK");
});

Deno.test("ip fields: an unmarked TIME_WAIT record answers with the defaults after a marked one left its slot", async () => {
  const peer = new Peer();
  const a = await passiveOpen(peer);
  a.conn.setTtl(6);
  a.conn.close();
  peer.take();
  peer.send({ sport: P, dport: 80, seq: ISN + 1, ack: a.iss + 2, flags: "FA", ts: a.ts(502) });
  peer.take();
  const tw = peer.stack.tcp.timewait;
  assert.equal(tw.size, 1);
  tw.clear(); // frees the marked record's slot for the next one
  a.listener!.close();
  listen80(peer);
  const b = await passiveOpen(peer, { port: P + 1, listen: false });
  b.conn.close();
  peer.take();
  peer.send({ sport: P + 1, dport: 80, seq: ISN + 1, ack: b.iss + 2, flags: "FA", ts: b.ts(502) });
  peer.take();
  peer.send({ sport: P + 1, dport: 80, seq: ISN + 1, ack: b.iss + 2, flags: "FA", ts: b.ts(503) });
  const [again] = peer.take();
  assert.deepEqual(fields(again.raw), { ttl: 64, tos: 0 });
});

Deno.test("ip fields: a bound port refuses with its own TTL and TOS until it listens", async () => {
  const n = net();
  const tcp = n.b.tcp;
  const bound = tcp.bind(5000);
  bound.ipFields.ttl = 4;
  bound.ipFields.tos = 0x20;
  assert.throws(() => n.b.listen({ port: 5000 }), /Address in use/, "the port is taken");
  let refused: unknown;
  n.a.connect({ hostname: B4, port: 5000 }).catch((e) => refused = e);
  await n.run(() => refused !== undefined);
  assert.ok(refused instanceof ConnectionRefusedError);
  const rst = n.trace.at(-1)!;
  assert.equal(rst.from, "b");
  assert.equal(tcpFlags(rst.packet), 0x14, "RST,ACK");
  assert.deepEqual(fields(rst.packet), { ttl: 4, tos: 0x20 });
  assert.equal(tcp.stats.dropped.noSocket, 1, "counted as refused");

  tcp.listenBound(bound, 8);
  assert.throws(() => tcp.listenBound(bound), /Invalid listener: port 5000/);
  const listener = new TcpListener(tcp, bound, "0.0.0.0");
  let accepted = false;
  listener.accept().then(() => accepted = true);
  n.a.connect({ hostname: B4, port: 5000 });
  await n.run(() => accepted);
  const synAck = n.trace.find((t) => t.from === "b" && tcpFlags(t.packet) === 0x12)!;
  assert.deepEqual(fields(synAck.packet), { ttl: 4, tos: 0x20 });
  listener.close();
  assert.doesNotThrow(() => n.b.listen({ port: 5000 }), "closing releases the port");
});

Deno.test("ip fields: bad values are refused with a clear error and change nothing", async () => {
  const n = net();
  const { client } = await pair(n);
  client.setNoDelay();
  client.setTtl(9);
  for (const v of [256, -1, 1.5, NaN]) {
    assert.throws(() => client.setTtl(v), {
      name: "RangeError",
      message: `Invalid TTL: ${v} (must be an integer from 0 to 255)`,
    });
    assert.throws(() => client.setTos(v), {
      name: "RangeError",
      message: `Invalid TOS: ${v} (must be an integer from 0 to 255)`,
    });
  }
  await client.write(new Uint8Array(1));
  assert.deepEqual(fields(n.trace.at(-1)!.packet), { ttl: 9, tos: 0 });
  client.setTos(0xbb);
  await client.write(new Uint8Array(1));
  assert.equal(fields(n.trace.at(-1)!.packet).tos, 0xb8, "the ECN bits are left to TCP");
  assert.throws(() => n.b.listen({ port: 6000, ttl: 300 }), /Invalid TTL: 300/);
  assert.doesNotThrow(() => n.b.listen({ port: 6000 }), "the bad listen took no port");
  await assert.rejects(
    () => n.a.connect({ hostname: B4, port: 6000, tos: 256 }),
    /Invalid TOS: 256/,
  );
  assert.equal(n.a.connectionCount, 1, "the bad connect opened nothing");
});
