import assert from "node:assert/strict";
import { checkAccounting, fuzz } from "../fuzz/fuzzer.ts";

// The short run CI does; `deno task fuzz` runs the long one.
Deno.test("fuzz: 200,000 hostile packets: nothing escapes, counters add up, memory stays bounded", async () => {
  const r = await fuzz(1, 200_000);
  assert.deepEqual(r.failures, [], "exceptions escaped the receive path");
  assert.deepEqual(r.accounting, []);
  assert.equal(r.packets, 200_000);
  // It got deep: connections were established, closed and passed through TIME_WAIT.
  assert.ok((r.states["ESTABLISHED"] ?? 0) > 0, "no connection reached ESTABLISHED");
  assert.ok((r.counters["tcp.demux.timeWait"] ?? 0) > 0, "nothing reached TIME_WAIT");
  assert.ok((r.counters["icmp.echoReplies"] ?? 0) > 0, "no ICMP echo answered");
  assert.ok(r.peakConnections <= r.maxConnections);
  assert.ok(r.peakTimeWait <= r.maxTimeWait);
  // Heap: bounded while running, back near its start after shutdown.
  assert.ok(r.heapPeak < 128 << 20, `heap peaked at ${r.heapPeak} bytes`);
  assert.ok(r.heapEnd - r.heapStart < 16 << 20, `heap grew ${r.heapEnd - r.heapStart} bytes`);
});

Deno.test("fuzz: the accounting check catches a counter that does not add up", () => {
  const counters = {
    ip: { rxPackets: 3, delivered: 2, dropped: { truncated: 0 } },
    icmp: { received: 1, echoRequests: 1, errors: 0, ignored: {}, dropped: {} },
    tcp: {
      segmentsReceived: 1,
      demux: { connection: 1 },
      dropped: {
        truncated: 0,
        badDataOffset: 0,
        badChecksum: 0,
        badOption: 0,
        multicast: 0,
        synFin: 0,
        noSocket: 0,
        md5Missing: 0,
        md5Bad: 0,
      },
    },
  };
  assert.deepEqual(checkAccounting(counters), [
    "ip.rxPackets + ip.reassembled = ip.delivered + ip.fragmentsTaken + ip.dropped: 3 != 2",
  ]);
});
