// Sorted, disjoint [start, end) ranges kept flat in one array
// ([s0, e0, s1, e1, ...]): shared by the receive buffer's out-of-order
// ranges and the sender's SACK scoreboard.

/**
 * Adds `[start, end)`, merging every range it touches or overlaps. Returns
 * the start of the merged range.
 */
export function insertRange(r: number[], start: number, end: number): number {
  let i = 0;
  while (i < r.length && r[i + 1] < start) i += 2;
  let j = i;
  while (j < r.length && r[j] <= end) {
    if (r[j] < start) start = r[j];
    if (r[j + 1] > end) end = r[j + 1];
    j += 2;
  }
  r.splice(i, j - i, start, end);
  return start;
}

/** Total length of the ranges. */
export function rangesLength(r: number[]): number {
  let n = 0;
  for (let i = 0; i < r.length; i += 2) n += r[i + 1] - r[i];
  return n;
}
