/**
 * The stack: IP, ICMP and TCP over one link. It receives packets through
 * {@linkcode Stack.receive} and sends through the {@linkcode Link} it is
 * attached to; it never touches FFI, so tests drive it over an in-memory
 * link. Time comes from the clock given at construction, so tests can run
 * it on a fake clock and call {@linkcode Stack.tick} themselves.
 *
 * @module
 */

import type { Link, PacketHandler, TxOffload } from "./link.ts";
import { Icmp } from "./icmp.ts";
import { type IpFieldOptions, IpLayer, setHeaderFields } from "./ip.ts";
import type { CounterTree } from "./stats.ts";
import { type CapturedPacket, Verdicts } from "./capture.ts";
import { WakeTimer } from "./_wake.ts";
import type { TcpConfig } from "./tcp/config.ts";
import { type Md5Keys, md5Keys } from "./tcp/md5.ts";
import { TcpConn, TcpListener } from "./tcp/socket.ts";
import { TcpLayer } from "./tcp/tcp.ts";
import { type ConnectionInfo, info } from "./tcp/user.ts";
import type { TimeWaitEntry, TimeWaitSettings } from "./tcp/timewait/timewait.ts";
import { formatIp, type IpAddress, parseIp } from "./wire/ip_address.ts";

/** Configuration of a {@linkcode Stack}. */
export interface StackOptions {
  /** The stack's own IPv4 address. */
  ipv4?: IpAddress;
  /** The stack's own IPv6 address. */
  ipv6?: IpAddress;
  /** TTL / hop limit of packets we send (default 64). */
  ttl?: number;
  /** TCP settings. */
  tcp?: Partial<TcpConfig>;
  /** TIME_WAIT settings. */
  timewait?: Partial<TimeWaitSettings>;
  /** Millisecond clock (default `performance.now`). */
  clock?: () => number;
}

/** The TIME_WAIT table at one moment, as `tunstack tw` shows it. */
export interface TimeWaitSnapshot {
  /** Records held. */
  count: number;
  /** The cap in force (`net.inet.tcp.maxtcptw`, or its automatic value). */
  limit: number;
  /** `net.inet.tcp.msl`, ms. */
  mslMs: number;
  /** Live records, nearest expiry first. */
  entries: TimeWaitEntry[];
}

/** How often the timers run when the stack schedules them itself. */
export const TICK_MS = 10;

/**
 * A userspace IPv4/IPv6 + TCP stack.
 *
 * @example
 * ```ts
 * import { Stack } from "./stack.ts";
 * import { parseIp } from "./wire/ip_address.ts";
 * const stack = new Stack({ ipv4: parseIp("192.0.2.2") });
 * const listener = stack.listen({ port: 7 });
 * listener.close();
 * ```
 */
export class Stack implements PacketHandler {
  /** The IP layer. */
  readonly ip: IpLayer;
  /** The ICMP layer. */
  readonly icmp: Icmp;
  /** The TCP layer. */
  readonly tcp: TcpLayer;
  /** The clock. */
  readonly clock: () => number;
  #timer: ReturnType<typeof setInterval> | undefined;
  #wake: WakeTimer<ReturnType<typeof setTimeout>> | undefined;

  /** Creates a stack; attach it to a link before it can send. */
  constructor(options: StackOptions) {
    this.clock = options.clock ?? (() => performance.now());
    this.ip = new IpLayer(options);
    this.icmp = new Icmp(this.ip, this.clock);
    this.tcp = new TcpLayer(this.ip, this.clock, options.tcp, options.timewait);
  }

