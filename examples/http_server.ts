/**
 * A small HTTP/1.1 server on tunstack's socket API (not the built-in one):
 * GET / answers with the time and the client's address, one request per
 * connection, and the server closes as soon as it has answered.
 *
 * ```sh
 * deno run --allow-ffi examples/http_server.ts 8080 &
 * curl http://192.0.2.2:8080/
 * ```
 *
 * @module
 */

import { parseCidr, parseIp, startTunStack, type TcpConn } from "../mod.ts";

const port = Number(Deno.args[0] ?? "8080");
const running = startTunStack({
  name: "tunstack0",
  mtu: 1500,
  ipv4: parseIp("192.0.2.2"),
  kernelIpv4: parseCidr("192.0.2.1/24"),
});
const enc = new TextEncoder(), dec = new TextDecoder();

async function serve(conn: TcpConn): Promise<void> {
  const buf = new Uint8Array(8192);
  let head = "";
  while (!head.includes("\r\n\r\n") && head.length < buf.length) {
    const n = await conn.read(buf);
    if (n === null) return conn.close();
    head += dec.decode(buf.subarray(0, n));
  }
  const [method, path] = head.split(" ", 2);
  const ok = method === "GET" && path === "/";
  const body = ok
    ? `hello ${conn.remoteAddr.hostname}:${conn.remoteAddr.port}, it is ${
      new Date().toISOString()
    }\n`
    : "not found\n";
  await conn.write(enc.encode(
    `HTTP/1.1 ${ok ? "200 OK" : "404 Not Found"}\r\nContent-Type: text/plain\r\n` +
      `Content-Length: ${enc.encode(body).length}\r\nConnection: close\r\n\r\n${body}`,
  ));
  conn.close();
}

const listener = running.stack.listen({ port });
console.log(`listening on http://192.0.2.2:${port}/`);
Deno.addSignalListener("SIGTERM", () => listener.close());
for await (const conn of listener) serve(conn).catch((e) => console.error(`request failed: ${e}`));
await running.close();
