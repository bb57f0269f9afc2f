/**
 * The stack as a TCP client: bring up the TUN device, connect to a server
 * on the kernel side, send a line, print what comes back, close.
 *
 * ```sh
 * nc -l 192.0.2.1 9000 &   # a kernel server
 * deno run --allow-ffi examples/connect_out.ts 192.0.2.1 9000 "hello"
 * ```
 *
 * @module
 */

import { parseCidr, parseIp, startTunStack } from "../mod.ts";

const [host = "192.0.2.1", port = "9000", message = "hello from tunstack"] = Deno.args;
const running = startTunStack({
  name: "tunstack0",
  mtu: 1500,
  ipv4: parseIp("192.0.2.2"),
  ipv6: parseIp("2001:db8::2"),
  kernelIpv4: parseCidr("192.0.2.1/24"),
  kernelIpv6: parseCidr("2001:db8::1/64"),
});
try {
  // The kernel needs a moment to bring the link up before it answers.
  let conn;
  for (let i = 0;; i++) {
    try {
      conn = await running.stack.connect({ hostname: host, port: Number(port) });
      break;
    } catch (e) {
      if (i >= 20) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  console.log(`connected ${conn.localAddr.hostname}:${conn.localAddr.port} -> ${host}:${port}`);
  await conn.write(new TextEncoder().encode(message + "\n"));
  await conn.closeWrite();
  const buf = new Uint8Array(65536);
  let reply = "";
  for (;;) {
    const n = await conn.read(buf);
    if (n === null) break;
    reply += new TextDecoder().decode(buf.subarray(0, n));
  }
  console.log(`reply: ${reply.trimEnd()}`);
  conn.close();
} finally {
  await running.close();
}
