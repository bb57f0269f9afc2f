/**
 * IP fragment reassembly (RFC 791 3.2 and RFC 815 for IPv4, RFC 8200 4.5
 * for IPv6), with caps on datagrams and bytes held and a timeout, so a
 * peer cannot make us hold unbounded state. Overlapping fragments discard
 * the datagram (RFC 5722; the same for IPv4, as Linux does, since
 * overlaps only serve to slip past filters); an exact duplicate is
 * ignored. Time is passed in.
 *
 * @module
 */

/** Caps and timeout, each a sysctl. */
export interface ReassemblyLimits {
  /** Datagrams in reassembly at once (net.inet.ip.maxfragpackets; 0: none). */
  maxDatagrams: number;
  /** Fragment bytes held at once (net.inet.ip.maxfragbytes). */
  maxBytes: number;
  /** A datagram not complete by then is dropped, ms (net.inet.ip.fragttl). */
  timeoutMs: number;
}

/** The defaults: FreeBSD's 60 s IPv6 / 30 s Linux is between; we take 30 s. */
export const DEFAULT_REASSEMBLY_LIMITS: ReassemblyLimits = {
  maxDatagrams: 64,
  maxBytes: 4 * 1024 * 1024,
  timeoutMs: 30_000,
};

/** Largest reassembled payload after the unfragmentable part (16-bit lengths). */
const MAX_PAYLOAD = 65535;

/** What the reassembler did, counted (`ip.fragments.*`). */
export function newReassemblyStats() {
  return {
    /** Fragments taken into a reassembly queue. */
    queued: 0,
    /** Datagrams completed and passed up. */
    reassembled: 0,
    /** Datagrams dropped incomplete at the timeout. */
    timedOut: 0,
    /** Datagrams dropped because two fragments overlapped (RFC 5722). */
    overlapDropped: 0,
    /** Fragments identical to one already held, ignored. */
    duplicates: 0,
    /** Datagrams dropped to stay within the caps (oldest first). */
    evicted: 0,
    /** Fragments refused: beyond 64 KiB, a non-final one not a multiple of 8, or past the end. */
    bad: 0,
  };
}

/** The reassembler's counters. */
export type ReassemblyStats = ReturnType<typeof newReassemblyStats>;

interface Datagram {
  created: number;
  /** The first fragment's headers (offset 0), once it came. */
  header: Uint8Array | undefined;
  /** Parts sorted by offset, disjoint. */
  offs: number[];
  parts: Uint8Array[];
  bytes: number;
  /** Payload length, once the last fragment came; -1 before. */
  total: number;
}

/** A reassembled datagram: the first fragment's headers and the whole payload. */
export interface Reassembled {
  header: Uint8Array;
  payload: Uint8Array;
}

/**
 * Reassembly queues keyed by the caller (source, destination, protocol,
 * identification).
 *
 * @example
 * ```ts
 * import { Reassembler } from "./reassembly.ts";
 * const r = new Reassembler();
 * const hdr = new Uint8Array(20);
 * r.add("k", 8, false, new Uint8Array(4), undefined, 0); // true: queued, not complete
 * const d = r.add("k", 0, true, new Uint8Array(8), hdr, 1);
 * typeof d === "object" && d.payload.length; // 12
 * ```
 */
export class Reassembler {
  /** Caps and timeout (sysctls change them live). */
  readonly limits: ReassemblyLimits = { ...DEFAULT_REASSEMBLY_LIMITS };
  /** Counters. */
  readonly stats: ReassemblyStats = newReassemblyStats();
  // Insertion order is creation order: the oldest first, for expiry and eviction.
  #queues = new Map<string, Datagram>();
  #bytes = 0;

  /** Datagrams being reassembled. */
  get size(): number {
    return this.#queues.size;
  }

  /** Fragment bytes held. */
  get bytesHeld(): number {
    return this.#bytes;
  }

  /**
   * Takes a fragment of datagram `key`: `data` (a copy the reassembler may
   * keep) at payload offset `off`, `more` unless it is the last; `header`
   * with the fragment at offset 0. Returns the datagram once complete.
   * Returns false when the fragment was refused (counted), true when queued.
   */
  add(
    key: string,
    off: number,
    more: boolean,
    data: Uint8Array,
    header: Uint8Array | undefined,
    now: number,
  ): Reassembled | boolean {
    this.#expire(now);
    const s = this.stats;
    const end = off + data.length;
    if (end > MAX_PAYLOAD || (more && data.length % 8 !== 0) || (more && data.length === 0)) {
      s.bad++;
      this.#drop(key);
      return false;
    }
    let d = this.#queues.get(key);
    if (d === undefined) {
      if (this.limits.maxDatagrams === 0) {
        s.evicted++; // reassembly is off
        return false;
      }
      while (this.#queues.size >= this.limits.maxDatagrams) this.#evictOldest();
      d = { created: now, header: undefined, offs: [], parts: [], bytes: 0, total: -1 };
      this.#queues.set(key, d);
    }
    if (!more) {
      if ((d.total !== -1 && d.total !== end) || end < this.#highest(d)) {
        s.bad++;
        this.#drop(key);
        return false;
      }
      d.total = end;
    } else if (d.total !== -1 && end > d.total) {
      s.bad++;
      this.#drop(key);
      return false;
    }
    // Where it goes, and whether it overlaps a neighbour.
    let i = 0;
    while (i < d.offs.length && d.offs[i] < off) i++;
    if (i < d.offs.length && d.offs[i] === off && d.parts[i].length === data.length) {
      s.duplicates++;
      return true;
    }
    const prevEnd = i > 0 ? d.offs[i - 1] + d.parts[i - 1].length : 0;
    const nextOff = i < d.offs.length ? d.offs[i] : Infinity;
    if ((i > 0 && prevEnd > off) || nextOff < end) {
      s.overlapDropped++;
      this.#drop(key);
      return false;
    }
    while (this.#bytes + data.length > this.limits.maxBytes && this.#queues.size > 1) {
      this.#evictOldest(key);
    }
    if (this.#bytes + data.length > this.limits.maxBytes) {
      s.evicted++;
      this.#drop(key);
      return false;
    }
    d.offs.splice(i, 0, off);
    d.parts.splice(i, 0, data);
    d.bytes += data.length;
    this.#bytes += data.length;
    if (off === 0 && header) d.header = header;
    s.queued++;
    if (d.total === -1 || d.bytes !== d.total || d.header === undefined) return true;
    // No overlaps and as many bytes as the total: the parts tile [0, total).
    const payload = new Uint8Array(d.total);
    for (let k = 0; k < d.parts.length; k++) payload.set(d.parts[k], d.offs[k]);
    const done = { header: d.header, payload };
    this.#drop(key);
    s.reassembled++;
    return done;
  }

  #highest(d: Datagram): number {
    const n = d.offs.length;
    return n === 0 ? 0 : d.offs[n - 1] + d.parts[n - 1].length;
  }

  #expire(now: number): void {
    for (const [key, d] of this.#queues) {
      if (now - d.created < this.limits.timeoutMs) break;
      this.stats.timedOut++;
      this.#drop(key);
    }
  }

  #evictOldest(keep?: string): void {
    for (const key of this.#queues.keys()) {
      if (key === keep) continue;
      this.stats.evicted++;
      this.#drop(key);
      return;
    }
  }

  #drop(key: string): void {
    const d = this.#queues.get(key);
    if (d === undefined) return;
    this.#bytes -= d.bytes;
    this.#queues.delete(key);
  }
}
