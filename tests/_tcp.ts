// Helpers for TCP unit tests on the simulated network.

import { type Impairment, rng, SimNetwork } from "../stack/sim.ts";
import type { StackOptions } from "../stack/stack.ts";
import type { TcpConn } from "../stack/tcp/socket.ts";
import { parseIp } from "../stack/wire/ip_address.ts";

export const A4 = "192.0.2.1", B4 = "192.0.2.2", A6 = "2001:db8::1", B6 = "2001:db8::2";

export function net(a: Partial<StackOptions> = {}, b: Partial<StackOptions> = {}, seed = 1) {
  return new SimNetwork(
    { ipv4: parseIp(A4), ipv6: parseIp(A6), ...a },
    { ipv4: parseIp(B4), ipv6: parseIp(B6), ...b },
    seed,
  );
}

/** Opens a connection a -> b:port and returns both ends. */
export async function pair(n: SimNetwork, port = 5000, v6 = false) {
  const l = n.b.listen({ port });
  let server: TcpConn | undefined, client: TcpConn | undefined;
  l.accept().then((c) => server = c);
  n.a.connect({ hostname: v6 ? B6 : B4, port }).then((c) => client = c);
  await n.run(() => server !== undefined && client !== undefined, 30_000);
  return { client: client!, server: server!, listener: l };
}

export function pattern(len: number, seed: number): Uint8Array {
  const out = new Uint8Array(len);
  const r = rng(seed);
  for (let i = 0; i < len; i += 4) {
    const v = (r() * 2 ** 32) >>> 0;
    out[i] = v;
    out[i + 1] = v >>> 8;
    out[i + 2] = v >>> 16;
    out[i + 3] = v >>> 24;
  }
  return out;
}

export async function sha256(b: Uint8Array<ArrayBuffer>): Promise<string> {
  const d = await crypto.subtle.digest("SHA-256", b);
  return Array.from(new Uint8Array(d), (x) => x.toString(16).padStart(2, "0")).join("");
}

/** Reads until end of stream into one buffer. */
export async function readAll(c: TcpConn, expect: number): Promise<Uint8Array<ArrayBuffer>> {
  const out = new Uint8Array(expect + 1);
  let n = 0;
  const buf = new Uint8Array(65536);
  for (;;) {
    const r = await c.read(buf);
    if (r === null) break;
    if (n + r > out.length) throw new Error("more data than expected");
    out.set(buf.subarray(0, r), n);
    n += r;
  }
  return out.slice(0, n);
}

/** Writes in chunks, then half-closes. */
export async function writeAll(c: TcpConn, data: Uint8Array, chunk = 100_000): Promise<void> {
  for (let i = 0; i < data.length; i += chunk) await c.write(data.subarray(i, i + chunk));
  await c.closeWrite();
}

export type { Impairment };
