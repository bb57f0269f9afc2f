/**
 * A guided tour of TIME_WAIT, as root:
 *
 * ```sh
 * node_modules/.bin/deno run --allow-run --allow-read --allow-write --allow-env examples/timewait_demo.ts
 * ```
 *
 * It makes its own network namespace, starts tunstack in it (MSL 2.5 s, so
 * TIME_WAIT lasts 5 s), watches the device with tcpdump and fetches a page
 * with curl twice: once with the stack closing first, once with curl
 * closing first. For each it prints the close segment by segment with
 * seq/ack, says which side entered TIME_WAIT, shows the entry as
 * `tunstack tw` (or the kernel's `ss`) shows it, and waits for it to
 * expire. A third time the stack's last ACK is lost (iptables drops it on
 * the kernel's side): the kernel sends its FIN again, the stack answers
 * from TIME_WAIT and starts 2MSL over. Everything it started is ended,
 * and the namespace deleted.
 *
 * @module
 */

import { Netns, type Proc } from "../tests/integration/_netns.ts";

const MSL_MS = 2500;

interface Segment {
  t: number;
  from: string;
  to: string;
  flags: string;
  seq?: number;
  ack?: number;
  len: number;
}

// `tcpdump -n -S -tt -l` lines, e.g.
// 1764000000.123456 IP 192.0.2.1.40000 > 192.0.2.2.80: Flags [F.], seq 1, ack 2, win 502, length 0
function parse(line: string): Segment | undefined {
  const m =
    /^(\d+\.\d+) IP6? (\S+) > (\S+): Flags \[([^\]]+)\](?:, seq (\d+)(?::\d+)?)?(?:, ack (\d+))?.*length (\d+)/
      .exec(line);
  if (!m) return undefined;
  return {
    t: Number(m[1]),
    from: m[2],
    to: m[3].replace(/:$/, ""),
    flags: m[4],
    seq: m[5] === undefined ? undefined : Number(m[5]),
    ack: m[6] === undefined ? undefined : Number(m[6]),
    len: Number(m[7]),
  };
}

const side = (addr: string) => (addr.startsWith("192.0.2.2.") ? "stack " : "kernel");

/** Prints the close of one connection with notes; returns who entered TIME_WAIT. */
function timeline(segs: Segment[]): string {
  const firstFin = segs.findIndex((s) => s.flags.includes("F"));
  if (firstFin < 0) {
    console.log("  (no FIN captured)");
    return "nobody";
  }
  const t0 = segs[0].t;
  const closer = side(segs[firstFin].from).trim();
  let finsSeen = 0;
  let timeWait = "nobody";
  for (const s of segs.slice(Math.max(0, firstFin - 1))) {
    const dir = `${side(s.from)} -> ${side(s.to)}`;
    const ms = ((s.t - t0) * 1000).toFixed(2).padStart(7);
    const flags = `[${s.flags}]`.padEnd(5);
    let note = "";
    if (s.flags.includes("F")) {
      finsSeen++;
      note = finsSeen === 1
        ? `${side(s.from).trim()} closes first (active close): FIN-WAIT-1`
        : `${
          side(s.from).trim()
        } closes too: LAST-ACK; the first closer goes FIN-WAIT-2 -> TIME-WAIT`;
    } else if (finsSeen === 2 && s.flags === ".") {
      note = `ACK of the last FIN: ${side(s.to).trim()} is CLOSED, ${
        side(s.from).trim()
      } holds TIME_WAIT`;
      timeWait = side(s.from).trim();
    } else if (finsSeen === 1 && s.flags === ".") note = "ACK of the first FIN";
    else if (s.len > 0) note = `last data (${s.len} bytes)`;
    else if (finsSeen === 0) note = "ACK of the data";
    const nums = `${s.seq === undefined ? "" : `seq ${s.seq} `}ack ${s.ack ?? "-"}`.padEnd(26);
    console.log(`  ${ms} ms  ${dir}  ${flags} ${nums} ${note}`);
  }
  console.log(`  => ${closer} closed first, so ${timeWait} entered TIME_WAIT`);
  return timeWait;
}

async function captured(dump: Proc, port: number): Promise<Segment[]> {
  await new Promise((r) => setTimeout(r, 300));
  return dump.stdout.split("\n").map(parse).filter((s): s is Segment =>
    s !== undefined && (s.from.endsWith(`.${port}`) || s.to.endsWith(`.${port}`))
  );
}

async function curl(ns: Netns): Promise<number> {
  const port = await ns.ok([
    "curl",
    "-sS",
    "-m",
    "5",
    "-o",
    "/dev/null",
    "-H",
    "Connection: close",
    "-w",
    "%{local_port}",
    "http://192.0.2.2/bytes/1000",
  ]);
  return Number(port);
}

async function stackCloses(ns: Netns): Promise<void> {
  console.log("\n== 1. the stack closes first (tunstack up: --http-close-first server) ==");
  const stack = await ns.startStack(["--sysctl", `net.inet.tcp.msl=${MSL_MS}`]);
  const dump = await tcpdump(ns);
  const port = await curl(ns);
  console.log(`curl http://192.0.2.2/bytes/1000 from port ${port}; the close on the wire:`);
  timeline(await captured(dump, port));
  const tw = await ns.tunstackJson<
    {
      count: number;
      entries: { peerPort: number; remainingMs: number; sndNxt: number; rcvNxt: number }[];
    }
  >(["tw"]);
  const e = tw.entries.find((x) => x.peerPort === port);
  console.log(`tunstack tw: ${tw.count} entry; ours: ${JSON.stringify(e)}`);
  const t0 = Date.now();
  for (;;) {
    const now = await ns.tunstackJson<{ entries: { peerPort: number }[] }>(["tw"]);
    if (!now.entries.some((x) => x.peerPort === port)) break;
    if (Date.now() - t0 > 4 * MSL_MS) throw new Error("the entry did not expire");
    await new Promise((r) => setTimeout(r, 100));
  }
  console.log(
    `expired after ${((Date.now() - t0) / 1000).toFixed(1)} s more (2MSL = ${
      (2 * MSL_MS) / 1000
    } s from the close)`,
  );
  await dump.stop("SIGTERM", 2000);
  await stack.stop("SIGTERM", 5000);
}

