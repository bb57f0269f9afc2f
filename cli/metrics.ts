/**
 * `/metrics`: the stack's counters in the OpenMetrics text format
 * (https://prometheus.io/docs/specs/om/open_metrics_spec/), for Prometheus
 * to scrape. Names are `tunstack_` plus the counter's path in snake_case;
 * counters end in `_total`; table sizes and memory are gauges.
 *
 * @module
 */

import type { CounterTree } from "../mod.ts";

/** The content type Prometheus asks for and this text is. */
export const OPENMETRICS_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8";

// Paths (dot-joined) that are levels, not running totals.
const GAUGES = new Set([
  "tcp.currentConnections",
  "timewait.current",
  "timewait.limit",
  "memory.heapUsed",
  "memory.heapTotal",
  "memory.rss",
]);

const snake = (s: string) => s.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toLowerCase();

/**
 * Formats a counter tree (and gauges) as OpenMetrics text, ending in `# EOF`.
 *
 * @example
 * ```ts
 * import { formatOpenMetrics } from "./metrics.ts";
 * const text = formatOpenMetrics({ tcp: { activeOpens: 2, currentConnections: 1 } });
 * text.split("\n")[1]; // "tunstack_tcp_active_opens_total 2"
 * text.split("\n")[2]; // "# TYPE tunstack_tcp_current_connections gauge"
 * ```
 */
export function formatOpenMetrics(tree: CounterTree): string {
  const out: string[] = [];
  const walk = (t: CounterTree, path: string[]) => {
    for (const [k, v] of Object.entries(t)) {
      const p = [...path, k];
      if (typeof v === "object" && v !== null) {
        walk(v as CounterTree, p);
        continue;
      }
      if (typeof v !== "number" || !Number.isFinite(v)) continue;
      const name = ["tunstack", ...p.map(snake)].join("_").replace(/[^a-zA-Z0-9_]/g, "_");
      if (GAUGES.has(p.join("."))) {
        // _total is the counters' suffix: heapTotal is the heap's size.
        const g = name.replace(/_total$/, "_size");
        out.push(`# TYPE ${g} gauge`, `${g} ${v}`);
      } else out.push(`# TYPE ${name} counter`, `${name}_total ${v}`);
    }
  };
  walk(tree, []);
  out.push("# EOF");
  return out.join("\n") + "\n";
}
