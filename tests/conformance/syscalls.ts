/**
 * The script's system calls on tunstack's socket API: a BSD file-descriptor
 * table over {@linkcode TcpConn} and {@linkcode TcpListener}, with FreeBSD's
 * errno names and option values, so `connect(3, ..., ...) = -1 EINPROGRESS`
 * means what it means on FreeBSD.
 *
 * @module
 */

import { setHeaderFields } from "../../stack/ip.ts";
import type { ListenerCore } from "../../stack/tcp/open/accept.ts";
import type { Stack } from "../../stack/stack.ts";
import { BrokenPipeError, TcpConn, TcpListener } from "../../stack/tcp/socket.ts";
import {
  ConnectionRefusedError,
  ConnectionResetError,
  TimedOutError,
} from "../../stack/tcp/tcb.ts";
import { AddressInUseError } from "../../stack/tcp/conn_table.ts";
import type { SyscallArg } from "./script.ts";

/** FreeBSD's errno values, by name (sys/errno.h). */
export const ERRNO: Record<string, number> = {
  EPERM: 1,
  EBADF: 9,
  EINVAL: 22,
  EPIPE: 32,
  EAGAIN: 35,
  EWOULDBLOCK: 35,
  EINPROGRESS: 36,
  EALREADY: 37,
  ENOTSOCK: 38,
  ENOPROTOOPT: 42,
  EOPNOTSUPP: 45,
  EADDRINUSE: 48,
  ECONNABORTED: 53,
  ECONNRESET: 54,
  EISCONN: 56,
  ENOTCONN: 57,
  ETIMEDOUT: 60,
  ECONNREFUSED: 61,
};

/** The DSCP names of netinet/ip.h (IPTOS_DSCP_CS1 ...), as TOS bytes. */
const IPTOS: Record<string, number> = {
  IPTOS_DSCP_EF: 0xb8,
  ...Object.fromEntries([0, 1, 2, 3, 4, 5, 6, 7].map((n) => [`IPTOS_DSCP_CS${n}`, n << 5])),
  ...Object.fromEntries(
    [1, 2, 3, 4].flatMap((x) =>
      [1, 2, 3].map((y) => [`IPTOS_DSCP_AF${x}${y}`, (8 * x + 2 * y) << 2])
    ),
  ),
};

const O_RDWR = 0x0002;
const O_NONBLOCK = 0x0004;

/** What a call returned: a value, or -1 and an errno name. */
export interface CallResult {
  /** Return value. */
  value: number;
  /** Errno name when `value` is -1. */
  errno?: string;
  /** Values written through pointer arguments (getsockopt's option value). */
  out?: number;
}

/** A system call the runner cannot map: the script is skipped, not failed. */
export class Unsupported extends Error {
  /** Builds the error. */
  constructor(message: string) {
    super(message);
    this.name = "Unsupported";
  }
}

/** One descriptor. */
export interface Descriptor {
  /** O_NONBLOCK set. */
  nonblocking: boolean;
  /** Bound port (0 until bind, connect or accept). */
  port: number;
  /** Bound, not yet listening or connected. */
  bound?: ListenerCore;
  /** Listening. */
  listener?: TcpListener;
  /** Connected (or connecting). */
  conn?: TcpConn;
  /** SO_ERROR already reported the connection's error. */
  errorReported: boolean;
  /** Socket options by name, as numbers (inherited from the sysctls at socket()). */
  options: Map<string, number>;
}

function int(a: SyscallArg | undefined, what: string): number {
  if (a?.kind === "int") return a.value;
  throw new Unsupported(`${what} must be a number`);
}

/** A number, or a TOS name standing for one. */
function value(a: SyscallArg | undefined, what: string): number {
  if (a?.kind === "symbols" && a.names.length === 1 && a.names[0] in IPTOS) {
    return IPTOS[a.names[0]];
  }
  return int(a, what);
}

