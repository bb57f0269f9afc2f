// The CLI's entry point without a device: version and usage errors.

import assert from "node:assert/strict";
import { main, VERSION } from "../../cli/main.ts";

Deno.test("cli: --version prints deno.json's version; an unknown command is a usage error (2)", async () => {
  const config = JSON.parse(
    await Deno.readTextFile(new URL("../../deno.json", import.meta.url)),
  );
  assert.equal(VERSION, config.version);
  const out: string[] = [];
  const log = console.log, error = console.error;
  console.log = (s: string) => out.push(s);
  console.error = (s: string) => out.push(s);
  try {
    assert.equal(await main(["--version"]), 0);
    assert.equal(await main(["bogus"]), 2);
  } finally {
    console.log = log;
    console.error = error;
  }
  assert.deepEqual(out, [
    `tunstack ${VERSION}`,
    "tunstack: unknown command: bogus (try tunstack --help)",
  ]);
});
