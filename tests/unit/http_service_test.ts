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

// Sends `text` on a fresh connection and returns everything until the
// server closes or `want` bytes came.
async function exchange(n: ReturnType<typeof net>, text: string, want: number) {
  let c: TcpConn | undefined;
  n.a.connect({ hostname: "192.0.2.2", port: 80 }).then((x) => c = x);
  await n.run(() => c !== undefined);
  await c!.write(new TextEncoder().encode(text));
  const got = await readResponse(n, c!, want);
  return { c: c!, got };
}

Deno.test("http: pipelined requests are answered in order; HEAD has the length and no body", async () => {
  const n = net();
  const server = startHttp(n.b, { port: 80 });
  const two = "GET /bytes/3 HTTP/1.1\r\nHost: x\r\n\r\nHEAD /bytes/5 HTTP/1.1\r\nHost: x\r\n\r\n" +
    "GET /bytes/2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  const { c, got } = await exchange(n, two, 100_000);
  const heads = [...got.matchAll(/HTTP\/1\.1 200 OK\r\n([\s\S]*?)\r\n\r\n/g)];
  assert.equal(heads.length, 3, got);
  assert.deepEqual(
    heads.map((h) => /content-length: (\d+)/i.exec(h[1])?.[1]),
    ["3", "5", "2"],
  );
  // Bodies: "abc" after the first head, nothing after HEAD's, "ab" at the end.
  const bodies = got.split(/HTTP\/1\.1 200 OK\r\n[\s\S]*?\r\n\r\n/).slice(1);
  assert.deepEqual(bodies, ["abc", "", "ab"]);
  c.close();
  server.close();
});

Deno.test("http: a chunked upload is hashed whole; a bad request gets 400 and the connection closes", async () => {
  const n = net();
  const server = startHttp(n.b, { port: 80 });
  const chunked = "POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n" +
    "Connection: close\r\n\r\n3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\n\r\n";
  const up = await exchange(n, chunked, 100_000);
  const sha = Array.from(
    new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode("abcde"))),
    (x) => x.toString(16).padStart(2, "0"),
  ).join("");
  assert.match(up.got, new RegExp(`"bytes":5,"sha256":"${sha}"`));
  up.c.close();
  const bad = await exchange(n, "NOT HTTP\r\n\r\n", 100_000);
  assert.match(bad.got, /^HTTP\/1\.1 400 Bad Request\r\n[\s\S]*Bad request: bad request line/);
  assert.match(bad.got, /connection: close/i);
  bad.c.close();
  server.close();
});
