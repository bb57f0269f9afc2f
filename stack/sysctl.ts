/**
 * Run-time settings under FreeBSD's sysctl names, read and written while
 * the stack runs (by `--sysctl` at start, or `tunstack sysctl name=value`).
 *
 * @module
 */

import type { Stack } from "./stack.ts";
import type { TcpConfig } from "./tcp/config.ts";

/** One setting; `set` is given the setting's name for its error messages. */
interface Knob {
  description: string;
  get(s: Stack): number;
  set(s: Stack, v: number, name: string): void;
}

function bool(v: number, name: string): boolean {
  if (v !== 0 && v !== 1) throw new RangeError(`Invalid value for ${name}: ${v} (must be 0 or 1)`);
  return v === 1;
}

// Throws unless `v` is an integer in [min, max].
function checkInt(name: string, v: number, min: number, max: number): number {
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new RangeError(`Invalid value for ${name}: ${v} (must be ${min} to ${max})`);
  }
  return v;
}

// The keys of `T` whose values are numbers.
type NumberKey<T> = { [K in keyof T]: T[K] extends number ? K : never }[keyof T];

// A setting that is an integer in [min, max], field `key` of what `of` finds.
function intKnob<T>(
  description: string,
  of: (s: Stack) => T,
  key: NumberKey<T>,
  min: number,
  max: number,
): Knob {
  return {
    description,
    get: (s) => of(s)[key] as number,
    set: (s, v, name) => of(s)[key] = checkInt(name, v, min, max) as T[NumberKey<T>],
  };
}

const tcp = (s: Stack): TcpConfig => s.tcp.config;
// Reassembly limits: IPv4 and IPv6 share them.
const frag = (s: Stack) => s.ip.reassembly.limits;

type BoolKey = {
  [K in keyof TcpConfig]: TcpConfig[K] extends boolean ? K : never;
}[keyof TcpConfig];

// A TCP setting that is on (1) or off (0).
function tcpBool(description: string, key: BoolKey): Knob {
  return {
    description,
    get: (s) => (s.tcp.config[key] ? 1 : 0),
    set: (s, v, name) => s.tcp.config[key] = bool(v, name),
  };
}

