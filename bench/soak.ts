// `deno task soak [connections]`: 1,000,000 short connections (by default)
// from the kernel through the stack, half closed first by the client and
// half by the server (so both sides hold TIME_WAIT), then a wait past 2MSL.
// Heap (after a forced GC), connection table and TIME_WAIT table are read
// before and after; the run fails if they do not come back to baseline.
// MSL is 2 s so the wait is short. Needs root, /dev/net/tun and Go.

import { Netns } from "../tests/integration/_netns.ts";
import { BIN, buildGo } from "./targets.ts";

interface Stats {
  tcp: { currentConnections: number; passiveOpens: number; established: number };
  timewait: { current: number };
  memory: { heapUsed: number; rss: number };
}

const total = Number(Deno.args[0] ?? 1_000_000);
if (!Number.isInteger(total) || total < 2 || total > 10_000_000) {
  console.error("Usage: deno task soak [connections (2 to 10000000)]");
  Deno.exit(2);
}
const built = buildGo("loadgen");
if (!built.ok) {
  console.error(`soak: cannot build bench/loadgen (needs Go: apt install golang-go): ${built.err}`);
  Deno.exit(1);
}
const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;
const ns = await Netns.create();
ns.controlDir = await Deno.makeTempDir({ prefix: "tunstack-soak-" });
let ok = false;
try {
  await ns.ok([
    "sysctl",
    "-qw",
    "net.ipv4.tcp_tw_reuse=1",
    "net.ipv4.ip_local_port_range=1024 65535",
  ]);
  await ns.startStack(["--no-ipv6", "--sysctl", "net.inet.tcp.msl=2000"], [
    "--v8-flags=--expose-gc",
  ]);
  const stats = async () => await ns.tunstackJson<Stats>(["stats"]);
  const load = async (n: number, serverCloses: boolean) => {
    const args = ["short", "-addr", `192.0.2.2:${serverCloses ? 8 : 7}`, "-conns", String(n)];
    const out = await ns.ok([
      `${BIN}/loadgen`,
      ...args,
      "-c",
      "4",
      ...(serverCloses ? ["-server-closes"] : []),
      "-timeout",
      "30m",
    ], 40 * 60_000);
    return JSON.parse(out) as { conns: number; failed: number; perSec: number };
  };
  // Warm-up, so compiled code and pools are in the baseline.
  await load(2000, false);
  await new Promise((r) => setTimeout(r, 5000));
  const before = await stats();
  console.log(
    `before: heap ${mib(before.memory.heapUsed)}, rss ${mib(before.memory.rss)}, ` +
      `connections ${before.tcp.currentConnections}, TIME_WAIT ${before.timewait.current}`,
  );
  const t0 = performance.now();
  const a = await load(Math.floor(total / 2), false);
  const b = await load(total - Math.floor(total / 2), true);
  const secs = (performance.now() - t0) / 1000;
  const during = await stats();
  console.log(
    `load: ${a.conns + b.conns} connections (${a.failed + b.failed} failed) in ${
      secs.toFixed(0)
    } s; ` +
      `client closes first ${Math.round(a.perSec)}/s, server first ${Math.round(b.perSec)}/s; ` +
      `TIME_WAIT at the end ${during.timewait.current}, rss ${mib(during.memory.rss)}`,
  );
  await new Promise((r) => setTimeout(r, 6000)); // past 2MSL
  const after = await stats();
  console.log(
    `after:  heap ${mib(after.memory.heapUsed)}, rss ${mib(after.memory.rss)}, ` +
      `connections ${after.tcp.currentConnections}, TIME_WAIT ${after.timewait.current}`,
  );
  const grown = after.memory.heapUsed - before.memory.heapUsed;
  ok = a.failed + b.failed === 0 && after.tcp.currentConnections === 0 &&
    after.timewait.current === 0 && grown < 8 << 20;
  console.log(
    `heap change ${(grown / 1024).toFixed(0)} KiB: ${ok ? "back to baseline" : "FAILED"}`,
  );
} finally {
  await ns.close();
  await Deno.remove(ns.controlDir, { recursive: true }).catch(() => {});
}
Deno.exit(ok ? 0 : 1);
