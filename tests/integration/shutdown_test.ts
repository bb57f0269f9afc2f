// Clean ends: SIGTERM resets or drains connections and removes the device
// and control socket; a second signal exits at once; a device deleted from
// outside is reported and ends the stack with status 1.

import assert from "node:assert/strict";
import { integrationIgnored, type Netns, type Proc, withNetns } from "./_netns.ts";

const ignore = integrationIgnored();

/** A curl download from the stack at `rate` bytes/s, still running when it returns. */
async function slowCurl(ns: Netns, bytes: number, rate: string): Promise<Proc> {
  const curl = ns.spawn([
    "curl",
    "-sS",
    "-m",
    "30",
    "--limit-rate",
    rate,
    "-o",
    "/dev/null",
    "-w",
    "%{size_download}",
    `http://192.0.2.2/bytes/${bytes}`,
  ]);
  await new Promise((r) => setTimeout(r, 700));
  return curl;
}

async function assertGone(ns: Netns): Promise<void> {
  assert.equal((await ns.run(["ip", "link", "show", "tunstack0"])).code, 1, "device removed");
  const left = await Array.fromAsync(Deno.readDir(ns.controlDir)).catch(() => []);
  assert.deepEqual(left, [], "control socket removed");
}

async function timed<T>(p: Promise<T>): Promise<[T, number]> {
  const t0 = Date.now();
  const v = await p;
  return [v, Date.now() - t0];
}

Deno.test({
  name: "shutdown: SIGTERM resets open connections, removes device and socket, exits 0",
  ignore,
  sanitizeResources: false,
  fn: () =>
    withNetns(async (ns) => {
      const stack = await ns.startStack();
      // Linux hands a reader what it has queued before it reports a reset,
      // and its buffer grows to megabytes: kept small, curl at 200 KB/s gets
      // to the reset within its 30 s.
      await ns.ok(["sysctl", "-qw", "net.ipv4.tcp_rmem=4096 65536 262144"]);
      // Far more than the kernel's socket buffers hold, so the stack is still sending.
      const curl = await slowCurl(ns, 50_000_000, "200k");
      stack.child.kill("SIGTERM");
      const [status, ms] = await timed(stack.done);
      assert.equal(status.code, 0, stack.stderr);
      assert.ok(ms < 3000, `took ${ms} ms`);
      assert.match(stack.stdout, /SIGTERM: stopping/);
      // The kernel took our RST at once (the connection left ESTABLISHED).
      const resets = await ns.ok(["nstat", "-az", "TcpEstabResets"]);
      assert.match(resets, /TcpEstabResets\s+1\b/);
      const c = await curl.done;
      assert.notEqual(c.code, 0, "the download was cut");
      assert.match(curl.stderr, /reset|Recv failure/i);
      await assertGone(ns);
    }),
});

Deno.test({
  name: "shutdown: --drain-ms lets a download finish, then exits 0",
  ignore,
  sanitizeResources: false,
  fn: () =>
    withNetns(async (ns) => {
      const stack = await ns.startStack(["--drain-ms", "10000"]);
      // Larger than the kernel's socket buffers, so the stack is still sending.
      const curl = await slowCurl(ns, 30_000_000, "10M");
      stack.child.kill("SIGINT");
      await stack.waitFor(/draining 1 connections/);
      // No one new gets in while draining: the listeners closed first.
      const late = await ns.run(["curl", "-sS", "-m", "3", "http://192.0.2.2/bytes/1"]);
      assert.equal(late.code, 7, late.stderr); // couldn't connect (RST)
      const c = await curl.done;
      assert.equal(c.code, 0, curl.stderr);
      assert.equal(curl.stdout, "30000000");
      const status = await stack.done;
      assert.equal(status.code, 0, stack.stderr);
      await assertGone(ns);
    }),
});

Deno.test({
  name: "shutdown: a second signal during a drain exits at once with status 1",
  ignore,
  sanitizeResources: false,
  fn: () =>
    withNetns(async (ns) => {
      const stack = await ns.startStack(["--drain-ms", "60000"]);
      const curl = await slowCurl(ns, 50_000_000, "100k");
      stack.child.kill("SIGTERM");
      await stack.waitFor(/draining/);
      stack.child.kill("SIGTERM");
      const [status, ms] = await timed(stack.done);
      assert.equal(status.code, 1);
      assert.ok(ms < 2000, `took ${ms} ms`);
      assert.match(stack.stderr, /second SIGTERM: exiting now/);
      await curl.stop();
      await assertGone(ns);
    }),
});

Deno.test({
  name: "shutdown: a device deleted from outside is reported; the stack exits 1 without spinning",
  ignore,
  sanitizeResources: false,
  fn: () =>
    withNetns(async (ns) => {
      const stack = await ns.startStack();
      await ns.ok(["ip", "link", "del", "tunstack0"]);
      const [status, ms] = await timed(stack.done);
      assert.equal(status.code, 1);
      assert.ok(ms < 3000, `took ${ms} ms`);
      assert.match(stack.stderr, /^tunstack: device lost: tunstack0 /m);
      await assertGone(ns);
    }),
});
