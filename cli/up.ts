/**
 * `tunstack up`: create the device, configure it, run the stack until
 * SIGINT/SIGTERM. Counters are printed on SIGUSR2 and on exit.
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  BUSY_POLL_US,
  formatCounters,
  formatIp,
  inPrefix,
  MAX_RT_PRIORITY,
  parseAssignment,
  parseCidr,
  parseImpairment,
  parseIp,
  type RunningStack,
  setRealtimePriority,
  startTunStack,
  sysctlSet,
  type TunStackOptions,
} from "../mod.ts";
import type { CounterTree, ImpairmentPlan, ImpairmentSpec } from "../mod.ts";
import { answer, CONTROL_DIR, controlPath, type ControlServer, startControl } from "./control.ts";
import { startChargen, startDiscard, startEcho, startOnce } from "./services/echo.ts";
import { type CloseFirst, startHttp, TextBody } from "./services/http.ts";
import { formatOpenMetrics, OPENMETRICS_TYPE } from "./metrics.ts";
import { PcapFile } from "./pcap.ts";

/** Help text of `tunstack up`. */
export const UP_HELP = `Usage: tunstack up [flags]

Creates a TUN device, gives the kernel side an address, and runs the stack
on the other side. On SIGINT or SIGTERM it stops listening, lets open
connections finish for up to --drain-ms, resets the rest, removes the
control socket and the device, and exits 0; a second signal exits at once
(status 1). If the device disappears (deleted from outside) it says so and
exits 1. Prints counters on SIGUSR2 and on exit (SIGUSR1 is taken by
Deno: it opens the V8 inspector).

Flags:
  --dev NAME            device name (default tunstack0)
  --mtu N               device MTU, 68-65535, at least 1280 with IPv6 (default 1500)
  --kernel-ipv4 A/P     kernel-side IPv4 address/prefix (default 192.0.2.1/24)
  --kernel-ipv6 A/P     kernel-side IPv6 address/prefix (default 2001:db8::1/64)
  --ipv4 A              the stack's IPv4 address (default 192.0.2.2)
  --ipv6 A              the stack's IPv6 address (default 2001:db8::2)
  --no-ipv4             run without IPv4
  --no-ipv6             run without IPv6
  --force               configure the kernel side even where its prefix
                        overlaps an address already on an interface here
  --netns NAME          create the device in network namespace NAME (made
                        with ip netns add NAME): the kernel side, its
                        addresses and routes live there, the host's own
                        namespace is left alone
  --busy-poll-us N      after traffic, keep polling the device this long before
                        sleeping (default ${BUSY_POLL_US}; 0 turns it off)
  --realtime PRIO       run the packet loop under SCHED_FIFO at PRIO (1-99; off
                        by default) so that other tasks cannot delay its ACKs;
                        for light loads: a FIFO thread busy for 95% of a second
                        is throttled by the kernel for the rest of it. A busy
                        poll then holds its core for up to --busy-poll-us
  --impair SPEC         impair the traffic between device and stack, seeded:
                        [in:|out:]key=value,... with drop, dup, reorder,
                        corrupt, ce (CE marks on ECN-capable packets; a
                        probability: 1%), delay, jitter,
                        reorder-delay (a time: 20ms), rate (100mbit), limit
                        (packets queued at the rate), seed=N; e.g.
                        out:drop=1%,delay=10ms. in: is toward the stack, out:
                        from it, a bare key both. Turns offloads off
  --no-offload          no checksum/segmentation offload (default: on when the
                        kernel grants TUNSETOFFLOAD; tcpdump on the device then
                        shows our TCP checksums as partial, i.e. "incorrect")
  --no-rx-steering      leave the kernel's receive work for our packets on the
                        stack's CPU (default: steered to the other CPUs, RPS)
  --vnet-hdr            open the device with IFF_VNET_HDR even without offload
  --no-echo             no echo service on TCP 7
  --no-discard          no discard service on TCP 9
  --no-once             no "once" service on TCP 8 (echo one read, then close:
                        the server closes first)
  --no-chargen          no chargen service on TCP 19
  --no-http             no HTTP server
  --http-port N         HTTP server port (default 80)
  --http-close-first W  after "Connection: close", who closes first: server
                        (default; the stack holds TIME_WAIT) or client
  --congestion NAME     newreno (default), cubic or bbr
  --rcvbuf BYTES        receive buffer per connection (default 1048576)
  --sndbuf BYTES        send buffer per connection (default 1048576)
  --sysctl NAME=VALUE   set a run-time setting at start (repeatable), e.g.
                        net.inet.tcp.maxtcptw=32, net.inet.tcp.msl=1000
  --pcap FILE           write every packet the stack receives or sends to FILE
                        (pcapng), each received one with the stack's verdicts as
                        comments: tcp_twstart, tcp_twcheck: <outcome>, drop:
                        <counter>. Needs write permission for FILE and FILE.1
                        (deno task start has it for /run/tunstack/)
  --pcap-size MB        past MB the file moves to FILE.1 and a new one starts
                        (default 100: at most twice that on disk)
  --drain-ms N          on SIGINT/SIGTERM, wait up to N ms for open connections
                        to close before resetting them (default 0: reset now)
  --control-dir DIR     directory of the control socket (default /run/tunstack)
  --no-control          no control socket (tunstack tw/stats/sysctl will not work)
  --quiet               print nothing but errors
  -h, --help            show this text

Examples:
  tunstack up                                    defaults, as deno task start
  tunstack up --kernel-ipv4 198.51.100.1/24 --ipv4 198.51.100.2 --no-ipv6
  tunstack up --netns lab                        then: ip netns exec lab curl 192.0.2.2
  tunstack up --impair 'out:drop=1%,delay=10ms' --sysctl net.inet.tcp.msl=2500
  tunstack up --http-close-first client --congestion cubic
  tunstack up --pcap /run/tunstack/verdicts.pcapng   then tshark -r it`;

