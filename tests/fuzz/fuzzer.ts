// A fuzzer for the whole receive path: device bytes in, through IP, ICMP,
// TCP and TIME_WAIT. Packets are built from valid ones and then bent:
// truncations, bad lengths, IHL and data offsets out of range, option lists
// with zero or oversized lengths, bogus IPv6 extension-header chains, every
// flag combination, and sequence/ack numbers at the wrap. It follows what
// the stack sends, so many packets are in window and drive real state
// changes (handshakes, data, FIN, TIME_WAIT), not only the first checks.
//
// Deterministic: the same seed gives the same packets and the same run.

import { setImmediate } from "node:timers";
import { MemoryLink } from "../../stack/memory_link.ts";
import { rng } from "../../stack/sim.ts";
import { Stack } from "../../stack/stack.ts";
import { flattenCounters } from "../../stack/stats.ts";
import type { TcpConn } from "../../stack/tcp/socket.ts";
import { checksum, pseudoSum, sum16 } from "../../stack/wire/checksum.ts";
import { readU32, writeU32 } from "../../stack/wire/tcp.ts";
import { parseIp } from "../../stack/wire/ip_address.ts";

/** What one run found. */
export interface FuzzReport {
  seed: number;
  packets: number;
  /** Exceptions that escaped `receive` or a timer, with the packet that caused them. */
  failures: { index: number; error: string; packet: string }[];
  /** Broken counter identities (received = delivered + dropped by reason). */
  accounting: string[];
  /** Most connections and TIME_WAIT records seen at once, and the caps. */
  peakConnections: number;
  peakTimeWait: number;
  maxConnections: number;
  maxTimeWait: number;
  /** Heap in bytes: after warm-up, the largest sample, and after shutdown. */
  heapStart: number;
  heapPeak: number;
  heapEnd: number;
  /** How packets ended, by counter (non-zero only). */
  counters: Record<string, number>;
  /** States the stack's connections reached (proof the fuzzer got past the checks). */
  states: Record<string, number>;
}

const STACK4 = parseIp("192.0.2.2")!;
const STACK6 = parseIp("2001:db8::2")!;
const PEERS4 = ["192.0.2.1", "198.51.100.7", "198.51.100.200"].map((s) => parseIp(s)!);
const PEERS6 = ["2001:db8::1", "2001:db8::beef"].map((s) => parseIp(s)!);
const OTHER4 = [parseIp("192.0.2.99")!, parseIp("224.0.0.1")!, parseIp("255.255.255.255")!];
const OTHER6 = [parseIp("2001:db8::99")!, parseIp("ff02::1")!];
const PORTS = [80, 81, 9, 443];
const WRAP = [0, 1, 0x7fffffff, 0x80000000, 0x80000001, 0xfffffffe, 0xffffffff];
const EXT = [0, 43, 44, 60, 51, 50, 59, 135, 139, 140, 253];

interface Flow {
  key: string;
  v6: boolean;
  peer: Uint8Array;
  sport: number;
  dport: number;
  /** What the stack acknowledged last (our next sequence number). */
  peerNxt: number;
  /** The stack's next sequence number as we last saw it. */
  stackNxt: number;
}

function flowKey(peer: Uint8Array, off: number, len: number, sport: number, dport: number) {
  let k = `${sport}/${dport}/`;
  for (let i = 0; i < len; i++) k += peer[off + i].toString(16);
  return k;
}

/**
 * Runs `packets` fuzzed packets with `seed` and reports what happened.
 * `onProgress` is called every 100,000 packets.
 */
