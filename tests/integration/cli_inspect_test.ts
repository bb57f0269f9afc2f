// `tunstack ss` and `tunstack tw` against a running stack: rows, details,
// filters, -H, JSON in camelCase, and usage errors with exit status 2.

import assert from "node:assert/strict";
import { integrationIgnored, withNetns } from "./_netns.ts";

const ignore = integrationIgnored();

interface Conn {
  state: string;
  localAddress: string;
  localPort: number;
  peerAddress: string;
  peerPort: number;
  srttMs: number;
  mss: number;
  timestamps: boolean;
  sack: boolean;
  bytesReceived: number;
}

Deno.test({
  name:
    "cli: tunstack ss lists connections like ss -tan / -ti, tw filters and sorts; bad flags exit 2",
  ignore,
  sanitizeResources: false,
  fn: () =>
    withNetns(async (ns) => {
      await ns.startStack();
      // Two connections held open: nc to echo over IPv4, to discard over IPv6.
      ns.spawn(["sh", "-c", "(echo hi; sleep 6) | nc -N 192.0.2.2 7"]);
      ns.spawn(["sh", "-c", "(echo hi; sleep 6) | nc -N 2001:db8::2 9"]);
      let conns: Conn[] = [];
      for (let i = 0; i < 50 && conns.length < 2; i++) {
        await new Promise((r) => setTimeout(r, 100));
        conns = (await ns.tunstackJson<{ connections: Conn[] }>(["ss"])).connections;
      }
      assert.equal(conns.length, 2, JSON.stringify(conns));
      for (const c of conns) {
        assert.equal(c.state, "ESTABLISHED");
        assert.ok(c.timestamps && c.sack, "options negotiated with Linux");
        assert.equal(c.bytesReceived, 3, "hi\\n");
        assert.ok(c.mss >= 1400 && c.mss <= 1460);
      }
      assert.deepEqual(conns.map((c) => c.localPort), [7, 9], "sorted by local address and port");

      const text = (await ns.tunstack(["ss", "-i"])).stdout;
      assert.match(text, /^State\s+Recv-Q\s+Send-Q\s+Local Address:Port\s+Peer Address:Port$/m);
      assert.match(text, /^ESTABLISHED\s+0\s+0\s+192\.0\.2\.2:7\s+192\.0\.2\.1:\d+$/m);
      assert.match(text, /^ESTABLISHED\s+0\s+0\s+\[2001:db8::2\]:9\s+\[2001:db8::1\]:\d+$/m);
      assert.match(text, /^\t ts sack wscale:\d+,\d+ rto:\d+ rtt:[\d.]+\/[\d.]+ mss:\d+ cwnd:\d+/m);
      assert.match(text, /bytes_received:3 retrans:0/);

      const v4 = (await ns.tunstackJson<{ connections: Conn[] }>(["ss", "-4"])).connections;
      assert.deepEqual(v4.map((c) => c.peerAddress), ["192.0.2.1"]);
      const port9 = (await ns.tunstackJson<{ connections: Conn[] }>(["ss", "--port", "9"]))
        .connections;
      assert.deepEqual(port9.map((c) => c.localAddress), ["2001:db8::2"]);
      const host = (await ns.tunstackJson<{ connections: Conn[] }>([
        "ss",
        "--host",
        "2001:0db8::1",
      ])).connections;
      assert.equal(host.length, 1, "addresses compare in canonical form");
      const bare = (await ns.tunstack(["ss", "-H", "--limit", "1"])).stdout.trim().split("\n");
      assert.equal(bare.length, 1);
      assert.match(bare[0], /^ESTABLISHED/);

      // TIME_WAIT: three closes with the stack closing first, nearest expiry first.
      for (const url of ["http://192.0.2.2/", "http://192.0.2.2/", "http://[2001:db8::2]/"]) {
        await ns.ok(["curl", "-sS", "-o", "/dev/null", "-H", "Connection: close", url]);
      }
      const tw = await ns.tunstackJson<
        { count: number; mslMs: number; entries: { remainingMs: number; peerAddress: string }[] }
      >(["tw"]);
      assert.equal(tw.count, 3);
      assert.equal(tw.mslMs, 30_000, "camelCase keys");
      const left = tw.entries.map((e) => e.remainingMs);
      assert.deepEqual(left, [...left].sort((a, b) => a - b), "nearest expiry first");
      const six = await ns.tunstackJson<{ entries: { peerAddress: string }[] }>(["tw", "-6"]);
      assert.deepEqual(six.entries.map((e) => e.peerAddress), ["2001:db8::1"]);
      const one = (await ns.tunstack(["tw", "-H", "--limit", "1"])).stdout.trim().split("\n");
      assert.equal(one.length, 1);
      assert.match(one[0], /^TIME-WAIT\s+192\.0\.2\.2:80/);

      // /metrics: OpenMetrics text that a scraper can parse.
      const metrics = await ns.ok(["curl", "-sS", "--fail", "-i", "http://192.0.2.2/metrics"]);
      const [head, body] = metrics.split("\r\n\r\n");
      assert.match(head, /content-type: application\/openmetrics-text; version=1\.0\.0/i);
      const lines = body.trimEnd().split("\n");
      assert.equal(lines.at(-1), "# EOF");
      const types = new Map<string, string>();
      const values = new Map<string, number>();
      for (const l of lines.slice(0, -1)) {
        const t = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge)$/.exec(l);
        if (t) {
          assert.ok(!types.has(t[1]), `one TYPE per family: ${t[1]}`);
          types.set(t[1], t[2]);
          continue;
        }
        const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*) (-?\d+(?:\.\d+)?(?:e[+-]?\d+)?)$/.exec(l);
        assert.ok(m, `a sample line: ${l}`);
        const family = m[1].replace(/_total$/, "");
        assert.ok(types.has(family), `${m[1]} has a TYPE`);
        if (types.get(family) === "counter") assert.ok(m[1].endsWith("_total"), m[1]);
        values.set(m[1], Number(m[2]));
      }
      assert.ok(values.get("tunstack_tcp_passive_opens_total")! >= 5);
      assert.equal(types.get("tunstack_timewait_current"), "gauge");
      assert.equal(values.get("tunstack_timewait_current"), 3);
      assert.ok(values.get("tunstack_memory_rss")! > 1e6);

      // stats like nstat: patterns, and rates over an interval.
      const some = (await ns.tunstack(["stats", "tcp.passive*", "ip.rx*"])).stdout.trim();
      assert.match(some, /^tcp\.passiveOpens\s+\d+$/m);
      for (const l of some.split("\n")) assert.match(l, /^(tcp\.passive|ip\.rx)\S*\s+\d+$/);
      const flat = await ns.tunstackJson<Record<string, number>>(["stats", "tcp.passiveOpens"]);
      assert.deepEqual(Object.keys(flat), ["tcp.passiveOpens"]);
      const rates = ns.tunstack([
        "stats",
        "tcp.passiveOpens",
        "--interval",
        "1",
        "--count",
        "2",
        "--json",
      ]);
      // Connections all through the two seconds.
      await ns.ok([
        "sh",
        "-c",
        "for i in 1 2 3 4 5 6 7 8; do curl -s -o /dev/null http://192.0.2.2/; sleep 0.3; done",
      ]);
      const per = (await rates).stdout.trim().split("\n").map((l) => JSON.parse(l));
      assert.equal(per.length, 2);
      const sum = per[0]["tcp.passiveOpens"] + per[1]["tcp.passiveOpens"];
      assert.ok(sum >= 2 && sum <= 8, `rates ${JSON.stringify(per)}`);
      // sysctl like sysctl(8).
      assert.equal(
        (await ns.tunstack(["sysctl", "net.inet.tcp.msl=20000"])).stdout.trim(),
        "net.inet.tcp.msl: 30000 -> 20000",
      );
      assert.equal(
        (await ns.tunstack(["sysctl", "-n", "net.inet.tcp.msl"])).stdout.trim(),
        "20000",
      );
      assert.match((await ns.tunstack(["sysctl", "-a"])).stdout, /^net\.inet\.tcp\.msl: 20000$/m);

      for (
        const [args, msg] of [
          [["ss", "--port", "70000"], /Invalid --port: "70000"/],
          [["ss", "-4", "-6"], /-4 and -6 exclude each other/],
          [["tw", "--host", "nowhere"], /Invalid --host: "nowhere" is not an IP address/],
          [["ss", "stray"], /Unexpected argument: stray/],
          [["tw", "--bogus"], /Unknown option '--bogus'/],
          [["stats", "--interval", "0"], /Invalid --interval: "0"/],
        ] as [string[], RegExp][]
      ) {
        const r = await ns.tunstack(args);
        assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
        assert.match(r.stderr, msg);
        assert.match(r.stderr, new RegExp(`\\(try tunstack ${args[0]} --help\\)$`, "m"));
      }
    }),
});