function symbol(a: SyscallArg | undefined): string {
  if (a?.kind === "symbols" && a.names.length === 1) return a.names[0];
  throw new Unsupported("expected a symbolic constant");
}

function errnoOf(e: unknown): string {
  if (e instanceof ConnectionRefusedError) return "ECONNREFUSED";
  if (e instanceof ConnectionResetError) return "ECONNRESET";
  if (e instanceof TimedOutError) return "ETIMEDOUT";
  if (e instanceof BrokenPipeError) return "EPIPE";
  if (e instanceof AddressInUseError) return "EADDRINUSE";
  throw e;
}

/** The address the script's peer uses, and the port a script's bind() takes. */
export interface Peer {
  /** The peer's address. */
  remote: Uint8Array;
  /** The port `bind(..., ...)` binds and `connect(..., ...)` connects to. */
  port: number;
}

/** The descriptor table of one script. */
export class Sockets {
  #stack: Stack;
  #peer: Peer;
  readonly fds = new Map<number, Descriptor>();
  /** The TCP-MD5 key `setkey` installed, which TCP_MD5SIG turns on for a socket. */
  md5Key: Uint8Array | undefined;
  /** The descriptor a code block (`%{ }%`) looks at: the last one with a connection or listener. */
  current: Descriptor | undefined;

  /** A table for calls against `stack`, with `peer` as the other end. */
  constructor(stack: Stack, peer: Peer) {
    this.#stack = stack;
    this.#peer = peer;
  }

