/**
 * The control channel between a running stack and the CLI: a Unix socket
 * per device (default `/run/tunstack/<device>.sock`), one JSON request line
 * and one JSON answer line per connection.
 *
 * @module
 */

import { type Stack, sysctlGet, sysctlSet } from "../mod.ts";

/** Default directory of control sockets. */
export const CONTROL_DIR = "/run/tunstack";

/** A request on the control channel. */
export type ControlRequest =
  | { cmd: "tw"; limit?: number }
  | { cmd: "stats" }
  | { cmd: "ss" }
  | { cmd: "sysctl"; name?: string; value?: string };

/**
 * The socket path for a device.
 *
 * @example
 * ```ts
 * import { controlPath } from "./control.ts";
 * controlPath("tunstack0"); // "/run/tunstack/tunstack0.sock"
 * ```
 */
export function controlPath(device: string, dir = CONTROL_DIR): string {
  return `${dir}/${device}.sock`;
}

/**
 * Answers one request against a stack (also used by the HTTP routes).
 *
 * @example
 * ```ts
 * import { Stack } from "../mod.ts";
 * import { answer } from "./control.ts";
 * const stack = new Stack({});
 * answer(stack, { cmd: "sysctl", name: "net.inet.tcp.msl" }, () => ({})); // { "net.inet.tcp.msl": 30000 }
 * answer(stack, { cmd: "sysctl", name: "net.inet.tcp.msl", value: "5000" }, () => ({}));
 * // { values: { "net.inet.tcp.msl": 5000 }, previous: { "net.inet.tcp.msl": 30000 } }
 * ```
 */
export function answer(
  stack: Stack,
  req: ControlRequest,
  extra: () => Record<string, unknown>,
): unknown {
  switch (req.cmd) {
    case "tw": {
      const { count, limit, mslMs, entries } = stack.timeWait(req.limit ?? 100_000);
      return { count, limit, mslMs, entries };
    }
    case "ss":
      return { connections: stack.connections() };
    case "stats":
      return { ...extra(), ...stack.counters(), memory: memory() };
    case "sysctl":
      if (req.name !== undefined && req.value !== undefined) {
        // A change answers with the value before it too, as sysctl(8)
        // prints them: one request, so no other change falls between.
        const previous = sysctlGet(stack, req.name);
        return { values: sysctlSet(stack, req.name, req.value), previous };
      }
      return sysctlGet(stack, req.name);
    default:
      throw new Error(`Unknown command: ${(req as { cmd: string }).cmd}`);
  }
}

// The process's memory, in bytes. When V8 exposes gc (--v8-flags=--expose-gc)
// a collection runs first, so a soak can compare live heap before and after.
function memory(): { heapUsed: number; heapTotal: number; rss: number } {
  (globalThis as { gc?: () => void }).gc?.();
  const m = Deno.memoryUsage();
  return { heapUsed: m.heapUsed, heapTotal: m.heapTotal, rss: m.rss };
}

/** A running control server. */
export interface ControlServer {
  /** Socket path. */
  path: string;
  /** Stops serving and removes the socket. */
  close(): Promise<void>;
}

/**
 * Serves the control channel for `stack` at `path`.
 *
 * @example
 * ```ts
 * import { Stack } from "../mod.ts";
 * import { controlPath, controlRequest, startControl } from "./control.ts";
 * const dir = await Deno.makeTempDir();
 * const stack = new Stack({});
 * const srv = await startControl(stack, controlPath("tunstack0", dir), () => ({}));
 * await controlRequest(controlPath("tunstack0", dir), { cmd: "tw" }); // { count: 0, ... }
 * await srv.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function startControl(
  stack: Stack,
  path: string,
  extra: () => Record<string, unknown>,
): Promise<ControlServer> {
  const dir = path.slice(0, path.lastIndexOf("/"));
  if (dir) await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  // A socket left by a crashed run blocks bind; only remove a socket.
  try {
    const st = await Deno.lstat(path);
    if (st.isSocket) await Deno.remove(path);
  } catch { /* none */ }
  const listener = Deno.listen({ transport: "unix", path });
  const serving = (async () => {
    for await (const conn of listener) {
      handle(conn, stack, extra).catch(() => {}).finally(() => {
        try {
          conn.close();
        } catch { /* closed */ }
      });
    }
  })().catch(() => {});
  return {
    path,
    async close() {
      listener.close();
      await serving;
      await Deno.remove(path).catch(() => {});
    },
  };
}

async function handle(conn: Deno.Conn, stack: Stack, extra: () => Record<string, unknown>) {
  const line = await readLine(conn, 64 * 1024);
  let out: unknown;
  try {
    out = { ok: true, result: answer(stack, JSON.parse(line) as ControlRequest, extra) };
  } catch (e) {
    out = { ok: false, error: (e as Error).message };
  }
  await writeAll(conn, new TextEncoder().encode(JSON.stringify(out) + "\n"));
}

async function readLine(conn: Deno.Conn, max: number): Promise<string> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  const buf = new Uint8Array(65536);
  for (;;) {
    const n = await conn.read(buf);
    if (n === null) break;
    chunks.push(buf.slice(0, n));
    total += n;
    if (buf.subarray(0, n).includes(10) || total > max) break;
  }
  const all = new Uint8Array(total);
  let o = 0;
  for (const c of chunks) {
    all.set(c, o);
    o += c.length;
  }
  const text = new TextDecoder().decode(all);
  const nl = text.indexOf("\n");
  return nl >= 0 ? text.slice(0, nl) : text;
}

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  for (let o = 0; o < data.length;) o += await conn.write(data.subarray(o));
}

/**
 * Sends one request to a running stack and returns its result; throws with
 * the stack's error message, or a clear one when no stack is running.
 *
 * @example
 * ```ts
 * import { controlPath, controlRequest } from "./control.ts";
 * const dir = await Deno.makeTempDir();
 * await controlRequest(controlPath("tunstack0", dir), { cmd: "tw" }).catch((e) => e.message); // "No running stack: nothing listens on ..."
 * await Deno.remove(dir);
 * ```
 */
export async function controlRequest(path: string, req: ControlRequest): Promise<unknown> {
  let conn: Deno.Conn;
  try {
    conn = await Deno.connect({ transport: "unix", path });
  } catch (e) {
    if (e instanceof Deno.errors.NotFound || e instanceof Deno.errors.ConnectionRefused) {
      throw new Error(`No running stack: nothing listens on ${path}`);
    }
    throw e;
  }
  try {
    await writeAll(conn, new TextEncoder().encode(JSON.stringify(req) + "\n"));
    const reply = JSON.parse(await readLine(conn, 1 << 30)) as
      | { ok: true; result: unknown }
      | { ok: false; error: string };
    if (!reply.ok) throw new Error(reply.error);
    return reply.result;
  } finally {
    conn.close();
  }
}