async function kernelCloses(ns: Netns): Promise<void> {
  console.log("\n== 2. curl closes first (tunstack up --http-close-first client) ==");
  const stack = await ns.startStack(["--http-close-first", "client"]);
  const dump = await tcpdump(ns);
  const port = await curl(ns);
  console.log(`curl http://192.0.2.2/bytes/1000 from port ${port}; the close on the wire:`);
  timeline(await captured(dump, port));
  const tw = await ns.tunstackJson<{ count: number }>(["tw"]);
  const ss = await ns.ok(["ss", "-tan", "state", "time-wait", `( sport = :${port} )`]);
  console.log(`tunstack tw: ${tw.count} entries; the kernel holds it instead (ss):`);
  console.log(ss.trimEnd().split("\n").map((l) => `  ${l}`).join("\n"));
  console.log("(Linux keeps TIME_WAIT for a fixed 60 s; it is not waited for here.)");
  await dump.stop("SIGTERM", 2000);
  await stack.stop("SIGTERM", 5000);
}

interface TwEntry {
  peerPort: number;
  remainingMs: number;
  rearms: number;
}

async function lastAckLost(ns: Netns): Promise<void> {
  console.log("\n== 3. the stack closes first and its last ACK is lost ==");
  // The first pure ACK from the stack's port 80 is the ACK of the kernel's
  // FIN (the response rides with the stack's own FIN): drop that one only.
  const rule = [
    "INPUT",
    "-s",
    "192.0.2.2",
    "-p",
    "tcp",
    "--sport",
    "80",
    "--tcp-flags",
    "ALL",
    "ACK",
    "-m",
    "length",
    "--length",
    "40:64",
    "-m",
    "statistic",
    "--mode",
    "nth",
    "--every",
    "1000000",
    "--packet",
    "0",
    "-j",
    "DROP",
  ];
  await ns.ok(["iptables", "-I", ...rule]);
  const stack = await ns.startStack(["--sysctl", `net.inet.tcp.msl=${MSL_MS}`]);
  const dump = await tcpdump(ns);
  const port = await curl(ns);
  const entry = async () =>
    (await ns.tunstackJson<{ entries: TwEntry[] }>(["tw"])).entries.find((x) =>
      x.peerPort === port
    );
  const first = await entry();
  console.log(
    `tunstack tw right after the close: ${first?.remainingMs} ms left, re-armed ${first?.rearms} times`,
  );
  const t0 = Date.now();
  let again = first;
  while ((again?.rearms ?? 0) === 0 && Date.now() - t0 < 3000) {
    await new Promise((r) => setTimeout(r, 50));
    again = await entry();
  }
  const segs = (await captured(dump, port)).filter((x) => x.flags.includes("F") || x.len === 0);
  const fin = segs.findIndex((x) => x.flags.includes("F"));
  const t = segs[Math.max(0, fin)]?.t ?? 0;
  let kernelFins = 0;
  for (const x of segs.slice(Math.max(0, fin))) {
    const ms = ((x.t - t) * 1000).toFixed(2).padStart(7);
    let note = "";
    if (x.flags.includes("F") && side(x.from).trim() === "kernel") {
      note = ++kernelFins === 1
        ? "the kernel's FIN: LAST-ACK"
        : "its FIN again: no ACK came (RTO); TIME_WAIT answers and starts 2MSL over";
    } else if (x.flags.includes("F")) note = "the stack closes first";
    else if (side(x.from).trim() === "stack" && kernelFins === 1) {
      note = "ACK of the FIN (iptables drops it before the kernel's TCP sees it)";
    } else if (side(x.from).trim() === "stack") {
      note = "ACK again, from TIME_WAIT: the kernel is CLOSED";
    } else note = "ACK of the stack's FIN";
    console.log(`  ${ms} ms  ${side(x.from)} -> ${side(x.to)}  [${x.flags}]`.padEnd(40) + note);
  }
  console.log(
    `tunstack tw after the second FIN: ${again?.remainingMs} ms left, re-armed ${again?.rearms} time(s)`,
  );
  await dump.stop("SIGTERM", 2000);
  await stack.stop("SIGTERM", 5000);
  await ns.ok(["iptables", "-D", ...rule]);
}

async function tcpdump(ns: Netns): Promise<Proc> {
  const p = ns.spawn(["tcpdump", "-i", "tunstack0", "-n", "-S", "-tt", "-l", "tcp port 80"]);
  await p.waitFor(/listening on/);
  return p;
}

const ns = await Netns.create().catch((e) => {
  console.error(`timewait_demo: cannot make a network namespace (run as root): ${e.message}`);
  Deno.exit(1);
});
ns.controlDir = await Deno.makeTempDir({ prefix: "tunstack-demo-" });
console.log(`namespace ${ns.name}: tunstack on tunstack0, kernel 192.0.2.1, stack 192.0.2.2`);
try {
  await stackCloses(ns);
  await kernelCloses(ns);
  await lastAckLost(ns);
} finally {
  await ns.close();
  await Deno.remove(ns.controlDir, { recursive: true }).catch(() => {});
  console.log(`\nnamespace ${ns.name} deleted`);
}
