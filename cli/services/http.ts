/**
 * A small HTTP/1.1 server (RFC 9112) on the stack: `/` status, `/bytes/N`
 * downloads, `/upload` sink with SHA-256, `/stats` and `/timewait` JSON.
 * Keep-alive is honoured, and so is `Connection: close`; which side closes
 * first is a setting, because that decides which side holds TIME_WAIT.
 *
 * @module
 */

import { DASHBOARD_HTML } from "./dashboard.ts";
import { createHash } from "node:crypto";
import type { Stack, TcpConn, TcpListener } from "../../mod.ts";

/** Who closes the connection first after a `Connection: close` exchange. */
export type CloseFirst = "server" | "client";

/**
 * A route's answer that is text of its own type rather than JSON.
 *
 * @example
 * ```ts
 * import { TextBody } from "./http.ts";
 * new TextBody("text/plain", "ok\n").type; // "text/plain"
 * ```
 */
export class TextBody {
  /** Content-Type. */
  readonly type: string;
  /** The body. */
  readonly text: string;
  /** A `type` body of `text`. */
  constructor(type: string, text: string) {
    this.type = type;
    this.text = text;
  }
}

/** HTTP server options. */
export interface HttpOptions {
  /** Port (default 80). */
  port?: number;
  /**
   * `server`: the server closes after answering `Connection: close` (and
   * holds TIME_WAIT). `client`: the server answers, then waits for the
   * client's FIN before closing (the client holds TIME_WAIT).
   */
  closeFirst?: CloseFirst;
  /** Idle keep-alive timeout, ms. */
  idleMs?: number;
  /**
   * Extra JSON routes, such as `/stats`, given the query string. A route
   * that throws `RangeError` answers 400 with its message.
   */
  routes?: Record<string, (query: URLSearchParams) => unknown>;
}

const MAX_HEADER = 16 * 1024;
const READ_BUFFER_MAX = 64 * 1024;
// A multiple of 26, so /bytes/N is one unbroken a..z sequence across chunks.
const CHUNK = new Uint8Array(26 * 2520).map((_, i) => 97 + (i % 26));
const enc = new TextEncoder();
const dec = new TextDecoder();

class BadRequest extends Error {}

/** A connection's first read buffer; only buffers of this size are reused. */
const READ_BUFFER_INITIAL = 4096;
/** Read buffers of finished connections, for the next ones (as the stack's rings). */
const spareBuffers: Uint8Array[] = [];
const SPARE_BUFFERS_MAX = 256;
const NO_BUFFER = new Uint8Array(0);

/** Buffered reading over a connection. */
class Reader {
  #c: TcpConn;
  // Small at first: a request head fits in 4 KiB, and a 64 KiB buffer per
  // connection made short connections (ab) a garbage collector's load.
  #buf = spareBuffers.pop() ?? new Uint8Array(READ_BUFFER_INITIAL);
  #start = 0;
  #end = 0;
  constructor(c: TcpConn) {
    this.#c = c;
  }

