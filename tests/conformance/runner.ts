/**
 * Runs one packetdrill script against a fresh stack on an in-memory link
 * with a virtual clock: events happen at their script times, inbound lines
 * are injected, outbound lines must be matched by what the stack sends
 * within the tolerance, system calls go through {@linkcode Sockets}, and
 * shell lines (`sysctl`, `sockstat`, `tcpdrop`, `grep`) act on the stack's
 * tables. Deterministic: no real time, no root.
 *
 * @module
 */

import { setImmediate } from "node:timers";
import { MemoryLink } from "../../stack/memory_link.ts";
import { Stack } from "../../stack/stack.ts";
import { sysctlSet } from "../../stack/sysctl.ts";
import { md5Valid } from "../../stack/tcp/md5.ts";
import { abort, type ConnectionInfo, info } from "../../stack/tcp/user.ts";
import type { TcpState } from "../../stack/tcp/state.ts";
import { formatIp } from "../../stack/wire/ip_address.ts";
import { TcpSegment } from "../../stack/wire/tcp.ts";
import {
  comparePacket,
  type Endpoints,
  flagBits,
  formatPacket,
  inboundIcmp,
  inboundPacket,
  readPacket,
  SequenceMap,
  toScriptSpace,
  type WirePacket,
} from "./packets.ts";
import { parseScript, ScriptError, type ScriptEvent, type ScriptPacket } from "./script.ts";
import { type CallResult, ERRNO, Sockets, Unsupported } from "./syscalls.ts";

/** How a script ended. */
export interface Outcome {
  /** PASS, FAIL or SKIP. */
  status: "PASS" | "FAIL" | "SKIP";
  /** Why (empty for a pass). */
  reason: string;
}

/** Options of a run. */
export interface RunOptions {
  /** Names defined for `#ifdef` (the suite's `FreeBSD` branch is ours). */
  defines: ReadonlySet<string>;
  /** Receives one line per packet exchanged, with its time, when given. */
  log?: (line: string) => void;
}

class Failure extends Error {}

const LOCAL4 = new Uint8Array([192, 0, 2, 1]);
const REMOTE4 = new Uint8Array([192, 0, 2, 2]);
const LOCAL6 = new Uint8Array([0x20, 0x01, 0x0d, 0xb8, ...new Array(11).fill(0), 1]);
const REMOTE6 = new Uint8Array([0x20, 0x01, 0x0d, 0xb8, ...new Array(11).fill(0), 2]);
/** The port `bind()` binds and `connect()` connects to, as in packetdrill. */
const SCRIPT_PORT = 8080;
/** The peer's port towards a listener. */
const PEER_PORT = 40000;

/** Header options the runner understands. */
const HEADER_OPTIONS = new Set(["ip_version", "tolerance_usecs", "tcp_md5_secret"]);

/**
 * FreeBSD sysctls the suite sets that have no counterpart in tunstack, and
 * the one value each may be given because that value is how tunstack
 * behaves anyway (README: "Conformance", relaxations).
 */
const NO_COUNTERPART: Record<string, string> = {
  // No host cache: there is nothing to flush.
  "net.inet.tcp.hostcache.purgenow": "1",
  // 0: a segment for a closed port gets an RST, as in tunstack.
  "net.inet.tcp.blackhole": "0",
  // 0: SYN options are kept on retransmission, as in tunstack.
  "net.inet.tcp.rexmit_drop_options": "0",
};

const STATE_NAMES: Record<TcpState, string> = {
  "CLOSED": "CLOSED",
  "LISTEN": "LISTEN",
  "SYN-SENT": "SYN_SENT",
  "SYN-RECEIVED": "SYN_RCVD",
  "ESTABLISHED": "ESTABLISHED",
  "FIN-WAIT-1": "FIN_WAIT_1",
  "FIN-WAIT-2": "FIN_WAIT_2",
  "CLOSE-WAIT": "CLOSE_WAIT",
  "CLOSING": "CLOSING",
  "LAST-ACK": "LAST_ACK",
  "TIME-WAIT": "TIME_WAIT",
};

