/**
 * Echo (RFC 862), discard (RFC 863), chargen (RFC 864) and "once" over the
 * stack's TCP.
 *
 * @module
 */

import type { Stack, TcpConn, TcpListener } from "../../mod.ts";

async function serve(listener: TcpListener, handle: (c: TcpConn) => Promise<void>): Promise<void> {
  for await (const conn of listener) {
    handle(conn).catch(() => conn.close()).finally(() => conn.close());
  }
}

/**
 * Starts an echo server: every byte read is written back; the peer's FIN
 * is answered with ours.
 *
 * @example
 * ```ts
 * import { Stack } from "../../mod.ts";
 * import { startEcho } from "./echo.ts";
 * const stack = new Stack({});
 * const l = startEcho(stack, 7);
 * l.addr; // { transport: "tcp", hostname: "0.0.0.0", port: 7 }
 * l.close();
 * ```
 */
export function startEcho(stack: Stack, port = 7): TcpListener {
  const l = stack.listen({ port });
  serve(l, async (c) => {
    const buf = new Uint8Array(16 * 1024); // per connection: keep it small
    for (;;) {
      const n = await c.read(buf);
      if (n === null) break;
      await c.write(buf.subarray(0, n));
    }
    await c.closeWrite();
  });
  return l;
}

/**
 * Starts a discard server: everything read is thrown away.
 *
 * @example
 * ```ts
 * import { Stack } from "../../mod.ts";
 * import { startDiscard } from "./echo.ts";
 * const stack = new Stack({});
 * const l = startDiscard(stack, 9);
 * l.close();
 * ```
 */
export function startDiscard(stack: Stack, port = 9): TcpListener {
  const l = stack.listen({ port });
  serve(l, async (c) => {
    const buf = new Uint8Array(256 * 1024);
    while ((await c.read(buf)) !== null) { /* discard */ }
  });
  return l;
}

/**
 * Starts a "once" server: echoes what one read returns, then closes, so the
 * server closes first (and holds TIME_WAIT). The benchmark's short
 * connections use it; echo is the client-closes-first counterpart.
 *
 * @example
 * ```ts
 * import { Stack } from "../../mod.ts";
 * import { startOnce } from "./echo.ts";
 * const stack = new Stack({});
 * const l = startOnce(stack, 8);
 * l.close();
 * ```
 */
export function startOnce(stack: Stack, port = 8): TcpListener {
  const l = stack.listen({ port });
  serve(l, async (c) => {
    const buf = new Uint8Array(16 * 1024); // per connection: keep it small
    const n = await c.read(buf);
    if (n !== null) await c.write(buf.subarray(0, n));
  });
  return l;
}

/**
 * Starts a chargen server (RFC 864, TCP): sends a-z lines until the client
 * closes. The benchmark reads 1 GiB from it.
 *
 * @example
 * ```ts
 * import { Stack } from "../../mod.ts";
 * import { startChargen } from "./echo.ts";
 * const stack = new Stack({});
 * const l = startChargen(stack, 19);
 * l.close();
 * ```
 */
export function startChargen(stack: Stack, port = 19): TcpListener {
  const l = stack.listen({ port });
  const chunk = new Uint8Array(256 * 1024).map((_, i) => (i % 64 === 63 ? 10 : 97 + (i % 26)));
  serve(l, async (c) => {
    // A read in the background notices the client's FIN or RST.
    let open = true;
    c.read(new Uint8Array(1024)).finally(() => open = false).catch(() => {});
    while (open) await c.write(chunk);
  });
  return l;
}
