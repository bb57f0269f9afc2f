// `tunstack up --impair`: the stack's own link impairment against the
// kernel's TCP, both directions, with the counters that say what it did.

import assert from "node:assert/strict";
import { integrationIgnored, withNetns } from "./_netns.ts";

const ignore = integrationIgnored();
const MB = 1024 * 1024;

interface Counters {
  packets: number;
  dropped: number;
  delayed: number;
  duplicated: number;
  reordered: number;
}

Deno.test({
  name:
    "impair: 4 MB each way through drop, dup, reorder and delay in both directions, sha256 intact",
  ignore,
  sanitizeResources: false,
  fn: () =>
    withNetns(async (ns, dir) => {
      const stack = await ns.startStack([
        "--impair",
        "drop=2%,dup=1%,reorder=2%,reorder-delay=3ms,out:delay=1ms,seed=11",
      ]);
      assert.match(
        stack.stdout,
        /impairment: in drop 2%, dup 1%, reorder 2% by 3 ms; out drop 2%, dup 1%, reorder 2% by 3 ms, delay 1 ms; seed 11/,
      );
      assert.match(stack.stdout, /offload none/);
      const down = await ns.ok([
        "sh",
        "-c",
        `curl -sS --fail -m 60 http://192.0.2.2/bytes/${4 * MB} | sha256sum`,
      ], 70_000);
      const want = await ns.ok([
        "sh",
        "-c",
        `yes abcdefghijklmnopqrstuvwxyz | tr -d '\\n' | head -c ${4 * MB} | sha256sum`,
      ]);
      assert.equal(down.split(" ")[0], want.split(" ")[0], "download sha256");
      const file = `${dir}/up.bin`;
      await ns.ok(["sh", "-c", `head -c ${4 * MB} /dev/urandom > ${file}`]);
      const fileSha = (await ns.ok(["sha256sum", file])).split(" ")[0];
      const up = await ns.ok([
        "curl",
        "-sS",
        "--fail",
        "-m",
        "60",
        "--data-binary",
        `@${file}`,
        "http://[2001:db8::2]/upload",
      ], 70_000);
      assert.deepEqual(JSON.parse(up), { bytes: 4 * MB, sha256: fileSha });

      const st = await ns.tunstackJson<
        { link: { impairment: { in: Counters; out: Counters } }; tcp: Record<string, number> }
      >(["stats"]);
      for (const d of ["in", "out"] as const) {
        const c = st.link.impairment[d];
        assert.ok(c.packets > 2000, `${d}: ${JSON.stringify(c)}`);
        const near = (n: number, p: number) => n > c.packets * p * 0.5 && n < c.packets * p * 1.6;
        assert.ok(near(c.dropped, 0.02), `${d} drop: ${JSON.stringify(c)}`);
        assert.ok(near(c.duplicated, 0.01), `${d} dup: ${JSON.stringify(c)}`);
        assert.ok(near(c.reordered, 0.02), `${d} reorder: ${JSON.stringify(c)}`);
      }
      // The stack's sender saw its losses and repaired them.
      assert.ok(st.tcp.retransmittedSegments > 0, JSON.stringify(st.tcp));
      assert.equal(
        st.link.impairment.out.delayed,
        st.link.impairment.out.packets - st.link.impairment.out.dropped,
      );
    }),
});