/** Everything `up` was asked to do. */
export interface UpOptions extends TunStackOptions {
  /** Print nothing but errors. */
  quiet: boolean;
  /** Run the echo service. */
  echo: boolean;
  /** Run the discard service. */
  discard: boolean;
  /** Run the once service. */
  once: boolean;
  /** Run the chargen service. */
  chargen: boolean;
  /** HTTP server settings, if it runs. */
  http?: { port: number; closeFirst: CloseFirst };
  /** Control socket directory, if the channel runs. */
  control?: string;
  /** Settings to apply at start. */
  sysctl: [string, string][];
  /** Busy-poll window of the packet loop, µs. */
  busyPollUs: number;
  /** `SCHED_FIFO` priority of the packet thread, or undefined to leave it. */
  realtime?: number;
  /** How long to let connections finish on SIGINT/SIGTERM, ms. */
  drainMs: number;
  /** Capture file and its size before rotation, bytes. */
  pcap?: { path: string; maxBytes: number };
}

function intFlag(name: string, v: string, min: number, max: number): number {
  if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) {
    throw new Error(`Invalid --${name}: "${v}" (must be ${min} to ${max})`);
  }
  return Number(v);
}

/**
 * Parses `up` flags into stack options; throws a clear error on bad input.
 *
 * @example
 * ```ts
 * import { parseUpArgs } from "./up.ts";
 * parseUpArgs(["--dev", "tun1", "--mtu", "9000"]).mtu; // 9000
 * ```
 */
