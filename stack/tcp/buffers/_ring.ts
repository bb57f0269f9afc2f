// Growing byte rings for the socket buffers. A connection's buffers start
// at a few kilobytes and double on demand up to their configured size, so a
// short connection never pays for (or zero-fills) a megabyte.

/** Smallest physical ring. */
export const RING_INITIAL = 4096;

/** The ring of a buffer that has held nothing yet (shared, never written). */
export const EMPTY: Uint8Array = new Uint8Array(0);

/**
 * Smallest rings given back by buffers that no longer hold them, for the
 * next connection: under many short connections (ab), a fresh pair per
 * connection to allocate and collect was the garbage collector's main load.
 */
const spare: Uint8Array[] = [];
/** Most spare rings kept (4 MiB). */
const SPARE_MAX = 1024;

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
  const next = size === RING_INITIAL && spare.length > 0 ? spare.pop()! : new Uint8Array(size);
  next.set(old.subarray(head));
  next.set(old.subarray(0, head), old.length - head);
  releaseRing(old);
  return next;
}

/** Gives back a ring nothing refers to any more. */
export function releaseRing(ring: Uint8Array): void {
  if (ring.length === RING_INITIAL && spare.length < SPARE_MAX) spare.push(ring);
}
