// A client behind a 1280-byte hop, offering MSS 1460. Three namespaces:
// the stack's (its tunnel at 1500, a veth to the router), a router, and
// the client's. The router's link towards the client carries 1280 bytes,
// while the client's own end is 1500 (a LAN behind a narrower uplink, as
// with PPPoE or a tunnel), so the client's SYN offers MSS 1460 and the
// router is the hop that answers the stack's full-size segments with
// "fragmentation needed" / "packet too big". Path-MTU discovery must make
// a 10 MB download arrive over IPv4 and IPv6; with that ICMP dropped on
// the router, black-hole detection (off by default) must.

import assert from "node:assert/strict";
import { integrationIgnored, Netns, withNetns } from "./_netns.ts";

const ignore = integrationIgnored();
const SIZE = 10_000_000;
const URLS = [`http://192.0.2.2/bytes/${SIZE}`, `http://[2001:db8::2]/bytes/${SIZE}`];

async function hostRun(cmd: string[]): Promise<void> {
  const r = await new Deno.Command(cmd[0], { args: cmd.slice(1), stderr: "piped" }).output();
  if (r.code !== 0) throw new Error(`${cmd.join(" ")}: ${new TextDecoder().decode(r.stderr)}`);
}

async function veth(a: string, nsA: Netns, b: string, nsB: Netns): Promise<void> {
  await hostRun(["ip", "link", "add", a, "netns", nsA.name, "type", "veth", "peer", "name", b]);
  await hostRun(["ip", "link", "set", b, "netns", nsB.name]);
}

/** Brings `dev` in `ns` up (at `mtu`, if given) with one IPv4 and one IPv6 address. */
async function iface(ns: Netns, dev: string, v4: string, v6: string, mtu?: number): Promise<void> {
  await ns.ok(["ip", "link", "set", dev, ...(mtu ? ["mtu", String(mtu)] : []), "up"]);
  await ns.ok(["ip", "addr", "add", v4, "dev", dev]);
  await ns.ok(["ip", "-6", "addr", "add", v6, "dev", dev, "nodad"]);
}

// The /bytes/N body: a..z over and over.
async function expectedSha(): Promise<string> {
  const b = new Uint8Array(SIZE);
  for (let i = 0; i < SIZE; i++) b[i] = 97 + (i % 26);
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", b));
  return Array.from(d, (x) => x.toString(16).padStart(2, "0")).join("");
}

// Builds router and client around the stack's namespace `ns`; returns them.
async function topology(ns: Netns): Promise<{ router: Netns; client: Netns }> {
  const router = await Netns.create();
  const client = await Netns.create();
  const tag = Deno.pid % 10000;
  const [s, r1, r2, c] = [`tss${tag}`, `tsr${tag}`, `tsR${tag}`, `tsc${tag}`];
  await veth(s, ns, r1, router);
  await veth(r2, router, c, client);
  const forward = ["sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1"];
  // The stack's namespace <-> router: 203.0.113.0/24, 2001:db8:2::/64, 1500.
  await iface(ns, s, "203.0.113.1/24", "2001:db8:2::1/64");
  await ns.ok(["ip", "route", "add", "198.51.100.0/24", "via", "203.0.113.2"]);
  await ns.ok(["ip", "-6", "route", "add", "2001:db8:1::/64", "via", "2001:db8:2::2"]);
  await ns.ok(forward);
  await iface(router, r1, "203.0.113.2/24", "2001:db8:2::2/64");
  // Router <-> client: 198.51.100.0/24, 2001:db8:1::/64; 1280 on the router's side.
  await iface(router, r2, "198.51.100.1/24", "2001:db8:1::1/64", 1280);
  await router.ok(["ip", "route", "add", "192.0.2.0/24", "via", "203.0.113.1"]);
  await router.ok(["ip", "-6", "route", "add", "2001:db8::/64", "via", "2001:db8:2::1"]);
  await router.ok(forward);
  await iface(client, c, "198.51.100.2/24", "2001:db8:1::2/64");
  await client.ok(["ip", "route", "add", "default", "via", "198.51.100.1"]);
  await client.ok(["ip", "-6", "route", "add", "default", "via", "2001:db8:1::1"]);
  return { router, client };
}

