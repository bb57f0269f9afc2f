// The three servers a benchmark compares, each in private namespaces:
// tunstack on a TUN device, gVisor's netstack on a TUN device (bench/gvisor),
// and the Linux kernel reached over a veth pair. Loads run in the client
// namespace of each, against the same services: echo 7, once 8, discard 9.

import { Netns, type Proc } from "../tests/integration/_netns.ts";

export const ROOT = new URL("../", import.meta.url).pathname;
export const BIN = `${ROOT}bench/.bin`;

/**
 * Builds bench/<dir> (Go, GOPATH mode with Debian's packages) into
 * bench/.bin: `loadgen`, or `gvisor` as `gvisor-server`.
 */
export function buildGo(dir: "loadgen" | "gvisor"): { ok: boolean; err: string } {
  Deno.mkdirSync(BIN, { recursive: true });
  const out = `${BIN}/${dir === "gvisor" ? "gvisor-server" : dir}`;
  const r = new Deno.Command("go", {
    args: ["build", "-o", out, "."],
    cwd: `${ROOT}bench/${dir}`,
    env: { GO111MODULE: "off", GOPATH: "/usr/share/gocode", HOME: Deno.env.get("HOME") ?? "/root" },
    stdout: "piped",
    stderr: "piped",
  }).outputSync();
  return { ok: r.code === 0, err: new TextDecoder().decode(r.stderr) };
}

/** A server under test and the namespace its load runs from. */
export interface Target {
  name: "tunstack" | "gvisor" | "kernel";
  client: Netns;
  host: string;
  /** PID of the serving process, for memory readings (not for the kernel). */
  pid?: number;
  /** The server's own namespace, when it has one (the kernel's). */
  server?: Netns;
  /** What the serving process has printed lately, for a load that failed (tunstack's). */
  log?(): string;
  close(): Promise<void>;
}

async function tuneClient(ns: Netns): Promise<void> {
  // Client-closes-first loads leave the client in TIME_WAIT: reuse those
  // ports for new outgoing connections and widen the range, as a load
  // generator host would.
  await ns.ok([
    "sysctl",
    "-qw",
    "net.ipv4.tcp_tw_reuse=1",
    "net.ipv4.ip_local_port_range=1024 65535",
  ]);
}

/** tunstack with `flags` (default offloads and busy polling). */
export async function tunstackTarget(flags: string[] = []): Promise<Target> {
  const ns = await Netns.create();
  ns.controlDir = await Deno.makeTempDir({ prefix: "tunstack-bench-" });
  await tuneClient(ns);
  const p: Proc = await ns.startStack(["--no-ipv6", ...flags]);
  return {
    name: "tunstack",
    client: ns,
    host: "192.0.2.2",
    pid: p.pid,
    log: () =>
      `${p.ended ? "exited" : "running"}; stdout: ${p.stdout.slice(-1500)} stderr: ${
        p.stderr.slice(-1500)
      }`,
    async close() {
      await ns.close();
      await Deno.remove(ns.controlDir, { recursive: true }).catch(() => {});
    },
  };
}

/** gVisor netstack on a TUN device. */
export async function gvisorTarget(mtu = 1500): Promise<Target> {
  const ns = await Netns.create();
  await tuneClient(ns);
  const p = ns.spawn([
    `${BIN}/gvisor-server`,
    "-dev",
    "tungv0",
    "-addr",
    "192.0.2.2",
    "-mtu",
    String(mtu),
  ]);
  await p.waitFor(/ready/);
  await ns.ok(["ip", "addr", "add", "192.0.2.1/24", "dev", "tungv0"]);
  await ns.ok(["ip", "link", "set", "tungv0", "up", "mtu", String(mtu)]);
  return { name: "gvisor", client: ns, host: "192.0.2.2", pid: p.pid, close: () => ns.close() };
}

/**
 * Two kernels joined by veth; the server side runs `loadgen serve`, its
 * connections with congestion control `cc` (default: the namespace's).
 */
export async function kernelTarget(mtu = 1500, cc?: string): Promise<Target> {
  const a = await Netns.create(), b = await Netns.create();
  const r = await new Deno.Command("ip", {
    args: [
      "link",
      "add",
      "bva",
      "netns",
      a.name,
      "type",
      "veth",
      "peer",
      "name",
      "bvb",
      "netns",
      b.name,
    ],
  }).output();
  if (r.code !== 0) throw new Error(new TextDecoder().decode(r.stderr));
  await a.ok(["ip", "addr", "add", "198.51.100.1/24", "dev", "bva"]);
  await b.ok(["ip", "addr", "add", "198.51.100.2/24", "dev", "bvb"]);
  await a.ok(["ip", "link", "set", "bva", "up", "mtu", String(mtu)]);
  await b.ok(["ip", "link", "set", "bvb", "up", "mtu", String(mtu)]);
  await tuneClient(a);
  const p = b.spawn([
    `${BIN}/loadgen`,
    "serve",
    "-listen",
    "198.51.100.2",
    "-timeout",
    "2h",
    ...(cc ? ["-cc", cc] : []),
  ]);
  await p.waitFor(/ready/);
  return {
    name: "kernel",
    client: a,
    server: b,
    host: "198.51.100.2",
    async close() {
      await a.close();
      await b.close();
    },
  };
}

/**
 * A client namespace one hop behind the target's client namespace, which
 * then routes (203.0.113.0/24 on a veth named `link` there). Loss made in
 * the router's FORWARD chain is loss on the wire for both ends; a rule in
 * a sender's own OUTPUT chain is not, since Linux's TCP sees that drop as a
 * failed send and tries again without counting a loss.
 */
export async function routedClient(t: Target): Promise<{ ns: Netns; link: string }> {
  const ns = await Netns.create();
  const link = `lr${ns.name.slice(-6)}`, far = `lc${ns.name.slice(-6)}`;
  const r = await new Deno.Command("ip", {
    args: [
      "link",
      "add",
      link,
      "netns",
      t.client.name,
      "type",
      "veth",
      "peer",
      "name",
      far,
      "netns",
      ns.name,
    ],
  }).output();
  if (r.code !== 0) throw new Error(new TextDecoder().decode(r.stderr));
  await t.client.ok(["ip", "addr", "add", "203.0.113.1/24", "dev", link]);
  await t.client.ok(["ip", "link", "set", link, "up"]);
  await t.client.ok(["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
  await ns.ok(["ip", "addr", "add", "203.0.113.2/24", "dev", far]);
  await ns.ok(["ip", "link", "set", far, "up"]);
  await ns.ok(["ip", "route", "add", "default", "via", "203.0.113.1"]);
  await t.server?.ok(["ip", "route", "add", "203.0.113.0/24", "via", "198.51.100.1"]);
  await tuneClient(ns);
  return { ns, link };
}

/** Resident memory of a process, bytes (via ps: Deno reads /proc only with --allow-all). */
export async function rss(pid: number): Promise<number> {
  const r = await new Deno.Command("ps", {
    args: ["-o", "rss=", "-p", String(pid)],
    stdout: "piped",
  })
    .output();
  return Number(new TextDecoder().decode(r.stdout).trim() || 0) * 1024;
}