  /** The connection is done: the buffer goes back for another (nothing keeps a view of it). */
  release(): void {
    if (this.#buf.length === READ_BUFFER_INITIAL && spareBuffers.length < SPARE_BUFFERS_MAX) {
      spareBuffers.push(this.#buf);
    }
    this.#buf = NO_BUFFER;
    this.#start = this.#end = 0;
  }

  async #fill(): Promise<boolean> {
    if (this.#start > 0) {
      this.#buf.copyWithin(0, this.#start, this.#end);
      this.#end -= this.#start;
      this.#start = 0;
    }
    if (this.#end === this.#buf.length) {
      if (this.#buf.length >= READ_BUFFER_MAX) throw new BadRequest("header too large");
      const grown = new Uint8Array(this.#buf.length * 2);
      grown.set(this.#buf.subarray(0, this.#end));
      this.#buf = grown;
    }
    const n = await this.#c.read(this.#buf.subarray(this.#end));
    if (n === null) return false;
    this.#end += n;
    return true;
  }

  /** Reads through the blank line ending a header block; null at clean EOF. */
  async head(): Promise<string | null> {
    for (;;) {
      const view = this.#buf.subarray(this.#start, this.#end);
      const i = indexOfCrlfCrlf(view);
      if (i >= 0) {
        const text = dec.decode(view.subarray(0, i));
        this.#start += i + 4;
        return text;
      }
      if (this.#end - this.#start > MAX_HEADER) throw new BadRequest("header too large");
      if (!(await this.#fill())) {
        if (this.#end === this.#start) return null;
        throw new BadRequest("truncated header");
      }
    }
  }

  /** Reads one CRLF-terminated line (chunked encoding). */
  async line(): Promise<string> {
    for (;;) {
      const view = this.#buf.subarray(this.#start, this.#end);
      const i = view.indexOf(10);
      if (i >= 0) {
        const text = dec.decode(view.subarray(0, i)).replace(/\r$/, "");
        this.#start += i + 1;
        return text;
      }
      if (!(await this.#fill())) throw new BadRequest("truncated chunk");
    }
  }

  /** Hands up to `max` body bytes to `sink`; returns how many. */
  async body(max: number, sink: (b: Uint8Array) => void): Promise<number> {
    if (this.#start === this.#end && !(await this.#fill())) throw new BadRequest("truncated body");
    const n = Math.min(max, this.#end - this.#start);
    sink(this.#buf.subarray(this.#start, this.#start + n));
    this.#start += n;
    return n;
  }
}

function indexOfCrlfCrlf(b: Uint8Array): number {
  for (let i = b.indexOf(13); i >= 0 && i + 3 < b.length; i = b.indexOf(13, i + 1)) {
    if (b[i + 1] === 10 && b[i + 2] === 13 && b[i + 3] === 10) return i;
  }
  return -1;
}

interface Request {
  method: string;
  path: string;
  version: string;
  headers: Map<string, string>;
}

function parseHead(text: string): Request {
  const lines = text.split("\r\n");
  const m = /^([A-Z]+) (\S+) HTTP\/(1\.[01])$/.exec(lines[0]);
  if (!m) throw new BadRequest("bad request line");
  const headers = new Map<string, string>();
  for (const l of lines.slice(1)) {
    const i = l.indexOf(":");
    if (i <= 0) throw new BadRequest("bad header");
    headers.set(l.slice(0, i).trim().toLowerCase(), l.slice(i + 1).trim());
  }
  return { method: m[1], path: m[2], version: m[3], headers };
}

const CONTINUE = new TextEncoder().encode("HTTP/1.1 100 Continue\r\n\r\n");

async function readBody(
  conn: TcpConn,
  r: Reader,
  req: Request,
  sink: (b: Uint8Array) => void,
): Promise<number> {
  const te = req.headers.get("transfer-encoding");
  const cl = req.headers.get("content-length");
  // RFC 9110 10.1.1: a client that sent "Expect: 100-continue" waits for
  // this (curl for a second) before it sends the body.
  const hasBody = te !== undefined || (cl !== undefined && cl !== "0");
  if (
    hasBody && req.version === "1.1" && req.headers.get("expect")?.toLowerCase() === "100-continue"
  ) {
    await conn.write(CONTINUE);
  }
  if (te !== undefined) {
    if (te.toLowerCase() !== "chunked") throw new BadRequest("unsupported transfer-encoding");
    let total = 0;
    for (;;) {
      const size = parseInt((await r.line()).split(";")[0], 16);
      if (!Number.isFinite(size) || size < 0) throw new BadRequest("bad chunk size");
      if (size === 0) {
        while ((await r.line()) !== "") { /* trailers */ }
        return total;
      }
      for (let left = size; left > 0;) left -= await r.body(left, sink);
      total += size;
      if ((await r.line()) !== "") throw new BadRequest("bad chunk end");
    }
  }
  if (cl === undefined) return 0;
  if (!/^\d+$/.test(cl)) throw new BadRequest("bad content-length");
  const len = Number(cl);
  for (let left = len; left > 0;) left -= await r.body(left, sink);
  return len;
}

/**
 * Starts the HTTP server on the stack.
 *
 * @example
 * ```ts
 * import { Stack } from "../../mod.ts";
 * import { startHttp } from "./http.ts";
 * const stack = new Stack({});
 * const l = startHttp(stack, { port: 80, closeFirst: "server" });
 * l.close();
 * ```
 */
export function startHttp(stack: Stack, options: HttpOptions = {}): TcpListener {
  const l = stack.listen({ port: options.port ?? 80 });
  const idle = new IdleSweeper(options.idleMs ?? 30_000);
  (async () => {
    for await (const conn of l) {
      const w = idle.watch(conn);
      serveConnection(stack, conn, options, idle, w).catch(() => {}).finally(() => {
        idle.forget(w);
        conn.close();
      });
    }
    idle.stop();
  })();
  return l;
}

/**
 * A connection the sweeper watches: `since` is the sweep count when it began
 * to wait for its peer, -1 while a request is being served.
 */
interface Watched {
  conn: TcpConn;
  since: number;
}

/**
 * Closes connections that sat idle for `idleMs` (to one sweep interval
 * more), with one interval timer for the whole server. Waiting and serving
 * are a field each connection sets: a timer per keep-alive request cost a
 * tenth of the server's time under wrk, and a map of deadlines with a clock
 * read per request still a few percent.
 */
class IdleSweeper {
  readonly #intervalMs: number;
  /** Sweeps a waiting connection outlives. */
  readonly #limit: number;
  #sweeps = 0;
  #watched = new Set<Watched>();
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(idleMs: number) {
    this.#intervalMs = Math.min(1000, idleMs);
    this.#limit = Math.ceil(idleMs / this.#intervalMs);
  }

  /** Starts watching `conn`, which is busy until {@linkcode IdleSweeper.arm}. */
  watch(conn: TcpConn): Watched {
    const w = { conn, since: -1 };
    this.#watched.add(w);
    if (this.#timer === undefined) {
      // Started once and kept (stopping it whenever no connection waits
      // cost a timer per request again); it never holds the process open.
      this.#timer = setInterval(() => this.#sweep(), this.#intervalMs);
      Deno.unrefTimer(this.#timer);
    }
    return w;
  }

  /** `w` waits for its peer from now on. */
  arm(w: Watched): void {
    w.since = this.#sweeps;
  }

  /** `w` is busy: no deadline. */
  disarm(w: Watched): void {
    w.since = -1;
  }

  /** `w` is gone. */
  forget(w: Watched): void {
    this.#watched.delete(w);
  }

  /** The server stopped accepting: no more sweeps. */
  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #sweep(): void {
    this.#sweeps++;
    for (const w of this.#watched) {
      if (w.since < 0 || this.#sweeps - w.since <= this.#limit) continue;
      this.#watched.delete(w);
      w.conn.close();
    }
  }
}

async function serveConnection(
  stack: Stack,
  conn: TcpConn,
  o: HttpOptions,
  idle: IdleSweeper,
  w: Watched,
): Promise<void> {
  const r = new Reader(conn);
  try {
    await serveRequests(stack, conn, o, idle, w, r);
  } finally {
    r.release();
  }
}

async function serveRequests(
  stack: Stack,
  conn: TcpConn,
  o: HttpOptions,
  idle: IdleSweeper,
  w: Watched,
  r: Reader,
): Promise<void> {
  const closeFirst = o.closeFirst ?? "server";
  for (;;) {
    let head: string | null;
    idle.arm(w);
    try {
      head = await r.head();
    } catch (e) {
      idle.disarm(w);
      if (e instanceof BadRequest) {
        await respond(conn, 400, "text/plain", `Bad request: ${e.message}\n`, true);
      }
      return;
    }
    idle.disarm(w);
    if (head === null) return; // the client closed first
    let req: Request;
    try {
      req = parseHead(head);
    } catch (e) {
      await respond(conn, 400, "text/plain", `Bad request: ${(e as Error).message}\n`, true);
      return;
    }
    const wantsClose = req.headers.get("connection")?.toLowerCase() === "close" ||
      (req.version === "1.0" && req.headers.get("connection")?.toLowerCase() !== "keep-alive");
    // The server closing first: handle() corks the response once the body
    // is read, so the FIN rides on the response's last segment.
    const endAfter = wantsClose && closeFirst === "server";
    await handle(stack, conn, r, req, wantsClose, o);
    if (endAfter) {
      conn.closeWrite();
      conn.uncork();
      return;
    }
    if (!wantsClose) continue;
    if (closeFirst === "client") {
      // Answered; wait for the client's FIN so that it closes first.
      const buf = new Uint8Array(4096);
      idle.arm(w);
      while ((await conn.read(buf)) !== null) { /* drain */ }
    }
    return;
  }
}

async function handle(
  stack: Stack,
  conn: TcpConn,
  r: Reader,
  req: Request,
  close: boolean,
  o: HttpOptions,
): Promise<void> {
  const [path, queryText = ""] = req.path.split("?", 2);
  const bytes = /^\/bytes\/(\d{1,12})$/.exec(path);
  if (path === "/upload" && (req.method === "POST" || req.method === "PUT")) {
    const h = createHash("sha256");
    const n = await readBody(conn, r, req, (b) => h.update(b));
    corkIfEnding(conn, close, o);
    const body = JSON.stringify({ bytes: n, sha256: h.digest("hex") }) + "\n";
    await respond(conn, 200, "application/json", body, close);
    return;
  }
  await readBody(conn, r, req, () => {}); // any other body is discarded
  corkIfEnding(conn, close, o);
  if (req.method !== "GET" && req.method !== "HEAD") {
    await respond(conn, 405, "text/plain", "Method not allowed\n", close);
  } else if (bytes) {
    const n = Number(bytes[1]);
    // Head and the first chunk in one write: written apart, Nagle holds
    // the body until the client ACKs the head, which it delays (40 ms).
    await conn.write(bytesHead(n, close, req.method === "HEAD"));
    for (let left = req.method === "GET" ? n - Math.min(n, CHUNK.length) : 0; left > 0;) {
      const k = Math.min(left, CHUNK.length);
      await conn.write(CHUNK.subarray(0, k));
      left -= k;
    }
  } else if (path === "/") {
    const text = [
      "tunstack: a userspace TCP/IP stack",
      `addresses: ${stack.addresses.length}`,
      `connections: ${stack.connectionCount}`,
      `time-wait: ${stack.timeWait(0).count}`,
      "routes: / /bytes/N /upload /stats /timewait[?limit=N] /metrics /dashboard",
      "",
    ].join("\n");
    await respond(conn, 200, "text/plain", text, close, req.method === "HEAD");
  } else if (path === "/dashboard") {
    await respond(
      conn,
      200,
      "text/html; charset=utf-8",
      DASHBOARD_HTML,
      close,
      req.method === "HEAD",
    );
  } else if (o.routes && Object.hasOwn(o.routes, path)) {
    let result: unknown;
    try {
      result = o.routes[path](new URLSearchParams(queryText));
    } catch (e) {
      if (!(e instanceof RangeError)) throw e;
      await respond(conn, 400, "text/plain", `${e.message}\n`, close);
      return;
    }
    if (result instanceof TextBody) {
      await respond(conn, 200, result.type, result.text, close, req.method === "HEAD");
      return;
    }
    const body = JSON.stringify(result, null, 2) + "\n";
    await respond(conn, 200, "application/json", body, close, req.method === "HEAD");
  } else {
    await respond(conn, 404, "text/plain", "Not found\n", close);
  }
}

/** Most `/bytes/N` openings kept: a load asks for a few sizes over and over. */
const BYTES_HEADS_MAX = 64;
const bytesHeads = new Map<number, Uint8Array>();

/**
 * The head of a `/bytes/N` response and, for GET, its first chunk of body,
 * built once per size and close flag (encoding them per request was a
 * tenth of the HTTP path's time under wrk). The stack copies what is
 * written, so one array serves every connection.
 */
function bytesHead(n: number, close: boolean, headOnly: boolean): Uint8Array {
  const key = n * 4 + (close ? 2 : 0) + (headOnly ? 1 : 0);
  let out = bytesHeads.get(key);
  if (out !== undefined) return out;
  const head = enc.encode(headText(200, "application/octet-stream", n, close));
  const first = headOnly ? 0 : Math.min(n, CHUNK.length);
  out = new Uint8Array(head.length + first);
  out.set(head);
  out.set(CHUNK.subarray(0, first), head.length);
  if (bytesHeads.size >= BYTES_HEADS_MAX) bytesHeads.clear();
  bytesHeads.set(key, out);
  return out;
}

// The response ends the connection from our side: hold its segments so
// the FIN can ride on the last one (serveConnection uncorks).
function corkIfEnding(conn: TcpConn, close: boolean, o: HttpOptions): void {
  if (close && (o.closeFirst ?? "server") === "server") conn.cork();
}

function headText(status: number, type: string, length: number, close: boolean): string {
  const reason: Record<number, string> = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
  };
  return `HTTP/1.1 ${status} ${reason[status] ?? ""}\r\nServer: tunstack\r\n` +
    `Content-Type: ${type}\r\nContent-Length: ${length}\r\n` +
    `Connection: ${close ? "close" : "keep-alive"}\r\n\r\n`;
}

async function respond(
  conn: TcpConn,
  status: number,
  type: string,
  body: string,
  close: boolean,
  headOnly = false,
): Promise<void> {
  const b = enc.encode(body);
  const h = enc.encode(headText(status, type, b.length, close));
  // One vectored write: head and body in as few segments as they fill.
  await conn.writev(headOnly ? [h] : [h, b]);
}
