/**
 * Growable scratch buffers for the store, addressed by a small id (no managed arrays: the store
 * runs without a managed heap, see store-alloc.ts).
 * @module
 */
import { alloc, free } from "./store-alloc";

/** Number of buffer ids. */
const BUF_COUNT: u32 = 24 + 5 * 16; // 24 ids, then 5 per thread for its subtree walks (commit.ts)
const DESCS: usize = memory.data(<i32>(BUF_COUNT * 8), 8);

/** Current address of buffer `id` (0 before first use). */
// @ts-ignore: decorator
@inline export function bufPtr(id: u32): usize {
  return <usize>load<u32>(DESCS + (<usize>id << 3));
}

/** Address of buffer `id`'s descriptor (pointer u32, capacity u32): swapping two swaps the buffers. */
export function bufDesc(id: u32): usize {
  return DESCS + (<usize>id << 3);
}

/**
 * Makes buffer `id` hold at least `bytes`, keeping its first `keep` bytes; returns its address,
 * or 0 when out of memory (the old buffer is then untouched). Capacity doubles, so appends are
 * amortised O(1).
 */
export function bufEnsure(id: u32, bytes: u32, keep: u32): usize {
  // A zero-byte request must still return a real buffer: 0 means out of memory to callers, and an
  // empty block asks for 0 bytes before any buffer exists.
  bytes = max<u32>(bytes, 1);
  const d = DESCS + (<usize>id << 3);
  const cap = load<u32>(d, 4);
  if (bytes <= cap) return <usize>load<u32>(d);
  let ncap = max<u32>(cap << 1, 1024);
  while (ncap < bytes) ncap <<= 1;
  // Past 64 MiB grow by an eighth, not a doubling: a 10M-account tree build needs 320 MB path
  // buffers, and a doubling would take 512 MB of a 4 GiB memory for each.
  if (ncap > (1 << 26)) ncap = max<u32>(bytes, min<u32>(ncap, cap + (cap >> 3)));
  const p = alloc(ncap);
  if (p == 0) return 0;
  const old = <usize>load<u32>(d);
  if (old != 0) {
    if (keep != 0) memory.copy(p, old, min<u32>(keep, cap));
    free(old, cap);
  }
  store<u32>(d, <u32>p);
  store<u32>(d, ncap, 4);
  return p;
}
