/**
 * `tunstack ss`, `tw`, `stats`, `sysctl`: talk to a running
 * stack over its control socket.
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  type ConnectionInfo,
  type CounterTree,
  flattenCounters,
  formatCounters,
  formatIp,
  parseAssignment,
  parseIp,
  sysctlDescriptions,
  type TimeWaitEntry,
} from "../mod.ts";
import { CONTROL_DIR, controlPath, controlRequest } from "./control.ts";

/** Help for the inspection commands. */
export const INSPECT_HELP = `Usage:
  tunstack ss [-i] [FILTER] [-H] [--json]    connections, like ss -tan (-i: like ss -ti)
  tunstack tw [FILTER] [-H] [--json]         TIME_WAIT entries, nearest expiry first
  tunstack stats [PATTERN ...] [--interval S [--count N]] [--all] [--json]
                                             counters like nstat (zeros hidden unless
                                             --all); PATTERN: names with * and ?;
                                             --interval: rates per second every S s
  tunstack sysctl [-a] [-n] [-d] [name[=value] ...]
                                             read or set run-time settings like
                                             sysctl(8): a change prints old -> new

Filters (ss, tw):
  -4, -6              IPv4 or IPv6 only
  --port N            local or peer port N
  --host ADDR         local or peer address ADDR
  --limit N           at most N rows

Flags:
  --dev NAME          device of the running stack (default tunstack0)
  --control-dir DIR   where control sockets live (default ${CONTROL_DIR})
  -H                  no header line
  --json              machine-readable output (camelCase keys)
  -d                  describe settings
  -n                  values only (sysctl)

Examples:
  tunstack ss -i --port 80
  tunstack tw -6 --limit 10
  tunstack stats 'tcp.retrans*' --interval 1 --count 5
  tunstack sysctl net.inet.tcp.msl=5000`;

function parse(args: string[]) {
  return parseArgs({
    args,
    strict: true,
    allowPositionals: true,
    options: {
      dev: { type: "string", default: "tunstack0" },
      "control-dir": { type: "string", default: CONTROL_DIR },
      json: { type: "boolean", default: false },
      all: { type: "boolean", default: false },
      d: { type: "boolean", default: false },
      i: { type: "boolean", default: false },
      H: { type: "boolean", default: false },
      "4": { type: "boolean", default: false },
      "6": { type: "boolean", default: false },
      port: { type: "string" },
      host: { type: "string" },
      limit: { type: "string" },
      interval: { type: "string" },
      count: { type: "string" },
      a: { type: "boolean", default: false },
      n: { type: "boolean", default: false },
    },
  });
}

/** A row's endpoints, for the filters. */
interface Endpoints {
  localAddress: string;
  localPort: number;
  peerAddress: string;
  peerPort: number;
}

/** Filters of `ss` and `tw`; throws a usage error on a bad value. */
function filter(o: ReturnType<typeof parse>["values"]): <T extends Endpoints>(rows: T[]) => T[] {
  if (o["4"] && o["6"]) throw new UsageError("-4 and -6 exclude each other");
  let port: number | undefined;
  if (o.port !== undefined) {
    if (!/^\d{1,5}$/.test(o.port) || Number(o.port) > 65535) {
      throw new UsageError(`Invalid --port: "${o.port}" (0 to 65535)`);
    }
    port = Number(o.port);
  }
  let host: string | undefined;
  if (o.host !== undefined) {
    const ip = parseIp(o.host);
    if (!ip) throw new UsageError(`Invalid --host: "${o.host}" is not an IP address`);
    host = formatIp(ip);
  }
  let limit = Infinity;
  if (o.limit !== undefined) {
    if (!/^\d{1,9}$/.test(o.limit)) throw new UsageError(`Invalid --limit: "${o.limit}"`);
    limit = Number(o.limit);
  }
  return (rows) =>
    rows.filter((r) =>
      (!o["4"] || !r.localAddress.includes(":")) &&
      (!o["6"] || r.localAddress.includes(":")) &&
      (port === undefined || r.localPort === port || r.peerPort === port) &&
      (host === undefined || r.localAddress === host || r.peerAddress === host)
    ).slice(0, limit);
}

type Values = ReturnType<typeof parse>["values"];

function intervalFlag(o: Values): number {
  for (const [flag, v] of [["interval", o.interval], ["count", o.count]]) {
    if (v !== undefined && (!/^\d{1,6}$/.test(v) || Number(v) < 1)) {
      throw new UsageError(`Invalid --${flag}: "${v}" (a whole number, at least 1)`);
    }
  }
  return o.interval === undefined ? 0 : Number(o.interval);
}

