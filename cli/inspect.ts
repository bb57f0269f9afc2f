/**
 * `tunstack tw`, `tunstack stats`, `tunstack sysctl`: talk to a running
 * stack over its control socket.
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  type CounterTree,
  formatCounters,
  parseAssignment,
  sysctlDescriptions,
  type TimeWaitEntry,
} from "../mod.ts";
import { CONTROL_DIR, controlPath, controlRequest } from "./control.ts";

/** Help for the inspection commands. */
export const INSPECT_HELP = `Usage:
  tunstack tw [--dev NAME] [--json]          list TIME_WAIT entries (like ss -tan state time-wait)
  tunstack stats [--dev NAME] [--json] [--all]
                                             print counters (zeros hidden unless --all)
  tunstack sysctl [--dev NAME] [-d] [name[=value] ...]
                                             read or set run-time settings

Flags:
  --dev NAME          device of the running stack (default tunstack0)
  --control-dir DIR   where control sockets live (default ${CONTROL_DIR})
  --json              machine-readable output
  -d                  describe settings`;

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
    },
  });
}

/**
 * Formats TIME_WAIT entries as a table like `ss -tan state time-wait -o`.
 *
 * @example
 * ```ts ignore
 * console.log(formatTimeWait(entries));
 * ```
 */
export function formatTimeWait(entries: TimeWaitEntry[]): string {
  const rows = entries.map((e) => [
    "TIME-WAIT",
    hostPort(e.localAddress, e.localPort),
    hostPort(e.peerAddress, e.peerPort),
    `timer:(timewait,${(e.remainingMs / 1000).toFixed(1)}sec,${e.rearms})`,
  ]);
  const head = ["State", "Local Address:Port", "Peer Address:Port", "Timer"];
  const all = [head, ...rows];
  const w = head.map((_, i) => Math.max(...all.map((r) => r[i].length)));
  return all.map((r) => r.map((c, i) => c.padEnd(w[i])).join("  ").trimEnd()).join("\n");
}

function hostPort(a: string, p: number): string {
  return a.includes(":") ? `[${a}]:${p}` : `${a}:${p}`;
}

/**
 * Runs one inspection command; resolves to the exit code.
 *
 * @example
 * ```ts ignore
 * Deno.exit(await runInspect("tw", ["--json"]));
 * ```
 */
export async function runInspect(cmd: "tw" | "stats" | "sysctl", args: string[]): Promise<number> {
  let v;
  try {
    v = parse(args);
  } catch (e) {
    console.error(`tunstack: ${(e as Error).message}`);
    return 2;
  }
  const o = v.values;
  const path = controlPath(o.dev, o["control-dir"]);
  try {
    if (cmd === "tw") {
      const r = await controlRequest(path, { cmd: "tw" }) as { entries: TimeWaitEntry[] };
      console.log(o.json ? JSON.stringify(r, null, 2) : formatTimeWait(r.entries));
    } else if (cmd === "stats") {
      const r = await controlRequest(path, { cmd: "stats" }) as CounterTree;
      console.log(o.json ? JSON.stringify(r, null, 2) : formatCounters(r, o.all));
    } else {
      if (o.d) {
        for (const [k, d] of Object.entries(sysctlDescriptions())) console.log(`${k}: ${d}`);
        return 0;
      }
      const names = v.positionals;
      const results: Record<string, number> = {};
      if (names.length === 0) {
        Object.assign(results, await controlRequest(path, { cmd: "sysctl" }));
      }
      for (const n of names) {
        const req = n.includes("=")
          ? (([name, value]) => ({ cmd: "sysctl" as const, name, value }))(parseAssignment(n))
          : { cmd: "sysctl" as const, name: n };
        Object.assign(results, await controlRequest(path, req));
      }
      if (o.json) console.log(JSON.stringify(results, null, 2));
      else for (const [k, val] of Object.entries(results)) console.log(`${k}: ${val}`);
    }
    return 0;
  } catch (e) {
    console.error(`tunstack: ${(e as Error).message}`);
    return 1;
  }
}
