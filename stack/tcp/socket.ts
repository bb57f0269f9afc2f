/**
 * The application side: connections that look like `Deno.Conn` (read,
 * write, readable/writable streams, closeWrite, close) and listeners that
 * are async iterables of connections. Back-pressure is real: an unread
 * receive buffer closes the advertised window, and `write` waits for space
 * in the send buffer, which only acknowledgments free.
 *
 * @module
 */

import { setImmediate } from "node:timers";
import { setHeaderFields } from "../ip.ts";
import { formatIp } from "../wire/ip_address.ts";
import type { ListenerCore } from "./open/accept.ts";
import { tcpOutput } from "./output.ts";
import type { ConnectionEvents, Tcb } from "./tcb.ts";
import type { TcpLayer } from "./tcp.ts";
import { close, type ConnectionStatus, receive, send, shutdown, status } from "./user.ts";

/**
 * Raised when using a connection after `close`, or writing after `closeWrite`.
 *
 * @example
 * ```ts
 * import { Stack } from "../stack.ts";
 * import { BrokenPipeError } from "./socket.ts";
 * const stack = new Stack({ ipv4: new Uint8Array([192, 0, 2, 2]) });
 * const listener = stack.listen({ port: 7 });
 * listener.close();
 * await listener.accept().catch((e) => e instanceof BrokenPipeError); // true
 * ```
 */
export class BrokenPipeError extends Deno.errors.BrokenPipe {
  /** Builds the error. */
  constructor(message: string) {
    super(message);
  }
}

type Waiter = () => void;

/** Bytes a reader may take from the buffer before yielding to the event loop. */
const READ_YIELD_BYTES = 256 * 1024;

function wake(list: Waiter[]): void {
  for (const w of list.splice(0)) w();
}

/**
 * A TCP connection of the stack, shaped like `Deno.Conn`.
 *
 * @example
 * ```ts
 * import { exampleConnection } from "../_examples.ts";
 * const { client, server, net } = await exampleConnection();
 * await client.write(new TextEncoder().encode("hello"));
 * const buf = new Uint8Array(5);
 * let n: number | null = 0;
 * server.read(buf).then((r) => n = r);
 * await net.run(() => n === 5);
 * new TextDecoder().decode(buf); // "hello"
 * client.close();
 * ```
 */
export class TcpConn implements ConnectionEvents {
  /** Our address. */
  readonly localAddr: Deno.NetAddr;
  /** The peer's address. */
  readonly remoteAddr: Deno.NetAddr;
  #c: Tcb;
  #readers: Waiter[] = [];
  #writers: Waiter[] = [];
  #openers: Waiter[] = [];
  #error: Error | undefined;
  #ended = false;
  #closed = false;
  #readable: ReadableStream<Uint8Array<ArrayBuffer>> | undefined;
  #readSinceYield = 0;
  #writable: WritableStream<Uint8Array> | undefined;

  /** Wraps a connection block; the block reports to this socket. */
  constructor(c: Tcb) {
    this.#c = c;
    c.events = this;
    this.localAddr = { transport: "tcp", hostname: formatIp(c.local), port: c.localPort };
    this.remoteAddr = { transport: "tcp", hostname: formatIp(c.remote), port: c.remotePort };
    if (c.state === "CLOSED") this.#ended = true;
  }

  /** The RFC 9293 state of the connection. */
  get state(): string {
    return this.#c.state;
  }