  /** Connects the stack to its link. */
  attach(link: Link): void {
    // Sent packets pass the capture, when one is set, on their way out.
    const transmit = (frame: Uint8Array<ArrayBuffer>, len: number, offload?: TxOffload) => {
      const ok = link.transmit(frame, len, offload);
      const cap = this.#capture;
      if (cap !== undefined) {
        const h = link.headroom;
        const p: CapturedPacket = {
          packet: frame.subarray(h, h + len),
          inbound: false,
          timeMs: this.clock(),
          notes: ok ? [] : ["drop: ip.txLinkDropped"],
        };
        // An answer to a packet being received waits for that packet,
        // so the capture reads in cause-and-effect order.
        if (this.#answers !== undefined) this.#answers.push({ ...p, packet: p.packet.slice() });
        else cap(p);
      }
      return ok;
    };
    this.ip.attach({
      get headroom() {
        return link.headroom;
      },
      get mtu() {
        return link.mtu;
      },
      get csumOffload() {
        return link.csumOffload;
      },
      get gsoMax() {
        return link.gsoMax;
      },
      transmit,
    });
  }

  /** Whether the application has something to do before the next packet ({@linkcode PacketHandler.takeYield}). */
  takeYield(): boolean {
    return this.tcp.takeYield();
  }

  /** Handles one packet from the link. */
  receive(buf: Uint8Array, len: number, csumValid = false): void {
    const cap = this.#capture;
    if (cap === undefined) {
      this.ip.receive(buf, len, csumValid);
      return;
    }
    const v = this.#verdicts ??= new Verdicts(this);
    const answers: CapturedPacket[] = this.#answers = [];
    const timeMs = this.clock();
    v.before();
    try {
      this.ip.receive(buf, len, csumValid);
    } finally {
      this.#answers = undefined;
    }
    cap({ packet: buf.subarray(0, len), inbound: true, timeMs, notes: v.after() });
    for (const a of answers) cap(a);
  }

  #capture: ((p: CapturedPacket) => void) | undefined;
  #verdicts: Verdicts | undefined;
  #answers: CapturedPacket[] | undefined;

  /**
   * Hands every packet received or sent to `onPacket`, each received one
   * with the verdicts it drew (see `capture.ts`); `undefined` stops.
   * Packets looped back to our own addresses never reach the link and are not captured.
   */
  capture(onPacket: ((p: CapturedPacket) => void) | undefined): void {
    this.#capture = onPacket;
  }

  /** Runs due timers (call this yourself on a fake clock). */
  tick(now = this.clock()): void {
    this.tcp.tick(now);
  }

  /**
   * Runs timers every {@linkcode TICK_MS} on the real clock until `stop`,
   * and sooner when a connection arms a finer timer (a tail loss probe).
   */
  start(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => this.tick(), TICK_MS);
    const wake = this.#wake = new WakeTimer(
      this.clock,
      () => this.tick(),
      setTimeout,
      clearTimeout,
    );
    this.tcp.onWake = (at) => wake.request(at);
  }

  /** Stops the timers and resets every connection. */
  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#wake?.cancel();
    this.#timer = this.#wake = undefined;
    this.tcp.onWake = undefined;
    this.tcp.shutdown();
  }

  /**
   * Listens for TCP connections on `port` (on every address of ours, or
   * only `hostname`); `ttl` and `tos` mark its answers and the connections
   * it accepts, as {@linkcode TcpListener.setTtl} and `setTos` do, and an
   * `md5Key` signs them and refuses every segment not signed with it
   * (RFC 2385: a string is its UTF-8, 1 to 80 bytes); or, by peer address
   * (`{ "192.0.2.1": "key" }`), for those peers only.
   */
  listen(
    options:
      & { hostname?: string; port: number; backlog?: number; md5Key?: Md5Keys }
      & IpFieldOptions,
  ): TcpListener {
    let local: IpAddress | undefined;
    if (
      options.hostname !== undefined && options.hostname !== "0.0.0.0" && options.hostname !== "::"
    ) {
      local = parseIp(options.hostname);
      if (!local || !this.ip.isLocalAddress(local)) {
        throw new Error(`Invalid address: ${options.hostname} is not one of the stack's addresses`);
      }
    }
    // Checked before the port is taken.
    const fields = { ttl: 0, tos: 0 };
    setHeaderFields(fields, options);
    const keys = options.md5Key === undefined ? {} : md5Keys(options.md5Key);
    const core = this.tcp.listen(options.port, local, options.backlog);
    Object.assign(core.ipFields, fields);
    core.md5Key = keys.all;
    core.md5Peers = keys.peers;
    return new TcpListener(this.tcp, core, local ? formatIp(local) : "0.0.0.0");
  }

  /**
   * Opens a TCP connection; resolves once established. `ttl` and `tos` mark
   * its packets from the SYN on, as {@linkcode TcpConn.setTtl} and `setTos` do;
   * an `md5Key` signs them (RFC 2385), as for {@linkcode Stack.listen}.
   *
   * @example
   * ```ts
   * import { exampleConnection } from "./_examples.ts";
   * const { net } = await exampleConnection(); // two stacks: a is 192.0.2.1, b is 192.0.2.2
   * net.b.listen({ port: 8080 });
   * let state = "";
   * net.a.connect({ hostname: "192.0.2.2", port: 8080 }).then((c) => state = c.status().state);
   * await net.run(() => state !== "");
   * state; // "ESTABLISHED"
   * ```
   */
  async connect(
    options:
      & { hostname: string; port: number; localPort?: number; md5Key?: string | Uint8Array }
      & IpFieldOptions,
  ): Promise<TcpConn> {
    const remote = parseIp(options.hostname);
    if (!remote) throw new Error(`Invalid address: "${options.hostname}"`);
    const { port, localPort, ttl, tos, md5Key } = options;
    const conn = new TcpConn(this.tcp.connect(remote, port, { localPort, ttl, tos, md5Key }));
    await conn.established();
    return conn;
  }

  /** The stack's own addresses, as text. */
  get addresses(): string[] {
    return [this.ip.ipv4, this.ip.ipv6].filter((a) => a !== undefined).map((a) => formatIp(a));
  }

  /** Connections held (every state but TIME-WAIT, which has its own table). */
  get connectionCount(): number {
    return this.tcp.connectionCount;
  }

  /**
   * The TIME_WAIT table: its size, cap, MSL and up to `limit` records.
   *
   * @example
   * ```ts
   * import { Stack } from "./stack.ts";
   * const stack = new Stack({ ipv4: new Uint8Array([192, 0, 2, 2]) });
   * stack.timeWait().count; // 0
   * ```
   */
  timeWait(limit = Infinity): TimeWaitSnapshot {
    const tw = this.tcp.timewait;
    return {
      count: tw.size,
      limit: tw.limit,
      mslMs: tw.settings.mslMs,
      entries: tw.list(this.clock(), limit),
    };
  }

  /**
   * Every connection (not TIME_WAIT records) with what `ss -ti` shows,
   * sorted by local then peer address and port.
   *
   * @example
   * ```ts
   * import { Stack } from "./stack.ts";
   * const stack = new Stack({ ipv4: new Uint8Array([192, 0, 2, 2]) });
   * stack.connections().length; // 0
   * ```
   */
  connections(): ConnectionInfo[] {
    const now = this.clock();
    // Each row's sort key once, not twice per comparison.
    const rows = [...this.tcp.connections()].map((c) => {
      const i = info(c, now);
      const key = `${i.localAddress}|${String(i.localPort).padStart(5)}|${i.peerAddress}|${
        String(i.peerPort).padStart(5)
      }`;
      return { key, i };
    });
    rows.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    return rows.map((r) => r.i);
  }

  /** All counters as a tree. */
  counters(): CounterTree {
    return {
      ip: { ...this.ip.stats, fragments: this.ip.reassembly.stats },
      icmp: this.icmp.stats,
      tcp: this.tcp.stats,
      timewait: this.tcp.timewait.stats,
    } as unknown as CounterTree;
  }
}