/** nstat-like name patterns: `*` any run, `?` one character; none matches all. */
function namePatterns(patterns: string[]): (name: string) => boolean {
  if (patterns.length === 0) return () => true;
  const res = patterns.map((p) =>
    new RegExp(
      `^${p.replace(/[.+^${}()|[\]\\]/g, "\\$&").replaceAll("*", ".*").replaceAll("?", ".")}$`,
    )
  );
  return (name) => res.some((re) => re.test(name));
}

/**
 * `tunstack stats`: the counters once (the whole tree with --json and no
 * pattern), or with `interval` every so many seconds as rates per second
 * (zeros hidden unless --all), `--count` times.
 */
async function stats(
  path: string,
  o: Values,
  match: (name: string) => boolean,
  interval: number,
  filtered: boolean,
): Promise<void> {
  const read = async () =>
    flattenCounters(await controlRequest(path, { cmd: "stats" }) as CounterTree).filter(([k]) =>
      match(k)
    );
  if (interval === 0) {
    if (o.json && !filtered) {
      console.log(JSON.stringify(await controlRequest(path, { cmd: "stats" }), null, 2));
      return;
    }
    const rows = await read();
    if (o.json) console.log(JSON.stringify(Object.fromEntries(rows), null, 2));
    else console.log(formatRows(rows, o.all));
    return;
  }
  let last = new Map(await read());
  const count = o.count === undefined ? Infinity : Number(o.count);
  for (let i = 0; i < count; i++) {
    await new Promise((r) => setTimeout(r, interval * 1000));
    const now = await read();
    const rates = now.map(([k, x]): [string, number] => [
      k,
      +((x - (last.get(k) ?? 0)) / interval).toFixed(1),
    ]);
    last = new Map(now);
    if (o.json) console.log(JSON.stringify(Object.fromEntries(rates)));
    else console.log(`${formatRows(rates, o.all)}\n`);
  }
}

// Flat rows are a one-level tree: formatCounters prints them as they are.
function formatRows(rows: [string, number][], all: boolean): string {
  return formatCounters(Object.fromEntries(rows), all);
}

/** A bad command line: exit status 2. */
class UsageError extends Error {}

function table(head: string[], rows: string[][], header: boolean): string {
  const all = header ? [head, ...rows] : rows;
  if (all.length === 0) return "";
  const w = head.map((_, i) => Math.max(...all.map((r) => r[i].length)));
  return all.map((r) => r.map((c, i) => c.padEnd(w[i])).join("  ").trimEnd()).join("\n");
}

/**
 * Formats connections as `ss -tan` does, with `details` as `ss -ti`.
 *
 * @example
 * ```ts
 * import { formatConnections } from "./inspect.ts";
 * formatConnections([], false); // "State  Recv-Q  Send-Q  Local Address:Port  Peer Address:Port"
 * ```
 */
export function formatConnections(rows: ConnectionInfo[], details: boolean, header = true): string {
  const head = ["State", "Recv-Q", "Send-Q", "Local Address:Port", "Peer Address:Port"];
  const lines = table(
    head,
    rows.map((r) => [
      r.state,
      String(r.receiveQueue),
      String(r.sendQueue),
      hostPort(r.localAddress, r.localPort),
      hostPort(r.peerAddress, r.peerPort),
    ]),
    header,
  ).split("\n");
  if (!details) return lines.join("\n");
  const first = header ? 1 : 0;
  const out = lines.slice(0, first);
  rows.forEach((r, i) => {
    out.push(lines[first + i]);
    const ms = (x: number) => +x.toFixed(3);
    const opts = [
      r.timestamps ? "ts" : "",
      r.sack ? "sack" : "",
      r.ecn ? "ecn" : "",
      r.rcvWscale === null ? "" : `wscale:${r.sndWscale},${r.rcvWscale}`,
    ]
      .filter(Boolean).join(" ");
    out.push(
      `\t ${opts} rto:${ms(r.rtoMs)} rtt:${ms(r.srttMs)}/${
        ms(r.rttvarMs)
      } mss:${r.mss} cwnd:${r.cwnd}` +
        (r.ssthresh === null ? "" : ` ssthresh:${r.ssthresh}`) +
        (r.bbr === null
          ? ""
          : ` bbr:(mode:${r.bbr.mode},bw:${+(r.bbr.bandwidthBytesPerSec * 8 / 1e6).toFixed(
            1,
          )}Mbps,mrtt:${r.bbr.minRttMs === null ? "-" : ms(r.bbr.minRttMs)})`) +
        (r.pacingRateBytesPerSec === null
          ? ""
          : ` pacing_rate:${+(r.pacingRateBytesPerSec * 8 / 1e6).toFixed(1)}Mbps`) +
        ` snd_wnd:${r.sndWnd} rcvbuf:${r.rcvBuf} sndbuf:${r.sndBuf}` +
        ` bytes_acked:${r.bytesAcked} bytes_received:${r.bytesReceived}` +
        ` retrans:${r.retransmits}` +
        (r.lastSendMsAgo === null ? "" : ` lastsnd:${Math.round(r.lastSendMsAgo)}`) +
        (r.lastRecvMsAgo === null ? "" : ` lastrcv:${Math.round(r.lastRecvMsAgo)}`) +
        (r.inRecovery ? " recovery" : ""),
    );
  });
  return out.join("\n");
}

