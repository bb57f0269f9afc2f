/**
 * The packetdrill script language, as FreeBSD's TCP test suite uses it:
 * preprocessor lines, `--name=value` header options, and timed events
 * (inbound `<` and outbound `>` TCP segments, system calls, backtick shell
 * lines, `%{ }%` code). Parsing only; `runner.ts` gives the events meaning.
 *
 * @module
 */

/** When an event happens, in microseconds. */
export interface EventTime {
  /** `+N` is relative to the previous event, `N` absolute, `*` any time. */
  kind: "absolute" | "relative" | "any";
  /** Microseconds. */
  usecs: number;
}

/** A TCP option as written between `<` and `>`. */
export type ScriptOption =
  | { kind: "mss"; value: number }
  | { kind: "wscale"; value: number }
  | { kind: "sackOK" }
  | { kind: "TS"; val: number; ecr: number }
  | { kind: "sack"; blocks: [number, number][] }
  | { kind: "nop" }
  | { kind: "eol" }
  | { kind: "md5"; valid: boolean };

/** A TCP segment line. */
export interface ScriptPacket {
  /** `<` inbound (the script injects it), `>` outbound (the stack must send it). */
  direction: "<" | ">";
  /** Flag letters as written: S F R P . (ACK) E W U. */
  flags: string;
  /** Start sequence number, or undefined for `...` (any). */
  seq: number | undefined;
  /** Payload bytes. */
  length: number;
  /** Acknowledgment number, when `ack` is written. */
  ack: number | undefined;
  /** Window, when `win` is written. */
  window: number | undefined;
  /** Options, or undefined for `<...>` (any); [] when none are written. */
  options: ScriptOption[] | undefined;
  /** IP fields written in parentheses before the flags: ttl, tos, hlim, class. */
  ip: Record<string, number>;
  /** `!` after the sequence: compared as written, not relative to the ISS. */
  absolute?: boolean;
}

/** An ICMP line: `< icmp unreachable frag_needed mtu 1280 [1:1461(1460)]`. */
export interface ScriptIcmp {
  /** Type name: unreachable, packet_too_big, time_exceeded. */
  type: string;
  /** Code name (port_unreachable, frag_needed, ...), or undefined. */
  code: string | undefined;
  /** The MTU given, or 0. */
  mtu: number;
  /** The quoted segment's sequence number (our ISS-relative) and length. */
  seq: number;
  /** The quoted segment's payload length. */
  length: number;
}

/** One argument of a system call. */
export type SyscallArg =
  | { kind: "ellipsis" }
  | { kind: "int"; value: number }
  | { kind: "symbols"; names: string[] } // A | B | C
  | { kind: "array"; items: SyscallArg[] };

/** A timed event. */
export type ScriptEvent =
  & { line: number; time: EventTime; text: string }
  & (
    | { kind: "packet"; packet: ScriptPacket }
    | { kind: "icmp"; icmp: ScriptIcmp }
    | {
      kind: "syscall";
      name: string;
      args: SyscallArg[];
      result: number;
      errno: string | undefined;
    }
    | { kind: "shell"; command: string }
    | { kind: "code"; code: string }
  );

/** A parsed script. */
export interface Script {
  /** Header options (`--tolerance_usecs=75000` gives `tolerance_usecs: "75000"`). */
  options: Record<string, string>;
  /** Events in script order. */
  events: ScriptEvent[];
}

/** A script the parser cannot read; `line` is 1-based. */
export class ScriptError extends Error {
  /** The script line. */
  readonly line: number;
  /** Builds the error. */
  constructor(line: number, message: string) {
    super(`line ${line}: ${message}`);
    this.name = "ScriptError";
    this.line = line;
  }
}

/**
 * Applies `#ifdef`/`#ifndef`/`#else`/`#endif` and removes `//` and
 * `/* *\/` comments; lines keep their numbers (removed ones become empty).
 *
 * @example
 * ```ts
 * import { preprocess } from "./script.ts";
 * preprocess("#ifdef A\nx\n#else\ny\n#endif", new Set(["A"])); // ["", "x", "", "", ""]
 * ```
 */
