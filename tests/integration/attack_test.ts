// Attacks against the running stack over the tunnel: a spoofed SYN flood
// while curl keeps connecting, and blind RST injection into a live
// connection and into TIME_WAIT.

import assert from "node:assert/strict";
import { integrationIgnored, withNetns } from "./_netns.ts";

const ignore = integrationIgnored();

interface Stats {
  tcp: {
    currentConnections: number;
    synCookies: { sent: number; accepted: number };
    dropped: Record<string, number>;
  };
  memory: { rss: number };
}

Deno.test({
  name:
    "attack: 100,000 spoofed SYNs: half-open connections stay at the backlog, curl still connects",
  ignore,
  sanitizeResources: false,
  fn: () =>
    withNetns(async (ns) => {
      const backlog = 256;
      await ns.startStack(["--sysctl", `net.inet.tcp.syncache.bucketlimit=${backlog}`]);
      const rss = async () => (await ns.tunstackJson<Stats>(["stats"])).memory.rss;
      const rss0 = await rss();
      const flood = ns.spawn([
        Deno.execPath(),
        "run",
        "--allow-ffi",
        "tests/integration/syn_flood.ts",
        "192.0.2.2",
        "80",
        "100000",
        "5000",
      ]);
      await new Promise((r) => setTimeout(r, 500));
      // Real clients during the flood, each within a few seconds.
      let ok = 0, peak = 0;
      for (let i = 0; i < 5; i++) {
        const r = await ns.run(
          ["curl", "-sS", "--fail", "-m", "5", "-o", "/dev/null", "http://192.0.2.2/bytes/10000"],
          10_000,
        );
        if (r.code === 0) ok++;
        const s = await ns.tunstackJson<Stats>(["stats"]);
        peak = Math.max(peak, s.tcp.currentConnections);
        await new Promise((r) => setTimeout(r, 300));
      }
      const status = await flood.done;
      assert.equal(status.code, 0, flood.stderr);
      assert.match(flood.stdout, /sent 100000 SYNs/);
      assert.equal(ok, 5, "every curl got through the flood");
      const s = await ns.tunstackJson<Stats>(["stats"]);
      assert.ok(peak <= backlog + 2, `connections peaked at ${peak}`);
      // Some SYNs are lost in the device queue; most must have been answered.
      assert.ok(s.tcp.synCookies.sent > 50_000, `cookies sent: ${s.tcp.synCookies.sent}`);
      const grown = (await rss()) - rss0;
      console.log(
        `flood: ${s.tcp.synCookies.sent} cookies sent, connections peaked at ${peak}, ` +
          `RSS ${(grown / 2 ** 20).toFixed(1)} MiB more, ${ok}/5 curl ok`,
      );
      assert.ok(grown < 64 << 20, `RSS grew ${grown} bytes during the flood`);
    }),
});
