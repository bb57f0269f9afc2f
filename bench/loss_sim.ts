/**
 * Loss recovery on the in-memory link: 10 MB from one stack to another on
 * the simulated network (1 ms each way) at 1% and 5% random loss in both
 * directions, with 1% of packets held back 3 ms (reordering), and with 1%
 * of ECN-capable packets marked CE instead of lost, three seeds each, with the sender under NewReno (the default) and under BBR. Prints virtual time, goodput, and per MB
 * the retransmitted segments, timeouts (RTOs), recoveries and ECN responses: a figure of
 * the sender's loss recovery that no scheduler or CPU can blur.
 *
 * ```sh
 * node_modules/.bin/deno task bench:sim
 * ```
 *
 * @module
 */

import { type CongestionName, parseIp, type TcpConn } from "../mod.ts";
import { type Impairment, SimNetwork } from "../testing.ts";

const SIZE = 10 * 1024 * 1024;
const MB = SIZE / (1024 * 1024);

async function once(imp: Impairment, seed: number, congestion: CongestionName) {
  // The client asks for ECN (RFC 3168); the sender agrees, as by default.
  const n = new SimNetwork(
    { ipv4: parseIp("192.0.2.1"), tcp: { ecn: 1 } },
    { ipv4: parseIp("192.0.2.2"), tcp: { congestion } },
    seed,
  );
  n.tracing = false;
  n.ab = { ...imp, delayMs: 1 };
  n.ba = { ...imp, delayMs: 1 };
  const l = n.b.listen({ port: 9 });
  let server: TcpConn | undefined, client: TcpConn | undefined;
  l.accept().then((c) => server = c);
  n.a.connect({ hostname: "192.0.2.2", port: 9 }).then((c) => client = c);
  await n.run(() => server !== undefined && client !== undefined, 60_000);
  const t0 = n.now;
  let got = 0, done = false;
  (async () => {
    const buf = new Uint8Array(65536);
    for (let r; (r = await client!.read(buf)) !== null;) got += r;
    done = true;
  })();
  (async () => {
    const chunk = new Uint8Array(256 * 1024);
    for (let i = 0; i < SIZE; i += chunk.length) await server!.write(chunk);
    await server!.closeWrite();
  })();
  await n.run(() => done, 3_600_000);
  if (got !== SIZE) throw new Error(`Transfer incomplete: ${got} of ${SIZE} bytes`);
  const s = n.b.tcp.stats;
  return {
    ms: n.now - t0,
    rexmit: s.retransmittedSegments / MB,
    rto: s.timeouts / MB,
    recoveries: s.fastRetransmits / MB,
    probes: s.tailLossProbes / MB,
    dsacks: s.dsacksReceived / MB,
    undone: s.recoveriesUndone / MB,
    ecn: s.ecn.responses / MB,
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const CASES: [string, Impairment][] = [
  ["1% loss", { loss: 0.01 }],
  ["5% loss", { loss: 0.05 }],
  ["1% late", { reorder: 0.01, reorderMs: 3 }],
  // An AQM that marks instead of dropping: the same congestion, told without a loss.
  ["1% CE", { ce: 0.01 }],
];
console.log(
  "sender   link     virtual s  MB/s   rexmit/MB  RTO/MB  recoveries/MB  TLP/MB  D-SACK/MB  undone/MB  ECN/MB  (median of 3 seeds)",
);
for (const congestion of ["newreno", "bbr"] as const) {
  for (const [name, imp] of CASES) {
    const runs = [];
    for (const seed of [1, 2, 3]) runs.push(await once(imp, seed, congestion));
    const ms = median(runs.map((r) => r.ms));
    console.log(
      `${congestion.padEnd(7)}  ${name.padEnd(7)}  ${(ms / 1000).toFixed(2).padStart(9)}  ${
        (MB / (ms / 1000)).toFixed(1).padStart(5)
      }  ${median(runs.map((r) => r.rexmit)).toFixed(1).padStart(9)}  ${
        median(runs.map((r) => r.rto)).toFixed(2).padStart(6)
      }  ${median(runs.map((r) => r.recoveries)).toFixed(2).padStart(13)}  ${
        median(runs.map((r) => r.probes)).toFixed(2).padStart(6)
      }  ${median(runs.map((r) => r.dsacks)).toFixed(2).padStart(9)}  ${
        median(runs.map((r) => r.undone)).toFixed(2).padStart(9)
      }  ${median(runs.map((r) => r.ecn)).toFixed(2).padStart(6)}`,
    );
  }
}