export function parseUpArgs(args: string[]): UpOptions {
  const { values } = parseArgs({
    args,
    strict: true,
    allowPositionals: false,
    options: {
      dev: { type: "string", default: "tunstack0" },
      mtu: { type: "string", default: "1500" },
      "kernel-ipv4": { type: "string", default: "192.0.2.1/24" },
      "kernel-ipv6": { type: "string", default: "2001:db8::1/64" },
      ipv4: { type: "string", default: "192.0.2.2" },
      ipv6: { type: "string", default: "2001:db8::2" },
      "no-ipv4": { type: "boolean", default: false },
      "no-ipv6": { type: "boolean", default: false },
      force: { type: "boolean", default: false },
      netns: { type: "string" },
      "vnet-hdr": { type: "boolean", default: false },
      "no-offload": { type: "boolean", default: false },
      "no-rx-steering": { type: "boolean", default: false },
      impair: { type: "string" },
      "busy-poll-us": { type: "string", default: String(BUSY_POLL_US) },
      realtime: { type: "string" },
      "no-echo": { type: "boolean", default: false },
      "no-discard": { type: "boolean", default: false },
      "no-once": { type: "boolean", default: false },
      "no-chargen": { type: "boolean", default: false },
      "no-http": { type: "boolean", default: false },
      "http-port": { type: "string", default: "80" },
      "http-close-first": { type: "string", default: "server" },
      congestion: { type: "string", default: "newreno" },
      rcvbuf: { type: "string", default: String(1 << 20) },
      sndbuf: { type: "string", default: String(1 << 20) },
      sysctl: { type: "string", multiple: true, default: [] },
      "drain-ms": { type: "string", default: "0" },
      pcap: { type: "string" },
      "pcap-size": { type: "string", default: "100" },
      "control-dir": { type: "string", default: CONTROL_DIR },
      "no-control": { type: "boolean", default: false },
      quiet: { type: "boolean", default: false },
    },
  });
  if (!/^\d+$/.test(values.mtu)) {
    throw new Error(`MTU out of range: "${values.mtu}" is not a number`);
  }
  const httpPort = intFlag("http-port", values["http-port"], 1, 65535);
  const closeFirst = values["http-close-first"];
  if (closeFirst !== "server" && closeFirst !== "client") {
    throw new Error(`Invalid --http-close-first: "${closeFirst}" (server or client)`);
  }
  const congestion = values.congestion;
  if (congestion !== "newreno" && congestion !== "cubic" && congestion !== "bbr") {
    throw new Error(`Invalid --congestion: "${congestion}" (newreno, cubic or bbr)`);
  }
  const opts: UpOptions = {
    name: values.dev,
    mtu: Number(values.mtu),
    vnetHdr: values["vnet-hdr"],
    force: values.force,
    netns: values.netns,
    offload: !values["no-offload"],
    rxSteering: !values["no-rx-steering"],
    impair: values.impair === undefined ? undefined : parseImpairment(values.impair),
    busyPollUs: intFlag("busy-poll-us", values["busy-poll-us"], 0, 100_000),
    realtime: values.realtime === undefined
      ? undefined
      : intFlag("realtime", values.realtime, 1, MAX_RT_PRIORITY),
    quiet: values.quiet,
    drainMs: intFlag("drain-ms", values["drain-ms"], 0, 3_600_000),
    pcap: values.pcap === undefined ? undefined : {
      path: values.pcap,
      maxBytes: intFlag("pcap-size", values["pcap-size"], 1, 1 << 20) * 1024 * 1024,
    },
    echo: !values["no-echo"],
    discard: !values["no-discard"],
    once: !values["no-once"],
    chargen: !values["no-chargen"],
    http: values["no-http"] ? undefined : { port: httpPort, closeFirst },
    control: values["no-control"] ? undefined : values["control-dir"],
    sysctl: values.sysctl.map(parseAssignment),
    tcp: {
      congestion,
      rcvBuf: intFlag("rcvbuf", values.rcvbuf, 4096, 1 << 30),
      sndBuf: intFlag("sndbuf", values.sndbuf, 4096, 1 << 30),
    },
  };
  if (values["no-ipv4"] && values["no-ipv6"]) {
    throw new Error("Invalid address: --no-ipv4 and --no-ipv6 leave no address");
  }
  for (const v of [4, 6] as const) {
    if (values[`no-ipv${v}`]) continue;
    const kernel = parseCidr(values[`kernel-ipv${v}`], v);
    const own = parseIp(values[`ipv${v}`]);
    if (!own || own.length !== (v === 4 ? 4 : 16)) {
      throw new Error(`Invalid address: "${values[`ipv${v}`]}" is not IPv${v}`);
    }
    if (!inPrefix(own, kernel.address, kernel.prefix)) {
      throw new Error(
        `Invalid address: ${formatIp(own)} is outside the kernel's prefix ${
          values[`kernel-ipv${v}`]
        }, so the kernel would not route to it`,
      );
    }
    if (formatIp(own) === formatIp(kernel.address)) {
      throw new Error(`Invalid address: the stack and the kernel both use ${formatIp(own)}`);
    }
    opts[`ipv${v}`] = own;
    opts[`kernelIpv${v}`] = kernel;
  }
  return opts;
}