const KNOBS: Record<string, Knob> = {
  "net.inet.ip.maxfragpackets": intKnob(
    "Datagrams (IPv4 and IPv6) in reassembly at once; past it the oldest is dropped",
    frag,
    "maxDatagrams",
    0,
    100_000,
  ),
  "net.inet.ip.maxfragbytes": intKnob(
    "Fragment bytes held for reassembly at once",
    frag,
    "maxBytes",
    0,
    1 << 30,
  ),
  "net.inet.ip.fragttl": intKnob(
    "Milliseconds a datagram may take to arrive whole before its fragments are dropped",
    frag,
    "timeoutMs",
    1,
    600_000,
  ),
  "net.inet.icmp.icmplim": {
    description:
      "ICMP errors (protocol unreachable, parameter problem) the stack sends per second at most",
    get: (s) => s.icmp.errorRate,
    set: (s, v, name) => s.icmp.errorRate = checkInt(name, v, 0, 100_000),
  },
  "net.inet.tcp.rfc1323": {
    description:
      "RFC 7323 options: 0 none, 1 window scale and timestamps, 2 scale only, 3 timestamps only",
    get: (s) => {
      const c = s.tcp.config;
      return c.windowScale ? (c.timestamps ? 1 : 2) : (c.timestamps ? 3 : 0);
    },
    set: (s, v, name) => {
      if (![0, 1, 2, 3].includes(v)) {
        throw new RangeError(`Invalid value for ${name}: ${v} (must be 0 to 3)`);
      }
      s.tcp.config.windowScale = v === 1 || v === 2;
      s.tcp.config.timestamps = v === 1 || v === 3;
    },
  },
  "net.inet.tcp.sack.enable": tcpBool(
    "Offer and use SACK (RFC 2018)",
    "sack",
  ),
  "net.inet.tcp.ecn.enable": intKnob(
    "ECN (RFC 3168): 0 never, 1 ask for it on active opens and accept it, 2 accept it when a peer asks",
    tcp,
    "ecn",
    0,
    2,
  ),
  "net.inet.tcp.hystartplusplus": tcpBool(
    "HyStart++ (RFC 9406): leave the first slow start when the RTT grows, not at the first loss",
    "hystart",
  ),
  "net.inet.tcp.pacing": intKnob(
    "Pacing, in TSO packets of a millisecond's data: 0 none, 1 BBR at its model's rate, 2 NewReno and CUBIC too (200% of cwnd/SRTT in slow start, 120% after)",
    tcp,
    "pacing",
    0,
    2,
  ),
  "net.inet.tcp.slowstart_after_idle": tcpBool(
    "After an RTO without a segment from the peer, send again from the initial window (RFC 5681 4.1)",
    "slowStartAfterIdle",
  ),
  "net.inet.tcp.quickack": tcpBool(
    "ACK lone segments at the start and after idleness within the turn, as Linux's quick-ACK mode, unless request/response answers carry the ACKs",
    "quickAck",
  ),
  "net.inet.tcp.rack.tlp": tcpBool(
    "Send tail loss probes (RFC 8985 7) instead of waiting for the RTO after a flight's last segments",
    "tlp",
  ),
  "net.inet.tcp.pmtud_blackhole_detection": tcpBool(
    "After two timeouts in a row of full-size segments, try smaller ones (paths that drop ICMP)",
    "pmtudBlackholeDetection",
  ),
  "net.inet.tcp.pmtud_blackhole_mss": intKnob(
    "The MSS black-hole detection tries first over IPv4",
    tcp,
    "pmtudBlackholeMss",
    536,
    65495,
  ),
  "net.inet.tcp.v6pmtud_blackhole_mss": intKnob(
    "The MSS black-hole detection tries first over IPv6",
    tcp,
    "v6PmtudBlackholeMss",
    1220,
    65475,
  ),
  "net.inet.tcp.insecure_rst": tcpBool(
    "Reset on any in-window RST (RFC 793) instead of RFC 5961's challenge ACK",
    "insecureRst",
  ),
  "net.inet.tcp.insecure_syn": tcpBool(
    "Reset on an in-window SYN (RFC 793) instead of RFC 5961's challenge ACK",
    "insecureSyn",
  ),
  "net.inet.tcp.icmp_may_rst": tcpBool(
    "Let ICMP port/protocol unreachable and prohibited refuse a connection in SYN-SENT",
    "icmpMayRst",
  ),
  "net.inet.tcp.drop_synfin": tcpBool(
    "Drop segments with both SYN and FIN set",
    "dropSynFin",
  ),
  "kern.ipc.maxsockbuf": intKnob(
    "Largest buffer of a connection, bytes; sets the window scale offered",
    tcp,
    "maxSockBuf",
    4096,
    1 << 30,
  ),
  "net.inet.tcp.rexmit_initial": intKnob(
    "Retransmission timeout before the first RTT sample, ms (RFC 6298 2.1)",
    tcp,
    "rtoInitialMs",
    1,
    60_000,
  ),
  "net.inet.tcp.rexmit_min": intKnob(
    "Smallest retransmission timeout, ms",
    tcp,
    "rtoMinMs",
    1,
    60_000,
  ),
  "net.inet.tcp.rexmit_slop": intKnob(
    "Added to every computed retransmission timeout, ms",
    tcp,
    "rtoSlopMs",
    0,
    60_000,
  ),
  "net.inet.tcp.keepidle": intKnob(
    "Idle time before the first keepalive probe of new connections, ms",
    tcp,
    "keepIdleMs",
    1,
    86_400_000,
  ),
  "net.inet.tcp.keepintvl": intKnob(
    "Time between unanswered keepalive probes of new connections, ms",
    tcp,
    "keepIntervalMs",
    1,
    86_400_000,
  ),
  "net.inet.tcp.keepcnt": intKnob(
    "Unanswered keepalive probes before a connection is dropped",
    tcp,
    "keepCount",
    1,
    1000,
  ),
  "net.inet.tcp.keepinit": intKnob(
    "Most time a connection may take to establish, ms",
    tcp,
    "keepInitMs",
    1,
    86_400_000,
  ),
  "net.inet.tcp.maxtcptw": {
    description: "Maximum number of compressed TCP TIME_WAIT entries (0: automatic)",
    get: (s) => s.tcp.timewait.limit,
    set: (s, v) => s.tcp.timewait.setMaxTcpTw(v),
  },
  "net.inet.tcp.nolocaltimewait": {
    description: "Do not create TIME_WAIT entries for connections to the stack's own addresses",
    get: (s) => (s.tcp.timewait.settings.nolocaltimewait ? 1 : 0),
    set: (s, v, name) => s.tcp.timewait.settings.nolocaltimewait = bool(v, name),
  },
  "net.inet.tcp.msl": {
    description: "Maximum segment lifetime in ms; TIME_WAIT lasts twice this",
    get: (s) => s.tcp.timewait.settings.mslMs,
    set: (s, v, name) => {
      if (!Number.isInteger(v) || v < 1 || v > 3_600_000) {
        throw new RangeError(`Invalid value for ${name}: ${v} (must be 1 to 3600000 ms)`);
      }
      s.tcp.timewait.settings.mslMs = v;
    },
  },
  "net.inet.tcp.tw_paws": {
    description: "PAWS (RFC 7323) on segments that hit a TIME_WAIT entry (tunstack extension)",
    get: (s) => (s.tcp.timewait.settings.paws ? 1 : 0),
    set: (s, v, name) => s.tcp.timewait.settings.paws = bool(v, name),
  },
  "net.inet.tcp.tw_rfc6191": {
    description: "Reopen TIME_WAIT on a SYN with a newer timestamp (RFC 6191; tunstack extension)",
    get: (s) => (s.tcp.timewait.settings.rfc6191 ? 1 : 0),
    set: (s, v, name) => s.tcp.timewait.settings.rfc6191 = bool(v, name),
  },
  "kern.ipc.maxsockets": intKnob(
    "Most TCP connections (not TIME_WAIT entries); past it SYNs are dropped",
    tcp,
    "maxConnections",
    1,
    1 << 24,
  ),
  "kern.ipc.soacceptqueue": intKnob(
    "Accept queue per new listener (established, not yet accepted)",
    tcp,
    "acceptBacklog",
    1,
    65535,
  ),
  "net.inet.tcp.syncache.bucketlimit": intKnob(
    "Half-open connections per new listener; past it SYNs get cookies (tunstack: per listener)",
    tcp,
    "synBacklog",
    1,
    65535,
  ),
  "net.inet.tcp.syncookies": {
    description: "Answer SYNs with cookies when a listener's half-open limit is reached",
    get: (s) => (s.tcp.config.synCookies ? 1 : 0),
    set: (s, v, name) => s.tcp.config.synCookies = bool(v, name),
  },
  "net.inet.tcp.sendspace": intKnob(
    "Send buffer of new connections, bytes",
    tcp,
    "sndBuf",
    4096,
    1 << 30,
  ),
  "net.inet.tcp.recvspace": intKnob(
    "Receive buffer (window) of new connections, bytes",
    tcp,
    "rcvBuf",
    4096,
    1 << 30,
  ),
  "net.inet.tcp.recvbuf_auto": tcpBool(
    "Grow a connection's receive buffer while the peer fills it each round trip",
    "recvBufAuto",
  ),
  "net.inet.tcp.recvbuf_max": intKnob(
    "Largest receive buffer that growth reaches, bytes (kern.ipc.maxsockbuf caps it)",
    tcp,
    "recvBufMax",
    4096,
    1 << 30,
  ),
  "net.inet.tcp.sendbuf_auto": tcpBool(
    "Grow a connection's send buffer while the peer acknowledges most of it each round trip",
    "sendBufAuto",
  ),
  "net.inet.tcp.sendbuf_max": intKnob(
    "Largest send buffer that growth reaches, bytes (kern.ipc.maxsockbuf caps it)",
    tcp,
    "sendBufMax",
    4096,
    1 << 30,
  ),
  "net.inet.tcp.autosize_budget": intKnob(
    "Bytes all connections' buffers may grow by together (tunstack extension, like Linux's tcp_mem)",
    tcp,
    "autosizeBudget",
    0,
    2 ** 40,
  ),
  "net.inet.tcp.reass.maxqueuelen": intKnob(
    "Separate out-of-order ranges held per connection",
    tcp,
    "maxOutOfOrderRanges",
    1,
    65535,
  ),
  "net.inet.tcp.reass.maxbytes": intKnob(
    "Out-of-order bytes held per connection (tunstack extension)",
    tcp,
    "maxOutOfOrderBytes",
    0,
    1 << 30,
  ),
  "net.inet.tcp.user_timeout": intKnob(
    "Drop a connection whose sent data makes no progress this long, ms (0: off; tunstack extension)",
    tcp,
    "userTimeoutMs",
    0,
    86_400_000,
  ),
};

