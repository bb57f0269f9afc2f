// The verdict capture: pcapng as the format says (read back by hand here;
// tshark reads it in the integration test), each received packet before the
// answers it caused, with the counters it moved as comments.

import assert from "node:assert/strict";
import { type CapturedPacket, PcapngWriter } from "../../stack/capture.ts";
import { ip, ipv4, tcpBytes } from "../_packets.ts";
import { ISN, P, passiveOpen, Peer } from "../_peer.ts";

interface Block {
  type: number;
  body: DataView;
}

function blocks(bytes: Uint8Array): Block[] {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: Block[] = [];
  for (let o = 0; o < bytes.length;) {
    const type = v.getUint32(o, true), len = v.getUint32(o + 4, true);
    assert.equal(len % 4, 0, "blocks are 32-bit aligned");
    assert.equal(v.getUint32(o + len - 4, true), len, "trailing length matches");
    out.push({ type, body: new DataView(bytes.buffer, bytes.byteOffset + o + 8, len - 12) });
    o += len;
  }
  return out;
}

// An Enhanced Packet Block: its data, direction flag and comments.
function epb(b: Block) {
  const v = b.body;
  const len = v.getUint32(12, true);
  const data = new Uint8Array(v.buffer, v.byteOffset + 20, len);
  let flags = -1;
  const comments: string[] = [];
  for (let o = 20 + ((len + 3) & ~3); o < v.byteLength;) {
    const code = v.getUint16(o, true), n = v.getUint16(o + 2, true);
    if (code === 0) break;
    const val = new Uint8Array(v.buffer, v.byteOffset + o + 4, n);
    if (code === 2) flags = v.getUint32(o + 4, true);
    if (code === 1) comments.push(new TextDecoder().decode(val));
    o += 4 + ((n + 3) & ~3);
  }
  return { data, flags, comments };
}

function record(peer: Peer) {
  const chunks: Uint8Array[] = [];
  const w = new PcapngWriter((b) => chunks.push(b));
  const seen: CapturedPacket[] = [];
  peer.stack.capture((p) => {
    seen.push({ ...p, packet: p.packet.slice() });
    w.packet(p);
  });
  const file = () => {
    const all = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
    let o = 0;
    for (const c of chunks) (all.set(c, o), o += c.length);
    return all;
  };
  return { seen, file };
}

Deno.test("capture: pcapng blocks: section header, raw-IP interface, one EPB per packet with direction and comments", () => {
  const chunks: Uint8Array[] = [];
  const w = new PcapngWriter((b) => chunks.push(b), 1_000_000);
  w.packet({ packet: Uint8Array.of(0x45, 1, 2), inbound: true, timeMs: 1.5, notes: ["drop: x"] });
  w.packet({ packet: new Uint8Array(8), inbound: false, timeMs: 2, notes: [] });
  const all = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let o = 0;
  for (const c of chunks) (all.set(c, o), o += c.length);
  const [shb, idb, p1, p2] = blocks(all);
  assert.equal(shb.type, 0x0a0d0d0a);
  assert.equal(shb.body.getUint32(0, true), 0x1a2b3c4d, "byte-order magic");
  assert.equal(idb.type, 1);
  assert.equal(idb.body.getUint16(0, true), 101, "LINKTYPE_RAW");
  assert.equal(p1.type, 6);
  const e1 = epb(p1), e2 = epb(p2);
  assert.deepEqual([...e1.data], [0x45, 1, 2]);
  assert.deepEqual([e1.flags, e2.flags], [1, 2], "inbound, outbound");
  assert.deepEqual(e1.comments, ["drop: x"]);
  assert.deepEqual(e2.comments, []);
  // Microseconds since the epoch: 1,000,000 ms + 1.5 ms.
  const us = p1.body.getUint32(4, true) * 2 ** 32 + p1.body.getUint32(8, true);
  assert.equal(us, 1_000_001_500);
});

Deno.test("capture: TIME_WAIT verdicts and drops are named on the packet that caused them, before its answer", async () => {
  const peer = new Peer();
  const { file, seen } = record(peer);
  const { conn, iss, ts } = await passiveOpen(peer);
  conn.close();
  peer.take();
  peer.send({ sport: P, dport: 80, seq: ISN + 1, ack: iss + 2, flags: "A", ts: ts(502) });
  peer.send({ sport: P, dport: 80, seq: ISN + 1, ack: iss + 2, flags: "FA", ts: ts(503) }); // to TIME_WAIT
  peer.send({ sport: P, dport: 80, seq: ISN + 2, flags: "R" }); // RFC 1337
  peer.send({ sport: P, dport: 80, seq: ISN + 1, ack: iss + 2, flags: "FA", ts: ts(504) }); // our ACK was lost
  const bad = ipv4(
    "192.0.2.1",
    "192.0.2.2",
    6,
    tcpBytes(ip("192.0.2.1"), ip("192.0.2.2"), {
      sport: P + 1,
      dport: 80,
      seq: 1,
      flags: "S",
    }),
  );
  bad[bad.length - 1] ^= 0xff; // the checksum no longer holds
  peer.stack.receive(bad, bad.length);
  const notes = seen.filter((p) => p.notes.length > 0).map((p) => p.notes.join("; "));
  assert.deepEqual(notes, [
    "tcp_twstart",
    "tcp_twcheck: rst dropped",
    "tcp_twcheck: fin re-armed; tcp_twcheck: acked", // re-armed 2MSL, then answered
    "drop: tcp.dropped.badChecksum",
  ]);
  // The FIN that started TIME_WAIT comes before the ACK it drew.
  const i = seen.findIndex((p) => p.notes[0] === "tcp_twstart");
  assert.equal(seen[i].inbound, true);
  assert.equal(seen[i + 1].inbound, false, "then the ACK it was answered with");
  // And the file says the same.
  const comments = blocks(file()).filter((b) => b.type === 6).map((b) => epb(b).comments)
    .filter((c) => c.length > 0).map((c) => c.join("; "));
  assert.deepEqual(comments, notes);
  peer.stack.capture(undefined);
});

Deno.test("capture: a file that cannot be written or rotated ends the capture once, not the stack", async () => {
  const { PcapFile } = await import("../../cli/pcap.ts");
  const dir = await Deno.makeTempDir();
  // FILE.1 is a directory with something in it: the rotation's rename fails.
  await Deno.mkdir(`${dir}/cap.pcapng.1/x`, { recursive: true });
  const errors: Error[] = [];
  const f = new PcapFile(`${dir}/cap.pcapng`, 100, (e) => errors.push(e));
  f.write({ packet: new Uint8Array(100), inbound: true, timeMs: 0, notes: [] }); // past 100 bytes
  f.write({ packet: new Uint8Array(40), inbound: false, timeMs: 1, notes: [] });
  f.flush();
  f.close();
  assert.equal(errors.length, 1, "told once");
  assert.match(errors[0].message, /rename/i);
  await Deno.remove(dir, { recursive: true });
});