interface Sent {
  at: number; // µs
  bytes: Uint8Array;
}

/**
 * Runs a script's text.
 *
 * @example
 * ```ts
 * import { runScript } from "./runner.ts";
 * const text = "--tolerance_usecs=10000\n0 `sysctl -w net.inet.tcp.msl=1000`\n";
 * const outcome = await runScript(text, { defines: new Set() });
 * outcome.status; // "PASS"
 * ```
 */
export async function runScript(text: string, options: RunOptions): Promise<Outcome> {
  // An unsupported header option explains a script better than the line
  // that later fails to parse (UDP encapsulation, MD5 signatures).
  for (const m of text.matchAll(/^--([\w-]+)/gm)) {
    if (!HEADER_OPTIONS.has(m[1])) {
      return { status: "SKIP", reason: `header option --${m[1]} is not supported` };
    }
  }
  let run: ScriptRun;
  try {
    run = new ScriptRun(text, options);
  } catch (e) {
    if (e instanceof Unsupported) return { status: "SKIP", reason: e.message };
    if (e instanceof ScriptError) {
      return /not supported/.test(e.message)
        ? { status: "SKIP", reason: e.message }
        : { status: "FAIL", reason: e.message };
    }
    throw e;
  }
  return await run.run();
}

class ScriptRun {
  readonly events: ScriptEvent[];
  readonly tolerance: number;
  readonly v6: boolean;
  /** --tcp_md5_secret: signs inbound `md5` options, checks outbound ones. */
  readonly md5Secret: Uint8Array | undefined;
  readonly stack: Stack;
  readonly sockets: Sockets;
  readonly map = new SequenceMap();
  readonly log: ((line: string) => void) | undefined;
  now = 0; // µs
  sent: Sent[] = [];
  ep: Endpoints;

  constructor(text: string, options: RunOptions) {
    const script = parseScript(text, options.defines);
    for (const name of Object.keys(script.options)) {
      if (!HEADER_OPTIONS.has(name)) {
        throw new Unsupported(`header option --${name} is not supported`);
      }
    }
    const ipVersion = script.options.ip_version ?? "ipv4";
    if (ipVersion !== "ipv4" && ipVersion !== "ipv6") {
      throw new Unsupported(`--ip_version=${ipVersion} is not supported`);
    }
    this.events = script.events;
    this.tolerance = Number(script.options.tolerance_usecs ?? "4000");
    const secret = script.options.tcp_md5_secret;
    this.md5Secret = secret === undefined ? undefined : new TextEncoder().encode(secret);
    this.v6 = ipVersion === "ipv6";
    this.log = options.log;
    const local = this.v6 ? LOCAL6 : LOCAL4;
    const remote = this.v6 ? REMOTE6 : REMOTE4;
    this.stack = new Stack({
      ipv4: this.v6 ? undefined : local,
      ipv6: this.v6 ? local : undefined,
      clock: () => this.now / 1000,
      // FreeBSD, whose behaviour the scripts record, has no quick-ACK mode.
      tcp: { quickAck: false },
    });
    this.stack.attach(
      new MemoryLink(1500, (bytes) => this.sent.push({ at: this.now, bytes })),
    );
    this.sockets = new Sockets(this.stack, { remote, port: SCRIPT_PORT });
    this.ep = { local, remote, localPort: SCRIPT_PORT, remotePort: PEER_PORT };
  }