/** The names of every setting. */
export const SYSCTL_NAMES: readonly string[] = Object.keys(KNOBS);

/**
 * Reads one setting, or all when `name` is omitted.
 *
 * @example
 * ```ts
 * import { Stack } from "./stack.ts";
 * import { sysctlGet } from "./sysctl.ts";
 * const stack = new Stack({});
 * sysctlGet(stack, "net.inet.tcp.msl"); // { "net.inet.tcp.msl": 30000 }
 * ```
 */
export function sysctlGet(stack: Stack, name?: string): Record<string, number> {
  if (name === undefined) {
    return Object.fromEntries(SYSCTL_NAMES.map((n) => [n, KNOBS[n].get(stack)]));
  }
  const k = KNOBS[name];
  if (!k) throw new Error(`Unknown sysctl: ${name}`);
  return { [name]: k.get(stack) };
}

/**
 * Writes one setting from its text form; throws a clear error (and changes
 * nothing) on an unknown name or a refused value.
 *
 * @example
 * ```ts
 * import { Stack } from "./stack.ts";
 * import { sysctlSet } from "./sysctl.ts";
 * const stack = new Stack({});
 * sysctlSet(stack, "net.inet.tcp.maxtcptw", "32"); // { "net.inet.tcp.maxtcptw": 32 }
 * ```
 */