  #fd(args: SyscallArg[]): Descriptor {
    const d = this.fds.get(int(args[0], "the descriptor"));
    if (!d) throw new BadFd();
    if (d.conn || d.listener) this.current = d;
    return d;
  }

  #newFd(d: Descriptor): number {
    let n = 3;
    while (this.fds.has(n)) n++;
    this.fds.set(n, d);
    return n;
  }

  /** Runs `name(args)`. */
  call(name: string, args: SyscallArg[]): CallResult {
    try {
      return this.#call(name, args);
    } catch (e) {
      if (e instanceof BadFd) return { value: -1, errno: "EBADF" };
      return { value: -1, errno: errnoOf(e) };
    }
  }

  #call(name: string, args: SyscallArg[]): CallResult {
    const cfg = this.#stack.tcp.config;
    switch (name) {
      case "socket": {
        if (symbol(args[1]) !== "SOCK_STREAM") throw new Unsupported("only SOCK_STREAM sockets");
        const options = new Map<string, number>([
          ["SO_RCVBUF", cfg.rcvBuf],
          ["SO_SNDBUF", cfg.sndBuf],
          ["TCP_KEEPIDLE", Math.floor(cfg.keepIdleMs / 1000)],
          ["TCP_KEEPINTVL", Math.floor(cfg.keepIntervalMs / 1000)],
          ["TCP_KEEPINIT", Math.floor(cfg.keepInitMs / 1000)],
          ["TCP_KEEPCNT", cfg.keepCount],
          ["TCP_NODELAY", 0],
          ["SO_KEEPALIVE", 0],
          ["SO_REUSEADDR", 0],
          // FreeBSD's defaults (net.inet.ip.ttl, net.inet6.ip6.hlim), as getsockopt reports them.
          ["IP_TTL", 64],
          ["IP_TOS", 0],
          ["IPV6_UNICAST_HOPS", 64],
          ["IPV6_TCLASS", 0],
          ["TCP_MD5SIG", 0],
        ]);
        return {
          value: this.#newFd({ nonblocking: false, port: 0, errorReported: false, options }),
        };
      }
      case "fcntl": {
        const d = this.#fd(args);
        const cmd = symbol(args[1]);
        if (cmd === "F_GETFL") return { value: O_RDWR | (d.nonblocking ? O_NONBLOCK : 0) };
        if (cmd === "F_SETFL") {
          const a = args[2];
          const names = a?.kind === "symbols" ? a.names : [];
          d.nonblocking = names.includes("O_NONBLOCK") ||
            (a?.kind === "int" && (a.value & O_NONBLOCK) !== 0);
          return { value: 0 };
        }
        throw new Unsupported(`fcntl ${cmd}`);
      }
      case "bind": {
        const d = this.#fd(args);
        if (d.bound || d.listener || d.conn) return { value: -1, errno: "EINVAL" };
        // Bound in the stack: a segment to the port before listen() is
        // answered from this socket, with its TTL, TOS and MD5 key.
        d.bound = this.#stack.tcp.bind(this.#peer.port);
        d.port = this.#peer.port;
        this.#applyIpOptions(d);
        return { value: 0 };
      }
      case "listen": {
        const d = this.#fd(args);
        if (d.conn) return { value: -1, errno: "EINVAL" };
        const backlog = int(args[1], "the backlog");
        if (d.bound) {
          this.#stack.tcp.listenBound(d.bound, backlog);
          d.listener = new TcpListener(this.#stack.tcp, d.bound, "0.0.0.0");
          d.bound = undefined;
        } else d.listener = this.#stack.listen({ port: d.port, backlog, md5Key: this.#key(d) });
        this.#applyIpOptions(d);
        this.current = d;
        return { value: 0 };
      }
      case "accept": {
        const d = this.#fd(args);
        if (!d.listener) return { value: -1, errno: "EINVAL" };
        const conn = d.listener.tryAccept();
        if (!conn) {
          if (d.nonblocking) return { value: -1, errno: "EWOULDBLOCK" };
          throw new Unsupported("a blocking accept() that would block");
        }
        const nd: Descriptor = {
          nonblocking: false,
          port: d.port,
          conn,
          errorReported: false,
          options: new Map(d.options),
        };
        this.#applyOptions(nd);
        this.current = nd;
        return { value: this.#newFd(nd) };
      }
      case "connect": {
        const d = this.#fd(args);
        if (d.conn) {
          return { value: -1, errno: d.conn.state === "SYN-SENT" ? "EALREADY" : "EISCONN" };
        }
        if (d.bound) this.#stack.tcp.unlisten(d.bound); // the connection takes the port
        d.bound = undefined;
        const block = this.#stack.tcp.connect(this.#peer.remote, this.#peer.port, {
          localPort: d.port || undefined,
          md5Key: this.#key(d),
        });
        d.conn = new TcpConn(block);
        d.port = block.localPort;
        this.#applyOptions(d);
        this.current = d;
        if (d.nonblocking) return { value: -1, errno: "EINPROGRESS" };
        throw new Unsupported("a blocking connect()");
      }
      case "getsockopt":
        return this.#getsockopt(this.#fd(args), symbol(args[2]));
      case "setsockopt": {
        const d = this.#fd(args);
        const opt = symbol(args[2]);
        const v = args[3]?.kind === "array" ? value(args[3].items[0], opt) : value(args[3], opt);
        return this.#setsockopt(d, opt, v);
      }
      case "read":
      case "recv": {
        const d = this.#fd(args);
        if (!d.conn) return { value: -1, errno: "ENOTCONN" };
        const n = d.conn.tryRead(new Uint8Array(int(args[2], "the length")));
        if (n === null) return { value: 0 };
        if (n === 0) {
          if (d.nonblocking) return { value: -1, errno: "EWOULDBLOCK" };
          throw new Unsupported(`a blocking ${name}() that would block`);
        }
        return { value: n };
      }
      case "write":
      case "send": {
        const d = this.#fd(args);
        if (!d.conn) return { value: -1, errno: "ENOTCONN" };
        const len = int(args[2], "the length");
        const n = d.conn.tryWrite(new Uint8Array(len));
        if (n === 0 && len > 0) {
          if (d.nonblocking) return { value: -1, errno: "EWOULDBLOCK" };
          throw new Unsupported(`a blocking ${name}() that would block`);
        }
        return { value: n };
      }
      case "shutdown": {
        const d = this.#fd(args);
        const how = symbol(args[1]);
        if (!d.conn) return { value: -1, errno: "ENOTCONN" };
        if (how !== "SHUT_WR") throw new Unsupported(`shutdown ${how}`);
        d.conn.closeWrite();
        return { value: 0 };
      }
      case "close": {
        const fd = int(args[0], "the descriptor");
        const d = this.fds.get(fd);
        if (!d) return { value: -1, errno: "EBADF" };
        this.fds.delete(fd);
        if (d.bound) this.#stack.tcp.unlisten(d.bound);
        d.conn?.close();
        d.listener?.close();
        return { value: 0 };
      }
    }
    throw new Unsupported(`system call ${name}()`);
  }

  // IP_TTL and IP_TOS, or their IPv6 names, on whatever the descriptor holds.
  #applyIpOptions(d: Descriptor): void {
    const o = d.options;
    const v6 = this.#peer.remote.length === 16;
    const ttl = o.get(v6 ? "IPV6_UNICAST_HOPS" : "IP_TTL")!;
    const tos = o.get(v6 ? "IPV6_TCLASS" : "IP_TOS")!;
    if (d.bound) {
      setHeaderFields(d.bound.ipFields, { ttl, tos });
      d.bound.md5Key = this.#key(d);
    }
    for (const s of [d.conn, d.listener]) {
      s?.setTtl(ttl);
      s?.setTos(tos);
    }
  }

  // TCP_MD5SIG on: the key `setkey` installed (FreeBSD looks it up there).
  #key(d: Descriptor): Uint8Array | undefined {
    if (d.options.get("TCP_MD5SIG") === 0) return undefined;
    if (!this.md5Key) throw new Unsupported("TCP_MD5SIG without a setkey entry");
    return this.md5Key;
  }

  #applyOptions(d: Descriptor): void {
    this.#applyIpOptions(d);
    const c = d.conn!;
    const o = d.options;
    c.setNoDelay(o.get("TCP_NODELAY") !== 0);
    c.setKeepAlive(o.get("SO_KEEPALIVE") !== 0, {
      idleMs: o.get("TCP_KEEPIDLE")! * 1000,
      intervalMs: o.get("TCP_KEEPINTVL")! * 1000,
      count: o.get("TCP_KEEPCNT")!,
    });
  }

  #getsockopt(d: Descriptor, opt: string): CallResult {
    const c = d.conn;
    switch (opt) {
      case "SO_ERROR": {
        const e = c?.error;
        if (!e || d.errorReported) return { value: 0, out: 0 };
        d.errorReported = true;
        return { value: 0, out: ERRNO[errnoOf(e)] };
      }
      case "SO_RCVBUF":
        return { value: 0, out: c ? c.block.rcv.buf.capacity : d.options.get(opt)! };
      case "SO_SNDBUF":
        return { value: 0, out: c ? c.block.snd.buf.capacity : d.options.get(opt)! };
    }
    const v = d.options.get(opt);
    if (v === undefined) throw new Unsupported(`getsockopt ${opt}`);
    return { value: 0, out: v };
  }

  #setsockopt(d: Descriptor, opt: string, v: number): CallResult {
    if (!d.options.has(opt) || opt === "SO_RCVBUF" || opt === "SO_SNDBUF") {
      throw new Unsupported(`setsockopt ${opt}`);
    }
    // A key is fixed once the socket listens or connects.
    if (opt === "TCP_MD5SIG" && (d.listener || d.conn)) throw new Unsupported(`late ${opt}`);
    d.options.set(opt, v);
    if (d.conn) this.#applyOptions(d);
    else this.#applyIpOptions(d);
    return { value: 0 };
  }
}

class BadFd extends Error {}
