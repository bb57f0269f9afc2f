// A client behind a 1280-byte hop, offering MSS 1460: the namespace that
// runs the stack also routes between the tunnel (1500) and a veth towards
// the client's namespace whose near end has MTU 1280. The stack's
// full-size segments get "fragmentation needed" / "packet too big" from
// that router, and path-MTU discovery must make the download arrive.

import assert from "node:assert/strict";
import { integrationIgnored, Netns, withNetns } from "./_netns.ts";

const ignore = integrationIgnored();

async function hostRun(cmd: string[]): Promise<void> {
  const r = await new Deno.Command(cmd[0], { args: cmd.slice(1), stderr: "piped" }).output();
  if (r.code !== 0) throw new Error(`${cmd.join(" ")}: ${new TextDecoder().decode(r.stderr)}`);
}

Deno.test({
  name: "pmtu: curl behind a 1280-byte hop downloads over IPv4 and IPv6 (ICMP lowers the MSS)",
  ignore,
  sanitizeResources: false,
  fn: () =>
    withNetns(async (ns) => {
      const client = await Netns.create();
      try {
        const a = `tsr${Deno.pid % 10000}`, c = `tsc${Deno.pid % 10000}`;
        await hostRun([
          "ip",
          "link",
          "add",
          a,
          "netns",
          ns.name,
          "type",
          "veth",
          "peer",
          "name",
          c,
          "netns",
          client.name,
        ]);
        await ns.ok(["ip", "link", "set", a, "mtu", "1280", "up"]);
        await ns.ok(["ip", "addr", "add", "198.51.100.1/24", "dev", a]);
        await ns.ok(["ip", "-6", "addr", "add", "2001:db8:1::1/64", "dev", a, "nodad"]);
        await ns.ok(["sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1"]);
        await client.ok(["ip", "link", "set", c, "up"]);
        await client.ok(["ip", "addr", "add", "198.51.100.2/24", "dev", c]);
        await client.ok(["ip", "-6", "addr", "add", "2001:db8:1::2/64", "dev", c, "nodad"]);
        await client.ok(["ip", "route", "add", "default", "via", "198.51.100.1"]);
        await client.ok(["ip", "-6", "route", "add", "default", "via", "2001:db8:1::1"]);
        await ns.startStack();
        for (const url of ["http://192.0.2.2/bytes/200000", "http://[2001:db8::2]/bytes/200000"]) {
          const out = await client.ok([
            "curl",
            "-sS",
            "--fail",
            "-m",
            "20",
            "-o",
            "/dev/null",
            "-w",
            "%{size_download}",
            url,
          ], 30_000);
          assert.equal(out.trim(), "200000", url);
        }
        const st = await ns.tunstackJson<{ tcp: { icmp: Record<string, number> } }>(["stats"]);
        assert.ok(st.tcp.icmp.pmtuLowered >= 2, JSON.stringify(st.tcp.icmp));
      } finally {
        await client.close();
      }
    }),
});
