/**
 * Run-time settings under FreeBSD's sysctl names, read and written while
 * the stack runs (by `--sysctl` at start, or `tunstack sysctl name=value`).
 *
 * @module
 */

import type { ReassemblyLimits } from "./reassembly.ts";
import type { Stack } from "./stack.ts";
import type { TcpConfig } from "./tcp/config.ts";

/** One setting. */
interface Knob {
  description: string;
  get(s: Stack): number;
  set(s: Stack, v: number): void;
}

function bool(v: number, name: string): boolean {
  if (v !== 0 && v !== 1) throw new RangeError(`Invalid value for ${name}: ${v} (must be 0 or 1)`);
  return v === 1;
}

type NumericKey = {
  [K in keyof TcpConfig]: TcpConfig[K] extends number ? K : never;
}[keyof TcpConfig];

// Throws unless `v` is an integer in [min, max].
function checkInt(name: string, v: number, min: number, max: number): number {
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new RangeError(`Invalid value for ${name}: ${v} (must be ${min} to ${max})`);
  }
  return v;
}

// A TCP setting that is an integer in [min, max].
function tcpInt(
  description: string,
  key: NumericKey,
  name: string,
  min: number,
  max: number,
): Knob {
  return {
    description,
    get: (s) => s.tcp.config[key],
    set: (s, v) => s.tcp.config[key] = checkInt(name, v, min, max),
  };
}

// A reassembly limit (IPv4 and IPv6 share them), an integer in [min, max].
function fragInt(
  description: string,
  key: keyof ReassemblyLimits,
  name: string,
  min: number,
  max: number,
): Knob {
  return {
    description,
    get: (s) => s.ip.reassembly.limits[key],
    set: (s, v) => s.ip.reassembly.limits[key] = checkInt(name, v, min, max),
  };
}

type BoolKey = {
  [K in keyof TcpConfig]: TcpConfig[K] extends boolean ? K : never;
}[keyof TcpConfig];

// A TCP setting that is on (1) or off (0).
function tcpBool(description: string, key: BoolKey, name: string): Knob {
  return {
    description,
    get: (s) => (s.tcp.config[key] ? 1 : 0),
    set: (s, v) => s.tcp.config[key] = bool(v, name),
  };
}

