// The guided TIME_WAIT demo runs as its doc comment says and cleans up.

import assert from "node:assert/strict";
import { integrationIgnored } from "./_netns.ts";

const ignore = integrationIgnored();

Deno.test({
  name: "demo: examples/timewait_demo.ts narrates both close orders and deletes its namespace",
  ignore,
  sanitizeResources: false,
  fn: async () => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-run",
        "--allow-read",
        "--allow-write",
        "--allow-env",
        "examples/timewait_demo.ts",
      ],
      cwd: new URL("../../", import.meta.url).pathname,
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(90_000),
    }).output();
    const text = new TextDecoder().decode(out.stdout);
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr) + text);
    assert.match(text, /stack {2}-> kernel {2}\[F\S*\]\s+seq \d+ ack \d+\s+stack closes first/);
    assert.match(text, /=> stack closed first, so stack entered TIME_WAIT/);
    assert.match(
      text,
      /tunstack tw: 1 entry; ours: \{"localAddress":"192\.0\.2\.2","localPort":80/,
    );
    assert.match(text, /expired after \d\.\d s more \(2MSL = 5 s from the close\)/);
    assert.match(text, /=> kernel closed first, so kernel entered TIME_WAIT/);
    assert.match(text, /192\.0\.2\.1:\d+\s+192\.0\.2\.2:80/, "ss shows the kernel's entry");
    // The lost last ACK: the kernel's FIN again, answered from TIME_WAIT, 2MSL re-armed.
    assert.match(text, /right after the close: \d+ ms left, re-armed 0 times/);
    assert.match(text, /kernel -> stack\s+\[F\.\]\s+its FIN again/);
    assert.match(text, /stack {2}-> kernel {2}\[\.\]\s+ACK again, from TIME_WAIT/);
    assert.match(text, /after the second FIN: \d+ ms left, re-armed 1 time\(s\)/);
    const ns = /namespace (tunstack-t\d+-\d+) deleted/.exec(text)?.[1];
    assert.ok(ns, "the demo says it deleted its namespace");
    const list = new TextDecoder().decode(
      (await new Deno.Command("ip", { args: ["netns", "list"], stdout: "piped" }).output()).stdout,
    );
    assert.doesNotMatch(list, new RegExp(`^${ns}\\b`, "m"));
  },
});
