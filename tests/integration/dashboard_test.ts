// /dashboard in a real browser: headless Chromium loads the page from the
// stack, curl makes TIME_WAIT entries, and the chart rises and falls back
// after 2MSL. Screenshots land in test-artifacts/ (or $TUNSTACK_ARTIFACTS).

import assert from "node:assert/strict";
import { integrationIgnored, withNetns } from "./_netns.ts";

const ignore = integrationIgnored();
const ROOT = new URL("../../", import.meta.url).pathname;

Deno.test({
  name: "dashboard: headless Chromium sees the TIME_WAIT count rise with curl and fall after 2MSL",
  ignore,
  sanitizeResources: false,
  fn: () =>
    withNetns(async (ns) => {
      const out = Deno.env.get("TUNSTACK_ARTIFACTS") ?? `${ROOT}test-artifacts`;
      await Deno.mkdir(out, { recursive: true });
      // 2MSL = 3 s, so the fall comes quickly.
      // A cap of 32, so the chart draws its line at 20 entries.
      await ns.startStack([
        "--sysctl",
        "net.inet.tcp.msl=1500",
        "--sysctl",
        "net.inet.tcp.maxtcptw=32",
      ]);
      const run = await ns.run([
        Deno.execPath(),
        "run",
        "--allow-all",
        "tests/integration/dashboard_browser.ts",
        "http://192.0.2.2",
        out,
        "20",
      ], 90_000);
      assert.equal(run.code, 0, run.stderr);
      const seen = JSON.parse(run.stdout.trim().split("\n").at(-1)!);
      assert.equal(seen.before, 0);
      assert.equal(seen.peak, 20, "the count rose to one entry per request");
      assert.equal(seen.rows, 10, "the ten entries nearest expiry are listed");
      assert.ok(seen.v6Rows > 0, "IPv6 rows are shown as [addr]:port");
      assert.equal(seen.limitDrawn, "32", "the line at maxtcptw is drawn");
      assert.ok(seen.pauseHeld, "pause freezes the page");
      assert.match(seen.updated, /\d/, "the last update's time is shown");
      assert.ok(seen.started >= 20);
      assert.equal(seen.after, 0, "every entry expired");
      assert.equal(seen.seriesMax, 20, "the chart drew the peak");
      assert.equal(seen.seriesLast, 0, "the chart came back to zero");
      // The page's sources, and a bad query, over plain HTTP.
      const limit = await ns.run([
        "curl",
        "-sS",
        "-w",
        "%{http_code}",
        "http://192.0.2.2/timewait?limit=x",
      ]);
      assert.equal(limit.stdout, 'Invalid limit: "x" (a whole number)\n400');
      const shot = await Deno.stat(`${out}/dashboard.png`);
      assert.ok(shot.size > 10_000, "a screenshot was saved");
    }),
});