// `?limit=N` of /timewait: how many entries, nearest expiry first.
function limitParam(q: URLSearchParams): number | undefined {
  const v = q.get("limit");
  if (v === null) return undefined;
  if (!/^\d{1,7}$/.test(v)) throw new RangeError(`Invalid limit: "${v}" (a whole number)`);
  return Number(v);
}

function describe(r: RunningStack, o: TunStackOptions): string {
  const where = o.netns === undefined ? "this namespace" : `namespace ${o.netns}`;
  const lines = [
    `tunstack: device ${r.device} up in ${where}, mtu ${o.mtu}, offload ${r.offload}`,
    `  changed: ${where} got ${r.device} with the kernel-side addresses and their routes below` +
    " (removed again on exit)",
  ];
  for (const v of [4, 6] as const) {
    const k = o[`kernelIpv${v}`];
    const own = o[`ipv${v}`];
    if (k && own) {
      lines.push(`  ipv${v}: kernel ${formatIp(k.address)}/${k.prefix}, stack ${formatIp(own)}`);
    }
  }
  if (r.rxSteering) {
    lines.push("  receive steering: sending in bulk, the kernel's side runs on the other CPUs");
  }
  return lines.join("\n");
}

function describeImpairment(p: ImpairmentPlan): string {
  const one = (s: ImpairmentSpec) => {
    const pct = (x: number) => `${+(x * 100).toFixed(4)}%`;
    const parts = [
      s.drop && `drop ${pct(s.drop)}`,
      s.duplicate && `dup ${pct(s.duplicate)}`,
      s.reorder && `reorder ${pct(s.reorder)} by ${s.reorderMs} ms`,
      s.corrupt && `corrupt ${pct(s.corrupt)}`,
      s.ce && `CE marks ${pct(s.ce)} of ECT packets`,
      s.delayMs && `delay ${s.delayMs} ms`,
      s.jitterMs && `jitter ±${s.jitterMs} ms`,
      s.rateBps && `rate ${s.rateBps / 1e6} Mbit/s (queue ${s.limit})`,
    ].filter(Boolean);
    return parts.length === 0 ? "none" : parts.join(", ");
  };
  return `in ${one(p.in)}; out ${one(p.out)}; seed ${p.seed}`;
}

/**
 * Runs `tunstack up`; resolves to the exit code.
 *
 * @example
 * ```ts
 * import { runUp } from "./up.ts";
 * await runUp(["--mtu", "huge"]); // 2: a usage error, told on stderr before anything is opened
 * ```
 */
