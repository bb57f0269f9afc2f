/**
 * Counters, as a tree of plain numbers (gVisor's `tcpip.Stats` shape):
 * every drop has a named reason. Flattened to `a.b.c value` lines for
 * printing.
 *
 * @module
 */

/** A tree of counters. */
export interface CounterTree {
  [name: string]: number | CounterTree;
}

/**
 * Flattens a counter tree to dotted names, in insertion order.
 *
 * @example
 * ```ts
 * import { flattenCounters } from "./stats.ts";
 * flattenCounters({ ip: { rx: 3, dropped: { badChecksum: 1 } } });
 * // [["ip.rx", 3], ["ip.dropped.badChecksum", 1]]
 * ```
 */
export function flattenCounters(tree: CounterTree, prefix = ""): [string, number][] {
  const out: [string, number][] = [];
  for (const [k, v] of Object.entries(tree)) {
    const name = prefix ? `${prefix}.${k}` : k;
    if (typeof v === "number") out.push([name, v]);
    else out.push(...flattenCounters(v, name));
  }
  return out;
}

/**
 * Formats a counter tree one `name value` per line, skipping zeros unless
 * `all` is set.
 *
 * @example
 * ```ts
 * import { formatCounters } from "./stats.ts";
 * formatCounters({ ip: { rx: 3, tx: 0 } }); // "ip.rx 3"
 * ```
 */
export function formatCounters(tree: CounterTree, all = false): string {
  const rows = flattenCounters(tree).filter(([, v]) => all || v !== 0);
  const w = Math.max(0, ...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(w)} ${v}`).join("\n");
}
