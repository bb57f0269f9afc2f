// The built-in HTTP server on a simulated link: keep-alive responses leave
// in as few segments as the data allows, so no request waits for a
// delayed ACK (Nagle would hold a body written after its head).

import assert from "node:assert/strict";
import { startHttp } from "../../cli/services/http.ts";
import type { TcpConn } from "../../stack/tcp/socket.ts";
import { net } from "../_tcp.ts";

async function readResponse(n: ReturnType<typeof net>, c: TcpConn, want: number) {
  const buf = new Uint8Array(65536);
  let got = 0;
  while (got < want) {
    let k: number | null | undefined;
    c.read(buf.subarray(got)).then((x) => k = x);
    await n.run(() => k !== undefined, 10_000);
    if (k === null) break;
    got += k!;
  }
  return new TextDecoder().decode(buf.subarray(0, got));
}

Deno.test("http: /bytes/N head and body leave in one segment; keep-alive requests do not wait 40 ms", async () => {
  const n = net();
  const server = startHttp(n.b, { port: 80 });
  let c: TcpConn | undefined;
  n.a.connect({ hostname: "192.0.2.2", port: 80 }).then((x) => c = x);
  await n.run(() => c !== undefined);
  const req = new TextEncoder().encode("GET /bytes/100 HTTP/1.1\r\nHost: x\r\n\r\n");
  const times: number[] = [];
  for (let i = 0; i < 3; i++) {
    const before = n.trace.length;
    const t0 = n.now;
    await c!.write(req);
    const text = await readResponse(n, c!, 100 + 110);
    assert.match(text, /^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\n(abcdefghijklmnopqrstuvwxyz){3}/);
    assert.ok(text.endsWith("abcdefghijklmnopqrstuv"), text);
    times.push(n.now - t0);
    const fromServer = n.trace.slice(before).filter((t) => t.from === "b" && dataLen(t.packet) > 0);
    assert.equal(fromServer.length, 1, `request ${i}: one data segment`);
  }
  assert.ok(Math.max(...times) < 5, `response times ${times} ms (a delayed ACK is 40 ms)`);
  c!.close();
  server.close();
});

function dataLen(p: Uint8Array): number {
  const ihl = (p[0] & 15) * 4;
  const total = (p[2] << 8) | p[3];
  return total - ihl - (p[ihl + 12] >> 4) * 4;
}

Deno.test("http: Expect: 100-continue gets 100 Continue before the body is sent (RFC 9110 10.1.1)", async () => {
  const n = net();
  const server = startHttp(n.b, { port: 80 });
  let c: TcpConn | undefined;
  n.a.connect({ hostname: "192.0.2.2", port: 80 }).then((x) => c = x);
  await n.run(() => c !== undefined);
  const head = "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n" +
    "Expect: 100-continue\r\nConnection: close\r\n\r\n";
  await c!.write(new TextEncoder().encode(head));
  const interim = await readResponse(n, c!, 25);
  assert.equal(interim, "HTTP/1.1 100 Continue\r\n\r\n");
  await c!.write(new TextEncoder().encode("hello"));
  const final = await readResponse(n, c!, 1000);
  assert.match(final, /^HTTP\/1\.1 200 OK\r\n[\s\S]*"bytes":5,"sha256":"2cf24dba/);
  c!.close();
  server.close();
});

Deno.test("http: a keep-alive connection idle past idleMs is closed; one served in time is not", async () => {
  const n = net();
  const server = startHttp(n.b, { port: 80, idleMs: 100 });
  const open = async () => {
    let c: TcpConn | undefined;
    n.a.connect({ hostname: "192.0.2.2", port: 80 }).then((x) => c = x);
    await n.run(() => c !== undefined);
    return c!;
  };
  const idle = await open(), busy = await open();
  const req = new TextEncoder().encode("GET /bytes/10 HTTP/1.1\r\nHost: x\r\n\r\n");
  // The sweeper runs on the real clock: ask on `busy` every 40 ms for 400 ms.
  const end = performance.now() + 400;
  while (performance.now() < end) {
    await busy.write(req);
    assert.match(await readResponse(n, busy, 10 + 108), /^HTTP\/1\.1 200 OK/);
    await new Promise((r) => setTimeout(r, 40));
  }
  const eof = await readResponse(n, idle, 1);
  assert.equal(eof, "", "the idle connection got the server's FIN");
  assert.equal(busy.status().state, "ESTABLISHED");
  idle.close();
  busy.close();
  server.close();
});