export function preprocess(text: string, defines: ReadonlySet<string>): string[] {
  const out: string[] = [];
  // Each open conditional: is its current branch active, and was its parent?
  const stack: { active: boolean; parent: boolean; taken: boolean }[] = [];
  let inComment = false;
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i];
    if (inComment) {
      const end = line.indexOf("*/");
      if (end < 0) {
        out.push("");
        continue;
      }
      line = line.slice(end + 2);
      inComment = false;
    }
    line = line.replace(/\/\*.*?\*\//g, "");
    const open = line.indexOf("/*");
    if (open >= 0 && !line.includes("`")) {
      line = line.slice(0, open);
      inComment = true;
    }
    const comment = line.indexOf("//");
    if (comment >= 0 && !line.slice(0, comment).includes("`")) line = line.slice(0, comment);
    const active = stack.length === 0 || stack[stack.length - 1].active;
    const directive = line.trim().match(/^#\s*(\w+)\s*(\w*)/);
    if (directive) {
      const [, word, name] = directive;
      if (word === "ifdef" || word === "ifndef") {
        const yes = defines.has(name) === (word === "ifdef");
        stack.push({ active: active && yes, parent: active, taken: yes });
      } else if (word === "else") {
        const top = stack[stack.length - 1];
        if (!top) throw new ScriptError(i + 1, "#else without #ifdef");
        top.active = top.parent && !top.taken;
      } else if (word === "endif") {
        if (!stack.pop()) throw new ScriptError(i + 1, "#endif without #ifdef");
      } else throw new ScriptError(i + 1, `unknown directive #${word}`);
      out.push("");
      continue;
    }
    out.push(active ? line : "");
  }
  if (stack.length > 0) throw new ScriptError(lines.length, "#ifdef without #endif");
  return out;
}

/**
 * Parses a script.
 *
 * @example
 * ```ts
 * import { parseScript } from "./script.ts";
 * const s = parseScript("--tolerance_usecs=1000\n0 < S 0:0(0) win 1000\n", new Set());
 * s.events[0].kind; // "packet"
 * ```
 */