const KNOBS: Record<string, Knob> = {
  "net.inet.ip.maxfragpackets": fragInt(
    "Datagrams (IPv4 and IPv6) in reassembly at once; past it the oldest is dropped",
    "maxDatagrams",
    "net.inet.ip.maxfragpackets",
    0,
    100_000,
  ),
  "net.inet.ip.maxfragbytes": fragInt(
    "Fragment bytes held for reassembly at once",
    "maxBytes",
    "net.inet.ip.maxfragbytes",
    0,
    1 << 30,
  ),
  "net.inet.ip.fragttl": fragInt(
    "Milliseconds a datagram may take to arrive whole before its fragments are dropped",
    "timeoutMs",
    "net.inet.ip.fragttl",
    1,
    600_000,
  ),
  "net.inet.icmp.icmplim": {
    description:
      "ICMP errors (protocol unreachable, parameter problem) the stack sends per second at most",
    get: (s) => s.icmp.errorRate,
    set: (s, v) => s.icmp.errorRate = checkInt("net.inet.icmp.icmplim", v, 0, 100_000),
  },
  "net.inet.tcp.rfc1323": {
    description:
      "RFC 7323 options: 0 none, 1 window scale and timestamps, 2 scale only, 3 timestamps only",
    get: (s) => {
      const c = s.tcp.config;
      return c.windowScale ? (c.timestamps ? 1 : 2) : (c.timestamps ? 3 : 0);
    },
    set: (s, v) => {
      if (![0, 1, 2, 3].includes(v)) {
        throw new RangeError(`Invalid value for net.inet.tcp.rfc1323: ${v} (must be 0 to 3)`);
      }
      s.tcp.config.windowScale = v === 1 || v === 2;
      s.tcp.config.timestamps = v === 1 || v === 3;
    },
  },
  "net.inet.tcp.sack.enable": tcpBool(
    "Offer and use SACK (RFC 2018)",
    "sack",
    "net.inet.tcp.sack.enable",
  ),
  "net.inet.tcp.hystartplusplus": tcpBool(
    "HyStart++ (RFC 9406): leave the first slow start when the RTT grows, not at the first loss",
    "hystart",
    "net.inet.tcp.hystartplusplus",
  ),
  "net.inet.tcp.slowstart_after_idle": tcpBool(
    "After an RTO without a segment from the peer, send again from the initial window (RFC 5681 4.1)",
    "slowStartAfterIdle",
    "net.inet.tcp.slowstart_after_idle",
  ),
  "net.inet.tcp.rack.tlp": tcpBool(
    "Send tail loss probes (RFC 8985 7) instead of waiting for the RTO after a flight's last segments",
    "tlp",
    "net.inet.tcp.rack.tlp",
  ),
  "net.inet.tcp.pmtud_blackhole_detection": tcpBool(
    "After two timeouts in a row of full-size segments, try smaller ones (paths that drop ICMP)",
    "pmtudBlackholeDetection",
    "net.inet.tcp.pmtud_blackhole_detection",
  ),
  "net.inet.tcp.pmtud_blackhole_mss": tcpInt(
    "The MSS black-hole detection tries first over IPv4",
    "pmtudBlackholeMss",
    "net.inet.tcp.pmtud_blackhole_mss",
    536,
    65495,
  ),
  "net.inet.tcp.v6pmtud_blackhole_mss": tcpInt(
    "The MSS black-hole detection tries first over IPv6",
    "v6PmtudBlackholeMss",
    "net.inet.tcp.v6pmtud_blackhole_mss",
    1220,
    65475,
  ),
  "net.inet.tcp.insecure_rst": tcpBool(
    "Reset on any in-window RST (RFC 793) instead of RFC 5961's challenge ACK",
    "insecureRst",
    "net.inet.tcp.insecure_rst",
  ),
  "net.inet.tcp.insecure_syn": tcpBool(
    "Reset on an in-window SYN (RFC 793) instead of RFC 5961's challenge ACK",
    "insecureSyn",
    "net.inet.tcp.insecure_syn",
  ),
  "net.inet.tcp.icmp_may_rst": tcpBool(
    "Let ICMP port/protocol unreachable and prohibited refuse a connection in SYN-SENT",
    "icmpMayRst",
    "net.inet.tcp.icmp_may_rst",
  ),
  "net.inet.tcp.drop_synfin": tcpBool(
    "Drop segments with both SYN and FIN set",
    "dropSynFin",
    "net.inet.tcp.drop_synfin",
  ),
  "kern.ipc.maxsockbuf": tcpInt(
    "Largest receive buffer of a connection, bytes; sets the window scale offered",
    "maxSockBuf",
    "kern.ipc.maxsockbuf",
    4096,
    1 << 30,
  ),
  "net.inet.tcp.rexmit_initial": tcpInt(
    "Retransmission timeout before the first RTT sample, ms (RFC 6298 2.1)",
    "rtoInitialMs",
    "net.inet.tcp.rexmit_initial",
    1,
    60_000,
  ),
  "net.inet.tcp.rexmit_min": tcpInt(
    "Smallest retransmission timeout, ms",
    "rtoMinMs",
    "net.inet.tcp.rexmit_min",
    1,
    60_000,
  ),
  "net.inet.tcp.rexmit_slop": tcpInt(
    "Added to every computed retransmission timeout, ms",
    "rtoSlopMs",
    "net.inet.tcp.rexmit_slop",
    0,
    60_000,
  ),
  "net.inet.tcp.keepidle": tcpInt(
    "Idle time before the first keepalive probe of new connections, ms",
    "keepIdleMs",
    "net.inet.tcp.keepidle",
    1,
    86_400_000,
  ),
  "net.inet.tcp.keepintvl": tcpInt(
    "Time between unanswered keepalive probes of new connections, ms",
    "keepIntervalMs",
    "net.inet.tcp.keepintvl",
    1,
    86_400_000,
  ),
  "net.inet.tcp.keepcnt": tcpInt(
    "Unanswered keepalive probes before a connection is dropped",
    "keepCount",
    "net.inet.tcp.keepcnt",
    1,
    1000,
  ),
  "net.inet.tcp.keepinit": tcpInt(
    "Most time a connection may take to establish, ms",
    "keepInitMs",
    "net.inet.tcp.keepinit",
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
    set: (s, v) =>
      s.tcp.timewait.settings.nolocaltimewait = bool(v, "net.inet.tcp.nolocaltimewait"),
  },
  "net.inet.tcp.msl": {
    description: "Maximum segment lifetime in ms; TIME_WAIT lasts twice this",
    get: (s) => s.tcp.timewait.settings.mslMs,
    set: (s, v) => {
      if (!Number.isInteger(v) || v < 1 || v > 3_600_000) {
        throw new RangeError(`Invalid value for net.inet.tcp.msl: ${v} (must be 1 to 3600000 ms)`);
      }
      s.tcp.timewait.settings.mslMs = v;
    },
  },
  "net.inet.tcp.tw_paws": {
    description: "PAWS (RFC 7323) on segments that hit a TIME_WAIT entry (tunstack extension)",
    get: (s) => (s.tcp.timewait.settings.paws ? 1 : 0),
    set: (s, v) => s.tcp.timewait.settings.paws = bool(v, "net.inet.tcp.tw_paws"),
  },
  "net.inet.tcp.tw_rfc6191": {
    description: "Reopen TIME_WAIT on a SYN with a newer timestamp (RFC 6191; tunstack extension)",
    get: (s) => (s.tcp.timewait.settings.rfc6191 ? 1 : 0),
    set: (s, v) => s.tcp.timewait.settings.rfc6191 = bool(v, "net.inet.tcp.tw_rfc6191"),
  },
  "kern.ipc.maxsockets": tcpInt(
    "Most TCP connections (not TIME_WAIT entries); past it SYNs are dropped",
    "maxConnections",
    "kern.ipc.maxsockets",
    1,
    1 << 24,
  ),
  "kern.ipc.soacceptqueue": tcpInt(
    "Accept queue per new listener (established, not yet accepted)",
    "acceptBacklog",
    "kern.ipc.soacceptqueue",
    1,
    65535,
  ),
  "net.inet.tcp.syncache.bucketlimit": tcpInt(
    "Half-open connections per new listener; past it SYNs get cookies (tunstack: per listener)",
    "synBacklog",
    "net.inet.tcp.syncache.bucketlimit",
    1,
    65535,
  ),
  "net.inet.tcp.syncookies": {
    description: "Answer SYNs with cookies when a listener's half-open limit is reached",
    get: (s) => (s.tcp.config.synCookies ? 1 : 0),
    set: (s, v) => s.tcp.config.synCookies = bool(v, "net.inet.tcp.syncookies"),
  },
  "net.inet.tcp.sendspace": tcpInt(
    "Send buffer of new connections, bytes",
    "sndBuf",
    "net.inet.tcp.sendspace",
    4096,
    1 << 30,
  ),
  "net.inet.tcp.recvspace": tcpInt(
    "Receive buffer (window) of new connections, bytes",
    "rcvBuf",
    "net.inet.tcp.recvspace",
    4096,
    1 << 30,
  ),
  "net.inet.tcp.reass.maxqueuelen": tcpInt(
    "Separate out-of-order ranges held per connection",
    "maxOutOfOrderRanges",
    "net.inet.tcp.reass.maxqueuelen",
    1,
    65535,
  ),
  "net.inet.tcp.reass.maxbytes": tcpInt(
    "Out-of-order bytes held per connection (tunstack extension)",
    "maxOutOfOrderBytes",
    "net.inet.tcp.reass.maxbytes",
    0,
    1 << 30,
  ),
  "net.inet.tcp.user_timeout": tcpInt(
    "Drop a connection whose sent data makes no progress this long, ms (0: off; tunstack extension)",
    "userTimeoutMs",
    "net.inet.tcp.user_timeout",
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
  k.set(stack, Number(value));
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