  async run(): Promise<Outcome> {
    let last = 0;
    let lastPacketAt = 0;
    try {
      for (const e of this.events) {
        const t = e.time.kind === "relative" ? last + e.time.usecs : e.time.usecs;
        if (e.time.kind !== "any") last = t;
        if (e.kind === "packet" || e.kind === "icmp") lastPacketAt = t;
        if (!(e.kind === "packet" && e.packet.direction === ">")) await this.advanceTo(t);
        await this.#event(e, t);
      }
      const stray = this.sent.find((s) => s.at < lastPacketAt);
      if (stray) {
        throw new Failure(
          `after the last line: unexpected ${this.#describe(stray)} sent at ${secs(stray.at)}`,
        );
      }
      return { status: "PASS", reason: "" };
    } catch (e) {
      if (e instanceof Unsupported) return { status: "SKIP", reason: e.message };
      if (e instanceof Failure) return { status: "FAIL", reason: e.message };
      throw e;
    } finally {
      this.stack.stop();
    }
  }

  /** Lets virtual time pass to `t` µs, running timers every millisecond. */
  async advanceTo(t: number, until?: () => boolean): Promise<void> {
    while (this.now < t) {
      if (until?.()) return;
      const nextMs = (Math.floor(this.now / 1000) + 1) * 1000;
      this.now = Math.min(nextMs, t);
      if (this.now === nextMs) {
        const before = this.sent.length;
        this.stack.tick(this.now / 1000);
        if (this.sent.length !== before) await settle();
      }
    }
  }

