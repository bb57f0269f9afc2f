import assert from "node:assert/strict";
import { integrationIgnored, withNetns } from "./_netns.ts";

const ignore = integrationIgnored();
const UP = [Deno.execPath(), "run", "--allow-ffi", "cli/main.ts", "up"];

async function expectError(
  ns: { run(c: string[], t?: number): Promise<{ code: number; stdout: string; stderr: string }> },
  args: string[],
  pattern: RegExp,
  prefix: string[] = [],
) {
  const r = await ns.run([...prefix, ...UP, ...args], 20_000);
  assert.notEqual(r.code, 0, `${args.join(" ")} must fail`);
  const lines = r.stderr.trim().split("\n");
  assert.equal(lines.length, 1, `one-line error expected, got: ${r.stderr}`);
  assert.match(lines[0], pattern);
}

Deno.test({
  name: "cli: clear one-line errors and non-zero exit for bad set-ups",
  ignore,
  sanitizeResources: false,
  fn: () =>
    withNetns(async (ns) => {
      await expectError(ns, ["--mtu", "50", "--no-ipv6"], /^tunstack: MTU out of range: 50/);
      await expectError(ns, ["--mtu", "1200"], /^tunstack: MTU out of range: 1200 .*IPv6/);
      await expectError(ns, ["--mtu", "70000"], /^tunstack: MTU out of range/);
      await expectError(ns, ["--ipv4", "300.1.1.1"], /^tunstack: Invalid address: "300\.1\.1\.1"/);
      await expectError(ns, ["--kernel-ipv4", "192.0.2.1/40"], /^tunstack: Invalid prefix: \/40/);
      await expectError(ns, ["--ipv4", "198.51.100.2"], /outside the kernel's prefix/);
      await expectError(ns, ["--ipv6", "192.0.2.9"], /not IPv6/);
      await expectError(ns, ["--dev", "a/b"], /^tunstack: Invalid device name/);
      await expectError(ns, ["--bogus"], /^tunstack: Unknown option '--bogus'/);
      await expectError(
        ns,
        ["--realtime", "0"],
        /^tunstack: Invalid --realtime: "0" \(must be 1 to 99\)/,
      );
      // Root without CAP_SYS_NICE may not use SCHED_FIFO.
      await expectError(ns, ["--realtime", "1"], /^tunstack: Permission denied: SCHED_FIFO needs/, [
        "setpriv",
        "--bounding-set=-sys_nice",
      ]);
      // A service port taken twice (HTTP on echo's port), bad flags of the newer options.
      await expectError(
        ns,
        ["--http-port", "7", "--no-control"],
        /^tunstack: Address in use: port 7 has a listener$/,
      );
      await expectError(
        ns,
        ["--impair", "drop=2"],
        /^tunstack: Invalid impairment: drop=2 \(a probability such as 1%/,
      );
      await expectError(ns, ["--drain-ms", "soon"], /^tunstack: Invalid --drain-ms: "soon"/);
      await expectError(
        ns,
        ["--sysctl", "net.inet.tcp.syncookies=2", "--no-control"],
        /^tunstack: Invalid value for net.inet.tcp.syncookies: 2 \(must be 0 or 1\)$/,
      );
      // The failed start removed its device.
      assert.equal((await ns.run(["ip", "link", "show", "tunstack0"])).code, 1);
      // An interface of that name exists already.
      await ns.ok(["ip", "link", "add", "taken0", "type", "veth", "peer", "name", "taken1"]);
      await expectError(ns, ["--dev", "taken0"], /^tunstack: Device name in use: .*taken0/);
      // Without CAP_NET_ADMIN (as nobody).
      await expectError(ns, [], /^tunstack: Permission denied: .*root or CAP_NET_ADMIN/, [
        "setpriv",
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "--inh-caps=-all",
      ]);
      // A prefix another interface holds (this machine's own eth0 holds
      // 192.0.2.2/24): refused over netlink before anything is configured.
      await ns.ok(["ip", "addr", "add", "192.0.2.2/24", "dev", "taken1"]);
      await expectError(
        ns,
        ["--no-ipv6"],
        /^tunstack: Address overlap: the kernel side's 192\.0\.2\.1\/24 overlaps 192\.0\.2\.2\/24 on taken1; choose other addresses .* or --force$/,
      );
      assert.equal((await ns.run(["ip", "link", "show", "tunstack0"])).code, 1, "no device made");
      // Other addresses, or --force, go ahead.
      const other = await ns.startStack([
        "--no-ipv6",
        "--kernel-ipv4",
        "198.51.100.1/24",
        "--ipv4",
        "198.51.100.2",
      ]);
      assert.match(other.stdout, /kernel 198\.51\.100\.1\/24, stack 198\.51\.100\.2/);
      await other.stop();
      const forced = await ns.startStack(["--no-ipv6", "--force"]);
      assert.match(forced.stdout, /kernel 192\.0\.2\.1\/24/);
      await forced.stop();
    }),
});
