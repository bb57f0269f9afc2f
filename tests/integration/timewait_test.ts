// TIME_WAIT against the real Linux kernel over the tunnel, watched with
// tunstack tw, ss, tcpdump and counters.

import assert from "node:assert/strict";
import type { TimeWaitEntry } from "../../stack/tcp/timewait/timewait.ts";
import { ip, ipv4, tcpBytes } from "../_packets.ts";
import { integrationIgnored, type Netns, withNetns } from "./_netns.ts";

const ignore = integrationIgnored();

interface Tw {
  count: number;
  limit: number;
  entries: TimeWaitEntry[];
}

interface Stats {
  timewait: Record<string, number> & { check: Record<string, number> };
  tcp: { freebsd: Record<string, number> };
}

async function curlClose(ns: Netns, url: string, extra: string[] = []): Promise<number> {
  const out = await ns.ok([
    "curl",
    "-sS",
    "--fail",
    "-m",
    "10",
    "-H",
    "Connection: close",
    "-o",
    "/dev/null",
    "-w",
    "%{local_port}",
    ...extra,
    url,
  ]);
  return Number(out.trim());
}

async function waitFor(what: string, cond: () => Promise<boolean>, ms: number): Promise<number> {
  const start = Date.now();
  while (Date.now() - start < ms) {
    if (await cond()) return Date.now() - start;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`Timed out after ${ms} ms waiting for ${what}`);
}

