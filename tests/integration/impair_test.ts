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
