// A scripted TCP peer for state-machine tests: it crafts segments by hand,
// feeds them to one stack on a fake clock, and decodes what the stack sends.

import assert from "node:assert/strict";
import type { TcpConn, TcpListener } from "../stack/tcp/socket.ts";
import { MemoryLink } from "../stack/memory_link.ts";
import { Stack, type StackOptions } from "../stack/stack.ts";
import { TcpSegment } from "../stack/wire/tcp.ts";
import { ip, ipv4, ipv6, tcpBytes, type TcpSpec } from "./_packets.ts";

export interface Seen {
  flags: string;
  seq: number;
  ack: number;
  window: number;
  sport: number;
  dport: number;
  mss: number;
  wscale: number;
  sackOk: boolean;
  ts?: [number, number];
  sack: [number, number][];
  data: Uint8Array;
  raw: Uint8Array;
}

const NAMES = "FSRPAU";

export function decode(p: Uint8Array): Seen {
  const v6 = p[0] >> 4 === 6;
  const off = v6 ? 40 : (p[0] & 15) * 4;
  const seg = new TcpSegment();
  const err = seg.wrap(p, off, p.length - off, -1);
  if (err) throw new Error(`stack sent a bad segment: ${err}`);
  let flags = "";
  for (let i = 0; i < 6; i++) if (seg.flags & (1 << i)) flags += NAMES[i];
  const o = seg.options;
  const sack: [number, number][] = [];
  for (let i = 0; i < o.sackCount; i++) sack.push([o.sack[2 * i], o.sack[2 * i + 1]]);
  return {
    flags,
    seq: seg.seq,
    ack: seg.ack,
    window: seg.window,
    sport: seg.srcPort,
    dport: seg.dstPort,
    mss: o.mss,
    wscale: o.wscale,
    sackOk: o.sackPermitted,
    ts: o.timestamp ? [o.tsVal, o.tsEcr] : undefined,
    sack,
    data: p.slice(seg.dataOffset, seg.dataOffset + seg.dataLen),
    raw: p,
  };
}

export class Peer {
  now = 1000;
  readonly stack: Stack;
  readonly out: Uint8Array[] = [];
  readonly me: string;
  readonly them: string;

  constructor(opts: Partial<StackOptions> = {}, v6 = false) {
    this.me = v6 ? "2001:db8::1" : "192.0.2.1";
    this.them = v6 ? "2001:db8::2" : "192.0.2.2";
    this.stack = new Stack({
      ipv4: ip("192.0.2.2"),
      ipv6: ip("2001:db8::2"),
      clock: () => this.now,
      ...opts,
    });
    this.stack.attach(new MemoryLink(1500, (p) => this.out.push(p)));
  }

  /** Sends a crafted segment to the stack. */
  send(t: TcpSpec): void {
    const src = ip(this.me), dst = ip(this.them);
    const seg = tcpBytes(src, dst, t);
    const pkt = src.length === 4
      ? ipv4(this.me, this.them, 6, seg)
      : ipv6(this.me, this.them, 6, seg);
    this.stack.receive(pkt, pkt.length);
  }

  /** Everything the stack sent since the last call, decoded. */
  take(): Seen[] {
    return this.out.splice(0).filter((p) => (p[0] >> 4 === 4 ? p[9] : p[6]) === 6).map(decode);
  }

  /** Advances the fake clock in 1 ms steps, running timers. */
  async advance(ms: number): Promise<void> {
    const end = this.now + ms;
    while (this.now < end) {
      this.now = Math.min(end, this.now + 1);
      this.stack.tick(this.now);
    }
    await settle();
  }
}

/** Lets promise continuations (application code) run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 0));
}

export const P = 40000; // the peer's port
export const ISN = 1_000_000; // the peer's ISN

/** LISTEN -> SYN-RECEIVED -> ESTABLISHED with every option. */
export async function passiveOpen(
  peer: Peer,
  opts: { ts?: boolean; port?: number; listen?: boolean; wscale?: boolean; rttMs?: number } = {},
) {
  const sport = opts.port ?? P;
  const listener = opts.listen === false ? undefined : peer.stack.listen({ port: 80 });
  let conn: TcpConn | undefined;
  if (listener) listener.accept().then((c) => conn = c);
  else pendingAccept(peer).then((c) => conn = c);
  const ts = opts.ts ?? true;
  peer.send({
    sport,
    dport: 80,
    seq: ISN,
    flags: "S",
    mss: 1460,
    wscale: opts.wscale === false ? undefined : 7,
    sackOk: true,
    ts: ts ? [500, 0] : undefined,
  });
  const [synack] = peer.take();
  assert.equal(synack.flags, "SA");
  assert.equal(synack.ack, ISN + 1);
  const iss = synack.seq;
  const tsv = synack.ts?.[0] ?? 0;
  // The handshake's round trip, else 0 ms: no path has one.
  if (opts.rttMs) await peer.advance(opts.rttMs);
  peer.send({
    sport,
    dport: 80,
    seq: ISN + 1,
    ack: iss + 1,
    flags: "A",
    ts: ts ? [501, tsv] : undefined,
  });
  await settle();
  assert.ok(conn, "accepted");
  const stamp = ts ? (v: number): [number, number] => [v, tsv] : () => undefined;
  return {
    conn: conn!,
    iss,
    listener,
    synack,
    ts: stamp,
    /** The peer sends `data` in order, `at` bytes into its stream. */
    sendData(data: Uint8Array, at = 0, flags = "PA"): void {
      peer.send({ sport, dport: 80, seq: ISN + 1 + at, ack: iss + 1, flags, data, ts: stamp(502) });
    },
  };
}

const listeners = new WeakMap<Peer, TcpListener>();

/** The stack's port-80 listener for later passive opens on the same peer. */
export function listen80(peer: Peer): void {
  listeners.set(peer, peer.stack.listen({ port: 80 }));
}

function pendingAccept(peer: Peer): Promise<TcpConn> {
  const l = listeners.get(peer);
  if (!l) throw new Error("call listen80(peer) first");
  return l.accept();
}