export async function fuzz(
  seed: number,
  packets: number,
  onProgress?: (done: number) => void,
): Promise<FuzzReport> {
  const rand = rng(seed);
  const int = (n: number) => Math.floor(rand() * n);
  const pick = <T>(a: readonly T[]): T => a[int(a.length)];
  const u32 = () => (int(0x10000) * 0x10000 + int(0x10000)) >>> 0;
  let now = 1000;
  const flows = new Map<string, Flow>();
  const flowList: Flow[] = [];
  const maxConnections = 512;
  const maxTimeWait = 256;

  const stack = new Stack({
    ipv4: STACK4,
    ipv6: STACK6,
    clock: () => now,
    tcp: {
      maxConnections,
      synBacklog: 64,
      acceptBacklog: 64,
      rcvBuf: 16384,
      sndBuf: 16384,
      keepIdleMs: 5000,
      keepIntervalMs: 1000,
      keepCount: 3,
    },
    timewait: { maxtcptw: maxTimeWait, mslMs: 2000 },
  });

  // What the stack sends updates the flow it belongs to.
  const track = (p: Uint8Array) => {
    const v6 = p[0] >> 4 === 6;
    const off = v6 ? 40 : (p[0] & 15) * 4;
    if ((v6 ? p[6] : p[9]) !== 6 || p.length < off + 20) return;
    const dstOff = v6 ? 24 : 16, alen = v6 ? 16 : 4;
    const sport = (p[off] << 8) | p[off + 1], dport = (p[off + 2] << 8) | p[off + 3];
    const key = flowKey(p, dstOff, alen, dport, sport);
    let f = flows.get(key);
    if (!f) {
      f = {
        key,
        v6,
        peer: p.slice(dstOff, dstOff + alen),
        sport: dport,
        dport: sport,
        peerNxt: u32(),
        stackNxt: 0,
      };
      flows.set(key, f);
      flowList.push(f);
      if (flowList.length > 4096) flows.delete(flowList.shift()!.key);
    }
    const seq = readU32(p, off + 4);
    const ack = readU32(p, off + 8);
    const flags = p[off + 13];
    const dlen = p.length - off - (p[off + 12] >> 4) * 4;
    f.stackNxt = (seq + dlen + (flags & 2 ? 1 : 0) + (flags & 1 ? 1 : 0)) >>> 0;
    if (flags & 16) f.peerNxt = ack;
  };
  stack.attach(new MemoryLink(1500, track));

  // Applications: port 80 echoes and closes first after 200 bytes (so the
  // stack enters TIME_WAIT); port 81 never reads (zero window, full buffers).
  const conns = new Set<TcpConn>();
  const serve = async (conn: TcpConn, echo: boolean) => {
    conns.add(conn);
    const buf = new Uint8Array(2048);
    let total = 0;
    try {
      if (!echo) {
        await conn.write(new Uint8Array(4096));
        await new Promise(() => {});
      }
      for (;;) {
        const n = await conn.read(buf);
        if (n === null) break;
        total += n;
        await conn.write(buf.subarray(0, n));
        if (total > 40) break;
      }
    } catch {
      // Resets and timeouts are the fuzzer's normal outcome.
    } finally {
      conns.delete(conn);
      conn.close();
    }
  };
  const l80 = stack.listen({ port: 80 });
  const l81 = stack.listen({ port: 81 });
  // Signed (RFC 2385): what reaches it is checked, and unsigned or forged segments dropped.
  stack.listen({ port: 443, md5Key: "fuzz" });
  (async () => {
    for await (const c of l80) serve(c, true);
  })().catch(() => {});
  (async () => {
    for await (const c of l81) serve(c, false);
  })().catch(() => {});

  const buf = new Uint8Array(70000);
  const failures: FuzzReport["failures"] = [];
  let packet = 0;

  // ---- packet construction -----------------------------------------------

  const tcpOptions = (o: number): number => {
    // Returns the options' length at buf[o...]; padded to 4 only when valid.
    const r = int(10);
    let n = 0;
    if (r < 5) {
      if (rand() < 0.5) {
        (buf[o + n++] = 2, buf[o + n++] = 4, buf[o + n++] = int(256), buf[o + n++] = int(256));
      }
      if (rand() < 0.5) {
        (buf[o + n++] = 1, buf[o + n++] = 3, buf[o + n++] = 3, buf[o + n++] = int(20));
      }
      if (rand() < 0.4) (buf[o + n++] = 4, buf[o + n++] = 2);
      if (rand() < 0.6) {
        buf[o + n++] = 8;
        buf[o + n++] = 10;
        for (let i = 0; i < 8; i++) buf[o + n++] = int(256);
      }
      if (rand() < 0.3 && n <= 30) {
        const blocks = 1 + int(Math.min(4, (40 - n - 2) >> 3));
        buf[o + n++] = 5;
        buf[o + n++] = 2 + 8 * blocks;
        for (let i = 0; i < 8 * blocks; i++) buf[o + n++] = int(256);
      }
    } else if (r < 9) {
      // Hostile lists: zero, one, oversized or odd lengths; unknown kinds; EOL.
      const count = 1 + int(6);
      for (let i = 0; i < count && n < 38; i++) {
        buf[o + n++] = pick([0, 1, 2, 3, 4, 5, 8, 19, 28, 30, 34, 253, int(256)]);
        buf[o + n++] = pick([0, 1, 2, 3, 4, 10, 18, 40, 255, int(256)]);
      }
    } else {
      n = int(41);
      for (let i = 0; i < n; i++) buf[o + i] = int(256);
    }
    n = Math.min(n, 40);
    while (n % 4) buf[o + n++] = 0;
    return n;
  };

  // A segment the flow's state expects: right seq and ack, a timestamp.
  const validTcp = (o: number, f: Flow): number => {
    writeU32(buf, o + 4, f.peerNxt);
    writeU32(buf, o + 8, f.stackNxt);
    const r = rand();
    const flags = r < 0.15 ? 2 : r < 0.45 ? 16 : r < 0.85 ? 24 : 17;
    buf[o + 13] = flags;
    buf[o + 14] = 0xff;
    buf[o + 15] = 0xff;
    buf[o + 18] = buf[o + 19] = 0;
    buf[o + 20] = 1;
    buf[o + 21] = 1;
    buf[o + 22] = 8;
    buf[o + 23] = 10;
    writeU32(buf, o + 24, now >>> 0);
    writeU32(buf, o + 28, 0);
    buf[o + 12] = 8 << 4;
    const dlen = flags === 24 ? 1 + int(60) : 0;
    for (let i = 0; i < dlen; i++) buf[o + 32 + i] = 0x61 + (i % 26);
    return 32 + dlen;
  };

  const buildTcp = (o: number, f: Flow, valid: boolean): number => {
    buf[o] = f.sport >> 8;
    buf[o + 1] = f.sport & 255;
    buf[o + 2] = f.dport >> 8;
    buf[o + 3] = f.dport & 255;
    buf[o + 16] = buf[o + 17] = 0;
    if (valid) return validTcp(o, f);
    const rs = rand();
    const seq = rs < 0.65
      ? f.peerNxt + pick([0, 0, 0, 1, -1, 2, 1000, -1000, 65535, 70000])
      : rs < 0.85
      ? pick(WRAP)
      : u32();
    const ra = rand();
    const ack = ra < 0.65
      ? f.stackNxt + pick([0, 0, 0, 1, -1, 1000, -100000])
      : ra < 0.8
      ? pick(WRAP)
      : u32();
    writeU32(buf, o + 4, seq >>> 0);
    writeU32(buf, o + 8, ack >>> 0);
    const rf = rand();
    buf[o + 13] = rf < 0.5 ? pick([2, 16, 24, 17, 25, 4, 20, 18, 16, 16, 24]) : int(256);
    const win = pick([0, 1, 512, 65535, 65535, int(65536)]);
    buf[o + 14] = win >> 8;
    buf[o + 15] = win & 255;
    const urg = rand() < 0.9 ? 0 : int(65536);
    buf[o + 18] = urg >> 8;
    buf[o + 19] = urg & 255;
    const optLen = rand() < 0.5 ? 0 : tcpOptions(o + 20);
    buf[o + 12] = ((20 + optLen) / 4) << 4;
    if (rand() < 0.05) buf[o + 12] = int(16) << 4; // data offset out of range
    const dlen = rand() < 0.55 ? 0 : rand() < 0.9 ? 1 + int(120) : int(1400);
    const d = o + 20 + optLen;
    for (let i = 0; i < dlen; i++) buf[d + i] = 0x61 + (i % 26);
    return 20 + optLen + dlen;
  };

  const buildIcmp = (o: number, v6: boolean): number => {
    const n = rand() < 0.1 ? int(8) : 8 + int(64);
    buf[o] = rand() < 0.5 ? (v6 ? 128 : 8) : int(256);
    buf[o + 1] = rand() < 0.9 ? 0 : int(256);
    for (let i = 2; i < n; i++) buf[o + i] = int(256);
    return n;
  };

  const fillChecksum = (at: number, start: number, end: number, initial: number) => {
    buf[at] = buf[at + 1] = 0;
    const c = checksum(sum16(initial, buf, start, end));
    buf[at] = c >> 8;
    buf[at + 1] = c & 255;
  };

  // One packet in buf; returns its length.
  const build = (): number => {
    let f: Flow;
    const tracked = flowList.length > 0 && rand() < 0.7;
    // A third of the packets of known flows are exactly what the flow expects,
    // so connections get through handshakes and closes into TIME_WAIT.
    const valid = tracked && rand() < 0.35;
    if (tracked) f = flowList[flowList.length - 1 - int(Math.min(flowList.length, 64))];
    else {
      const v6 = rand() < 0.3;
      f = {
        key: "",
        v6,
        peer: v6 ? pick(PEERS6) : pick(PEERS4),
        sport: rand() < 0.8 ? 40000 + int(48) : int(65536),
        dport: rand() < 0.9 ? pick(PORTS) : int(65536),
        peerNxt: rand() < 0.3 ? pick(WRAP) : u32(),
        stackNxt: u32(),
      };
    }
    const v6 = f.v6;
    const alen = v6 ? 16 : 4;
    const rp = rand();
    const proto = valid || rp < 0.85 ? 6 : rp < 0.97 ? (v6 ? 58 : 1) : int(256);
    let hl: number;
    const dst = valid || rand() < 0.96 ? (v6 ? STACK6 : STACK4) : v6 ? pick(OTHER6) : pick(OTHER4);
    if (!v6) {
      const ihl = valid || rand() < 0.9 ? 5 : 5 + int(11);
      hl = ihl * 4;
      buf[0] = 0x45 & 0xf0 | ihl;
      buf[1] = 0;
      buf[4] = int(256);
      buf[5] = int(256);
      const frag = valid || rand() < 0.95 ? 0x40 : int(256);
      buf[6] = frag;
      buf[7] = frag === 0x40 ? 0 : int(256);
      buf[8] = valid || rand() < 0.98 ? 64 : 0;
      buf[9] = proto;
      buf.set(f.peer, 12);
      buf.set(dst, 16);
      for (let i = 20; i < hl; i++) buf[i] = rand() < 0.5 ? 1 : int(256);
    } else {
      buf[0] = 0x60;
      buf[1] = buf[2] = buf[3] = 0;
      buf[7] = valid || rand() < 0.98 ? 64 : 0;
      buf.set(f.peer, 8);
      buf.set(dst, 24);
      hl = 40;
      // Extension-header chain, sometimes bogus (bad lengths, loops, ESP, fragments).
      let nextAt = 6;
      const chain = valid || rand() < 0.85 ? 0 : 1 + int(5);
      for (let i = 0; i < chain; i++) {
        const kind = pick(EXT);
        buf[nextAt] = kind;
        const extLen = kind === 44 ? 8 : 8 + 8 * (rand() < 0.8 ? int(3) : int(256));
        buf[hl + 1] = kind === 44 ? 0 : (extLen >> 3) - 1;
        for (let k = 2; k < Math.min(extLen, 600); k++) buf[hl + k] = int(256);
        if (kind === 44 && rand() < 0.5) buf[hl + 2] = buf[hl + 3] = 0;
        nextAt = hl;
        hl += Math.min(extLen, 600);
      }
      buf[nextAt] = proto;
    }
    const plen = proto === 6
      ? buildTcp(hl, f, valid)
      : proto === 58 || proto === 1
      ? buildIcmp(hl, v6)
      : int(64);
    let len = hl + plen;
    // Transport checksum, then the IP lengths.
    if (proto === 6) {
      fillChecksum(hl + 16, hl, len, pseudoSum(buf, v6 ? 8 : 12, v6 ? 24 : 16, alen, 6, plen));
    } else if (proto === 1 && plen >= 4) fillChecksum(hl + 2, hl, len, 0);
    else if (proto === 58 && plen >= 4) {
      fillChecksum(hl + 2, hl, len, pseudoSum(buf, 8, 24, 16, 58, plen));
    }
    if (!v6) {
      const total = valid || rand() < 0.95 ? len : int(65536);
      buf[2] = total >> 8;
      buf[3] = total & 255;
      fillChecksum(10, 0, hl, 0);
    } else {
      const pl = valid || rand() < 0.95 ? len - 40 : int(65536);
      buf[4] = pl >> 8;
      buf[5] = pl & 255;
    }
    // Bend the finished packet: truncate, extend, or flip bytes.
    const m = valid ? 1 : rand();
    if (m < 0.06) len = int(len + 1);
    else if (m < 0.09) {
      const extra = int(64);
      for (let i = 0; i < extra; i++) buf[len + i] = int(256);
      len += extra;
    } else if (m < 0.2) {
      const flips = 1 + int(4);
      for (let i = 0; i < flips && len > 0; i++) buf[int(len)] ^= 1 << int(8);
    } else if (m < 0.22) buf[0] = int(256);
    return len;
  };

  // ---- the run -----------------------------------------------------------

  const heap = () => Deno.memoryUsage().heapUsed;
  const gc = (globalThis as { gc?: () => void }).gc;
  let heapStart = 0, heapPeak = 0;
  let peakConnections = 0, peakTimeWait = 0;
  const states: Record<string, number> = {};
  let outward = 0;

  for (packet = 0; packet < packets; packet++) {
    const len = build();
    const csumValid = rand() < 0.25; // as if the device had checked it (offload)
    try {
      stack.receive(buf.subarray(0, len), len, csumValid);
    } catch (e) {
      failures.push({
        index: packet,
        error: String(e instanceof Error ? e.stack : e),
        packet: Array.from(buf.subarray(0, len), (b) => b.toString(16).padStart(2, "0")).join(""),
      });
      if (failures.length >= 20) break;
    }
    if ((packet & 31) === 31) {
      now += int(rand() < 0.9 ? 50 : 3000);
      try {
        stack.tick(now);
      } catch (e) {
        failures.push({ index: packet, error: `tick: ${e}`, packet: "" });
      }
    }
    if ((packet & 255) === 255) {
      // Let the applications run, and open a connection outwards now and then.
      if (outward < 2000 && rand() < 0.3) {
        outward++;
        const remote = rand() < 0.7 ? "192.0.2.1" : "2001:db8::1";
        stack.connect({ hostname: remote, port: 5000 + int(4) })
          .then((c) => serve(c, true), () => {});
      }
      await new Promise((r) => setImmediate(r));
      peakConnections = Math.max(peakConnections, stack.tcp.connectionCount);
      peakTimeWait = Math.max(peakTimeWait, stack.tcp.timewait.size);
      for (const c of stack.tcp.connections()) states[c.state] = (states[c.state] ?? 0) + 1;
    }
    if ((packet & 0xffff) === 0xffff) {
      const h = heap();
      if (heapStart === 0) {
        gc?.();
        heapStart = heap();
      }
      heapPeak = Math.max(heapPeak, h);
    }
    if (onProgress && packet % 100_000 === 99_999) onProgress(packet + 1);
  }
  await new Promise((r) => setImmediate(r));
  const counters = stack.counters();
  const accounting = checkAccounting(counters as unknown as Counters);
  // Shut down and let everything settle: what is left on the heap is a leak.
  for (const c of conns) c.close();
  stack.stop();
  await new Promise((r) => setTimeout(r, 0));
  gc?.();
  const flat: Record<string, number> = {};
  for (const [k, v] of flattenCounters(counters)) if (v) flat[k] = v;
  return {
    seed,
    packets: packet,
    failures,
    accounting,
    peakConnections,
    peakTimeWait,
    maxConnections,
    maxTimeWait,
    heapStart: heapStart || heap(),
    heapPeak,
    heapEnd: heap(),
    counters: flat,
    states,
  };
}

