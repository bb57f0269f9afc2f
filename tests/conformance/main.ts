/**
 * `deno task conformance [--define NAME]... [--verbose] PATH...`: runs
 * packetdrill scripts (a .pkt file, or every .pkt under a folder) against
 * tunstack and prints `PASS|FAIL|SKIP <path>: <reason>` per script, then
 * `N passed, N failed, N skipped`. Exit status 1 when any script fails.
 * Scripts listed in `expected_differences.txt` (a path and its reason per
 * line) that fail are reported as SKIP with that reason and what the stack
 * did; one that passes is a FAIL, so the list cannot go stale.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { runScript } from "./runner.ts";

const USAGE = "Usage: deno task conformance [--define NAME]... [--verbose] PATH...";

/**
 * `path` if it is a file, else every `.pkt` file under it, sorted.
 *
 * @example
 * ```ts ignore
 * for await (const p of findScripts("tests/conformance/fixtures")) console.log(p);
 * ```
 */
export async function* findScripts(path: string): AsyncGenerator<string> {
  const info = await Deno.stat(path);
  if (info.isFile) {
    yield path;
    return;
  }
  const entries = [];
  for await (const e of Deno.readDir(path)) entries.push(e);
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const p = `${path.replace(/\/$/, "")}/${e.name}`;
    if (e.isDirectory) yield* findScripts(p);
    else if (e.isFile && e.name.endsWith(".pkt")) yield p;
  }
}

/**
 * The expected differences: script (a path suffix) to reason.
 *
 * @example
 * ```ts ignore
 * (await expectedDifferences()).size; // 4
 * ```
 */
export async function expectedDifferences(): Promise<Map<string, string>> {
  const text = await Deno.readTextFile(new URL("./expected_differences.txt", import.meta.url));
  const out = new Map<string, string>();
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const m = line.match(/^(\S+)\s+(.+)$/);
    if (!m) throw new Error(`Invalid expected_differences.txt line: "${line}"`);
    out.set(m[1], m[2]);
  }
  return out;
}

function expectedFor(path: string, list: Map<string, string>): string | undefined {
  for (const [name, reason] of list) if (path.endsWith(name)) return reason;
  return undefined;
}

async function main(): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: Deno.args,
      options: {
        define: { type: "string", multiple: true, short: "D" },
        verbose: { type: "boolean", short: "v" },
        help: { type: "boolean", short: "h" },
      },
      allowPositionals: true,
    });
  } catch (e) {
    console.error(`${(e as Error).message}\n${USAGE}`);
    return 2;
  }
  if (parsed.values.help) {
    console.log(USAGE);
    return 0;
  }
  if (parsed.positionals.length === 0) {
    console.error(`Missing PATH: give a .pkt file or a folder\n${USAGE}`);
    return 2;
  }
  const defines = new Set(["FreeBSD", ...(parsed.values.define ?? [])]);
  const verbose = parsed.values.verbose ?? false;
  const expected = await expectedDifferences();
  let passed = 0, failed = 0, skipped = 0, xfail = 0;
  for (const root of parsed.positionals) {
    try {
      await Deno.stat(root);
    } catch {
      console.error(`No such file or folder: ${root}`);
      return 2;
    }
    for await (const path of findScripts(root)) {
      const text = await Deno.readTextFile(path);
      const log = verbose ? (l: string) => console.log(`  ${l}`) : undefined;
      const o = await runScript(text, { defines, log });
      const why = expectedFor(path, expected);
      if (o.status === "PASS" && why) {
        failed++;
        console.log(`FAIL ${path}: passes, yet is listed in expected_differences.txt`);
      } else if (o.status === "PASS") {
        passed++;
        console.log(`PASS ${path}`);
      } else if (o.status === "SKIP") {
        skipped++;
        console.log(`SKIP ${path}: ${o.reason}`);
      } else if (why) {
        skipped++;
        xfail++;
        console.log(`SKIP ${path}: expected difference: ${why} (the stack: ${o.reason})`);
      } else {
        failed++;
        console.log(`FAIL ${path}: ${o.reason}`);
      }
    }
  }
  if (xfail > 0) console.log(`(${xfail} of the skipped are expected differences)`);
  console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
  return failed > 0 ? 1 : 0;
}

if (import.meta.main) Deno.exit(await main());
