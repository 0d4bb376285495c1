/**
 * Small fixed-size copies as inline v128 moves. V8 compiles `memory.copy` to a call into a
 * runtime routine, which dominates when copying 32–64 bytes tens of thousands of times per block
 * (DESIGN.md: keep memory.copy out of hot loops).
 * @module
 */

/** Copies 32 bytes. */
// @ts-ignore: decorator
@inline export function copy32(dst: usize, src: usize): void {
  const a = v128.load(src);
  const b = v128.load(src, 16);
  v128.store(dst, a);
  v128.store(dst, b, 16);
}

/** Copies 48 bytes. */
// @ts-ignore: decorator
@inline export function copy48(dst: usize, src: usize): void {
  const a = v128.load(src);
  const b = v128.load(src, 16);
  const c = v128.load(src, 32);
  v128.store(dst, a);
  v128.store(dst, b, 16);
  v128.store(dst, c, 32);
}

/** Copies 64 bytes. */
// @ts-ignore: decorator
@inline export function copy64(dst: usize, src: usize): void {
  const a = v128.load(src);
  const b = v128.load(src, 16);
  const c = v128.load(src, 32);
  const d = v128.load(src, 48);
  v128.store(dst, a);
  v128.store(dst, b, 16);
  v128.store(dst, c, 32);
  v128.store(dst, d, 48);
}

/** Copies `n` bytes (small, variable): 16 bytes at a time, then 8, then the tail. */
// @ts-ignore: decorator
@inline export function copySmall(dst: usize, src: usize, n: usize): void {
  let i: usize = 0;
  for (; i + 16 <= n; i += 16) v128.store(dst + i, v128.load(src + i));
  if (i + 8 <= n) {
    store<u64>(dst + i, load<u64>(src + i));
    i += 8;
  }
  for (; i < n; i++) store<u8>(dst + i, load<u8>(src + i));
}
