/**
 * Run-time settings under FreeBSD's sysctl names, read and written while
 * the stack runs (by `--sysctl` at start, or `tunstack sysctl name=value`).
 *
 * @module
 */

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
    set: (s, v) => {
      if (!Number.isInteger(v) || v < min || v > max) {
        throw new RangeError(`Invalid value for ${name}: ${v} (must be ${min} to ${max})`);
      }
      s.tcp.config[key] = v;
    },
  };
}

const KNOBS: Record<string, Knob> = {
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
 * ```ts ignore
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
 * ```ts ignore
 * sysctlSet(stack, "net.inet.tcp.maxtcptw", "32");
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
