// Congestion control on loss: RFC 5681 3.2 inflates the window by the
// three duplicate ACKs; SACK recovery (RFC 6675 5) starts at ssthresh.

import assert from "node:assert/strict";
import { NewReno } from "../../stack/tcp/reno.ts";

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
