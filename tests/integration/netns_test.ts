// `tunstack up --netns NAME`: the device and the kernel side are made in
// another namespace, the one the stack runs in is left as it was.

import assert from "node:assert/strict";
import { integrationIgnored, Netns, withNetns } from "./_netns.ts";

const ignore = integrationIgnored();

Deno.test({
  name:
    "netns: up --netns puts the kernel side in that namespace; curl from there reaches the stack",
  ignore,
  sanitizeResources: false,
  fn: () =>
    withNetns(async (ns) => {
      const lab = await Netns.create();
      try {
        const stack = await ns.startStack(["--netns", lab.name]);
        assert.match(stack.stdout, new RegExp(`up in namespace ${lab.name}`));
        assert.match(stack.stdout, /changed: namespace .* got tunstack0/);
        const here = await ns.ok(["ip", "-br", "link"]);
        assert.doesNotMatch(here, /tunstack0/, "nothing added where the stack runs");
        assert.match(await lab.ok(["ip", "-br", "addr", "show", "tunstack0"]), /192\.0\.2\.1\/24/);
        const body = await lab.ok(["curl", "-sS", "-m", "5", "http://192.0.2.2/bytes/26"]);
        assert.equal(body, "abcdefghijklmnopqrstuvwxyz");
        const six = await lab.ok(["curl", "-sS", "-m", "5", "http://[2001:db8::2]/bytes/3"]);
        assert.equal(six, "abc");
        // A namespace that does not exist is a clear run-time error.
        const r = await ns.run([
          Deno.execPath(),
          "run",
          "--allow-ffi",
          "cli/main.ts",
          "up",
          "--dev",
          "tsmissing0",
          "--no-control",
          "--netns",
          "no-such-ns",
        ]);
        assert.equal(r.code, 1);
        assert.match(r.stderr, /No such network namespace: no-such-ns .*ip netns add no-such-ns/);
      } finally {
        await lab.close();
      }
    }),
});
