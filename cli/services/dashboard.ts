/**
 * `/dashboard`: one self-contained page (HTML, CSS and a small script, no
 * CDN, nothing to fetch but `/stats` and `/timewait`) that shows TIME_WAIT
 * live: the count over time as an SVG line against the cap (maxtcptw),
 * with time labels, every `tcp_twcheck` outcome and every way a close did
 * or did not make a record as counters, and the entries nearest expiry
 * (IPv6 addresses in brackets). A pause button freezes the view; the time
 * of the last update shows it is live.
 *
 * @module
 */

/**
 * The page. It polls every `?ms=` milliseconds (default 500) and keeps the
 * last 240 samples. For tests, the chart's `data-series` attribute holds the
 * counts it drew, `data-limit` the cap it drew the line at, and `#tw-count`
 * the latest.
 *
 * @example
 * ```ts
 * import { DASHBOARD_HTML } from "./dashboard.ts";
 * DASHBOARD_HTML.includes("<svg"); // true
 * ```
 */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>tunstack: TIME_WAIT</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; background: #fafafa; }
  h1 { font-size: 1.3em; margin: 0 0 .2em; }
  .sub { color: #666; margin-bottom: 1em; }
  .row { display: flex; gap: 1.5em; flex-wrap: wrap; align-items: flex-start; }
  .card { background: #fff; border: 1px solid #ddd; border-radius: 6px; padding: .8em 1em; }
  .big { font-size: 2.4em; font-weight: 600; }
  svg { background: #fff; }
  .line { fill: none; stroke: #1f6feb; stroke-width: 2; }
  .area { fill: #1f6feb22; stroke: none; }
  .axis { stroke: #999; stroke-width: 1; }
  .cap { stroke: #b00; stroke-width: 1; stroke-dasharray: 4 3; }
  text { fill: #666; font-size: 11px; }
  table { border-collapse: collapse; }
  td, th { padding: .15em .6em; text-align: right; border-bottom: 1px solid #eee; }
  th { color: #666; font-weight: 500; }
  dl { display: grid; grid-template-columns: auto auto; gap: .1em 1em; margin: 0; }
  dt { color: #555; } dd { margin: 0; text-align: right; font-variant-numeric: tabular-nums; }
  #error { color: #b00; }
  button { font: inherit; }
</style>
</head>
<body>
<h1>TIME_WAIT on tunstack</h1>
<div class="sub">Live from <code>/stats</code> and <code>/timewait</code>.
  An entry appears when the stack closes first and ends 2&times;MSL later.</div>
<div><button id="pause" type="button">pause</button>
  updated <span id="updated">&ndash;</span></div>
<div id="error"></div>
<div class="row">
  <div class="card">
    <div>entries now</div>
    <div class="big" id="tw-count">&ndash;</div>
    <div>limit <span id="tw-limit">&ndash;</span>, MSL <span id="tw-msl">&ndash;</span> ms</div>
  </div>
  <div class="card">
    <svg id="chart" width="640" height="230" data-series="[]" data-limit="" aria-label="TIME_WAIT entries over time">
      <line class="axis" x1="40" y1="200" x2="630" y2="200"></line>
      <line class="axis" x1="40" y1="10" x2="40" y2="200"></line>
      <line class="cap" id="cap" x1="40" x2="630" y1="-10" y2="-10"></line>
      <text id="cap-label" x="626" y="-10" text-anchor="end"></text>
      <text id="y-max" x="34" y="16" text-anchor="end">0</text>
      <text x="34" y="203" text-anchor="end">0</text>
      <text id="x-left" x="40" y="215" text-anchor="start"></text>
      <text x="630" y="215" text-anchor="end">now</text>
      <polygon class="area" id="area" points=""></polygon>
      <polyline class="line" id="line" points=""></polyline>
    </svg>
  </div>
</div>
<div class="row" style="margin-top:1em">
  <div class="card">
    <div><b>tcp_twcheck outcomes</b></div>
    <dl>
      <dt>RST dropped (RFC 1337)</dt><dd id="check-rstDropped">0</dd>
      <dt>old timestamp dropped (PAWS)</dt><dd id="check-pawsDropped">0</dd>
      <dt>SYN reopened</dt><dd id="check-synReopened">0</dd>
      <dt>SYN reopened by timestamp (RFC 6191)</dt><dd id="check-synReopenedByTimestamp">0</dd>
      <dt>FIN re-armed 2MSL</dt><dd id="check-finRearmed">0</dd>
      <dt>segment ACKed</dt><dd id="check-acked">0</dd>
      <dt>no ACK flag, dropped</dt><dd id="check-noAckDropped">0</dd>
      <dt>duplicate ACK ignored</dt><dd id="check-dupAckIgnored">0</dd>
      <dt>entries started</dt><dd id="tw-started">0</dd>
      <dt>entries expired</dt><dd id="tw-expired">0</dd>
      <dt>oldest recycled (cap)</dt><dd id="tw-recycled">0</dd>
      <dt>no record: local peer (nolocaltimewait)</dt><dd id="tw-skippedLocal">0</dd>
      <dt>no record: none to recycle</dt><dd id="tw-closedWithoutTimeWait">0</dd>
    </dl>
  </div>
  <div class="card">
    <div><b>nearest expiry</b></div>
    <table>
      <thead><tr><th>local</th><th>peer</th><th>expires in</th><th>re-arms</th></tr></thead>
      <tbody id="nearest"></tbody>
    </table>
  </div>
</div>
<script>
"use strict";
const params = new URLSearchParams(location.search);
const periodMs = Math.max(100, Number(params.get("ms")) || 500);
const keep = 240;
const series = [];
let limit = 0;
let paused = false;
const $ = (id) => document.getElementById(id);
$("pause").addEventListener("click", () => {
  paused = !paused;
  $("pause").textContent = paused ? "resume" : "pause";
});

function draw() {
  const w = 590, h = 190, x0 = 40, y0 = 200;
  const top = Math.max(1, ...series.map((s) => s.count));
  // The cap is drawn once the count comes within reach of it.
  const showCap = limit > 0 && top * 2 >= limit;
  const max = showCap ? Math.max(top, limit) : top;
  const step = w / Math.max(1, keep - 1);
  // The newest sample sits at "now", on the right.
  const pts = series.map((s, i) => [x0 + w - (series.length - 1 - i) * step, y0 - (s.count / max) * h]);
  const line = pts.map(([x, y]) => x.toFixed(1) + "," + y.toFixed(1)).join(" ");
  $("line").setAttribute("points", line);
  $("area").setAttribute(
    "points",
    pts.length
      ? pts[0][0].toFixed(1) + "," + y0 + " " + line + " " + pts[pts.length - 1][0].toFixed(1) + "," + y0
      : "",
  );
  $("y-max").textContent = String(max);
  const capY = showCap ? (y0 - (limit / max) * h).toFixed(1) : "-10";
  $("cap").setAttribute("y1", capY);
  $("cap").setAttribute("y2", capY);
  $("cap-label").setAttribute("y", String(Number(capY) - 3));
  $("cap-label").textContent = showCap ? "maxtcptw " + limit : "";
  $("x-left").textContent = "-" + ((keep * periodMs) / 1000).toFixed(0) + " s";
  const chart = $("chart");
  chart.dataset.series = JSON.stringify(series.map((s) => s.count));
  chart.dataset.limit = showCap ? String(limit) : "";
}

const hostPort = (a, p) => (a.includes(":") ? "[" + a + "]" : a) + ":" + p;

function row(e) {
  const tr = document.createElement("tr");
  for (const v of [
    hostPort(e.localAddress, e.localPort),
    hostPort(e.peerAddress, e.peerPort),
    (e.remainingMs / 1000).toFixed(1) + " s",
    String(e.rearms),
  ]) {
    const td = document.createElement("td");
    td.textContent = v;
    tr.appendChild(td);
  }
  return tr;
}

async function poll() {
  if (paused) {
    setTimeout(poll, periodMs);
    return;
  }
  try {
    const [stats, tw] = await Promise.all([
      fetch("/stats").then((r) => r.json()),
      fetch("/timewait?limit=10").then((r) => r.json()),
    ]);
    $("error").textContent = "";
    series.push({ t: Date.now(), count: tw.count });
    if (series.length > keep) series.shift();
    $("tw-count").textContent = String(tw.count);
    $("tw-limit").textContent = String(tw.limit);
    limit = tw.limit;
    $("tw-msl").textContent = String(tw.mslMs);
    for (const [k, v] of Object.entries(stats.timewait.check)) {
      const el = $("check-" + k);
      if (el) el.textContent = String(v);
    }
    $("tw-started").textContent = String(stats.timewait.started);
    $("tw-expired").textContent = String(stats.timewait.expired);
    for (const k of ["recycled", "skippedLocal", "closedWithoutTimeWait"]) {
      $("tw-" + k).textContent = String(stats.timewait[k]);
    }
    $("updated").textContent = new Date().toLocaleTimeString();
    $("nearest").replaceChildren(...tw.entries.slice(0, 10).map(row));
    draw();
  } catch (e) {
    $("error").textContent = "cannot reach the stack: " + e;
  }
  setTimeout(poll, periodMs);
}
poll();
</script>
</body>
</html>
`;