// Downloads each URL in the client's namespace; checks size and sha256;
// returns curl's times, s. A ping first waits out the namespaces' IPv6
// neighbour discovery (a second or two on fresh links), which is no part
// of what is measured.
async function downloads(client: Netns, timeoutS: number): Promise<number[]> {
  for (const addr of ["192.0.2.2", "2001:db8::2"]) {
    await client.ok(["ping", "-c", "1", "-w", "10", addr], 15_000);
  }
  const want = await expectedSha();
  const times: number[] = [];
  for (const url of URLS) {
    const file = await Deno.makeTempFile({ prefix: "tunstack-pmtu-" });
    try {
      const out = await client.ok([
        "curl",
        "-sS",
        "--fail",
        "-m",
        String(timeoutS),
        "-o",
        file,
        "-w",
        "%{size_download} %{time_total}",
        url,
      ], (timeoutS + 10) * 1000);
      const [size, time] = out.trim().split(" ");
      assert.equal(size, String(SIZE), url);
      const d = new Uint8Array(await crypto.subtle.digest("SHA-256", await Deno.readFile(file)));
      const sha = Array.from(d, (x) => x.toString(16).padStart(2, "0")).join("");
      assert.equal(sha, want, `${url}: sha256`);
      times.push(Number(time));
    } finally {
      await Deno.remove(file);
    }
  }
  return times;
}

/** Runs `fn` in a fresh stack namespace with the router and client around it, then removes them. */
function withTopology(fn: (ns: Netns, router: Netns, client: Netns) => Promise<void>) {
  return () =>
    withNetns(async (ns) => {
      const { router, client } = await topology(ns);
      try {
        await fn(ns, router, client);
      } finally {
        await client.close();
        await router.close();
      }
    });
}

interface PmtuStats {
  tcp: {
    icmp: Record<string, number>;
    pmtudBlackhole: Record<string, number>;
  };
}

Deno.test({
  name: "pmtu: curl behind a 1280-byte hop downloads 10 MB over IPv4 and IPv6 in under 10 s",
  ignore,
  sanitizeResources: false,
  fn: withTopology(async (ns, _router, client) => {
    await ns.startStack();
    const times = await downloads(client, 10);
    console.log(`1280-byte hop, ICMP delivered: ${times.map((t) => `${t} s`).join(", ")}`);
    const st = await ns.tunstackJson<PmtuStats>(["stats"]);
    assert.ok(st.tcp.icmp.pmtuLowered >= 2, JSON.stringify(st.tcp.icmp));
    assert.equal(st.tcp.pmtudBlackhole.activated, 0);
  }),
});

Deno.test({
  name: "pmtu: with ICMP dropped on the router, black-hole detection gets 10 MB through in 30 s",
  ignore,
  sanitizeResources: false,
  fn: withTopology(async (ns, router, client) => {
    await router.ok([
      "iptables",
      "-A",
      "OUTPUT",
      "-p",
      "icmp",
      "--icmp-type",
      "fragmentation-needed",
      "-j",
      "DROP",
    ]);
    await router.ok([
      "ip6tables",
      "-A",
      "OUTPUT",
      "-p",
      "icmpv6",
      "--icmpv6-type",
      "packet-too-big",
      "-j",
      "DROP",
    ]);
    await ns.startStack(["--sysctl", "net.inet.tcp.pmtud_blackhole_detection=1"]);
    const times = await downloads(client, 30);
    console.log(`1280-byte hop, ICMP dropped: ${times.map((t) => `${t} s`).join(", ")}`);
    const st = await ns.tunstackJson<PmtuStats>(["stats"]);
    assert.equal(st.tcp.icmp.pmtuLowered, 0, "no ICMP got through");
    assert.ok(st.tcp.pmtudBlackhole.activated >= 2, JSON.stringify(st.tcp.pmtudBlackhole));
  }),
});
