// TIME_WAIT at scale: 1,000,000 records in the slab. Reports bytes per
// entry (memory growth / entries), insert, lookup and expiry rates, and the
// longest expiry tick. Pure: no device, no root.

import { IpLayer } from "../stack/ip.ts";
import { newTcpStats } from "../stack/tcp/stats.ts";
import type { Tcb } from "../stack/tcp/tcb.ts";
import { TimeWaitTable } from "../stack/tcp/timewait/timewait.ts";
import { parseIp } from "../stack/wire/ip_address.ts";

export interface ScaleResult {
  family: 4 | 6;
  entries: number;
  /** Growth of heap + external memory in this process, per entry. */
  bytesPerEntry: number;
  /** The table's own typed arrays (slab + index), per entry. */
  slabBytesPerEntry: number;
  insertPerSec: number;
  lookupPerSec: number;
  expirePerSec: number;
  longestTickMs: number;
}

function memory(): number {
  const m = Deno.memoryUsage();
  return m.heapUsed + m.external;
}

function gc(): void {
  // deno-lint-ignore no-explicit-any
  const g = (globalThis as any).gc;
  if (typeof g === "function") g();
}

// Freed array buffers are returned after a GC by a background task: collect,
// wait a moment, collect again, so growth counts live memory only.
async function settleGc(): Promise<void> {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Fills a table with `n` records of one family and measures it. */
export async function runScale(family: 4 | 6, n = 1_000_000): Promise<ScaleResult> {
  let now = 0;
  const ip = new IpLayer({ ipv4: parseIp("192.0.2.2"), ipv6: parseIp("2001:db8::2") });
  const tw = new TimeWaitTable(
    { ip, tcpStats: newTcpStats(), now: () => now },
    { maxtcptw: n, nolocaltimewait: false, mslMs: 30_000, paws: false, rfc6191: false },
    n,
  );
  // One block, rewritten per insert: the table copies what it needs.
  const remote = new Uint8Array(family === 4 ? 4 : 16);
  if (family === 4) remote.set([10, 0, 0, 0]);
  else remote.set(parseIp("2001:db8:1::")!);
  // The fields tcp_twstart copies, in the connection block's two halves.
  const block = {
    remote,
    localPort: 80,
    remotePort: 0,
    snd: { max: 1, iss: 3 },
    rcv: { nxt: 2, irs: 4, scale: 0, tsRecent: 5, ackNow: false, buf: { window: 65535 } },
    tsOk: true,
    tsOffset: 6,
    createdAt: 0,
    ipFields: { ttl: 0, tos: 0 },
  };
  const c = block as unknown as Tcb;
  const set = (i: number) => {
    // Distinct 4-tuples: peer address from i / 60000, port from i % 60000.
    const hi = Math.floor(i / 60000);
    remote[remote.length - 2] = hi >> 8;
    remote[remote.length - 1] = hi & 0xff;
    block.remotePort = 1024 + (i % 60000);
  };
  await settleGc();
  const before = memory();
  let t = performance.now();
  for (let i = 0; i < n; i++) {
    set(i);
    tw.start(c);
  }
  const insertMs = performance.now() - t;
  await settleGc();
  const bytes = memory() - before;
  const slab = tw.memoryBytes;
  if (tw.size !== n) throw new Error(`table holds ${tw.size}, expected ${n}`);
  // Lookups of existing entries in a scattered order.
  const probes = 1_000_000;
  let found = 0;
  t = performance.now();
  for (let k = 0; k < probes; k++) {
    const i = (k * 7919) % n;
    set(i);
    if (tw.lookup(remote, 0, remote.length, block.remotePort, 80) >= 0) found++;
  }
  const lookupMs = performance.now() - t;
  if (found !== probes) throw new Error(`lookup found ${found} of ${probes}`);
  // Expiry: all due at once; ticks of bounded work, timed one by one.
  now = 60_001;
  let longest = 0;
  t = performance.now();
  while (tw.size > 0) {
    const s = performance.now();
    tw.scan(now);
    longest = Math.max(longest, performance.now() - s);
  }
  const expireMs = performance.now() - t;
  return {
    family,
    entries: n,
    bytesPerEntry: Math.round(bytes / n),
    slabBytesPerEntry: Math.round((slab / n) * 10) / 10,
    insertPerSec: Math.round(n / (insertMs / 1000)),
    lookupPerSec: Math.round(probes / (lookupMs / 1000)),
    expirePerSec: Math.round(n / (expireMs / 1000)),
    longestTickMs: Math.round(longest * 1000) / 1000,
  };
}

if (import.meta.main) {
  // One family per process, so one table's garbage never skews the other.
  const f = Deno.args[0] === "6" ? 6 : 4;
  console.log(JSON.stringify(await runScale(f)));
}