/**
 * Formats TIME_WAIT entries as a table like `ss -tan state time-wait -o`.
 *
 * @example
 * ```ts
 * import { formatTimeWait } from "./inspect.ts";
 * formatTimeWait([]); // "State  Local Address:Port  Peer Address:Port  Timer": the header only
 * ```
 */
export function formatTimeWait(entries: TimeWaitEntry[], header = true): string {
  const rows = entries.map((e) => [
    "TIME-WAIT",
    hostPort(e.localAddress, e.localPort),
    hostPort(e.peerAddress, e.peerPort),
    `timer:(timewait,${(e.remainingMs / 1000).toFixed(1)}sec,${e.rearms})`,
  ]);
  return table(["State", "Local Address:Port", "Peer Address:Port", "Timer"], rows, header);
}

function hostPort(a: string, p: number): string {
  return a.includes(":") ? `[${a}]:${p}` : `${a}:${p}`;
}

/**
 * Runs one inspection command; resolves to the exit code.
 *
 * @example
 * ```ts
 * import { runInspect } from "./inspect.ts";
 * await runInspect("tw", ["--limit", "many"]); // 2: a usage error, told on stderr
 * ```
 */
export async function runInspect(
  cmd: "tw" | "ss" | "stats" | "sysctl",
  args: string[],
): Promise<number> {
  let v, pick, interval = 0;
  try {
    v = parse(args);
    pick = filter(v.values);
    interval = intervalFlag(v.values);
    if (cmd !== "sysctl" && cmd !== "stats" && v.positionals.length > 0) {
      throw new UsageError(`Unexpected argument: ${v.positionals[0]}`);
    }
  } catch (e) {
    console.error(`tunstack: ${(e as Error).message} (try tunstack ${cmd} --help)`);
    return 2;
  }
  const o = v.values;
  const path = controlPath(o.dev, o["control-dir"]);
  try {
    if (cmd === "tw") {
      const r = await controlRequest(path, { cmd: "tw" }) as {
        count: number;
        entries: TimeWaitEntry[];
      };
      const entries = pick([...r.entries].sort((a, b) => a.remainingMs - b.remainingMs));
      console.log(
        o.json ? JSON.stringify({ ...r, entries }, null, 2) : formatTimeWait(entries, !o.H),
      );
    } else if (cmd === "ss") {
      const r = await controlRequest(path, { cmd: "ss" }) as { connections: ConnectionInfo[] };
      const rows = pick(r.connections);
      console.log(
        o.json
          ? JSON.stringify({ connections: rows }, null, 2)
          : formatConnections(rows, o.i, !o.H),
      );
    } else if (cmd === "stats") {
      await stats(path, o, namePatterns(v.positionals), interval, v.positionals.length > 0);
    } else {
      if (o.d) {
        for (const [k, d] of Object.entries(sysctlDescriptions())) console.log(`${k}: ${d}`);
        return 0;
      }
      const names = o.a ? [] : v.positionals;
      const results: Record<string, number> = {};
      const changes: string[] = [];
      if (names.length === 0) {
        Object.assign(results, await controlRequest(path, { cmd: "sysctl" }));
      }
      for (const n of names) {
        if (n.includes("=")) {
          const [name, value] = parseAssignment(n);
          const r = await controlRequest(path, { cmd: "sysctl", name, value }) as {
            values: Record<string, number>;
            previous: Record<string, number>;
          };
          Object.assign(results, r.values);
          changes.push(`${name}: ${r.previous[name]} -> ${r.values[name]}`);
        } else Object.assign(results, await controlRequest(path, { cmd: "sysctl", name: n }));
      }
      if (o.json) console.log(JSON.stringify(results, null, 2));
      else if (o.n) { for (const val of Object.values(results)) console.log(val); }
      else if (changes.length === names.length && changes.length > 0) {
        for (const c of changes) console.log(c); // like sysctl(8): old -> new
      } else for (const [k, val] of Object.entries(results)) console.log(`${k}: ${val}`);
    }
    return 0;
  } catch (e) {
    console.error(`tunstack: ${(e as Error).message}`);
    return 1;
  }
}