interface Counters {
  [k: string]: number | Counters;
}

function total(t: Counters | number): number {
  if (typeof t === "number") return t;
  let s = 0;
  for (const v of Object.values(t)) s += total(v);
  return s;
}

/**
 * The counter identities every run must keep: each layer's received count
 * equals what it passed on plus what it dropped, by reason.
 */
export function checkAccounting(c: Counters): string[] {
  const ip = c.ip as Counters, icmp = c.icmp as Counters, tcp = c.tcp as Counters;
  const bad: string[] = [];
  const eq = (name: string, a: number, b: number) => {
    if (a !== b) bad.push(`${name}: ${a} != ${b}`);
  };
  eq(
    "ip.rxPackets + ip.reassembled = ip.delivered + ip.fragmentsTaken + ip.dropped",
    (ip.rxPackets as number) + ((ip.reassembled as number) ?? 0),
    (ip.delivered as number) + ((ip.fragmentsTaken as number) ?? 0) + total(ip.dropped),
  );
  eq(
    "ip.delivered = icmp.received + tcp.segmentsReceived",
    ip.delivered as number,
    (icmp.received as number) + (tcp.segmentsReceived as number),
  );
  eq(
    "icmp.received = echoRequests + errors + ignored + dropped",
    icmp.received as number,
    (icmp.echoRequests as number) + (icmp.errors as number) + total(icmp.ignored) +
      total(icmp.dropped),
  );
  const d = tcp.dropped as Counters;
  const early = [
    "truncated",
    "badDataOffset",
    "badChecksum",
    "badOption",
    "multicast",
    "synFin",
    "noSocket",
    "md5Missing",
    "md5Bad",
  ]
    .reduce((s, k) => s + (d[k] as number), 0);
  eq(
    "tcp.segmentsReceived = demux + early drops",
    tcp.segmentsReceived as number,
    total(tcp.demux) + early,
  );
  return bad;
}
