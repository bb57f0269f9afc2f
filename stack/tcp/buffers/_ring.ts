// Growing byte rings for the socket buffers. A connection's buffers start
// at a few kilobytes and double on demand up to their configured size, so a
// short connection never pays for (or zero-fills) a megabyte.

/** Smallest physical ring. */
export const RING_INITIAL = 4096;

/** The ring of a buffer that has held nothing yet (shared, never written). */
export const EMPTY: Uint8Array = new Uint8Array(0);

/**
 * Returns a ring of at least `need` bytes (capped at `max`) holding the
 * bytes of `old` in order from `head`, or `old` itself when it is big enough.
 * After a move the data starts at 0.
 */
export function growRing(old: Uint8Array, head: number, need: number, max: number): Uint8Array {
  if (need <= old.length) return old;
  let size = Math.max(old.length * 2, RING_INITIAL);
  while (size < need) size *= 2;
  const next = new Uint8Array(Math.min(size, max));
  next.set(old.subarray(head));
  next.set(old.subarray(0, head), old.length - head);
  return next;
}
