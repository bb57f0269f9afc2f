// Misuse of the socket API gets a clear error naming the problem.

import assert from "node:assert/strict";
import { MemoryLink } from "../../stack/memory_link.ts";
import { Stack } from "../../stack/stack.ts";
import { ip } from "../_packets.ts";
import { passiveOpen, Peer, settle } from "../_peer.ts";

Deno.test("api: listening twice on a port, or on a bad port or address, is refused", () => {
  const peer = new Peer();
  const l = peer.stack.listen({ port: 80 });
  assert.throws(() => peer.stack.listen({ port: 80 }), {
    name: "AddrInUse",
    message: "Address in use: port 80 has a listener",
  });
  for (const port of [-1, 65536, 1.5, NaN]) {
    assert.throws(() => peer.stack.listen({ port }), {
      name: "RangeError",
      message: `Invalid port: ${port}`,
    });
  }
  assert.throws(
    () => peer.stack.listen({ port: 81, hostname: "192.0.2.77" }),
    /^Error: Invalid address: 192.0.2.77 is not one of the stack's addresses$/,
  );
  l.close();
  peer.stack.listen({ port: 80 }).close(); // free again after close
});

Deno.test("api: connecting to nowhere: a bad name, no route, a closed port, a silent peer", async () => {
  const peer = new Peer({ tcp: { synRetries: 2 } });
  await assert.rejects(peer.stack.connect({ hostname: "nowhere", port: 80 }), {
    message: 'Invalid address: "nowhere"',
  });
  await assert.rejects(peer.stack.connect({ hostname: "192.0.2.1", port: 0 }), {
    message: "Invalid port: 0",
  });
  const v4only = new Stack({ ipv4: ip("192.0.2.2") });
  v4only.attach(new MemoryLink(1500, () => {}));
  await assert.rejects(v4only.connect({ hostname: "2001:db8::1", port: 80 }), {
    message: "No route: the stack has no IPv6 address",
  });
  // The peer answers RST: refused.
  const refused = peer.stack.connect({ hostname: "192.0.2.1", port: 81 });
  const [syn] = peer.take();
  peer.send({ sport: 81, dport: syn.sport, seq: 0, ack: syn.seq + 1, flags: "RA" });
  await assert.rejects(refused, { name: "ConnectionRefused" });
  // The peer never answers: timed out after the SYN retries.
  const silent = peer.stack.connect({ hostname: "192.0.2.1", port: 82 });
  let error: Error | undefined;
  silent.catch((e) => error = e);
  await peer.advance(10_000);
  assert.match(String(error), /Connection timed out: no answer to SYN/);
});

Deno.test("api: write after close, write after a reset, and a taken local port", async () => {
  const peer = new Peer();
  const { conn } = await passiveOpen(peer);
  conn.close();
  await assert.rejects(conn.write(new Uint8Array(1)), {
    name: "BrokenPipe",
    message: "Broken pipe: the connection is closed for writing",
  });
  const other = new Peer();
  const { conn: second, iss } = await passiveOpen(other);
  other.send({ sport: 40000, dport: 80, seq: 1_000_001, ack: iss + 1, flags: "R" });
  await settle();
  await assert.rejects(second.write(new Uint8Array(1)), { name: "ConnectionReset" });
  const out = peer.stack.connect({ hostname: "192.0.2.1", port: 9000, localPort: 50000 }).catch(
    () => {},
  );
  await assert.rejects(
    peer.stack.connect({ hostname: "192.0.2.1", port: 9000, localPort: 50000 }),
    {
      name: "AddrInUse",
      message: "Address in use: local port 50000 to that peer is taken",
    },
  );
  peer.stack.stop();
  await out;
});