  async #event(e: ScriptEvent, t: number): Promise<void> {
    switch (e.kind) {
      case "packet":
        if (e.packet.direction === "<") this.#inject(e, e.packet);
        else await this.#expect(e, e.packet, t);
        break;
      case "syscall":
        this.#syscall(e);
        break;
      case "icmp":
        this.#injectIcmp(e);
        break;
      case "shell":
        this.#shell(e.line, e.command);
        break;
      case "code":
        this.#code(e.line, e.code);
        break;
    }
    await settle();
  }

  #fail(line: number, message: string): never {
    throw new Failure(`line ${line}: ${message}`);
  }

  #describe(s: Sent): string {
    const w = toScriptSpace(readPacket(s.bytes), this.map);
    return formatPacket(">", w.flags, w.seq, w.length, w.ack, w.window, w.options);
  }

  // A packet line comes after every segment the stack sent was accounted for.
  #noneUnexpected(e: ScriptEvent): void {
    const s = this.sent[0];
    if (!s) return;
    this.#fail(e.line, `unexpected ${this.#describe(s)} sent at ${secs(s.at)} before "${e.text}"`);
  }

  #inject(e: ScriptEvent, p: ScriptPacket): void {
    this.#noneUnexpected(e);
    let bytes: Uint8Array;
    try {
      bytes = inboundPacket(p, this.ep, this.map, this.md5Secret);
    } catch (err) {
      this.#fail(e.line, (err as Error).message);
    }
    this.log?.(
      `${secs(this.now)} ${
        formatPacket("<", flagBits(p.flags), p.seq, p.length, p.ack, p.window, p.options)
      }`,
    );
    this.stack.receive(bytes as Uint8Array<ArrayBuffer>, bytes.length);
  }

  #injectIcmp(e: ScriptEvent & { kind: "icmp" }): void {
    this.#noneUnexpected(e);
    let bytes: Uint8Array;
    try {
      bytes = inboundIcmp(e.icmp, this.ep, this.map);
    } catch (err) {
      throw new Unsupported(`line ${e.line}: ${(err as Error).message}`);
    }
    const { type, code, mtu, seq, length } = e.icmp;
    this.log?.(
      `${secs(this.now)} < icmp ${type}${code ? ` ${code}` : ""}${
        mtu ? ` mtu ${mtu}` : ""
      } [${seq}:${seq + length}(${length})]`,
    );
    this.stack.receive(bytes as Uint8Array<ArrayBuffer>, bytes.length);
  }

  async #expect(e: ScriptEvent, p: ScriptPacket, t: number): Promise<void> {
    const tol = e.time.kind === "any" ? Infinity : this.tolerance;
    await this.advanceTo(
      e.time.kind === "any" ? this.now + 600e6 : t + tol,
      () => this.sent.length > 0,
    );
    const s = this.sent.shift();
    if (!s) this.#fail(e.line, `expected "${e.text}" but nothing was sent by ${secs(t + tol)}`);
    let w: WirePacket;
    try {
      w = readPacket(s.bytes);
    } catch (err) {
      this.#fail(
        e.line,
        `the stack sent a packet the runner cannot read: ${(err as Error).message}`,
      );
    }
    if (this.v6 !== (w.version === 6)) this.#fail(e.line, `an IPv${w.version} packet was sent`);
    if (w.flags & 0x02) {
      // The stack's SYN or SYN,ACK fixes the ISS the script numbers from.
      this.map.issOffset = (w.seq - (p.seq ?? 0)) >>> 0;
      if (w.dstPort !== this.ep.remotePort || w.srcPort !== this.ep.localPort) {
        this.ep = { ...this.ep, localPort: w.srcPort, remotePort: w.dstPort };
      }
    }
    const actual = p.absolute ? w : toScriptSpace(w, this.map);
    const got = formatPacket(
      ">",
      actual.flags,
      actual.seq,
      actual.length,
      actual.ack,
      actual.window,
      actual.options,
    );
    this.log?.(`${secs(s.at)} ${got}`);
    const ts = w.options.find((o) => o.kind === "TS");
    const want = p.options?.find((o) => o.kind === "TS");
    if (ts?.kind === "TS" && want?.kind === "TS") this.map.noteTsVal(want.val, ts.val);
    const diffs = comparePacket(p, actual);
    const md5 = p.options?.find((o) => o.kind === "md5");
    if (md5?.kind === "md5" && this.md5Secret) {
      const ihl = w.version === 4 ? (s.bytes[0] & 15) * 4 : 40;
      const seg = new TcpSegment();
      seg.wrap(s.bytes, ihl, s.bytes.length - ihl, -1);
      const ok = md5Valid(this.md5Secret, this.ep.local, this.ep.remote, seg);
      if (ok !== md5.valid) diffs.push(`an MD5 signature that is ${ok ? "" : "not "}valid`);
    }
    if (e.time.kind !== "any" && Math.abs(s.at - t) > tol) {
      diffs.push(`sent at ${secs(s.at)} instead of ${secs(t)} (tolerance ${tol / 1000} ms)`);
    }
    if (diffs.length > 0) {
      this.#fail(e.line, `expected "${e.text}", the stack sent "${got}": ${diffs.join("; ")}`);
    }
  }

  #syscall(e: ScriptEvent & { kind: "syscall" }): void {
    const r: CallResult = this.sockets.call(e.name, e.args);
    const conn = this.sockets.current?.conn;
    if (conn && (e.name === "connect" || e.name === "accept")) {
      this.ep = {
        ...this.ep,
        localPort: conn.localAddr.port,
        remotePort: conn.remoteAddr.port,
      };
    }
    const got = r.value === -1 ? `-1 ${r.errno}` : `${r.value}`;
    const want = e.result === -1 ? `-1 ${e.errno}` : `${e.result}`;
    const sameErrno = e.result !== -1 || ERRNO[e.errno ?? ""] === ERRNO[r.errno ?? ""];
    if (r.value !== e.result || !sameErrno) {
      this.#fail(e.line, `${e.name}() returned ${got}, the script expects ${want}`);
    }
    if (r.out !== undefined) {
      const a = e.args[3];
      const item = a?.kind === "array" ? a.items[0] : undefined;
      const expected = item?.kind === "int"
        ? item.value
        : item?.kind === "symbols" && item.names.length === 1
        ? ERRNO[item.names[0]]
        : undefined;
      if (expected === undefined) this.#fail(e.line, `cannot read the expected option value`);
      if (expected !== r.out) {
        this.#fail(e.line, `${e.name}() gave ${r.out}, the script expects ${expected}`);
      }
    }
  }

  #shell(line: number, command: string): void {
    if (/\bsetkey\b/.test(command)) return this.#setkey(line, command);
    let lines: string[] | undefined;
    for (const stage of command.split("|").map((s) => s.trim())) {
      const argv = stage.split(/\s+/);
      const [cmd] = argv;
      if (cmd === "sysctl") {
        this.#sysctl(line, argv);
        lines = [];
      } else if (cmd === "sockstat") lines = this.#sockstat(argv);
      else if (cmd === "tcpdrop") {
        this.#tcpdrop(line, argv);
        lines = [];
      } else if (cmd === "grep") {
        if (lines === undefined) throw new Unsupported(`line ${line}: grep without input`);
        const count = argv[1] === "-c";
        const pattern = argv[count ? 2 : 1];
        const hits = lines.filter((l) => l.includes(pattern));
        if (count) lines = [`${hits.length}`];
        else {
          if (hits.length === 0) {
            this.#fail(line, `\`${command}\` failed: no line matched "${pattern}"`);
          }
          lines = hits;
        }
      } else throw new Unsupported(`line ${line}: shell command "${cmd}" is not supported`);
    }
  }

  // FreeBSD keeps TCP-MD5 keys in IPsec's SAD: `setkey -c` with an `add`
  // per direction, `setkey -F` to flush. tunstack's key is the socket's,
  // one for both directions; TCP_MD5SIG hands it over (syscalls.ts).
  #setkey(line: number, command: string): void {
    if (/setkey\s+-F/.test(command)) {
      this.sockets.md5Key = undefined;
      return;
    }
    const keys = [...command.matchAll(/add\s+\S+\s+\S+\s+tcp\s+\S+\s+-A\s+tcp-md5\s+"([^"]*)"/g)]
      .map((m) => m[1]);
    if (keys.length !== 2 || keys[0] !== keys[1]) {
      throw new Unsupported(`line ${line}: setkey entries other than one key both ways`);
    }
    this.sockets.md5Key = new TextEncoder().encode(keys[0]);
  }

  #sysctl(line: number, argv: string[]): void {
    if (argv[1] !== "-w" || !argv[2]?.includes("=")) {
      throw new Unsupported(`line ${line}: sysctl ${argv.slice(1).join(" ")} is not supported`);
    }
    const [name, value] = argv[2].split("=");
    const fixed = NO_COUNTERPART[name];
    if (fixed !== undefined) {
      if (value === fixed) return;
      throw new Unsupported(`line ${line}: sysctl ${name}=${value} has no tunstack counterpart`);
    }
    try {
      sysctlSet(this.stack, name, value);
    } catch (e) {
      if ((e as Error).message.startsWith("Unknown sysctl")) {
        throw new Unsupported(`line ${line}: unknown sysctl ${name}`);
      }
      this.#fail(line, (e as Error).message);
    }
  }

  // Lines shaped like FreeBSD's `sockstat -s`: user, command, pid, fd,
  // proto, local, foreign, state. Sockets of the script are "packetdril".
  #sockstat(argv: string[]): string[] {
    const v6 = argv.includes("-6") ? true : argv.includes("-4") ? false : undefined;
    const p = argv.indexOf("-p");
    const port = p >= 0 ? Number(argv[p + 1]) : undefined;
    const owned = new Set(
      [...this.sockets.fds.values()].map((d) => d.conn?.block).filter((c) => c !== undefined),
    );
    const ownedPorts = new Set([...this.sockets.fds.values()].map((d) => d.conn?.remoteAddr.port));
    const out: string[] = [];
    const add = (
      isV6: boolean,
      lport: number,
      rport: number,
      peer: string,
      state: string,
      own: boolean,
    ) => {
      if (v6 !== undefined && v6 !== isV6) return;
      if (port !== undefined && port !== lport && port !== rport) return;
      const local = `${formatIp(isV6 ? LOCAL6 : LOCAL4)}:${lport}`;
      out.push(
        `${own ? "root packetdril 1" : "? ? ?"} tcp${
          isV6 ? 6 : 4
        } ${local} ${peer}:${rport} ${state}`,
      );
    };
    for (const d of this.sockets.fds.values()) {
      if (d.listener) add(this.v6, d.port, 0, "*", "LISTEN", true);
    }
    for (const c of this.stack.tcp.connections()) {
      add(
        c.remote.length === 16,
        c.localPort,
        c.remotePort,
        formatIp(c.remote),
        STATE_NAMES[c.state],
        owned.has(c),
      );
    }
    for (const tw of this.stack.tcp.timewait.list(this.now / 1000)) {
      add(
        tw.peerAddress.includes(":"),
        tw.localPort,
        tw.peerPort,
        tw.peerAddress,
        "TIME_WAIT",
        ownedPorts.has(tw.peerPort),
      );
    }
    return out;
  }

  #tcpdrop(line: number, argv: string[]): void {
    if (argv[1] !== "-s" || argv.length !== 3) {
      throw new Unsupported(`line ${line}: tcpdrop ${argv.slice(1).join(" ")} is not supported`);
    }
    const state = argv[2];
    if (state === "TIME_WAIT") {
      this.stack.tcp.timewait.clear();
      return;
    }
    for (const c of [...this.stack.tcp.connections()]) {
      if (STATE_NAMES[c.state] === state) abort(c);
    }
  }

  // tcpi_options of the last socket used: the options its connection agreed to.
  #assertOptions(line: number, names: string[]): void {
    for (const n of names) {
      if (!TCPI_OPT.some(([k]) => k === n)) throw new Unsupported(`line ${line}: ${n}`);
    }
    const conn = this.sockets.current?.conn;
    if (!conn) this.#fail(line, "tcpi_options of a socket without a connection");
    const i = info(conn.block, this.stack.tcp.now());
    const has = TCPI_OPT.filter(([, on]) => on(i)).map(([k]) => k);
    const want = TCPI_OPT.map(([k]) => k).filter((k) => names.includes(k));
    if (has.join() !== want.join()) {
      this.#fail(line, `tcpi_options is ${has.join(" | ") || 0}, expected ${want.join(" | ")}`);
    }
  }

  #code(line: number, code: string): void {
    const o = code.match(/^assert\s+tcpi_options\s*==\s*\(?\s*([\w\s|]+?)\s*\)?$/);
    if (o) return this.#assertOptions(line, o[1].split("|").map((n) => n.trim()));
    const m = code.match(/^assert\s+tcpi_state\s*==\s*TCPI_(\w+)$/);
    if (!m) throw new Unsupported(`line ${line}: code block "${code}" is not supported`);
    const d = this.sockets.current;
    const state = d?.conn
      ? STATE_NAMES[d.conn.state as TcpState]
      : d?.listener
      ? "LISTEN"
      : "CLOSED";
    const want = m[1] === "SYN_RECEIVED" ? "SYN_RCVD" : m[1] === "CLOSE" ? "CLOSED" : m[1];
    if (state !== want) this.#fail(line, `tcpi_state is TCPI_${state}, expected TCPI_${m[1]}`);
  }
}

/** FreeBSD's tcp_info option bits (netinet/tcp.h), by what `info()` reports. */
const TCPI_OPT: [string, (i: ConnectionInfo) => boolean][] = [
  ["TCPI_OPT_TIMESTAMPS", (i) => i.timestamps],
  ["TCPI_OPT_SACK", (i) => i.sack],
  ["TCPI_OPT_WSCALE", (i) => i.rcvWscale !== null],
  ["TCPI_OPT_ECN", (i) => i.ecn],
];

function secs(usecs: number): string {
  return (usecs / 1e6).toFixed(3);
}

// One turn of the event loop, so work the stack deferred (an ACK that
// waits for the application) runs before time moves.
function settle(): Promise<void> {
  return new Promise((r) => setImmediate(r));
}
