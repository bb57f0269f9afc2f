// Summarises a V8 .cpuprofile (from `deno run --cpu-prof`) as self time
// per function, top 30: `deno run --allow-read bench/profile_summary.ts F`.

const f = Deno.args[0];
if (!f) throw new Error("Usage: profile_summary.ts FILE.cpuprofile");
const p = JSON.parse(await Deno.readTextFile(f));
const self = new Map<number, number>();
// deno-lint-ignore no-explicit-any
const nodes = new Map<number, any>();
for (const n of p.nodes) nodes.set(n.id, n);
const dt = p.timeDeltas;
const samples = p.samples;
for (let i = 0; i < samples.length; i++) {
  self.set(samples[i], (self.get(samples[i]) ?? 0) + (dt[i] ?? 0));
}
const byFn = new Map<string, number>();
let total = 0;
for (const [id, t] of self) {
  const n = nodes.get(id);
  const cf = n.callFrame;
  const k = `${cf.functionName || "(anon)"} ${
    cf.url.split("/").slice(-2).join("/")
  }:${cf.lineNumber}`;
  byFn.set(k, (byFn.get(k) ?? 0) + t);
  total += t;
}
const rows = [...byFn].sort((a, b) => b[1] - a[1]).slice(0, 30);
for (const [k, t] of rows) console.log((100 * t / total).toFixed(1).padStart(5) + "%  " + k);
