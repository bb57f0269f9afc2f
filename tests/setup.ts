/**
 * Installs the Debian packages the tests drive (tcpdump, tshark, ping, curl, nc,
 * Chromium...) when they are missing, so `deno task test` works on a fresh
 * machine: as root with apt-get, once, quietly. Without root it says what
 * is missing and how to install it, and the root-only tests are skipped.
 *
 * @module
 */

/** The packages, with a command each provides (checked on PATH first). */
export const TEST_PACKAGES: [pkg: string, command: string][] = [
  ["iproute2", "ip"],
  ["tcpdump", "tcpdump"],
  ["iputils-ping", "ping"],
  ["curl", "curl"],
  ["netcat-openbsd", "nc"],
  ["util-linux", "nsenter"],
  ["procps", "ps"],
  ["iptables", "iptables"],
  ["chromium", "chromium"],
  ["tshark", "tshark"],
];

async function has(command: string): Promise<boolean> {
  const r = await new Deno.Command("sh", { args: ["-c", `command -v ${command}`] }).output();
  return r.success;
}

async function main(): Promise<number> {
  const missing: string[] = [];
  for (const [pkg, cmd] of TEST_PACKAGES) if (!(await has(cmd))) missing.push(pkg);
  if (missing.length === 0) return 0;
  if (Deno.uid() !== 0) {
    console.error(
      `tests: missing ${missing.join(", ")}; the root tests need them and are skipped without ` +
        `root. As root, this task installs them (apt-get install ${missing.join(" ")}).`,
    );
    return 0;
  }
  console.error(`tests: installing ${missing.join(", ")} (apt-get, once)`);
  const env = { DEBIAN_FRONTEND: "noninteractive" };
  for (const args of [["update", "-qq"], ["install", "-y", "-qq", ...missing]]) {
    const r = await new Deno.Command("apt-get", { args, env, stdout: "null", stderr: "piped" })
      .output();
    if (!r.success) {
      console.error(
        `tests: apt-get ${args[0]} failed: ${new TextDecoder().decode(r.stderr).trim()}\n` +
          `Install ${missing.join(" ")} by hand and run the tests again.`,
      );
      return 1;
    }
  }
  return 0;
}

if (import.meta.main) Deno.exit(await main());