Deno.test({
  name:
    "impair: over a 200 ms path the buffers grow, and 32 MB each way beat what any 1 MiB window carries",
  ignore,
  sanitizeResources: false,
  fn: () =>
    withNetns(async (ns, dir) => {
      await ns.startStack(["--impair", "delay=100ms"]);
      // One 1 MiB window per 200 ms round trip is 5.2 MB/s at most; a long
      // path, so that the bound stays far below what the impairment's
      // packet-by-packet delay line can carry on a loaded machine.
      const windowBound = MB / 0.2;
      // curl's average rate over the whole transfer, bytes per second.
      const speed = async (what: "download" | "upload", args: string[]) =>
        Number(
          await ns.ok(
            [
              "curl",
              "-sS",
              "--fail",
              "-m",
              "60",
              "-o",
              "/dev/null",
              "-w",
              `%{speed_${what}}`,
              ...args,
            ],
            70_000,
          ),
        );
      const down = await speed("download", [`http://192.0.2.2/bytes/${32 * MB}`]);
      const file = `${dir}/up.bin`;
      await ns.ok(["sh", "-c", `head -c ${32 * MB} /dev/urandom > ${file}`]);
      const up = await speed("upload", ["--data-binary", `@${file}`, "http://192.0.2.2/upload"]);
      const st = await ns.tunstackJson<
        { tcp: { bufferAutosize: { receive: number; send: number } } }
      >(["stats"]);
      const why = `down ${down} B/s, up ${up} B/s, ${JSON.stringify(st.tcp.bufferAutosize)}`;
      assert.ok(down > windowBound, why);
      assert.ok(up > windowBound, why);
      assert.ok(st.tcp.bufferAutosize.send > 0 && st.tcp.bufferAutosize.receive > 0, why);
    }),
});

Deno.test({
  name:
    "impair: BBR through a 100 Mbit/s bottleneck with a 10-packet queue: paced, a fraction of the queue drops",
  ignore,
  sanitizeResources: false,
  fn: async () => {
    const drops: number[] = [];
    for (const pacing of [1, 0]) {
      await withNetns(async (ns) => {
        await ns.startStack([
          "--congestion",
          "bbr",
          "--sysctl",
          `net.inet.tcp.pacing=${pacing}`,
          "--impair",
          "out:rate=100mbit,limit=10,delay=5ms,seed=3",
        ]);
        const got = await ns.ok([
          "sh",
          "-c",
          `curl -sS --fail -m 60 http://192.0.2.2/bytes/${4 * MB} | wc -c`,
        ], 70_000);
        assert.equal(Number(got.trim()), 4 * MB);
        const st = await ns.tunstackJson<
          { link: { impairment: { out: { queueDrops: number } } } }
        >(["stats"]);
        drops.push(st.link.impairment.out.queueDrops);
      });
    }
    // Measured over 15 MB: 2,300 against 15,289.
    const [paced, unpaced] = drops;
    assert.ok(paced * 3 < unpaced, `queue drops paced ${paced}, unpaced ${unpaced}`);
  },
});

Deno.test({
  name:
    "impair: out:ce=2% marks our ECT data CE; a kernel client with ECN echoes it and the stack answers with CWR",
  ignore,
  sanitizeResources: false,
  fn: () =>
    withNetns(async (ns) => {
      const stack = await ns.startStack(["--no-ipv6", "--impair", "out:ce=2%,seed=5"]);
      assert.match(stack.stdout, /out CE marks 2% of ECT packets/);
      await ns.ok(["sysctl", "-qw", "net.ipv4.tcp_ecn=1"]);
      const url = `http://192.0.2.2/bytes/${8 * MB}`;
      const got = await ns.ok([
        "sh",
        "-c",
        `curl -sS --fail -m 60 -o /dev/null -w '%{size_download}' ${url}`,
      ], 70_000);
      assert.equal(Number(got), 8 * MB);
      const st = await ns.tunstackJson<
        {
          link: { impairment: { out: { packets: number; marked: number } } };
          tcp: { ecn: Record<string, number>; retransmittedSegments: number };
        }
      >(["stats"]);
      const out = st.link.impairment.out;
      assert.ok(out.marked > 0 && out.marked < out.packets * 0.05, JSON.stringify(out));
      const e = st.tcp.ecn;
      assert.equal(e.negotiated, 1);
      assert.ok(e.echoesReceived > 0 && e.responses > 0 && e.cwrSent > 0, JSON.stringify(e));
      assert.equal(st.tcp.retransmittedSegments, 0, "congestion told without a loss");
    }),
});
