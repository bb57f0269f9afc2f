// The scaled window field rounds up, as FreeBSD and Linux do, so the right
// edge does not move left (RFC 7323 2.4: with a scale, an edge off the
// unit's grid can only move past what was offered, or back); what it
// offers always fits the ring, so only a nearly full one holds it back.

import assert from "node:assert/strict";
import { ISN, P, passiveOpen, Peer } from "../_peer.ts";

Deno.test("receive window: a reader that never reads sees the edge hold and close, every byte offered taken", async () => {
  const peer = new Peer({ tcp: { rcvBuf: 20_000, recvBufAuto: false } });
  const { conn, iss, ts } = await passiveOpen(peer);
  const block = [...peer.stack.tcp.connections()][0];
  const scale = block.rcv.scale;
  assert.ok(scale > 0, "window scaling in use");
  let edge = -1, sent = 0;
  for (let i = 0; i < 100; i++) {
    // Odd sizes, so RCV.NXT is rarely a multiple of the scale's unit.
    const len = 777 + (i % 5) * 131;
    const room = edge < 0 ? len : Math.min(len, edge - (ISN + 1 + sent));
    if (room <= 0) break;
    peer.send({
      sport: P,
      dport: 80,
      seq: ISN + 1 + sent,
      ack: iss + 1,
      flags: "PA",
      data: new Uint8Array(room),
      ts: ts(502 + i),
    });
    sent += room;
    await peer.advance(50); // past the delayed ACK
    for (const a of peer.take()) {
      const right = a.ack + (a.window << scale);
      const offered = right - a.ack;
      const room = block.rcv.buf.room;
      assert.ok(offered <= room, `${offered} offered, ${room} fit`);
      if (edge >= 0 && right < edge) {
        assert.ok(edge - right < 1 << scale, `edge ${right} moved left of ${edge} by a unit`);
        assert.ok(room - offered < 1 << scale, "back only when the ring is full to a unit");
      }
      edge = right;
    }
  }
  assert.equal(conn.status().receiveQueue, sent, "every byte sent within the window was kept");
  assert.ok(sent > 20_000, `${sent} bytes: the field's rounding offered past the buffer`);
  assert.equal(edge, ISN + 1 + sent, "and the window closed at its edge");
  assert.equal(peer.stack.tcp.stats.dropped.receiveBufferFull, 0);
});
