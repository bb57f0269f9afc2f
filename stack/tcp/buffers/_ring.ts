// Growing byte rings for the socket buffers. A connection's buffers start
// at a few kilobytes and double on demand up to their configured size, so a
// short connection never pays for (or zero-fills) a megabyte.

/** Smallest physical ring. */
export const RING_INITIAL = 4096;

/** The ring of a buffer that has held nothing yet (shared, never written). */
export const EMPTY: Uint8Array = new Uint8Array(0);

/**
 * Rings given back by buffers that no longer hold them, by size, for the
 * next connections: under many short connections (ab), a fresh pair of
 * small rings per connection to allocate and collect was the garbage
 * collector's main load; a bulk connection grows its rings to a megabyte,
 * and fresh memory of that size is zero-filled and faulted in page by page
 * (measured, 50 MB downloads one after another: 250 to 300 page faults
 * each with only the smallest rings kept, 13 once every size is).
 */
const spare = new Map<number, Uint8Array[]>();
/** Most bytes kept in spare rings (16 MiB: eight 1 MiB send and receive pairs). */
const SPARE_BYTES_MAX = 16 << 20;
let spareBytes = 0;

/**
 * Returns a ring of at least `need` bytes (capped at `max`) holding the
 * bytes of `old` in order from `head`, or `old` itself when it is big enough.
 * After a move the data starts at 0 and `old` is given back.
 */
export function growRing(old: Uint8Array, head: number, need: number, max: number): Uint8Array {
  if (need <= old.length) return old;
  let size = Math.max(old.length * 2, RING_INITIAL);
  while (size < need) size *= 2;
  size = Math.min(size, max);
  // A reused ring's old bytes are never read: only what is written is.
  const reused = spare.get(size)?.pop();
  if (reused !== undefined) spareBytes -= size;
  const next = reused ?? new Uint8Array(size);
  next.set(old.subarray(head));
  next.set(old.subarray(0, head), old.length - head);
  releaseRing(old);
  return next;
}

/** Gives back a ring nothing refers to any more. */
export function releaseRing(ring: Uint8Array): void {
  const size = ring.length;
  if (size === 0 || spareBytes + size > SPARE_BYTES_MAX) return;
  let list = spare.get(size);
  if (list === undefined) spare.set(size, list = []);
  list.push(ring);
  spareBytes += size;
}
