/**
 * A TCP echo server written against tunstack's socket API, the way one
 * would write it with `Deno.listen`.
 *
 * ```sh
 * deno run --allow-ffi examples/echo_server.ts   # then: nc 192.0.2.2 7000
 * ```
 *
 * @module
 */

import { parseCidr, parseIp, startTunStack } from "../mod.ts";

const running = startTunStack({
  name: "tunstack0",
  mtu: 1500,
  ipv4: parseIp("192.0.2.2"),
  kernelIpv4: parseCidr("192.0.2.1/24"),
});
const listener = running.stack.listen({ port: 7000 });
console.log("echo on 192.0.2.2:7000; Ctrl-C stops");
Deno.addSignalListener("SIGINT", async () => {
  listener.close();
  await running.close();
  Deno.exit(0);
});
for await (const conn of listener) {
  conn.readable.pipeTo(conn.writable).catch(() => conn.close());
}
