/**
 * Heap allocator for the store: segregated free lists over the memory above `__heap_base`.
 *
 * The stub runtime's `heap.alloc` cannot free, and the hashing code uses only static buffers
 * (`memory.data`), so the store owns everything above `__heap_base`. Sizes are rounded to a
 * power of two with two mantissa bits (at most 25% waste: a 64 KiB value needs 80 KiB, not
 * 128 KiB); each rounded size has its own LIFO free list, and fresh blocks come from a bump
 * pointer that grows the memory on demand. Nothing here uses managed objects: never call `new`
 * in the store code, or the stub runtime would hand out the same addresses.
 *
 * In the threaded build every instance allocates from the one shared heap: the free-list heads and
 * the bump pointer live in memory (not in per-instance globals) behind a spin lock, so a worker
 * instance may allocate too (commit.ts: a thread that walks a subtree of the state tree allocates
 * its nodes). The lock is held for a few loads and stores (and a rare `memory.grow`).
 * @module
 */

/** Number of size classes: (exponent 0..31) × (4 mantissa steps). */
const CLASS_COUNT: u32 = 128;
/** Free-list heads, one u32 pointer per size class (0 = empty). */
const FREE_HEADS: usize = memory.data(<i32>(CLASS_COUNT * 4));
/** Largest single allocation: 1 GiB (a 2^26-slot hash table is 512 MiB). */
export const ALLOC_MAX: u32 = 1 << 30;

/** The bump pointer (u32, 0 before the first allocation) and the lock word, shared by all instances. */
const HEAP_TOP: usize = memory.data(8, 8);
const LOCK: usize = HEAP_TOP + 4;

/** Takes the allocator's lock (threaded build; a no-op in the single-threaded one). */
// @ts-ignore: decorator
@inline function lock(): void {
  if (!ASC_FEATURE_THREADS) return;
  // Unbounded by design: the holder runs a handful of instructions (or one memory.grow).
  while (atomic.cmpxchg<i32>(LOCK, 0, 1) != 0) {}
}

// @ts-ignore: decorator
@inline function unlock(): void {
  if (ASC_FEATURE_THREADS) atomic.store<i32>(LOCK, 0);
}

/** Rounds `size` up to its size class (multiples of 16 up to 32, then 4 steps per power of two). */
// @ts-ignore: decorator
@inline export function allocRound(size: u32): u32 {
  if (size <= 32) return size <= 16 ? 16 : 32;
  const e: u32 = 31 - clz<u32>(size - 1);
  const step: u32 = 1 << (e - 2);
  return (size + step - 1) & ~(step - 1);
}

// @ts-ignore: decorator
@inline function classOf(rounded: u32): u32 {
  if (rounded <= 32) return (rounded >> 4) - 1;
  const e: u32 = 31 - clz<u32>(rounded - 1);
  const k: u32 = (rounded - (1 << e)) >> (e - 2); // 1..4
  return (e << 2) + k - 1;
}

/** Makes sure memory reaches `end`; returns false when the engine refuses to grow. */
function ensureMemory(end: usize): bool {
  const have = (<usize>memory.size()) << 16;
  if (end <= have) return true;
  const need = <i32>((end - have + 0xffff) >> 16);
  // Grow by at least 1/8 of the current size (min 1 MiB) so a filling store grows rarely;
  // fall back to the exact need near the 4 GiB limit.
  let extra = max<i32>(need, max<i32>(16, memory.size() >> 3));
  if (memory.grow(extra) >= 0) return true;
  return memory.grow(need) >= 0;
}

/** Allocates `size` bytes (8-byte aligned, contents undefined); returns 0 when out of memory. */
export function alloc(size: u32): usize {
  if (size == 0 || size > ALLOC_MAX) return 0;
  lock();
  const p = allocLocked(allocRound(size));
  unlock();
  return p;
}

function allocLocked(rounded: u32): usize {
  const head = FREE_HEADS + (<usize>classOf(rounded) << 2);
  const first = <usize>load<u32>(head);
  if (first != 0) {
    store<u32>(head, load<u32>(first));
    return first;
  }
  // 64-byte alignment: the ledger's 64-byte account entries then sit in one cache line each.
  let top = <usize>load<u32>(HEAP_TOP);
  if (top == 0) top = (__heap_base + 63) & ~63;
  const end = top + <usize>rounded;
  if (end < top) return 0; // wrapped past 4 GiB
  if (!ensureMemory(end)) return 0;
  store<u32>(HEAP_TOP, <u32>end);
  return top;
}

/** Returns a block of `size` bytes (the size it was allocated with) to its free list. */
export function free(ptr: usize, size: u32): void {
  if (ptr == 0) return;
  const head = FREE_HEADS + (<usize>classOf(allocRound(size)) << 2);
  lock();
  store<u32>(ptr, load<u32>(head));
  store<u32>(head, <u32>ptr);
  unlock();
}

/** Bytes between `__heap_base` and the bump pointer (live + free blocks). */
export function heapUsed(): usize {
  const top = <usize>load<u32>(HEAP_TOP);
  return top == 0 ? 0 : top - ((__heap_base + 63) & ~63);
}