export async function runUp(args: string[]): Promise<number> {
  let opts: UpOptions;
  try {
    opts = parseUpArgs(args);
  } catch (e) {
    console.error(`tunstack: ${(e as Error).message}`);
    return 2;
  }
  let running: RunningStack;
  try {
    running = startTunStack(opts);
  } catch (e) {
    console.error(`tunstack: ${(e as Error).message}`);
    return 1;
  }
  const stack = running.stack;
  if (opts.realtime !== undefined) {
    try {
      setRealtimePriority(opts.realtime);
    } catch (e) {
      console.error(`tunstack: ${(e as Error).message}`);
      await running.close();
      return 1;
    }
  }
  const linkStats = () => ({ link: running.linkCounters() });
  const listeners = [];
  let control: ControlServer | undefined;
  let pcap: PcapFile | undefined;
  try {
    for (const [name, value] of opts.sysctl) sysctlSet(stack, name, value);
    if (opts.pcap) {
      const file = pcap = new PcapFile(opts.pcap.path, opts.pcap.maxBytes, (e) => {
        stack.capture(undefined);
        console.error(`tunstack: capture stopped, the stack runs on: ${e.message}`);
      });
      stack.capture((p) => file.write(p));
    }
    if (opts.echo) listeners.push(startEcho(stack));
    if (opts.discard) listeners.push(startDiscard(stack));
    if (opts.once) listeners.push(startOnce(stack));
    if (opts.chargen) listeners.push(startChargen(stack));
    if (opts.http) {
      listeners.push(startHttp(stack, {
        ...opts.http,
        routes: {
          "/stats": () => answer(stack, { cmd: "stats" }, linkStats),
          "/timewait": (q) => answer(stack, { cmd: "tw", limit: limitParam(q) }, linkStats),
          "/metrics": () =>
            new TextBody(
              OPENMETRICS_TYPE,
              formatOpenMetrics(answer(stack, { cmd: "stats" }, linkStats) as CounterTree),
            ),
        },
      }));
    }
    if (opts.control) {
      control = await startControl(
        stack,
        controlPath(running.device, opts.control),
        linkStats,
      );
    }
  } catch (e) {
    console.error(`tunstack: ${(e as Error).message}`);
    for (const l of listeners) l.close();
    pcap?.close();
    await running.close();
    return 1;
  }
  if (!opts.quiet) {
    console.log(describe(running, opts));
    if (opts.impair) console.log(`  impairment: ${describeImpairment(opts.impair)}`);
    if (opts.realtime !== undefined) {
      console.log(`  scheduling: SCHED_FIFO priority ${opts.realtime}`);
    }
    const svc = [
      opts.echo ? "echo 7" : "",
      opts.discard ? "discard 9" : "",
      opts.once ? "once 8" : "",
      opts.chargen ? "chargen 19" : "",
      opts.http ? `http ${opts.http.port} (${opts.http.closeFirst} closes first)` : "",
    ].filter(Boolean);
    console.log(`  services: ${svc.join(", ") || "none"}`);
    if (control) console.log(`  control: ${control.path}`);
    if (opts.pcap) console.log(`  capture: ${opts.pcap.path} (pcapng, verdicts as comments)`);
  }
  const printCounters = () => console.log(formatCounters({ ...linkStats(), ...stack.counters() }));
  const stopped = Promise.withResolvers<Deno.Signal>();
  let signals = 0;
  const onSignal = (sig: Deno.Signal) => () => {
    if (++signals === 1) return stopped.resolve(sig);
    // Second signal: no more waiting. The device goes with the process.
    console.error(`tunstack: second ${sig}: exiting now`);
    if (control) {
      try {
        Deno.removeSync(control.path);
      } catch { /* already gone */ }
    }
    Deno.exit(1);
  };
  const onInt = onSignal("SIGINT"), onTerm = onSignal("SIGTERM");
  Deno.addSignalListener("SIGINT", onInt);
  Deno.addSignalListener("SIGTERM", onTerm);
  Deno.addSignalListener("SIGUSR2", printCounters);
  const why = await Promise.race([stopped.promise, running.lost]);
  for (const l of listeners) l.close();
  if (why instanceof Error) {
    console.error(
      `tunstack: device lost: ${running.device} failed under the stack (${why.message})`,
    );
  } else {
    if (!opts.quiet) console.log(`tunstack: ${why}: stopping`);
    if (opts.drainMs > 0) await drain(running, opts.drainMs, opts.quiet);
  }
  Deno.removeSignalListener("SIGUSR2", printCounters);
  await control?.close();
  await running.close();
  stack.capture(undefined);
  pcap?.close();
  Deno.removeSignalListener("SIGINT", onInt);
  Deno.removeSignalListener("SIGTERM", onTerm);
  if (!opts.quiet) {
    console.log("tunstack: stopped; counters:");
    printCounters();
  }
  return why instanceof Error ? 1 : 0;
}

// Waits until every connection has closed, the deadline passes, or the
// device fails; what is left is reset by the caller.
async function drain(r: RunningStack, ms: number, quiet: boolean) {
  const stack = r.stack;
  const deadline = Date.now() + ms;
  let failed = false;
  r.lost.then(() => failed = true);
  if (!quiet && stack.connectionCount > 0) {
    console.log(`tunstack: draining ${stack.connectionCount} connections (up to ${ms} ms)`);
  }
  while (stack.connectionCount > 0 && Date.now() < deadline && !failed) {
    await new Promise((res) => setTimeout(res, 20));
  }
  if (!quiet && stack.connectionCount > 0) {
    console.log(`tunstack: resetting ${stack.connectionCount} connections`);
  }
}