Deno.test({
  name: "timewait: server closes first: an entry with curl's port, FIN/ACK/FIN/ACK on the wire",
  ignore,
  sanitizeResources: false,
  fn: () =>
    withNetns(async (ns, dir) => {
      await ns.startStack();
      const pcap = `${dir}/close.pcap`;
      const dump = await ns.capture(pcap, "tunstack0", ["tcp"]);
      const port = await curlClose(ns, "http://192.0.2.2/bytes/100");
      await new Promise((r) => setTimeout(r, 200));
      await dump.stop("SIGINT");
      const tw = await ns.tunstackJson<Tw>(["tw"]);
      assert.equal(tw.count, 1);
      assert.equal(tw.entries[0].peerPort, port, "peer port is curl's local port");
      assert.equal(tw.entries[0].localPort, 80);
      assert.ok(
        tw.entries[0].remainingMs > 50_000 && tw.entries[0].remainingMs <= 60_000,
        "2MSL = 60 s",
      );
      const text = (await ns.tunstack(["tw"])).stdout;
      assert.match(
        text,
        new RegExp(
          `TIME-WAIT\\s+192\\.0\\.2\\.2:80\\s+192\\.0\\.2\\.1:${port}\\s+timer:\\(timewait,`,
        ),
      );
      // Order of the close on the wire: our FIN, then the peer's ACK of it
      // and FIN (often in one segment), then our final ACK.
      const lines = (await ns.ok(["tcpdump", "-r", pcap, "-n", "-tt"])).split("\n");
      const ours = (l: string) => l.includes("192.0.2.2.80 > ");
      const close = lines.filter((l) => /Flags \[F|Flags \[\.\]/.test(l));
      const firstFin = close.findIndex((l) => ours(l) && /Flags \[F/.test(l));
      assert.ok(firstFin >= 0, "the server sent FIN");
      const after = close.slice(firstFin + 1);
      const peerFin = after.findIndex((l) => !ours(l) && /Flags \[F/.test(l));
      assert.ok(peerFin >= 0, "then the client's FIN");
      assert.ok(
        after.slice(0, peerFin + 1).some((l) => !ours(l)),
        "the client ACKed our FIN no later than its FIN",
      );
      const last = after.slice(peerFin + 1).find((l) => ours(l));
      assert.ok(last && /Flags \[\.\]/.test(last), "the server's final ACK");
      const kernel = await ns.ok(["ss", "-tanH", "state", "time-wait"]);
      assert.equal(kernel.trim(), "", "the kernel holds no TIME_WAIT");
    }),
});

Deno.test({
  name: "timewait: client closes first: the kernel holds TIME_WAIT (ss), tunstack none",
  ignore,
  sanitizeResources: false,
  fn: () =>
    withNetns(async (ns) => {
      await ns.startStack(["--http-close-first", "client"]);
      const port = await curlClose(ns, "http://192.0.2.2/bytes/100");
      await new Promise((r) => setTimeout(r, 200));
      const ss = await ns.ok(["ss", "-tanH", "state", "time-wait"]);
      assert.match(ss, new RegExp(`192\\.0\\.2\\.1:${port}\\s+192\\.0\\.2\\.2:80`));
      const tw = await ns.tunstackJson<Tw>(["tw"]);
      assert.equal(tw.count, 0);
    }),
});

Deno.test({
  name: "timewait: a kernel client reusing its port gets through the entry (SYN above rcv_nxt)",
  ignore,
  sanitizeResources: false,
  fn: () =>
    withNetns(async (ns) => {
      await ns.startStack();
      const port = 45123;
      assert.equal(
        await curlClose(ns, "http://192.0.2.2/bytes/100", ["--local-port", String(port)]),
        port,
      );
      let tw = await ns.tunstackJson<Tw>(["tw"]);
      assert.equal(tw.entries[0]?.peerPort, port);
      const again = await curlClose(ns, "http://192.0.2.2/bytes/100", [
        "--local-port",
        String(port),
      ]);
      assert.equal(again, port);
      const st = await ns.tunstackJson<Stats>(["stats"]);
      assert.equal(
        st.timewait.check.synReopened,
        1,
        "the SYN ended the entry and reached the listener",
      );
      tw = await ns.tunstackJson<Tw>(["tw"]);
      assert.equal(tw.count, 1, "the new connection's own entry");
    }),
});

Deno.test({
  name: "timewait: the reopened connection's ISS is the old snd_nxt + 65537 (tcpdump -S)",
  ignore,
  sanitizeResources: false,
  fn: () =>
    withNetns(async (ns, dir) => {
      await ns.startStack();
      const port = 45124;
      await curlClose(ns, "http://192.0.2.2/bytes/100", ["--local-port", String(port)]);
      const [old] = (await ns.tunstackJson<Tw>(["tw"])).entries;
      assert.equal(old.peerPort, port);
      const pcap = `${dir}/reopen.pcap`;
      const dump = await ns.capture(pcap, "tunstack0", ["tcp", "port", String(port)]);
      await curlClose(ns, "http://192.0.2.2/bytes/100", ["--local-port", String(port)]);
      await new Promise((r) => setTimeout(r, 200));
      await dump.stop("SIGINT");
      const lines = (await ns.ok(["tcpdump", "-r", pcap, "-n", "-S"])).split("\n");
      const synack = lines.find((l) => /192\.0\.2\.2\.80 > .*Flags \[S\.\]/.test(l));
      assert.ok(synack, lines.join("\n"));
      const iss = Number(/seq (\d+)/.exec(synack)![1]);
      assert.equal(iss, (old.sndNxt + 65537) >>> 0, synack);
    }),
});

Deno.test({
  name:
    "timewait: after msl is lowered at run time, new entries expire in 2 s while older ones stay",
  ignore,
  sanitizeResources: false,
  fn: () =>
    withNetns(async (ns) => {
      await ns.startStack();
      const first = await curlClose(ns, "http://192.0.2.2/bytes/10"); // 2 × 30 s
      const set = await ns.tunstack(["sysctl", "net.inet.tcp.msl=1000"]);
      assert.equal(set.code, 0, set.stderr);
      for (let i = 0; i < 3; i++) await curlClose(ns, "http://192.0.2.2/bytes/10");
      const t0 = Date.now();
      assert.equal((await ns.tunstackJson<Tw>(["tw"])).count, 4);
      await waitFor("the new entries to expire", async () =>
        (await ns.tunstackJson<Tw>(["tw"])).count === 1, 5000);
      const took = Date.now() - t0;
      assert.ok(took >= 1500 && took <= 3500, `expired after ${took} ms`);
      const tw = await ns.tunstackJson<Tw>(["tw"]);
      assert.equal(tw.entries[0].peerPort, first, "the entry made before the change remains");
      assert.ok(tw.entries[0].remainingMs > 50_000);
      const st = await ns.tunstackJson<Stats>(["stats"]);
      assert.equal(st.timewait.expired, 3);
    }),
});

Deno.test({
  name: "timewait: maxtcptw=32 with 200 connections keeps 32 and recycles 168",
  ignore,
  sanitizeResources: false,
  fn: () =>
    withNetns(async (ns) => {
      await ns.startStack(["--sysctl", "net.inet.tcp.maxtcptw=32"]);
      const bad = await ns.tunstack(["sysctl", "net.inet.tcp.maxtcptw=31"]);
      assert.notEqual(bad.code, 0);
      assert.match(bad.stderr, /at least 32/);
      // One curl, 200 URLs, a new connection for each (Connection: close).
      await ns.ok([
        "curl",
        "-sS",
        "--fail",
        "-m",
        "60",
        "-H",
        "Connection: close",
        "-o",
        "/dev/null",
        "http://192.0.2.2/bytes/[1-200]",
      ], 70_000);
      const tw = await ns.tunstackJson<Tw>(["tw"]);
      assert.equal(tw.count, 32);
      assert.equal(tw.limit, 32);
      const st = await ns.tunstackJson<Stats>(["stats"]);
      assert.equal(st.timewait.started, 200);
      assert.equal(st.timewait.recycled, 168);
      const sys = await ns.tunstackJson<Record<string, number>>([
        "sysctl",
        "net.inet.tcp.maxtcptw",
      ]);
      assert.equal(sys["net.inet.tcp.maxtcptw"], 32);
    }),
});

Deno.test({
  name: "timewait: with msl=1000 the table empties about 2 s after the last close",
  ignore,
  sanitizeResources: false,
  fn: () =>
    withNetns(async (ns) => {
      await ns.startStack();
      const set = await ns.tunstack(["sysctl", "net.inet.tcp.msl=1000"]);
      assert.equal(set.code, 0, set.stderr);
      for (let i = 0; i < 5; i++) await curlClose(ns, "http://192.0.2.2/bytes/10");
      const t0 = Date.now();
      assert.equal((await ns.tunstackJson<Tw>(["tw"])).count, 5);
      await waitFor("an empty table", async () =>
        (await ns.tunstackJson<Tw>(["tw"])).count === 0, 5000);
      const took = Date.now() - t0;
      assert.ok(took >= 1500 && took <= 3500, `emptied after ${took} ms`);
      const st = await ns.tunstackJson<Stats>(["stats"]);
      assert.equal(st.timewait.expired, 5);
    }),
});

Deno.test({
  name: "timewait: an RST sent at an entry (raw socket) leaves it in place (RFC 1337)",
  ignore,
  sanitizeResources: false,
  fn: () =>
    withNetns(async (ns) => {
      await ns.startStack();
      const port = await curlClose(ns, "http://192.0.2.2/bytes/10");
      const [e] = (await ns.tunstackJson<Tw>(["tw"])).entries;
      assert.equal(e.peerPort, port);
      // The exactly-in-sequence RST a stack without RFC 1337 would obey.
      const seg = tcpBytes(ip("192.0.2.1"), ip("192.0.2.2"), {
        sport: port,
        dport: 80,
        seq: e.rcvNxt,
        ack: e.sndNxt,
        flags: "RA",
        window: 0,
      });
      const pkt = ipv4("192.0.2.1", "192.0.2.2", 6, seg);
      const hex = Array.from(pkt, (b) => b.toString(16).padStart(2, "0")).join("");
      const sent = await ns.run([
        Deno.execPath(),
        "run",
        "--allow-ffi",
        "tests/integration/raw_send.ts",
        hex,
      ]);
      assert.equal(sent.code, 0, sent.stderr);
      await new Promise((r) => setTimeout(r, 200));
      const st = await ns.tunstackJson<Stats>(["stats"]);
      assert.equal(st.timewait.check.rstDropped, 1);
      const tw = await ns.tunstackJson<Tw>(["tw"]);
      assert.equal(tw.count, 1);
      assert.equal(tw.entries[0].peerPort, port);
    }),
});
