// The layering in ARCHITECTURE.md, checked on the import graph: a change
// that reaches across a boundary fails here, not in review.

import assert from "node:assert/strict";

const ROOT = new URL("../../", import.meta.url).pathname;

async function* sources(dir: string): AsyncGenerator<string> {
  for await (const e of Deno.readDir(ROOT + dir)) {
    const p = `${dir}/${e.name}`;
    if (e.isDirectory) yield* sources(p);
    else if (e.name.endsWith(".ts")) yield p;
  }
}

/** The files `file` imports (static, re-exports and dynamic), relative to the root. */
function imports(file: string, text: string): string[] {
  const code = text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
  const specs = [
    ...code.matchAll(/^(?:import|export)\b[^;]*?\bfrom\s+"([^"]+)"/gms),
    ...code.matchAll(/^import\s+"([^"]+)"/gm),
    ...code.matchAll(/\bimport\(\s*"([^"]+)"\s*\)/g),
  ].map((m) => m[1]);
  const dir = file.slice(0, file.lastIndexOf("/") + 1);
  return specs.filter((s) => s.startsWith(".")).map((s) => {
    const parts: string[] = [];
    for (const seg of (dir + s).split("/")) {
      if (seg === "..") parts.pop();
      else if (seg !== "." && seg !== "") parts.push(seg);
    }
    return parts.join("/");
  });
}

const RULES: { from: RegExp; to: RegExp; why: string }[] = [
  { from: /^tun\//, to: /^(stack\/(tcp|wire)\/|cli\/)/, why: "tun/ knows no TCP and no CLI" },
  {
    from: /^stack\//,
    to: /^(tun|cli)\/|^(mod|link|testing)\.ts$/,
    why: "stack/ never touches FFI",
  },
  { from: /^stack\/tcp\//, to: /^stack\/link\.ts$/, why: "TCP never fills device offload fields" },
  { from: /^cli\//, to: /^(stack|tun)\//, why: "the CLI uses the public API (mod.ts) only" },
];

Deno.test("layering: no import crosses a boundary ARCHITECTURE.md draws", async () => {
  const bad: string[] = [];
  let files = 0;
  for (const dir of ["stack", "tun", "cli"]) {
    for await (const file of sources(dir)) {
      files++;
      for (const target of imports(file, await Deno.readTextFile(ROOT + file))) {
        for (const r of RULES) {
          if (r.from.test(file) && r.to.test(target)) bad.push(`${file} -> ${target}: ${r.why}`);
        }
      }
    }
  }
  assert.ok(files > 40, `read ${files} files`);
  assert.deepEqual(bad, []);
});

Deno.test("layering: the checker sees imports, re-exports and dynamic imports, not comments", () => {
  const text = `/**
 * import { d } from "../tun/sched.ts";
 */
import { a } from "../tun/device.ts";
export {
  b,
} from "./tcp/input.ts";
const m = await import("../cli/up.ts");
// import { c } from "../tun/loop.ts";
`;
  assert.deepEqual(imports("stack/x.ts", text), [
    "tun/device.ts",
    "stack/tcp/input.ts",
    "cli/up.ts",
  ]);
});
