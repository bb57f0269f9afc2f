/**
 * What the JSDoc examples of `stack/` and `stack/tcp/` start from, so they
 * run under `deno test --doc` instead of being skipped: two stacks on the
 * simulated network (192.0.2.1 and 192.0.2.2, 1500-byte link, virtual
 * clock) with a connection established between them.
 *
 * @module
 */

import { SimNetwork } from "./sim.ts";
import type { Tcb } from "./tcp/tcb.ts";
import type { TcpConn } from "./tcp/socket.ts";
import { parseIp } from "./wire/ip_address.ts";

/** An established connection and its surroundings. */
export interface ExampleConnection {
  /** The network; `net.trace` holds every packet sent. */
  net: SimNetwork;
  /** The client's connection block (192.0.2.1 to 192.0.2.2:80). */
  conn: Tcb;
  /** The client's socket. */
  client: TcpConn;
  /** The server's socket. */
  server: TcpConn;
}

/**
 * Opens a connection from `net.a` to port 80 of `net.b` and runs the
 * network until both ends are established.
 *
 * @example
 * ```ts
 * import { exampleConnection } from "./_examples.ts";
 * const { conn } = await exampleConnection();
 * conn.state; // "ESTABLISHED"
 * ```
 */
export async function exampleConnection(): Promise<ExampleConnection> {
  const net = new SimNetwork({ ipv4: parseIp("192.0.2.1") }, { ipv4: parseIp("192.0.2.2") });
  const listener = net.b.listen({ port: 80 });
  let client: TcpConn | undefined, server: TcpConn | undefined;
  listener.accept().then((c) => server = c);
  net.a.connect({ hostname: "192.0.2.2", port: 80 }).then((c) => client = c);
  await net.run(() => client !== undefined && server !== undefined);
  listener.close();
  return { net, conn: client!.block, client: client!, server: server! };
}