export function parseScript(text: string, defines: ReadonlySet<string>): Script {
  const lines = preprocess(text, defines);
  const options: Record<string, string> = {};
  const events: ScriptEvent[] = [];
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    let line = lines[i].trim();
    if (line === "") continue;
    if (line.startsWith("--")) {
      const m = line.match(/^--([\w-]+)(?:=(.*))?$/);
      if (!m) throw new ScriptError(lineNo, `bad option "${line}"`);
      options[m[1]] = (m[2] ?? "").trim();
      continue;
    }
    // Shell commands may span lines until the closing backtick.
    if ((line.match(/`/g) ?? []).length === 1) {
      while (++i < lines.length && !lines[i].includes("`")) line += "\n" + lines[i];
      if (i >= lines.length) throw new ScriptError(lineNo, "unterminated shell command");
      line += "\n" + lines[i].trim();
    }
    // Code blocks may span lines until "}%".
    if (line.includes("%{") && !line.includes("}%")) {
      while (++i < lines.length && !lines[i].includes("}%")) line += " " + lines[i].trim();
      if (i >= lines.length) throw new ScriptError(lineNo, "%{ without }%");
      line += " " + lines[i].trim();
    }
    events.push(parseEvent(line, lineNo));
  }
  return { options, events };
}

function parseEvent(text: string, line: number): ScriptEvent {
  // An untimed shell line (packetdrill's init command) runs at the start.
  const m = text.startsWith("`")
    ? [text, "0", text]
    : text.match(/^(\*|\+?\d+(?:\.\d*)?)\s+(.*)$/s);
  if (!m) throw new ScriptError(line, `expected a time at the start of "${text}"`);
  const time: EventTime = m[1] === "*" ? { kind: "any", usecs: 0 } : {
    kind: m[1].startsWith("+") ? "relative" : "absolute",
    usecs: Math.round(parseFloat(m[1].replace("+", "")) * 1e6),
  };
  const body = m[2].trim();
  const base = { line, time, text };
  if (body.startsWith("`")) {
    const end = body.lastIndexOf("`");
    if (end <= 0) throw new ScriptError(line, "unterminated shell command");
    return { ...base, kind: "shell", command: body.slice(1, end).trim() };
  }
  if (body.startsWith("%{")) {
    return { ...base, kind: "code", code: body.slice(2, body.lastIndexOf("}%")).trim() };
  }
  const icmp = body.match(
    /^<\s+icmp\s+([a-z_]+)(?:\s+(?!mtu\b)([a-z_]+))?(?:\s+mtu\s+(\d+))?(?:\s+\[(\d+):(\d+)\((\d+)\)\])?\s*$/,
  );
  if (icmp) {
    const [, type, code, mtu, start, , len] = icmp;
    return {
      ...base,
      kind: "icmp",
      icmp: {
        type,
        code,
        mtu: Number(mtu ?? 0),
        seq: Number(start ?? 0),
        length: Number(len ?? 0),
      },
    };
  }
  if (body.startsWith("<") || body.startsWith(">")) {
    return { ...base, kind: "packet", packet: parsePacket(body, line) };
  }
  return { ...base, kind: "syscall", ...parseSyscall(body, line) };
}

// A small tokenizer for packet lines and system-call arguments.
function tokens(s: string): string[] {
  const out: string[] = [];
  const re = /\s*(\.\.\.|0x[0-9a-fA-F]+|-?\d+|[A-Za-z_][\w.]*|[<>()\[\]{}:,=|!\/]|\S)/y;
  let m: RegExpExecArray | null;
  re.lastIndex = 0;
  while (re.lastIndex < s.length && (m = re.exec(s)) !== null) out.push(m[1]);
  return out;
}

function parsePacket(body: string, line: number): ScriptPacket {
  const direction = body[0] as "<" | ">";
  let rest = body.slice(1).trim();
  const ip: Record<string, number> = {};
  // (ttl 5) (tos 0x10) (hlim 5) (class 0x10)
  for (;;) {
    const m = rest.match(/^\(\s*(ttl|tos|hlim|class|ecn)\s+(0x[0-9a-fA-F]+|\d+)\s*\)\s*/);
    if (!m) break;
    ip[m[1]] = Number(m[2]);
    rest = rest.slice(m[0].length);
  }
  if (/^icmp\b/.test(rest)) throw new ScriptError(line, "outbound icmp lines are not supported");
  if (rest.startsWith("[")) {
    throw new ScriptError(line, "IP ECN marks ([noecn] etc.) are not supported");
  }
  const fm = rest.match(/^([SFRPEWU.]+)\s+/);
  if (!fm) throw new ScriptError(line, `expected TCP flags in "${body}"`);
  const flags = fm[1];
  rest = rest.slice(fm[0].length);
  let seq: number | undefined;
  const sm = rest.match(/^(?:(\d+):(\d+)|\.\.\.)\((\d+)\)\s*/);
  if (!sm) throw new ScriptError(line, `expected start:end(length) in "${body}"`);
  const length = Number(sm[3]);
  if (sm[1] !== undefined) {
    seq = Number(sm[1]);
    if ((seq + length) % 2 ** 32 !== Number(sm[2]) % 2 ** 32) {
      throw new ScriptError(line, "inconsistent TCP sequence numbers and payload size");
    }
  }
  rest = rest.slice(sm[0].length);
  const absolute = rest.startsWith("!");
  if (absolute) rest = rest.slice(1).trimStart();
  let ack: number | undefined;
  let window: number | undefined;
  let options: ScriptOption[] | undefined = [];
  const am = rest.match(/^ack\s+(\d+)\s*/);
  if (am) {
    ack = Number(am[1]);
    rest = rest.slice(am[0].length);
  }
  const wm = rest.match(/^win\s+(\d+)\s*/);
  if (wm) {
    window = Number(wm[1]);
    rest = rest.slice(wm[0].length);
  }
  if (rest.startsWith("<")) {
    const end = rest.indexOf(">");
    if (end < 0) throw new ScriptError(line, "unterminated TCP options");
    const inner = rest.slice(1, end).trim();
    options = inner === "..." ? undefined : parseOptions(inner, line);
    rest = rest.slice(end + 1).trim();
  }
  if (rest.startsWith("/udp")) throw new ScriptError(line, "UDP encapsulation is not supported");
  if (rest !== "") throw new ScriptError(line, `unexpected "${rest}" in packet`);
  return { direction, flags, seq, length, ack, window, options, ip, absolute };
}

function parseOptions(inner: string, line: number): ScriptOption[] {
  const out: ScriptOption[] = [];
  if (inner === "") return out;
  for (const raw of inner.split(",")) {
    const t = raw.trim().split(/\s+/);
    const num = (s: string | undefined) => {
      if (s === undefined || !/^\d+$/.test(s)) {
        throw new ScriptError(line, `bad number in TCP option "${raw.trim()}"`);
      }
      return Number(s);
    };
    switch (t[0]) {
      case "nop":
        out.push({ kind: "nop" });
        break;
      case "eol":
        out.push({ kind: "eol" });
        break;
      case "mss":
        out.push({ kind: "mss", value: num(t[1]) });
        break;
      case "wscale":
        out.push({ kind: "wscale", value: num(t[1]) });
        break;
      case "sackOK":
        out.push({ kind: "sackOK" });
        break;
      case "TS":
        if (t[1] !== "val" || t[3] !== "ecr") throw new ScriptError(line, "bad TS option");
        out.push({ kind: "TS", val: num(t[2]), ecr: num(t[4]) });
        break;
      case "sack": {
        const blocks: [number, number][] = [];
        for (const b of t.slice(1)) {
          const m = b.match(/^(\d+):(\d+)$/);
          if (!m) throw new ScriptError(line, `bad SACK block "${b}"`);
          blocks.push([Number(m[1]), Number(m[2])]);
        }
        out.push({ kind: "sack", blocks });
        break;
      }
      case "md5":
        // `md5 valid` (or bare) signs with --tcp_md5_secret; `md5 invalid` signs wrongly.
        if (t[1] !== undefined && t[1] !== "valid" && t[1] !== "invalid") {
          throw new ScriptError(line, `bad TCP option "${raw.trim()}"`);
        }
        out.push({ kind: "md5", valid: t[1] !== "invalid" });
        break;
      default:
        throw new ScriptError(line, `unknown TCP option "${raw.trim()}"`);
    }
  }
  return out;
}

function parseSyscall(
  body: string,
  line: number,
): { name: string; args: SyscallArg[]; result: number; errno: string | undefined } {
  const m = body.match(
    /^([a-z_]\w*)\((.*)\)\s*=\s*(-?(?:0x[0-9a-fA-F]+|\d+))\s*(\w+)?\s*(\(.*\))?$/,
  );
  if (!m) throw new ScriptError(line, `cannot read system call "${body}"`);
  const toks = tokens(m[2]);
  let pos = 0;
  const arg = (): SyscallArg => {
    const t = toks[pos];
    if (t === undefined) throw new ScriptError(line, `missing argument in "${body}"`);
    if (t === "...") {
      pos++;
      return { kind: "ellipsis" };
    }
    if (t === "[") {
      pos++;
      const items: SyscallArg[] = [];
      while (toks[pos] !== "]") {
        if (toks[pos] === undefined) throw new ScriptError(line, `unterminated [ in "${body}"`);
        items.push(arg());
        if (toks[pos] === ",") pos++;
      }
      pos++;
      return { kind: "array", items };
    }
    if (/^(-?\d+|0x[0-9a-fA-F]+)$/.test(t)) {
      pos++;
      return { kind: "int", value: Number(t) };
    }
    if (/^[A-Za-z_]/.test(t)) {
      const names = [t];
      pos++;
      while (toks[pos] === "|") {
        names.push(toks[pos + 1]);
        pos += 2;
      }
      return { kind: "symbols", names };
    }
    throw new ScriptError(line, `cannot read argument "${t}" in "${body}"`);
  };
  const args: SyscallArg[] = [];
  while (pos < toks.length) {
    args.push(arg());
    if (toks[pos] === ",") pos++;
    else if (pos < toks.length) throw new ScriptError(line, `expected "," in "${body}"`);
  }
  return { name: m[1], args, result: Number(m[3]), errno: m[4] };
}
