// The kernel's TCP against tunstack's, over the tunnel: curl, nc, pcaps and
// kernel counters. Each test has its own namespace; every load is bounded.

import assert from "node:assert/strict";
import { integrationIgnored, type Netns, withNetns } from "./_netns.ts";

const ignore = integrationIgnored();
const GiB = 1024 * 1024 * 1024;

function sha(text: string): string {
  return text.trim().split(/\s+/)[0];
}

/**
 * Downloads `/bytes/n` with curl (at most `seconds`) and checks its SHA-256
 * against the same bytes, 'a'..'z' repeated, made locally.
 */
async function checkedDownload(ns: Netns, n: number, seconds: number): Promise<void> {
  // pipefail: a transfer curl gave up on fails with curl's own words, not
  // as a hash of what arrived before it stopped.
  const down = await ns.ok([
    "bash",
    "-o",
    "pipefail",
    "-c",
    `curl -sS --fail -m ${seconds} -w '%{stderr}%{size_download} bytes' http://192.0.2.2/bytes/${n} | sha256sum`,
  ], (seconds + 10) * 1000);
  const want = await ns.ok([
    "sh",
    "-c",
    `yes abcdefghijklmnopqrstuvwxyz | tr -d '\\n' | head -c ${n} | sha256sum`,
  ], (seconds + 10) * 1000);
  assert.equal(sha(down), sha(want), "download sha256");
}

Deno.test({
  name:
    "tcp: curl GET 1 GiB (IPv4) and POST 1 GiB (IPv6) with sha256; the kernel retransmits nothing for loss",
  ignore,
  sanitizeResources: false,
  fn: () =>
    withNetns(async (ns, dir) => {
      // Linux's tail loss probe fires when no ACK came for two round trips
      // plus one or two timer ticks (2-8 ms): any pause of the stack's thread
      // that long shows as a kernel retransmission. With curl, cat and the
      // stack sharing two CPUs an ordinary thread is parked that long now and
      // then; SCHED_FIFO is no cure, since a FIFO thread busy for 95% of a
      // second is throttled for the rest of it (kernel.sched_rt_runtime_us;
      // dmesg: "RT throttling activated"). At nice -20 the pauses are rare.
      const stack = await ns.startStack();
      await ns.ok(["renice", "-n", "-20", "-p", String(stack.pid)]);
      await checkedDownload(ns, GiB, 120);

      const file = `${dir}/upload.bin`;
      await ns.ok(["sh", "-c", `head -c ${256 * 1024 * 1024} /dev/urandom > ${file}`]);
      const fileSha = sha(await ns.ok(["sha256sum", file]));
      // 1 GiB: the random file four times, streamed with a known length.
      const up = await ns.ok([
        "sh",
        "-c",
        `cat ${file} ${file} ${file} ${file} | curl -sS --fail -m 120 -T - -H 'Content-Length: ${GiB}' 'http://[2001:db8::2]/upload'`,
      ], 130_000);
      const r = JSON.parse(up) as { bytes: number; sha256: string };
      assert.equal(r.bytes, GiB);
      const want4 = sha(
        await ns.ok(["sh", "-c", `cat ${file} ${file} ${file} ${file} | sha256sum`]),
      );
      assert.equal(r.sha256, want4, "upload sha256");
      assert.notEqual(fileSha, "");
      const all = await ns.ok(["nstat", "-az"]);
      const count = (name: string) => Number(new RegExp(`^${name}\\s+(\\d+)`, "m").exec(all)?.[1]);
      const why = `kernel counters: ${all.split("\n").filter((l) => !/\s0\s/.test(l)).join("\n")}`;
      // No retransmission for loss (timeout, fast retransmit). Tail loss
      // probes are the pauses above, not loss: measured 0, 0, 1, 0, 1, 0 per
      // GiB upload at nice -20 (1, 2, 2, 0, 1, 1 at nice 0), and once 4 in a
      // full suite on a day when this VM's runs spread widely; the bound is
      // for a stack that stalls, not for the host's noise. A probe that
      // carries new data is no retransmission at all.
      const probes = count("TcpExtTCPLossProbes");
      assert.ok(count("TcpRetransSegs") <= probes, why);
      assert.ok(probes <= 6, why);
    }),
});

