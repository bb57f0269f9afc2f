// The README cannot rot: every command it shows (in sh/console blocks, and
// inline commands) must have a check here, and the checks run them against
// a stack in a namespace. A command added to the README without a check
// fails this test. Where running it as written would touch the machine
// (`deno task start` uses /run/tunstack) or take minutes (bench, soak), the
// check is the equivalent one named beside it.

import assert from "node:assert/strict";
import { integrationIgnored, type Netns, withNetns } from "./_netns.ts";

const ignore = integrationIgnored();
const ROOT = new URL("../../", import.meta.url).pathname;
const README = Deno.readTextFileSync(`${ROOT}README.md`);
const TASKS = JSON.parse(Deno.readTextFileSync(`${ROOT}deno.json`)).tasks as Record<string, string>;

/** Commands shown in the README, as written. */
function readmeCommands(): string[] {
  const out = new Set<string>();
  for (const m of README.matchAll(/```(sh|console)\n([\s\S]*?)```/g)) {
    for (const line of m[2].split("\n")) {
      if (m[1] === "sh" && line.trim() && !line.startsWith("#")) out.add(line.trim());
      if (m[1] === "console" && /^[$#] /.test(line)) {
        out.add(line.slice(2).replace(/\s+#.*$/, "").trim());
      }
    }
  }
  const prose = README.replace(/```[\s\S]*?```/g, "").replaceAll("\n", " ");
  const starts = ["deno ", "curl ", "ss ", "tcpdump ", "tunstack ", "nc ", "ping ", "sysctl "];
  for (const m of prose.matchAll(/`([^`]+)`/g)) {
    const c = m[1].replace(/\s+/g, " ");
    if (starts.some((s) => c.startsWith(s))) out.add(c);
  }
  return [...out];
}

// Mentions of a tool or flag in prose, not commands to run.
const NOT_COMMANDS = new Set([
  "deno task",
  "tunstack up",
  "tunstack sysctl",
  "tunstack up --help", // the flag list; cli_errors_test runs `up` with bad flags
  "ss -o",
  "ss -tan", // what `tunstack ss` imitates
  "ss -ti",
  "sysctl -d",
  "sysctl -w", // a packetdrill shell line the conformance runner maps
  "deno run --cpu-prof",
  "deno publish --dry-run", // what deno task publish:check runs
  "deno compile", // named to say why there is no binary
  "deno task tunstack <ss|tw|stats|sysctl> ...", // each one below
]);

type Check = (ns: Netns, dir: string) => Promise<void>;

async function sh(ns: Netns, cmd: string): Promise<string> {
  return await ns.ok(["sh", "-c", cmd], 60_000);
}

function task(name: string, includes: string): Check {
  return () => {
    assert.ok(TASKS[name], `deno task ${name} is defined`);
    assert.ok(TASKS[name].includes(includes), `deno task ${name} runs ${includes}`);
    return Promise.resolve();
  };
}

let lastPort = 0;

async function conformance(args: string[], last: RegExp, code = 0): Promise<string> {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["task", ...args],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const out = new TextDecoder().decode(r.stdout);
  assert.equal(r.code, code, new TextDecoder().decode(r.stderr) + out.slice(-2000));
  assert.match(out.trimEnd().split("\n").at(-1)!, last);
  return out;
}

const VERBOSE_SCRIPT =
  "tests/conformance/freebsd-tcp-testsuite/state-event-engine/rcv-syn-time-wait/rcv-syn-time-wait-using-shutdown-right-edge-secure-ipv4.pkt";

const CHECKS: Record<string, Check> = {
  // Equivalent: the test stack is started with this task's command line.
  "npm ci && node_modules/.bin/deno task start": task("start", "cli/main.ts up"),
  "deno task start": task("start", "cli/main.ts up"),
  // Equivalent: this test runs inside it.
  "npm ci && node_modules/.bin/deno task test": task("test", "tests/"),
  "deno task test": task("test", "tests/"),
  "deno task test:unit": task("test:unit", "tests/unit/"),
  "deno task bench:sim": task("bench:sim", "bench/loss_sim.ts"),
  "deno task bench": task("bench", "bench/main.ts"),
  "deno task soak": task("soak", "bench/soak.ts"),
  "deno task soak [connections]": task("soak", "bench/soak.ts"),
  "deno task publish:check": task("publish:check", "publish --dry-run"),
  "deno task fmt": task("fmt", "fmt"),
  "deno task lint": task("lint", "lint"),
  "deno task check": task("check", "check"),
  "deno task fuzz": task("fuzz", "tests/fuzz/main.ts"),
  "node_modules/.bin/deno task conformance:suite": async () => {
    await conformance(["conformance:suite"], /^\d+ passed, 0 failed, \d+ skipped$/);
  },
  "deno task conformance:suite": task("conformance:suite", "freebsd-tcp-testsuite/socket-api"),
  [`node_modules/.bin/deno task conformance --verbose ${VERBOSE_SCRIPT}`]: async () => {
    const out = await conformance(["conformance", "--verbose", VERBOSE_SCRIPT], /^1 passed/);
    assert.match(out, /^ {2}\d+\.\d{3} > S\. 0:0\(0\) ack 1 win 65535/m);
  },
  "deno task conformance [--define NAME]... [--verbose] PATH...": async () => {
    const fixtures = "tests/conformance/fixtures/";
    await conformance(
      ["conformance", "--define", "X", `${fixtures}pass_passive_open.pkt`],
      /^1 passed/,
    );
    await conformance(["conformance", `${fixtures}fail_late.pkt`], /^0 passed, 1 failed/, 1);
  },
  "deno task fuzz [packets] [seed]": async () => {
    const r = await new Deno.Command(Deno.execPath(), {
      args: ["task", "fuzz", "3000", "7"],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(r.code, 0, new TextDecoder().decode(r.stderr));
    assert.match(new TextDecoder().decode(r.stdout), /seed 7: 3000 packets .*\nfailures: 0/);
  },
  "ping -c 2 192.0.2.2": async (ns) => {
    assert.match(await sh(ns, "ping -c 2 192.0.2.2 && ping -6 -c 2 2001:db8::2"), /0% packet loss/);
  },
  'echo "hello tunstack" | nc -N 192.0.2.2 7': async (ns) => {
    assert.equal(await sh(ns, 'echo "hello tunstack" | nc -N 192.0.2.2 7'), "hello tunstack\n");
  },
  "curl -s 'http://[2001:db8::2]/'": async (ns) => {
    assert.match(
      await sh(ns, "curl -s 'http://[2001:db8::2]/'"),
      /^tunstack: a userspace TCP\/IP stack/,
    );
  },
  "curl -s http://192.0.2.2/bytes/1073741824 -o /dev/null -w '%{speed_download}\\n'": async (
    ns,
  ) => {
    const out = await sh(
      ns,
      "curl -s http://192.0.2.2/bytes/1073741824 -o /dev/null -w '%{speed_download}\\n'",
    );
    assert.ok(Number(out) > 1e7, `speed ${out}`);
  },
  "curl -s --data-binary @big.bin http://192.0.2.2/upload": async (ns, dir) => {
    const out = await sh(
      ns,
      `cd ${dir} && head -c 5000000 /dev/urandom > big.bin && curl -s --data-binary @big.bin http://192.0.2.2/upload && sha256sum big.bin`,
    );
    const [json, sum] = out.trim().split("\n");
    const r = JSON.parse(json);
    assert.equal(r.bytes, 5_000_000);
    assert.equal(r.sha256, sum.split(" ")[0]);
  },
  "head -c 10000000 /dev/zero | nc -N 192.0.2.2 9": async (ns) => {
    await sh(ns, "head -c 10000000 /dev/zero | nc -N 192.0.2.2 9");
  },
  "curl -s -H 'Connection: close' http://192.0.2.2/bytes/26 -w '\\n(local port %{local_port})\\n'":
    async (
      ns,
    ) => {
      const out = await sh(
        ns,
        "curl -s -H 'Connection: close' http://192.0.2.2/bytes/26 -w '\\n(local port %{local_port})\\n'",
      );
      const m = /^abcdefghijklmnopqrstuvwxyz\n\(local port (\d+)\)\n$/.exec(out);
      assert.ok(m, out);
      lastPort = Number(m[1]);
    },
  // Equivalent: `deno task tunstack` with this test's control socket.
  "deno task tunstack tw": async (ns) => {
    const r = await ns.tunstack(["tw"]);
    assert.match(
      r.stdout,
      new RegExp(
        `TIME-WAIT\\s+192\\.0\\.2\\.2:80\\s+192\\.0\\.2\\.1:${lastPort}\\s+timer:\\(timewait,`,
      ),
    );
  },
  "tunstack tw": async (ns) => assert.match((await ns.tunstack(["tw"])).stdout, /^State\s+Local/),
  "tunstack tw --json": async (ns) => {
    const j = JSON.parse((await ns.tunstack(["tw", "--json"])).stdout);
    assert.ok(j.entries.some((e: { peerPort: number }) => e.peerPort === lastPort));
  },
  "deno task tunstack ss -i --port 7": () => covered("cli_inspect_test.ts", '["ss", "-i"]'),
  "deno task tunstack sysctl -d": async (ns) => {
    assert.match((await ns.tunstack(["sysctl", "-d"])).stdout, /^net\.inet\.tcp\.msl: /m);
  },
  "deno task tunstack stats 'tcp.retrans*'": async (ns) => {
    const out = (await ns.tunstack(["stats", "tcp.retrans*", "--all"])).stdout;
    assert.match(out, /^tcp\.retransmittedSegments\s+\d+$/m);
    for (const l of out.trim().split("\n")) assert.match(l, /^tcp\.retrans/);
  },
  "deno task tunstack stats": async (ns) => {
    assert.match((await ns.tunstack(["stats"])).stdout, /^tcp\.passiveOpens\s+\d+$/m);
  },
  "deno task tunstack sysctl name[=value]": async (ns) => {
    assert.match((await ns.tunstack(["sysctl", "net.inet.tcp.msl=30000"])).stdout, /30000/);
    assert.match(
      (await ns.tunstack(["sysctl", "net.inet.tcp.msl"])).stdout,
      /net\.inet\.tcp\.msl.*30000/,
    );
  },
  "curl http://192.0.2.2/metrics": async (ns) => {
    const text = await sh(ns, "curl -s http://192.0.2.2/metrics");
    assert.match(text, /^tunstack_tcp_passive_opens_total \d+$/m);
    assert.match(text, /# EOF\n$/);
  },
  "curl http://192.0.2.2/timewait": async (ns) => {
    const j = JSON.parse(await sh(ns, "curl -s http://192.0.2.2/timewait"));
    assert.ok(j.count >= 1);
  },
  "ss -tan state time-wait": async (ns) => {
    assert.match(await sh(ns, "ss -tan state time-wait"), /^Recv-Q/);
  },
  "tcpdump -i tunstack0 -n tcp port 80": async (ns) => {
    const dump = ns.spawn(["tcpdump", "-i", "tunstack0", "-n", "-c", "4", "tcp", "port", "80"]);
    await dump.waitFor(/listening on/);
    await sh(ns, "curl -s -o /dev/null http://192.0.2.2/");
    await dump.done;
    assert.match(dump.stdout, /192\.0\.2\.1\.\d+ > 192\.0\.2\.2\.80: Flags \[S\]/);
  },
  // Equivalent: the examples' own tests run them as written.
  "deno run --allow-ffi examples/http_server.ts 8080": () =>
    covered("examples_test.ts", "examples/http_server.ts"),
  "curl http://192.0.2.2:8080/": () => covered("examples_test.ts", "http://192.0.2.2:8080"),
  "nc -l 9000": () => covered("tcp_test.ts", "nc -l 9000"),
  "deno task start --pcap /run/tunstack/verdicts.pcapng": () =>
    covered("pcap_test.ts", '"--pcap",'),
  "tshark -r /run/tunstack/verdicts.pcapng -Y frame.comment -T fields -e frame.number -e frame.comment":
    () => covered("pcap_test.ts", '"frame.comment",'),
  "deno task start --impair 'out:drop=1%,delay=10ms,jitter=2ms'": () =>
    covered("impair_test.ts", '"--impair",'),
  "node_modules/.bin/deno run --allow-run --allow-read --allow-write --allow-env examples/timewait_demo.ts":
    () => covered("demo_test.ts", "examples/timewait_demo.ts"),
};

async function covered(file: string, text: string): Promise<void> {
  const src = await Deno.readTextFile(`${ROOT}tests/integration/${file}`);
  assert.ok(src.includes(text), `${file} runs ${text}`);
}

Deno.test("readme: every command the README shows has a check in readme_test.ts", () => {
  const missing = readmeCommands().filter((c) => !NOT_COMMANDS.has(c) && !(c in CHECKS));
  assert.deepEqual(missing, [], "README commands without a check");
});

Deno.test({
  name: "readme: the README's commands work against a running stack",
  ignore,
  sanitizeResources: false,
  fn: () =>
    withNetns(async (ns, dir) => {
      await ns.startStack();
      const shown = new Set(readmeCommands());
      // In this file's order, so the TIME_WAIT checks see the walk-through's curl.
      for (const [cmd, check] of Object.entries(CHECKS)) {
        if (!shown.has(cmd)) continue;
        try {
          await check(ns, dir);
        } catch (e) {
          throw new Error(`README command failed: ${cmd}\n${(e as Error).message}`);
        }
      }
    }),
});
