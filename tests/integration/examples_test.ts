// The examples run as their doc comments say, against real kernel programs.

import assert from "node:assert/strict";
import { integrationIgnored, withNetns } from "./_netns.ts";

const ignore = integrationIgnored();

Deno.test({
  name: "examples: http_server.ts answers curl on the socket API and stops on SIGTERM",
  ignore,
  sanitizeResources: false,
  fn: () =>
    withNetns(async (ns) => {
      const server = ns.spawn([
        Deno.execPath(),
        "run",
        "--allow-ffi",
        "examples/http_server.ts",
        "8080",
      ]);
      await server.waitFor(/listening on http:\/\/192\.0\.2\.2:8080\//);
      const curl = (path: string) =>
        ns.run(["curl", "-sS", "-m", "5", "-w", " %{http_code}", `http://192.0.2.2:8080${path}`]);
      const ok = await curl("/");
      assert.match(ok.stdout, /^hello 192\.0\.2\.1:\d+, it is \d{4}-\d\d-\d\dT.*\n 200$/);
      const missing = await curl("/nope");
      assert.equal(missing.stdout, "not found\n 404");
      const status = await server.stop("SIGTERM");
      assert.equal(status.code, 0, server.stderr);
      assert.equal((await ns.run(["ip", "link", "show", "tunstack0"])).code, 1);
    }),
});