  /**
   * STATUS (RFC 9293 3.10.6): state, and bytes waiting in each direction.
   *
   * @example
   * ```ts
   * import { exampleConnection } from "../_examples.ts";
   * const { client } = await exampleConnection();
   * client.status(); // { state: "ESTABLISHED", receiveQueue: 0, sendQueue: 0 }
   * ```
   */
  status(): ConnectionStatus {
    return status(this.#c);
  }

  /** Why the connection ended, when it was not a clean close (reset, refused, timed out). */
  get error(): Error | undefined {
    return this.#error;
  }

  /** The connection block, for diagnostics and tests. */
  get block(): Tcb {
    return this.#c;
  }

  /** Resolves when the handshake completes; rejects if it fails. */
  async established(): Promise<void> {
    for (;;) {
      if (this.#error) throw this.#error;
      const st = this.#c.state;
      if (st !== "SYN-SENT" && st !== "SYN-RECEIVED") return;
      if (this.#ended) throw new BrokenPipeError("Connection closed: before it was established");
      await new Promise<void>((r) => this.#openers.push(r));
    }
  }

  /**
   * Reads into `p`. Resolves to the number of bytes, or `null` at end of
   * stream (the peer's FIN). Throws after an RST.
   */
  async read(p: Uint8Array): Promise<number | null> {
    if (p.length === 0) return 0;
    for (;;) {
      // Reads of buffered data resolve as microtasks, which would let a
      // busy reader starve the packet loop (no ACKs: the peer's loss
      // probes fire). Yield to the event loop every READ_YIELD_BYTES.
      if (
        this.#readSinceYield >= READ_YIELD_BYTES && !this.#closed && this.#c.rcv.buf.readable > 0
      ) {
        this.#readSinceYield = 0;
        await new Promise((r) => setImmediate(r));
        continue;
      }
      const n = this.tryRead(p);
      if (n !== null && n > 0) {
        this.#readSinceYield += n;
        return n;
      }
      this.#readSinceYield = 0;
      if (n === null) return null;
      const direct = await this.#waitForData(p);
      if (direct > 0) return direct;
    }
  }

  /**
   * Waits for data to read, lending `p` to the receiver when no other read
   * waits: in-order data that arrives meanwhile goes straight into it.
   * Returns how many bytes did.
   */
  async #waitForData(p: Uint8Array): Promise<number> {
    const rcv = this.#c.rcv;
    const lent = rcv.direct === undefined;
    if (lent) {
      rcv.direct = p;
      rcv.directLen = 0;
    }
    try {
      await new Promise<void>((r) => this.#readers.push(r));
      return lent ? rcv.directLen : 0;
    } finally {
      if (lent) {
        rcv.direct = undefined;
        rcv.directLen = 0;
      }
    }
  }

  /**
   * Reads without waiting (a non-blocking `read(2)`): the number of bytes
   * copied into `p`, 0 when nothing is buffered yet, or `null` at end of
   * stream. Throws after an RST, like {@linkcode TcpConn.read}.
   *
   * @example
   * ```ts
   * import { exampleConnection } from "../_examples.ts";
   * const { client } = await exampleConnection();
   * client.tryRead(new Uint8Array(10)); // 0: would block
   * ```
   */
  tryRead(p: Uint8Array): number | null {
    if (this.#closed) throw new BrokenPipeError("Bad resource: the connection is closed");
    const c = this.#c;
    if (p.length > 0 && c.rcv.buf.readable > 0) return receive(c, p);
    if (this.#error) throw this.#error;
    if (c.rcv.finReceived || this.#ended) return null;
    return 0;
  }

  /**
   * Queues as much of `p` as the send buffer takes without waiting (a
   * non-blocking `write(2)`) and returns how many bytes that was.
   *
   * @example
   * ```ts
   * import { exampleConnection } from "../_examples.ts";
   * const { client } = await exampleConnection();
   * client.tryWrite(new Uint8Array(100)); // 100: queued at once
   * ```
   */
  tryWrite(p: Uint8Array): number {
    this.#checkWritable();
    return send(this.#c, p, 0, p.length);
  }

  #checkWritable(): void {
    if (this.#error) throw this.#error;
    if (this.#closed || this.#c.snd.finQueued || this.#ended) {
      throw new BrokenPipeError("Broken pipe: the connection is closed for writing");
    }
  }

  /** Writes all of `p`, waiting for send-buffer space as needed. */
  async write(p: Uint8Array): Promise<number> {
    const c = this.#c;
    let off = 0;
    while (off < p.length) {
      this.#checkWritable();
      off += send(c, p, off, p.length - off);
      if (off < p.length) await new Promise<void>((r) => this.#writers.push(r));
    }
    return p.length;
  }

  /**
   * Writes the buffers of `chunks` in order, as one stream of bytes (a
   * vectored write, `writev(2)`): corked while they are queued, so a head
   * and a body leave in as few segments as their total allows, with no
   * copy into one buffer first. Returns the bytes written.
   *
   * @example
   * ```ts
   * import { exampleConnection } from "../_examples.ts";
   * const { client, net } = await exampleConnection();
   * const sent = net.trace.length;
   * const enc = new TextEncoder();
   * await client.writev([enc.encode("HTTP/1.1 200 OK\r\n\r\n"), enc.encode("body")]); // 23
   * net.trace.length - sent; // 1: head and body in one segment
   * ```
   */
  async writev(chunks: readonly Uint8Array[]): Promise<number> {
    const c = this.#c;
    const corked = c.corked;
    c.corked = true;
    let total = 0;
    try {
      for (const p of chunks) total += await this.write(p);
    } finally {
      if (!corked) this.uncork();
    }
    return total;
  }

  /** Sends FIN after the buffered data (RFC 9293 3.10.4, half-close). */
  closeWrite(): Promise<void> {
    if (!this.#ended) shutdown(this.#c);
    return Promise.resolve();
  }

  /**
   * Closes the connection. Unread data, or data arriving later, resets it
   * (RFC 9293 3.10.4, RFC 2525 2.17); otherwise a FIN is sent after what
   * is buffered and the stack finishes the close on its own.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#ended) this.#c.appClosed = true;
    else close(this.#c);
    wake(this.#readers);
    wake(this.#writers);
    wake(this.#openers);
  }

  /**
   * Holds partial segments (and a FIN) until {@linkcode TcpConn.uncork}, so
   * several writes, or a response and its end, leave in as few segments as
   * the data allows (Linux's TCP_CORK). Full segments still go at once; a
   * cork left in place is released by the persist timer.
   *
   * @example
   * ```ts
   * import { exampleConnection } from "../_examples.ts";
   * const { client, net } = await exampleConnection();
   * const sent = net.trace.length;
   * client.cork();
   * await client.write(new TextEncoder().encode("HTTP/1.1 200 OK\r\n\r\n"));
   * await client.write(new TextEncoder().encode("body"));
   * client.closeWrite(); // the FIN rides on the last data segment
   * client.uncork();
   * net.trace.length - sent; // 1: head, body and FIN in one segment
   * ```
   */
  cork(): void {
    this.#c.corked = true;
  }

  /** Sends what {@linkcode TcpConn.cork} held. */
  uncork(): void {
    const c = this.#c;
    if (!c.corked) return;
    c.corked = false;
    tcpOutput(c);
  }

  /** Turns Nagle's algorithm off (`true`) or on. */
  setNoDelay(noDelay = true): void {
    this.#c.noDelay = noDelay;
    if (noDelay) tcpOutput(this.#c);
  }

  /**
   * Sets the TTL (IPv6: hop limit) of the packets this connection sends
   * from now on, TIME_WAIT's ACKs included: 1 to 255, or 0 for the stack's
   * default (BSD's IP_TTL and IPV6_UNICAST_HOPS).
   *
   * @example
   * ```ts
   * import { exampleConnection } from "../_examples.ts";
   * const { client, net } = await exampleConnection();
   * client.setTtl(4);
   * await client.write(new Uint8Array(10));
   * net.trace.at(-1)!.packet[8]; // 4: the IPv4 TTL of its data segment
   * ```
   */
  setTtl(ttl: number): void {
    setHeaderFields(this.#c.ipFields, { ttl });
  }

  /**
   * Sets the TOS (IPv6: traffic class) byte of the packets this connection
   * sends from now on, DSCP in its upper six bits (BSD's IP_TOS and
   * IPV6_TCLASS); the two ECN bits are left to TCP's ECN (RFC 3168).
   *
   * @example
   * ```ts
   * import { exampleConnection } from "../_examples.ts";
   * const { client, net } = await exampleConnection();
   * client.setTos(0xb8); // DSCP EF
   * await client.write(new Uint8Array(10));
   * net.trace.at(-1)!.packet[1]; // 184
   * ```
   */
  setTos(tos: number): void {
    setHeaderFields(this.#c.ipFields, { tos });
  }

  /**
   * Turns keepalive probes on or off (RFC 9293 3.8.4), optionally with this
   * connection's own timing (TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT);
   * the defaults are the stack's settings. Does nothing once the connection
   * has ended (closed, or handed to TIME_WAIT).
   *
   * @example
   * ```ts
   * import { exampleConnection } from "../_examples.ts";
   * const { client, conn, net } = await exampleConnection();
   * client.setKeepAlive(true, { idleMs: 60_000, intervalMs: 10_000, count: 3 });
   * conn.keepAt - net.now; // 60000: the first probe after a minute of silence
   * ```
   */
  setKeepAlive(
    keepAlive = true,
    timing: { idleMs?: number; intervalMs?: number; count?: number } = {},
  ): void {
    const c = this.#c;
    for (const [k, v] of Object.entries(timing)) {
      if (v !== undefined && (!Number.isInteger(v) || v < 1)) {
        throw new RangeError(`Invalid keepalive ${k}: ${v} (must be a positive integer)`);
      }
    }
    if (this.#ended) return;
    c.keepIdleMs = timing.idleMs ?? c.keepIdleMs;
    c.keepIntervalMs = timing.intervalMs ?? c.keepIntervalMs;
    c.keepCount = timing.count ?? c.keepCount;
    c.keepAlive = keepAlive;
    c.keepAt = keepAlive ? c.ctx.now() + c.keepIdleMs : 0;
    if (keepAlive) c.ctx.watch(c);
  }

  /** For `Deno.Conn` compatibility; the stack's timers never hold the process. */
  ref(): void {}
  /** For `Deno.Conn` compatibility. */
  unref(): void {}

  /** The data as a byte stream; cancelling it closes the connection. */
  get readable(): ReadableStream<Uint8Array<ArrayBuffer>> {
    this.#readable ??= new ReadableStream<Uint8Array<ArrayBuffer>>({
      pull: async (ctrl) => {
        const buf = new Uint8Array(65536);
        const n = await this.read(buf);
        if (n === null) ctrl.close();
        else ctrl.enqueue(buf.subarray(0, n));
      },
      cancel: () => this.close(),
    });
    return this.#readable;
  }

  /** A sink for data; closing it half-closes the connection. */
  get writable(): WritableStream<Uint8Array> {
    this.#writable ??= new WritableStream<Uint8Array>({
      write: async (chunk) => {
        await this.write(chunk);
      },
      close: () => this.closeWrite(),
      abort: () => this.close(),
    });
    return this.#writable;
  }

  // ConnectionEvents.
  /** @internal */
  onEstablished(): void {
    wake(this.#openers);
  }
  /** @internal */
  onReadable(): void {
    wake(this.#readers);
  }
  /** @internal */
  onWritable(): void {
    wake(this.#writers);
  }
  /** @internal */
  onClosed(error?: Error): void {
    this.#ended = true;
    if (error) this.#error = error;
    wake(this.#readers);
    wake(this.#writers);
    wake(this.#openers);
  }
}

/**
 * A listening TCP port: an async iterable of accepted connections.
 *
 * @example
 * ```ts
 * import { exampleConnection } from "../_examples.ts";
 * const { net } = await exampleConnection();
 * const listener = net.b.listen({ port: 7 });
 * (async () => {
 *   for await (const conn of listener) conn.readable.pipeTo(conn.writable); // echo
 * })();
 * listener.close();
 * ```
 */
export class TcpListener implements AsyncIterable<TcpConn> {
  /** The address listened on. */
  readonly addr: Deno.NetAddr;
  #core: ListenerCore;
  #tcp: TcpLayer;
  #waiters: Waiter[] = [];

  /** Wraps a listener core. */
  constructor(tcp: TcpLayer, core: ListenerCore, hostname: string) {
    this.#tcp = tcp;
    this.#core = core;
    this.addr = { transport: "tcp", hostname, port: core.port };
    core.onReady = () => wake(this.#waiters);
  }

  /**
   * Sets the TTL (IPv6: hop limit) of the listener's answers and of the
   * connections it accepts from now on (see {@linkcode TcpConn.setTtl}).
   *
   * @example
   * ```ts
   * import { exampleConnection } from "../_examples.ts";
   * const { net } = await exampleConnection();
   * const listener = net.b.listen({ port: 7 });
   * listener.setTtl(200);
   * listener.close();
   * ```
   */
  setTtl(ttl: number): void {
    setHeaderFields(this.#core.ipFields, { ttl });
  }

  /**
   * Sets the TOS (IPv6: traffic class) byte of the listener's answers and
   * of the connections it accepts from now on (see {@linkcode TcpConn.setTos}).
   */
  setTos(tos: number): void {
    setHeaderFields(this.#core.ipFields, { tos });
  }

  /** Waits for the next established connection. */
  async accept(): Promise<TcpConn> {
    for (;;) {
      if (this.#core.closed) throw new BrokenPipeError("Bad resource: the listener is closed");
      const c = this.#core.queue.shift();
      if (c) return new TcpConn(c);
      await new Promise<void>((r) => this.#waiters.push(r));
    }
  }

  /**
   * The next established connection if one is waiting (a non-blocking
   * `accept(2)`), else undefined.
   *
   * @example
   * ```ts
   * import { exampleConnection } from "../_examples.ts";
   * const { net } = await exampleConnection();
   * const listener = net.b.listen({ port: 7 });
   * listener.tryAccept(); // undefined: nobody has connected
   * listener.close();
   * ```
   */
  tryAccept(): TcpConn | undefined {
    if (this.#core.closed) throw new BrokenPipeError("Bad resource: the listener is closed");
    const c = this.#core.queue.shift();
    return c ? new TcpConn(c) : undefined;
  }

  /** Stops listening; connections not yet accepted are reset. */
  close(): void {
    if (this.#core.closed) return;
    this.#tcp.unlisten(this.#core);
    wake(this.#waiters);
  }

  async *[Symbol.asyncIterator](): AsyncIterator<TcpConn> {
    for (;;) {
      try {
        yield await this.accept();
      } catch (e) {
        if (this.#core.closed) return;
        throw e;
      }
    }
  }
}
