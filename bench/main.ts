// `deno task bench`: every benchmark in one run, a table on stdout and JSON
// in bench/results/. Throughput needs root and /dev/net/tun (it is skipped
// with a note otherwise); TIME_WAIT scale is pure.

import { runThroughput, type ThroughputResult } from "./throughput.ts";
import type { ScaleResult } from "./timewait_scale.ts";

const ROOT = new URL("../", import.meta.url).pathname;

async function scale(family: 4 | 6): Promise<ScaleResult> {
  // A fresh process per family: a clean heap, and gc exposed.
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--v8-flags=--expose-gc", "bench/timewait_scale.ts", String(family)],
    cwd: ROOT,
    stderr: "inherit",
  }).output();
  if (out.code !== 0) throw new Error(`timewait_scale ${family} failed`);
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

function canRunRoot(): boolean {
  const tun = new Deno.Command("test", { args: ["-c", "/dev/net/tun"] }).outputSync().success;
  return Deno.uid() === 0 && tun;
}

const results: {
  date: string;
  machine: string;
  scale: ScaleResult[];
  throughput?: ThroughputResult[];
} = {
  date: new Date().toISOString(),
  machine: `${Deno.build.target}, ${navigator.hardwareConcurrency} CPUs, Deno ${Deno.version.deno}`,
  scale: [],
};

console.log(`tunstack bench, ${results.date}, ${results.machine}\n`);
console.log("TIME_WAIT at 1,000,000 entries (goals: <= 64 B IPv4, <= 112 B IPv6, tick < 1 ms)");
console.log("family  B/entry  slab B/entry  insert/s    lookup/s    expire/s    longest tick");
for (const f of [4, 6] as const) {
  const r = await scale(f);
  results.scale.push(r);
  console.log(
    `IPv${f}    ${String(r.bytesPerEntry).padEnd(8)} ${String(r.slabBytesPerEntry).padEnd(13)} ${
      r.insertPerSec.toExponential(2).padEnd(11)
    } ${r.lookupPerSec.toExponential(2).padEnd(11)} ${
      r.expirePerSec.toExponential(2).padEnd(11)
    } ${r.longestTickMs} ms`,
  );
}

if (canRunRoot()) {
  const runs = Number(Deno.env.get("BENCH_RUNS") ?? "3");
  console.log(
    `\nThroughput, MTU 1500, median of ${runs} (tunstack on TUN vs kernel-to-kernel over veth)`,
  );
  results.throughput = await runThroughput(runs);
  console.log(
    "workload                                  tunstack Gbit/s  kernel veth Gbit/s  ratio",
  );
  for (const r of results.throughput) {
    console.log(
      `${r.workload.padEnd(41)} ${String(r.tunstackGbps).padEnd(16)} ${
        String(r.kernelVethGbps).padEnd(19)
      } ${r.ratio}`,
    );
  }
} else console.log("\nThroughput skipped: needs root and /dev/net/tun.");

await Deno.mkdir(`${ROOT}bench/results`, { recursive: true });
const file = `${ROOT}bench/results/${results.date.replace(/[:.]/g, "-")}.json`;
await Deno.writeTextFile(file, JSON.stringify(results, null, 2) + "\n");
console.log(`\nresults: ${file}`);