export function sysctlSet(stack: Stack, name: string, value: string): Record<string, number> {
  const k = KNOBS[name];
  if (!k) throw new Error(`Unknown sysctl: ${name}`);
  if (!/^-?\d+$/.test(value.trim())) {
    throw new RangeError(`Invalid value for ${name}: "${value}" is not an integer`);
  }
  k.set(stack, Number(value), name);
  return { [name]: k.get(stack) };
}

/**
 * Parses `name=value`.
 *
 * @example
 * ```ts
 * import { parseAssignment } from "./sysctl.ts";
 * parseAssignment("net.inet.tcp.msl=1000"); // ["net.inet.tcp.msl", "1000"]
 * ```
 */
export function parseAssignment(s: string): [string, string] {
  const i = s.indexOf("=");
  if (i <= 0) throw new Error(`Invalid sysctl assignment: "${s}" (expected name=value)`);
  return [s.slice(0, i).trim(), s.slice(i + 1).trim()];
}

/**
 * Descriptions, for `tunstack sysctl -d`.
 *
 * @example
 * ```ts
 * import { sysctlDescriptions } from "./sysctl.ts";
 * Object.keys(sysctlDescriptions()).length > 0; // true
 * ```
 */
export function sysctlDescriptions(): Record<string, string> {
  return Object.fromEntries(SYSCTL_NAMES.map((n) => [n, KNOBS[n].description]));
}