Deno.test({
  name: "tcp: --congestion bbr under 3% loss: a sha256-checked download, and ss -i shows the model",
  ignore,
  sanitizeResources: false,
  fn: () =>
    withNetns(async (ns) => {
      await ns.startStack(["--congestion", "bbr"]);
      // Loss on the wire to the kernel: the stack's segments, dropped at random as they arrive.
      await ns.ok([
        "iptables",
        "-A",
        "INPUT",
        "-i",
        "tunstack0",
        "-p",
        "tcp",
        "--sport",
        "80",
        "-m",
        "statistic",
        "--mode",
        "random",
        "--probability",
        "0.03",
        "-j",
        "DROP",
      ]);
      await checkedDownload(ns, 50 * 1024 * 1024, 60);
      const tcp = (await ns.tunstackJson<{ tcp: Record<string, number> }>(["stats"])).tcp;
      assert.ok(tcp.retransmittedSegments > 0, "the loss was real");
      // A connection that has sent: BBR's mode, bandwidth and minimum RTT.
      ns.spawn(["sh", "-c", "(head -c 200000 /dev/zero; sleep 4) | nc -N 192.0.2.2 7 > /dev/null"]);
      let text = "";
      for (let i = 0; i < 40 && !/bbr:\(/.test(text); i++) {
        await new Promise((r) => setTimeout(r, 100));
        text = (await ns.tunstack(["ss", "-i", "--port", "7"])).stdout;
      }
      assert.match(
        text,
        /bbr:\(mode:(startup|drain|probe_bw|probe_rtt),bw:[\d.]+Mbps,mrtt:[\d.]+\)/,
      );
    }),
});

Deno.test({
  name: "tcp: curl POST and GET small bodies over both families, keep-alive and Connection: close",
  ignore,
  sanitizeResources: false,
  fn: () =>
    withNetns(async (ns) => {
      await ns.startStack();
      for (const host of ["192.0.2.2", "[2001:db8::2]"]) {
        const post = await ns.ok([
          "curl",
          "-sS",
          "--fail",
          "-m",
          "10",
          "--data-binary",
          "hello",
          `http://${host}/upload`,
        ]);
        assert.deepEqual(JSON.parse(post), {
          bytes: 5,
          sha256: "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
        });
        const page = await ns.ok(["curl", "-sS", "--fail", "-m", "10", `http://${host}/`]);
        assert.match(page, /^tunstack/);
        // Two requests on one connection (keep-alive): curl reports one connect.
        const two = await ns.ok([
          "curl",
          "-sS",
          "--fail",
          "-m",
          "10",
          "-o",
          "/dev/null",
          "-o",
          "/dev/null",
          "-w",
          "%{num_connects}\n",
          `http://${host}/bytes/10`,
          `http://${host}/bytes/20`,
        ]);
        assert.deepEqual(
          two.trim().split("\n"),
          ["1", "0"],
          "second request reused the connection",
        );
        const hdr = await ns.ok([
          "curl",
          "-sS",
          "-i",
          "-m",
          "10",
          "-H",
          "Connection: close",
          `http://${host}/bytes/3`,
        ]);
        assert.match(hdr, /Connection: close/);
        assert.match(hdr, /\r\n\r\nabc$/);
      }
      const nf = await ns.run([
        "curl",
        "-sS",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "-m",
        "10",
        "http://192.0.2.2/nope",
      ]);
      assert.equal(nf.stdout, "404");
    }),
});

Deno.test({
  name: "tcp: nc to echo (IPv4 and IPv6) and to discard",
  ignore,
  sanitizeResources: false,
  fn: () =>
    withNetns(async (ns, dir) => {
      await ns.startStack();
      const file = `${dir}/data.bin`;
      await ns.ok(["sh", "-c", `head -c 1048576 /dev/urandom > ${file}`]);
      const want = sha(await ns.ok(["sha256sum", file]));
      for (const host of ["192.0.2.2", "2001:db8::2"]) {
        const echoed = await ns.ok(["sh", "-c", `nc -N ${host} 7 < ${file} | sha256sum`], 30_000);
        assert.equal(sha(echoed), want, `echo over ${host}`);
      }
      await ns.ok(["sh", "-c", `head -c 10000000 /dev/zero | nc -N 192.0.2.2 9`], 30_000);
      const stats = await ns.tunstackJson<{ tcp: { bytesReceived: number } }>(["stats"]);
      assert.ok(stats.tcp.bytesReceived >= 10_000_000 + 2 * 1048576);
    }),
});

Deno.test({
  name: "tcp: the stack as client (examples/connect_out.ts) to a kernel nc -l server",
  ignore,
  sanitizeResources: false,
  fn: () =>
    withNetns(async (ns) => {
      // Any address: 192.0.2.1 exists only once the example has made the device.
      const server = ns.spawn(["sh", "-c", "echo pong | timeout 20 nc -l 9000"]);
      const client = await ns.run([
        Deno.execPath(),
        "run",
        "--allow-ffi",
        "examples/connect_out.ts",
        "192.0.2.1",
        "9000",
        "ping",
      ], 30_000);
      assert.equal(client.code, 0, client.stderr);
      assert.match(client.stdout, /reply: pong/);
      await server.done;
      assert.match(server.stdout, /^ping$/m);
    }),
});

Deno.test({
  name:
    "tcp: tcpdump shows MSS, wscale, SACK-permitted and timestamps in the handshake and no bad checksum",
  ignore,
  sanitizeResources: false,
  fn: () =>
    withNetns(async (ns, dir) => {
      // Without offload: with it, tcpdump sees our TCP checksums still partial.
      await ns.startStack(["--no-offload"]);
      const pcap = `${dir}/tcp.pcap`;
      const dump = await ns.capture(pcap, "tunstack0", ["tcp"]);
      for (const host of ["192.0.2.2", "[2001:db8::2]"]) {
        await ns.ok([
          "curl",
          "-sS",
          "--fail",
          "-m",
          "10",
          "-o",
          "/dev/null",
          `http://${host}/bytes/200000`,
        ]);
      }
      await dump.stop("SIGINT");
      const text = await ns.ok(["tcpdump", "-r", pcap, "-n", "-vv"]);
      for (const [src, dst] of [["192.0.2.2.80", "192.0.2.1"], ["2001:db8::2.80", "2001:db8::1"]]) {
        const synack = text.split("\n").find((l) =>
          l.includes(`${src} > ${dst}`) && l.includes("Flags [S.]")
        );
        assert.ok(synack, `SYN-ACK from ${src}:\n${text.slice(0, 3000)}`);
        assert.match(synack!, /mss 1(460|440)/);
        assert.match(synack!, /sackOK/);
        assert.match(synack!, /TS val \d+ ecr \d+/);
        assert.match(synack!, /wscale \d+/);
      }
      assert.doesNotMatch(text, /incorrect|bad cksum/i, "every checksum is right");
      assert.match(text, /cksum 0x[0-9a-f]+ \(correct\)/);
    }),
});

Deno.test({
  name: "tcp: curl fetching three URLs on one keep-alive connection: no 20 ms gap (tcpdump)",
  ignore,
  sanitizeResources: false,
  fn: () =>
    withNetns(async (ns, dir) => {
      await ns.startStack();
      const pcap = `${dir}/keepalive.pcap`;
      const dump = await ns.capture(pcap, "tunstack0", ["tcp", "port", "80"]);
      const out = await ns.ok([
        "curl",
        "-sS",
        "--fail",
        "-o",
        "/dev/null",
        "-o",
        "/dev/null",
        "-o",
        "/dev/null",
        "-w",
        "%{num_connects}\\n",
        "http://192.0.2.2/bytes/100",
        "http://192.0.2.2/bytes/5000",
        "http://192.0.2.2/bytes/100",
      ]);
      assert.deepEqual(out.trim().split("\n").map(Number), [1, 0, 0], "one connection");
      await new Promise((r) => setTimeout(r, 200));
      await dump.stop("SIGINT");
      const lines = (await ns.ok(["tcpdump", "-r", pcap, "-n", "-tt"])).trim().split("\n");
      // Each request, and the last segment of data before the next request.
      const t = (l: string) => Number(l.split(" ")[0]);
      const requests = lines.filter((l) => /> 192\.0\.2\.2\.80: .*HTTP: GET/.test(l));
      assert.equal(requests.length, 3, lines.join("\n"));
      for (const req of requests) {
        const i = lines.indexOf(req);
        const next = lines.findIndex((l, k) => k > i && /HTTP: GET/.test(l));
        const reply = lines.slice(i + 1, next < 0 ? undefined : next)
          .filter((l) => /192\.0\.2\.2\.80 > .*length [1-9]/.test(l));
        const end = t(reply[reply.length - 1]);
        assert.ok(end - t(req) < 0.02, `response took ${((end - t(req)) * 1000).toFixed(1)} ms`);
      }
    }),
});

Deno.test({
  name: "tcp: 300 connections at once (curl --parallel) lose no packet on the device's queue",
  ignore,
  sanitizeResources: false,
  fn: () =>
    withNetns(async (ns) => {
      await ns.startStack(["--no-ipv6"]);
      const link = () =>
        ns.ok(["ip", "-s", "-j", "link", "show", "tunstack0"]).then((j) => JSON.parse(j)[0]);
      assert.equal((await link()).txqlen, 4096, "the queue the stack sets (a TUN device gets 500)");
      // 3000 requests, 300 at a time: a turn of the stack's loop outlasts
      // more arrivals than 500 packets of queue (50 to 96 drops measured).
      await ns.ok([
        "curl",
        "-s",
        "--fail",
        "--parallel",
        "--parallel-immediate",
        "--parallel-max",
        "300",
        "-o",
        "/dev/null",
        "http://192.0.2.2/bytes/100?[1-3000]",
      ], 60_000);
      const { tx } = (await link()).stats64;
      assert.ok(tx.packets > 3000, `${tx.packets} packets to the stack`);
      assert.equal(tx.dropped, 0, "dropped on the way to the stack");
    }),
});

Deno.test({
  name:
    "tcp: sending in bulk steers the kernel's receive work off the stack's CPU; receiving does not",
  ignore: ignore || navigator.hardwareConcurrency < 2,
  sanitizeResources: false,
  fn: () =>
    withNetns(async (ns) => {
      const rps = () => ns.ok(["cat", "/sys/class/net/tunstack0/queues/rx-0/rps_cpus"]);
      const moves = async () =>
        (await ns.tunstackJson<{ link: { steeringMoves: number } }>(["stats"])).link.steeringMoves;
      const stack = await ns.startStack(["--no-ipv6"]);
      assert.match(stack.stdout, /receive steering: /);
      assert.equal(Number.parseInt(await rps(), 16), 0, "nothing steered before traffic");
      // Receiving 100 MB: the stack writes only ACKs, nothing is steered.
      await ns.ok([
        "sh",
        "-c",
        "head -c 100000000 /dev/zero | curl -sS --fail -T - -H 'Content-Length: 100000000' http://192.0.2.2/upload",
      ], 60_000);
      assert.equal(await moves(), 0, "steered while receiving");
      // Sending 100 MB: steered, to CPUs other than the thread's.
      const sampled = new Set<string>();
      const curl = ns.run([
        "curl",
        "-sS",
        "--fail",
        "-o",
        "/dev/null",
        "http://192.0.2.2/bytes/100000000",
      ], 60_000);
      let done = false;
      curl.finally(() => done = true);
      while (!done) {
        sampled.add((await rps()).trim());
        await new Promise((r) => setTimeout(r, 5));
      }
      assert.equal((await curl).code, 0);
      assert.ok(await moves() >= 1, "never steered while sending");
      const steered = [...sampled].map((m) => Number.parseInt(m.replaceAll(",", ""), 16))
        .filter((cpus) => cpus !== 0);
      assert.ok(steered.length > 0, `masks seen: ${[...sampled]}`);
      const all = 2 ** navigator.hardwareConcurrency - 1;
      // Never every CPU: the one the thread is on stays out.
      for (const cpus of steered) assert.notEqual(cpus, all, `mask ${cpus.toString(16)}`);
    }),
});

Deno.test({
  name: "tcp: --no-rx-steering leaves the device's receive work where it is",
  ignore,
  sanitizeResources: false,
  fn: () =>
    withNetns(async (ns) => {
      const stack = await ns.startStack(["--no-ipv6", "--no-rx-steering"]);
      assert.doesNotMatch(stack.stdout, /receive steering/);
      await ns.ok(
        ["curl", "-sS", "--fail", "-o", "/dev/null", "http://192.0.2.2/bytes/50000000"],
        60_000,
      );
      const { link } = await ns.tunstackJson<{ link: { steeringMoves: number } }>(["stats"]);
      assert.equal(link.steeringMoves, 0);
      const rps = await ns.ok(["cat", "/sys/class/net/tunstack0/queues/rx-0/rps_cpus"]);
      assert.equal(Number.parseInt(rps, 16), 0);
    }),
});

Deno.test({
  name:
    "tcp: ECN with the kernel (net.ipv4.tcp_ecn=1): CE marks either way are echoed and answered with CWR",
  ignore,
  sanitizeResources: false,
  fn: () =>
    withNetns(async (ns) => {
      await ns.startStack(["--no-ipv6"]);
      await ns.ok(["sysctl", "-qw", "net.ipv4.tcp_ecn=1"]);
      // A congested router's CE mark, on every 20th packet of a direction.
      const mark = (chain: string, dev: string, port: string) => [
        chain,
        chain === "OUTPUT" ? "-o" : "-i",
        dev,
        "-p",
        "tcp",
        port,
        "-m",
        "statistic",
        "--mode",
        "nth",
        "--every",
        "20",
        "--packet",
        "0",
        "-j",
        "TOS",
        "--set-tos",
        "0x03/0x03",
      ];
      const down = mark("PREROUTING", "tunstack0", "--sport=80");
      await ns.ok(["iptables", "-t", "mangle", "-A", ...down]);
      await checkedDownload(ns, 20_000_000, 60);
      await ns.ok(["iptables", "-t", "mangle", "-D", ...down]);
      const sent = await ns.tunstackJson<{ tcp: { ecn: Record<string, number> } }>(["stats"]);
      assert.ok(sent.tcp.ecn.responses > 0, "the kernel echoed our marked segments");
      const up = mark("OUTPUT", "tunstack0", "--dport=9");
      await ns.ok(["iptables", "-t", "mangle", "-A", ...up]);
      await ns.ok(["sh", "-c", "head -c 20000000 /dev/zero | nc -N 192.0.2.2 9"], 60_000);
      // The kernel as sender: its segments that we echoed as marked.
      const delivered = await ns.ok(["nstat", "-az", "TcpExtTCPDeliveredCE"]);
      assert.ok(Number(/TcpExtTCPDeliveredCE\s+(\d+)/.exec(delivered)?.[1]) > 0, delivered);
      const { tcp } = await ns.tunstackJson<
        { tcp: { ecn: Record<string, number>; bytesReceived: number } }
      >(["stats"]);
      const e = tcp.ecn;
      assert.equal(e.negotiated, 2, "both connections agreed to ECN");
      assert.ok(e.echoesReceived > 0 && e.responses > 0 && e.cwrSent > 0, JSON.stringify(e));
      assert.ok(e.ceReceived > 0 && e.cwrReceived > 0, JSON.stringify(e));
      assert.ok(tcp.bytesReceived >= 20_000_000);
    }),
});
