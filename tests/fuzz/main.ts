// The long fuzz run (`deno task fuzz [packets] [seed]`): 10,000,000 packets
// by default. Prints progress, the counters, and exits 1 on any failure.

import { fuzz } from "./fuzzer.ts";

const packets = Number(Deno.args[0] ?? 10_000_000);
const seed = Number(Deno.args[1] ?? 20261124);
if (!Number.isInteger(packets) || packets <= 0 || !Number.isInteger(seed)) {
  console.error("Usage: deno task fuzz [packets] [seed]");
  Deno.exit(2);
}
const t0 = performance.now();
const r = await fuzz(seed, packets, (n) => {
  const mib = (Deno.memoryUsage().heapUsed / 2 ** 20).toFixed(1);
  console.error(`${n} packets, heap ${mib} MiB`);
});
const secs = (performance.now() - t0) / 1000;
const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;
console.log(`seed ${r.seed}: ${r.packets} packets in ${secs.toFixed(1)} s`);
console.log(`failures: ${r.failures.length}, accounting errors: ${r.accounting.length}`);
console.log(
  `heap: ${mib(r.heapStart)} after warm-up, ${mib(r.heapPeak)} peak, ${
    mib(r.heapEnd)
  } after shutdown`,
);
console.log(
  `peak connections ${r.peakConnections}/${r.maxConnections}, ` +
    `TIME_WAIT ${r.peakTimeWait}/${r.maxTimeWait}`,
);
console.log(`states sampled: ${JSON.stringify(r.states)}`);
for (const [k, v] of Object.entries(r.counters)) console.log(`  ${k} ${v}`);
for (const f of r.failures) console.log(`FAILURE at packet ${f.index}: ${f.error}\n  ${f.packet}`);
for (const a of r.accounting) console.log(`ACCOUNTING: ${a}`);
const ok = r.failures.length === 0 && r.accounting.length === 0 &&
  r.heapEnd - r.heapStart < 16 << 20;
Deno.exit(ok ? 0 : 1);
