// The conformance runner's own tests: scripts that must pass, scripts that
// must fail where and why we broke them, and the parser's corner cases.

import assert from "node:assert/strict";
import { runScript } from "./runner.ts";
import { parseScript, preprocess } from "./script.ts";

const FIXTURES = new URL("./fixtures/", import.meta.url);
const defines = new Set(["FreeBSD"]);

async function run(name: string) {
  return await runScript(await Deno.readTextFile(new URL(name, FIXTURES)), { defines });
}

for (
  const name of [
    "pass_passive_open.pkt",
    "pass_active_open_ipv6.pkt",
    "pass_pmtu_ipv4.pkt",
    "pass_pmtu_ipv6.pkt",
    "pass_icmp_port_unreachable.pkt",
  ]
) {
  Deno.test(`conformance runner: ${name} passes`, async () => {
    assert.deepEqual(await run(name), { status: "PASS", reason: "" });
  });
}

const MUST_FAIL: [string, RegExp][] = [
  ["fail_wrong_ack.pkt", /^line 12: .*ack 1 instead of 2/],
  ["fail_missing_segment.pkt", /^line 19: .*nothing was sent by 0\.210/],
  ["fail_late.pkt", /^line 12: .*sent at 0\.100 instead of 0\.150 \(tolerance 10 ms\)/],
  ["fail_extra_segment.pkt", /^line 22: unexpected > F\. 21:21\(0\) ack 11/],
  ["fail_syscall_result.pkt", /^line 16: read\(\) returned 10, the script expects 9/],
  ["fail_shell.pkt", /^line 24: .*no line matched "2"/],
];
for (const [name, reason] of MUST_FAIL) {
  Deno.test(`conformance runner: ${name} fails with its reason`, async () => {
    const o = await run(name);
    assert.equal(o.status, "FAIL", o.reason);
    assert.match(o.reason, reason);
  });
}

Deno.test("conformance runner: what it cannot interpret is a skip naming the cause", async () => {
  const cases: [string, RegExp][] = [
    ["0 `sysctl -w net.inet.tcp.no_such_knob=1`", /unknown sysctl net\.inet\.tcp\.no_such_knob/],
    ["--udp_encapsulation=tcp\n0 `sysctl -w net.inet.tcp.msl=1000`", /--udp_encapsulation/],
    ["0 %{ print(tcpi_rtt) }%", /code block/],
    ["0 `ifconfig tun0 down`", /shell command "ifconfig"/],
    ["0 socket(..., SOCK_DGRAM, IPPROTO_UDP) = 3", /only SOCK_STREAM/],
  ];
  for (const [text, reason] of cases) {
    const o = await runScript(text, { defines });
    assert.equal(o.status, "SKIP", text);
    assert.match(o.reason, reason);
  }
});

Deno.test("conformance runner: a bad sysctl value fails with the stack's error", async () => {
  const o = await runScript("0 `sysctl -w net.inet.tcp.msl=0`", { defines });
  assert.equal(o.status, "FAIL");
  assert.match(o.reason, /^line 1: Invalid value for net\.inet\.tcp\.msl: 0/);
});

Deno.test("conformance runner: --verbose logs every packet with its time", async () => {
  const lines: string[] = [];
  const text = await Deno.readTextFile(new URL("pass_passive_open.pkt", FIXTURES));
  await runScript(text, { defines, log: (l) => lines.push(l) });
  assert.equal(lines[0], "0.100 < S 0:0(0) win 32767 <mss 1460,sackOK,eol,eol>");
  assert.equal(lines[1], "0.100 > S. 0:0(0) ack 1 win 65535 <mss 1460,nop,nop,sackOK>");
  assert.equal(lines.length, 9);
});

Deno.test("conformance script: #ifdef, #ifndef and #else nest; comments go", () => {
  const text = [
    "#ifdef A",
    "a // note",
    "#ifndef B",
    "not-b",
    "#else",
    "b",
    "#endif",
    "#else",
    "not-a",
    "#endif",
    "/* gone */ kept",
  ].join("\n");
  const on = preprocess(text, new Set(["A"])).map((l) => l.trim()).filter((l) => l !== "");
  assert.deepEqual(on, ["a", "not-b", "kept"]);
  const off = preprocess(text, new Set(["B"])).map((l) => l.trim()).filter((l) => l !== "");
  assert.deepEqual(off, ["not-a", "kept"]);
  assert.throws(() => preprocess("#ifdef A\nx", new Set()), /#ifdef without #endif/);
});

Deno.test("conformance script: packets, times and system calls", () => {
  const s = parseScript(
    [
      "--tolerance_usecs=5000",
      "0.5 > (ttl 7) S. 0:0(0) ack 1 win 65535 <mss 1460,nop,wscale 6,sackOK,TS val 1 ecr 2>",
      "+0.1 < . 1:101(100) ack 1 win 5 <nop,nop,sack 10:20 30:40>",
      "* > S. ...(0) ack 9 win 1 <...>",
      "+0 connect(3, ..., ...) = -1 EINPROGRESS (Operation now in progress)",
      "+0 fcntl(3, F_GETFL) = 0x02 (flags O_RDWR)",
      "+0 > (tos 0x20) R. 0:0(0)! ack 1 win 0",
      "+0 < . 1:1(0) ack 1 win 0 <nop,nop,md5 invalid>",
    ].join("\n"),
    new Set(),
  );
  assert.equal(s.options.tolerance_usecs, "5000");
  const [a, b, c, d, e] = s.events;
  assert.equal(a.kind === "packet" && a.packet.ip.ttl, 7);
  assert.deepEqual(a.time, { kind: "absolute", usecs: 500_000 });
  assert.deepEqual(b.time, { kind: "relative", usecs: 100_000 });
  assert.deepEqual(b.kind === "packet" && b.packet.options, [
    { kind: "nop" },
    { kind: "nop" },
    { kind: "sack", blocks: [[10, 20], [30, 40]] },
  ]);
  assert.ok(c.kind === "packet" && c.packet.seq === undefined && c.packet.options === undefined);
  assert.equal(c.time.kind, "any");
  assert.ok(d.kind === "syscall" && d.result === -1 && d.errno === "EINPROGRESS");
  assert.ok(e.kind === "syscall" && e.result === 2 && e.errno === undefined);
  const f = s.events[5];
  assert.ok(
    f.kind === "packet" && f.packet.absolute && f.packet.seq === 0,
    "`!`: not ISS-relative",
  );
  assert.equal(f.kind === "packet" && f.packet.ip.tos, 0x20);
  assert.ok(a.kind === "packet" && !a.packet.absolute);
  const g = s.events[6];
  assert.deepEqual(g.kind === "packet" && g.packet.options?.at(-1), { kind: "md5", valid: false });
  assert.throws(
    () => parseScript("0 < S 0:5(3) win 1", new Set()),
    /line 1: inconsistent TCP sequence numbers/,
  );
});
