// Congestion control on loss: RFC 5681 3.2 inflates the window by the
// three duplicate ACKs; SACK recovery (RFC 6675 5) starts at ssthresh.

import assert from "node:assert/strict";
import { NewReno } from "../../stack/tcp/reno.ts";
import type { TcpConn } from "../../stack/tcp/socket.ts";
import { ISN, P, Peer, settle } from "../_peer.ts";

Deno.test("congestion: NewReno on loss: ssthresh + 3 SMSS without SACK, ssthresh with SACK", () => {
  for (const sack of [false, true]) {
    const cc = new NewReno(1460);
    cc.onLoss(40 * 1460, 0, sack);
    assert.equal(cc.ssthresh, 20 * 1460);
    assert.equal(cc.cwnd, sack ? 20 * 1460 : 23 * 1460, sack ? "RFC 6675" : "RFC 5681");
  }
});

Deno.test("rtt: a 0 ms sample is a sample (RFC 6298 2.2/2.3 smoothing continues from it)", async () => {
  const { RttEstimator } = await import("../../stack/tcp/rtt.ts");
  const r = new RttEstimator({ rtoMinMs: 1, rtoSlopMs: 0, rtoInitialMs: 1000 });
  r.sample(0);
  r.sample(100);
  assert.equal(r.srtt, 12.5, "smoothed, not restarted at 100");
});

Deno.test("congestion: cwnd counts in the peer's MSS, initial window per RFC 6928", async () => {
  // 9000 is clamped to our link's 1460 (MTU 1500).
  for (const [mss, want] of [[536, 5360], [1460, 14600], [9000, 14600]] as const) {
    const peer = new Peer({ tcp: { timestamps: false } });
    const l = peer.stack.listen({ port: 80 });
    let conn: TcpConn | undefined;
    l.accept().then((c) => conn = c);
    peer.send({ sport: P, dport: 80, seq: ISN, flags: "S", mss });
    const [synack] = peer.take();
    peer.send({ sport: P, dport: 80, seq: ISN + 1, ack: synack.seq + 1, flags: "A" });
    await settle();
    assert.ok(conn);
    assert.equal(conn.block.cc.cwnd, want, `peer MSS ${mss}`);
    l.close();
  }
});
