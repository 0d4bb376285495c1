/**
 * SHA-256 and SHA-256d (FIPS 180-4): a scalar path (streaming and one-shot) and a 4-lane v128 path
 * that hashes four independent messages of equal length at once (lane i of every vector belongs
 * to message i). Only static buffers are used, never the heap.
 * @module
 */
import { INPUT, INPUT_SIZE, OUTPUT } from "./io";
import { E_INPUT_TOO_LONG, E_MANY_TOO_LONG } from "./errors";

/** The 64 round constants K (FIPS 180-4 §4.2.2). */
export const K: usize = memory.data<u32>([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
], 16);

/** The initial hash value H(0) (FIPS 180-4 §5.3.3). */
export const IV: usize = memory.data<u32>([
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
], 16);

// Scalar scratch: the message schedule, and the states/tails of the streaming and one-shot hashes
// (separate, so a one-shot hash between two streaming updates does not disturb the stream).
const WS: usize = memory.data(64 * 4, 16);
const STREAM_STATE: usize = memory.data(32, 16);
const STREAM_BUF: usize = memory.data(128, 16);
const ONESHOT_STATE: usize = memory.data(32, 16);
const ONESHOT_BUF: usize = memory.data(128, 16);
let streamBuffered: usize = 0;
let streamTotal: u64 = 0;

// 4-lane scratch: state (8 vectors), message schedule (64 vectors), padded tails (4 lanes × 2 blocks).
const STATE4: usize = memory.data(8 * 16, 16);
const W4: usize = memory.data(64 * 16, 16);
const TAIL4: usize = memory.data(4 * 128, 16);
// Schedule of the padding block of a 64-byte message (constant; filled by the start function).
export const PAD64_W: usize = memory.data(64 * 16, 16);
const PAD64_WS: usize = memory.data(64 * 4, 16);

// ---------------------------------------------------------------------------------------------
// Scalar functions (FIPS 180-4 §4.1.2); i32.rotr is a native rotate.

// @ts-ignore: decorator
@inline export function bigSigma0(x: u32): u32 { return rotr<u32>(x, 2) ^ rotr<u32>(x, 13) ^ rotr<u32>(x, 22); }
// @ts-ignore: decorator
@inline export function bigSigma1(x: u32): u32 { return rotr<u32>(x, 6) ^ rotr<u32>(x, 11) ^ rotr<u32>(x, 25); }
// @ts-ignore: decorator
@inline export function smallSigma0(x: u32): u32 { return rotr<u32>(x, 7) ^ rotr<u32>(x, 18) ^ (x >>> 3); }
// @ts-ignore: decorator
@inline export function smallSigma1(x: u32): u32 { return rotr<u32>(x, 17) ^ rotr<u32>(x, 19) ^ (x >>> 10); }
// @ts-ignore: decorator
@inline export function ch(e: u32, f: u32, g: u32): u32 { return g ^ (e & (f ^ g)); }
// @ts-ignore: decorator
@inline export function maj(a: u32, b: u32, c: u32): u32 { return (a & b) | (c & (a | b)); }

// @ts-ignore: decorator
@inline function t1(e: u32, f: u32, g: u32, h: u32, k: u32, w: u32): u32 {
  return bigSigma1(e) + (ch(e, f, g) + (h + (k + w)));
}
/** The new a = T1 + Maj + Σ0(a), with Maj = b ^ ((a ^ b) & (b ^ c)) as in {@link nextA4}. */
// @ts-ignore: decorator
@inline function nextA(t1: u32, a: u32, b: u32, ab: u32, bc: u32): u32 {
  return (t1 + (b ^ (ab & bc))) + bigSigma0(a);
}

/** Fills the scalar schedule WS[16..63] from WS[0..15]. */
function expandScalar(w: usize): void {
  // W[t-1] and W[t-2] stay in registers (see expandRange4).
  let w2 = load<u32>(w, 56), w1 = load<u32>(w, 60);
  for (let p = w; p < w + 48 * 4; p += 4) {
    // p points at W[t-16]; W[t] is at p + 64.
    let v = smallSigma1(w2) + load<u32>(p, 36) + smallSigma0(load<u32>(p, 4)) + load<u32>(p);
    store<u32>(p, v, 64);
    w2 = w1;
    w1 = v;
  }
}

/** Runs the 64 rounds over schedule `w` and adds the result into `state` (8 u32). */
function roundsScalar(state: usize, w: usize): void {
  let a = load<u32>(state, 0), b = load<u32>(state, 4), c = load<u32>(state, 8), d = load<u32>(state, 12);
  let e = load<u32>(state, 16), f = load<u32>(state, 20), g = load<u32>(state, 24), h = load<u32>(state, 28);
  // Eight rounds per iteration, renaming the variables instead of moving them.
  let x: u32, q: u32, r = b ^ c; // r, q: a ^ b of alternate rounds (see nextA)
  for (let i: usize = 0; i < 256; i += 32) {
    let k = K + i, p = w + i;
    x = t1(e, f, g, h, load<u32>(k, 0), load<u32>(p, 0)); d += x; q = a ^ b; h = nextA(x, a, b, q, r);
    x = t1(d, e, f, g, load<u32>(k, 4), load<u32>(p, 4)); c += x; r = h ^ a; g = nextA(x, h, a, r, q);
    x = t1(c, d, e, f, load<u32>(k, 8), load<u32>(p, 8)); b += x; q = g ^ h; f = nextA(x, g, h, q, r);
    x = t1(b, c, d, e, load<u32>(k, 12), load<u32>(p, 12)); a += x; r = f ^ g; e = nextA(x, f, g, r, q);
    x = t1(a, b, c, d, load<u32>(k, 16), load<u32>(p, 16)); h += x; q = e ^ f; d = nextA(x, e, f, q, r);
    x = t1(h, a, b, c, load<u32>(k, 20), load<u32>(p, 20)); g += x; r = d ^ e; c = nextA(x, d, e, r, q);
    x = t1(g, h, a, b, load<u32>(k, 24), load<u32>(p, 24)); f += x; q = c ^ d; b = nextA(x, c, d, q, r);
    x = t1(f, g, h, a, load<u32>(k, 28), load<u32>(p, 28)); e += x; r = b ^ c; a = nextA(x, b, c, r, q);
  }
  store<u32>(state, load<u32>(state, 0) + a, 0);
  store<u32>(state, load<u32>(state, 4) + b, 4);
  store<u32>(state, load<u32>(state, 8) + c, 8);
  store<u32>(state, load<u32>(state, 12) + d, 12);
  store<u32>(state, load<u32>(state, 16) + e, 16);
  store<u32>(state, load<u32>(state, 20) + f, 20);
  store<u32>(state, load<u32>(state, 24) + g, 24);
  store<u32>(state, load<u32>(state, 28) + h, 28);
}

/** Compresses one 64-byte block at `block` into `state` (8 u32). */
export function compress(state: usize, block: usize): void {
  // Byte-swapping 16 bytes at a time: WebAssembly has no scalar bswap (AssemblyScript's is 5 ops).
  v128.store(WS, bswap4(v128.load(block, 0)), 0);
  v128.store(WS, bswap4(v128.load(block, 16)), 16);
  v128.store(WS, bswap4(v128.load(block, 32)), 32);
  v128.store(WS, bswap4(v128.load(block, 48)), 48);
  expandScalar(WS);
  roundsScalar(state, WS);
}

/** Copies the initial hash value into `state`. */
// @ts-ignore: decorator
@inline function initState(state: usize): void {
  memory.copy(state, IV, 32);
}

/** Writes `state` as a 32-byte big-endian digest to `dst`. */
function storeDigest(state: usize, dst: usize): void {
  for (let i: usize = 0; i < 32; i += 4) store<u32>(dst + i, bswap<u32>(load<u32>(state + i)));
}

/**
 * Pads the `buffered` (< 64) bytes at `buf` (room for 128 bytes) for a message of `total` bytes,
 * compresses the one or two final blocks into `state` and writes the digest to `dst`.
 */
function finish(state: usize, buf: usize, buffered: usize, total: u64, dst: usize): void {
  store<u8>(buf + buffered, 0x80);
  let end: usize = buffered < 56 ? 64 : 128;
  memory.fill(buf + buffered + 1, 0, end - 8 - buffered - 1);
  store<u64>(buf + end - 8, bswap<u64>(total << 3));
  compress(state, buf);
  if (end == 128) compress(state, buf + 64);
  storeDigest(state, dst);
}

/** SHA-256 of the `len` bytes at `src`, written to the 32 bytes at `dst` (may overlap `src`). */
export function sha256Bytes(src: usize, len: usize, dst: usize): void {
  initState(ONESHOT_STATE);
  let full = len & ~63;
  for (let i: usize = 0; i < full; i += 64) compress(ONESHOT_STATE, src + i);
  let rest = len - full;
  memory.copy(ONESHOT_BUF, src + full, rest);
  finish(ONESHOT_STATE, ONESHOT_BUF, rest, <u64>len, dst);
}

/** SHA-256d (sha256 of sha256) of the `len` bytes at `src`, written to the 32 bytes at `dst`. */
export function sha256dBytes(src: usize, len: usize, dst: usize): void {
  sha256Bytes(src, len, dst);
  sha256Bytes(dst, 32, dst);
}

/** One-shot SHA-256 of the first `len` bytes of the input buffer into the output buffer. */
export function sha256Input(len: usize): void {
  if (len > INPUT_SIZE) abort(E_INPUT_TOO_LONG);
  sha256Bytes(INPUT, len, OUTPUT);
}

/** One-shot SHA-256d of the first `len` bytes of the input buffer into the output buffer. */
export function sha256dInput(len: usize): void {
  if (len > INPUT_SIZE) abort(E_INPUT_TOO_LONG);
  sha256dBytes(INPUT, len, OUTPUT);
}

/** Starts a streaming hash (fed by {@link sha256Update}). */
export function sha256Init(): void {
  initState(STREAM_STATE);
  streamBuffered = 0;
  streamTotal = 0;
}

/** Feeds the first `len` bytes of the input buffer to the streaming hash. */
export function sha256Update(len: usize): void {
  if (len > INPUT_SIZE) abort(E_INPUT_TOO_LONG);
  streamTotal += <u64>len;
  let src = INPUT;
  let end = INPUT + len;
  if (streamBuffered > 0) {
    let take = min<usize>(64 - streamBuffered, len);
    memory.copy(STREAM_BUF + streamBuffered, src, take);
    streamBuffered += take;
    src += take;
    if (streamBuffered < 64) return;
    compress(STREAM_STATE, STREAM_BUF);
    streamBuffered = 0;
  }
  while (end - src >= 64) {
    compress(STREAM_STATE, src);
    src += 64;
  }
  streamBuffered = end - src;
  memory.copy(STREAM_BUF, src, streamBuffered);
}

/** Ends the streaming hash: its SHA-256 digest goes to the output buffer. */
export function sha256Final(): void {
  finish(STREAM_STATE, STREAM_BUF, streamBuffered, streamTotal, OUTPUT);
}

/** Ends the streaming hash: its SHA-256d digest goes to the output buffer. */
export function sha256dFinal(): void {
  sha256Final();
  sha256Bytes(OUTPUT, 32, OUTPUT);
}

// ---------------------------------------------------------------------------------------------
// 4-lane v128 functions. WebAssembly SIMD has no rotate: each rotate is two shifts and an OR.

// @ts-ignore: decorator
@inline export function rotr4(x: v128, n: i32): v128 {
  return v128.or(i32x4.shr_u(x, n), i32x4.shl(x, 32 - n));
}
// @ts-ignore: decorator
@inline export function bigSigma0x4(x: v128): v128 {
  return v128.xor(v128.xor(rotr4(x, 2), rotr4(x, 13)), rotr4(x, 22));
}
// @ts-ignore: decorator
@inline export function bigSigma1x4(x: v128): v128 {
  return v128.xor(v128.xor(rotr4(x, 6), rotr4(x, 11)), rotr4(x, 25));
}
// @ts-ignore: decorator
@inline export function smallSigma0x4(x: v128): v128 {
  return v128.xor(v128.xor(rotr4(x, 7), rotr4(x, 18)), i32x4.shr_u(x, 3));
}
// @ts-ignore: decorator
@inline export function smallSigma1x4(x: v128): v128 {
  return v128.xor(v128.xor(rotr4(x, 17), rotr4(x, 19)), i32x4.shr_u(x, 10));
}
// @ts-ignore: decorator
@inline export function chx4(e: v128, f: v128, g: v128): v128 {
  return v128.xor(g, v128.and(e, v128.xor(f, g)));
}
/** T1 = h + Σ1(e) + Ch(e, f, g) + K + W of a round, with `kw` = K + W. */
// @ts-ignore: decorator
@inline export function t1x4(e: v128, f: v128, g: v128, h: v128, kw: v128): v128 {
  return i32x4.add(bigSigma1x4(e), i32x4.add(chx4(e, f, g), i32x4.add(h, kw)));
}
/**
 * The new a of a round, T1 + T2 = T1 + Maj(a, b, c) + Σ0(a), given `t1` and `ab` = a ^ b, `bc` = b ^ c.
 * Maj = b ^ ((a ^ b) & (b ^ c)), and a round's b ^ c is the previous round's a ^ b: Maj costs two
 * operations plus the XOR the next round reuses. Summing Σ0(a) last keeps it off the adds that
 * wait for it. Measured on the nonce search: +12% for the Maj reuse over (a & b) | (c & (a | b)),
 * then +9% for this order together with the order in {@link t1x4} (each order alone: -10%, +1%).
 */
// @ts-ignore: decorator
@inline export function nextA4(t1: v128, a: v128, b: v128, ab: v128, bc: v128): v128 {
  return i32x4.add(i32x4.add(t1, v128.xor(b, v128.and(ab, bc))), bigSigma0x4(a));
}
/** K[t] + W[t] for the round whose K is at `k` and W vector at `w`. */
// @ts-ignore: decorator
@inline export function kw4(k: usize, w: usize): v128 {
  return i32x4.add(v128.load32_splat(k), v128.load(w));
}
/** Byte-swaps each 32-bit lane (SHA-256 words are big-endian). */
// @ts-ignore: decorator
@inline export function bswap4(x: v128): v128 {
  return i8x16.shuffle(x, x, 3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12);
}

/**
 * Loads 16 bytes at each of `src`, `src + stride`, `src + 2·stride`, `src + 3·stride`, byte-swaps the
 * words and transposes them, so that the vector stored at `dst + 16·j` holds word j of all four.
 */
// @ts-ignore: decorator
@inline function loadTransposed4(src: usize, stride: usize, dst: usize): void {
  let r0 = bswap4(v128.load(src));
  let r1 = bswap4(v128.load(src + stride));
  let r2 = bswap4(v128.load(src + 2 * stride));
  let r3 = bswap4(v128.load(src + 3 * stride));
  let t0 = i32x4.shuffle(r0, r1, 0, 4, 1, 5);
  let t1 = i32x4.shuffle(r0, r1, 2, 6, 3, 7);
  let t2 = i32x4.shuffle(r2, r3, 0, 4, 1, 5);
  let t3 = i32x4.shuffle(r2, r3, 2, 6, 3, 7);
  v128.store(dst, i64x2.shuffle(t0, t2, 0, 2), 0);
  v128.store(dst, i64x2.shuffle(t0, t2, 1, 3), 16);
  v128.store(dst, i64x2.shuffle(t1, t3, 0, 2), 32);
  v128.store(dst, i64x2.shuffle(t1, t3, 1, 3), 48);
}

/** Inverse of {@link loadTransposed4}: vectors at `src` (4 words × 4 lanes) to big-endian bytes. */
// @ts-ignore: decorator
@inline function storeTransposed4(src: usize, dst: usize, stride: usize): void {
  let r0 = v128.load(src, 0);
  let r1 = v128.load(src, 16);
  let r2 = v128.load(src, 32);
  let r3 = v128.load(src, 48);
  let t0 = i32x4.shuffle(r0, r1, 0, 4, 1, 5);
  let t1 = i32x4.shuffle(r0, r1, 2, 6, 3, 7);
  let t2 = i32x4.shuffle(r2, r3, 0, 4, 1, 5);
  let t3 = i32x4.shuffle(r2, r3, 2, 6, 3, 7);
  v128.store(dst, bswap4(i64x2.shuffle(t0, t2, 0, 2)));
  v128.store(dst + stride, bswap4(i64x2.shuffle(t0, t2, 1, 3)));
  v128.store(dst + 2 * stride, bswap4(i64x2.shuffle(t1, t3, 0, 2)));
  v128.store(dst + 3 * stride, bswap4(i64x2.shuffle(t1, t3, 1, 3)));
}

/** Loads one 64-byte block of each lane (lane i at `src + i·stride`) into W4[0..15]. */
function loadBlock4(src: usize, stride: usize): void {
  loadBlockTo4(src, stride, W4);
}

/** Loads one 64-byte block of each lane (lane i at `src + i·stride`) into w[0..15]. */
function loadBlockTo4(src: usize, stride: usize, w: usize): void {
  loadTransposed4(src, stride, w);
  loadTransposed4(src + 16, stride, w + 64);
  loadTransposed4(src + 32, stride, w + 128);
  loadTransposed4(src + 48, stride, w + 192);
}

/** Fills the vector schedule w[16..63] from w[0..15]. */
export function expand4(w: usize): void {
  expandRange4(w, 16, 64);
}

/** Fills the vector schedule w[from..to) (from ≥ 16) from the words before it. */
export function expandRange4(w: usize, from: usize, to: usize): void {
  // W[t-1] and W[t-2] stay in registers: through memory, each word would wait for the store of
  // the word two before it.
  let p = w + ((from - 16) << 4);
  let end = w + ((to - 16) << 4);
  let w2 = v128.load(p, 224), w1 = v128.load(p, 240);
  for (; p < end; p += 16) {
    // p points at W[t-16]; W[t] is at p + 256.
    let v = i32x4.add(
      i32x4.add(smallSigma1x4(w2), v128.load(p, 144)),
      i32x4.add(smallSigma0x4(v128.load(p, 16)), v128.load(p)),
    );
    v128.store(p, v, 256);
    w2 = w1;
    w1 = v;
  }
}

/** Runs the 64 rounds over the vector schedule `w` and adds the result into `state` (8 vectors). */
export function rounds4(state: usize, w: usize): void {
  let a = v128.load(state, 0), b = v128.load(state, 16), c = v128.load(state, 32), d = v128.load(state, 48);
  let e = v128.load(state, 64), f = v128.load(state, 80), g = v128.load(state, 96), h = v128.load(state, 112);
  let x: v128, q: v128, p = v128.xor(b, c); // p, q: a ^ b of alternate rounds (see nextA4)
  for (let i: usize = 0; i < 64; i += 8) {
    let k = K + (i << 2), r = w + (i << 4);
    x = t1x4(e, f, g, h, kw4(k, r)); d = i32x4.add(d, x); q = v128.xor(a, b); h = nextA4(x, a, b, q, p);
    x = t1x4(d, e, f, g, kw4(k + 4, r + 16)); c = i32x4.add(c, x); p = v128.xor(h, a); g = nextA4(x, h, a, p, q);
    x = t1x4(c, d, e, f, kw4(k + 8, r + 32)); b = i32x4.add(b, x); q = v128.xor(g, h); f = nextA4(x, g, h, q, p);
    x = t1x4(b, c, d, e, kw4(k + 12, r + 48)); a = i32x4.add(a, x); p = v128.xor(f, g); e = nextA4(x, f, g, p, q);
    x = t1x4(a, b, c, d, kw4(k + 16, r + 64)); h = i32x4.add(h, x); q = v128.xor(e, f); d = nextA4(x, e, f, q, p);
    x = t1x4(h, a, b, c, kw4(k + 20, r + 80)); g = i32x4.add(g, x); p = v128.xor(d, e); c = nextA4(x, d, e, p, q);
    x = t1x4(g, h, a, b, kw4(k + 24, r + 96)); f = i32x4.add(f, x); q = v128.xor(c, d); b = nextA4(x, c, d, q, p);
    x = t1x4(f, g, h, a, kw4(k + 28, r + 112)); e = i32x4.add(e, x); p = v128.xor(b, c); a = nextA4(x, b, c, p, q);
  }
  v128.store(state, i32x4.add(v128.load(state, 0), a), 0);
  v128.store(state, i32x4.add(v128.load(state, 16), b), 16);
  v128.store(state, i32x4.add(v128.load(state, 32), c), 32);
  v128.store(state, i32x4.add(v128.load(state, 48), d), 48);
  v128.store(state, i32x4.add(v128.load(state, 64), e), 64);
  v128.store(state, i32x4.add(v128.load(state, 80), f), 80);
  v128.store(state, i32x4.add(v128.load(state, 96), g), 96);
  v128.store(state, i32x4.add(v128.load(state, 112), h), 112);
}

/** Sets the 4-lane state to the initial hash value in every lane. */
function initState4(state: usize): void {
  for (let i: usize = 0; i < 8; i++) v128.store(state + (i << 4), v128.load32_splat(IV + (i << 2)));
}

/**
 * SHA-256 of four messages of `len` bytes each, lane i at `src + i·stride`; digest i is written to
 * `dst + 32·i`. The messages may overlap `dst` (all input is read before any digest is written).
 */
export function sha256Lanes4(src: usize, stride: usize, len: usize, dst: usize): void {
  initState4(STATE4);
  let full = len & ~63;
  for (let off: usize = 0; off < full; off += 64) {
    loadBlock4(src + off, stride);
    expand4(W4);
    rounds4(STATE4, W4);
  }
  // The tails (len % 64 bytes) are padded in scratch, 128 bytes per lane.
  let rest = len - full;
  let end: usize = rest < 56 ? 64 : 128;
  for (let i: usize = 0; i < 4; i++) {
    let tail = TAIL4 + (i << 7);
    memory.copy(tail, src + i * stride + full, rest);
    store<u8>(tail + rest, 0x80);
    memory.fill(tail + rest + 1, 0, end - 8 - rest - 1);
    store<u64>(tail + end - 8, bswap<u64>(<u64>len << 3));
  }
  for (let off: usize = 0; off < end; off += 64) {
    loadBlock4(TAIL4 + off, 128);
    expand4(W4);
    rounds4(STATE4, W4);
  }
  storeDigest4(STATE4, dst);
}

/** Writes the 4-lane state as four 32-byte digests at `dst`, `dst + 32`, `dst + 64`, `dst + 96`. */
export function storeDigest4(state: usize, dst: usize): void {
  storeTransposed4(state, dst, 32);
  storeTransposed4(state + 64, dst + 16, 32);
}

/** SHA-256 of four independent 64-byte messages contiguous at `src` → four digests at `dst`. */
export function sha256Pairs4(src: usize, dst: usize): void {
  pairs4FirstHash(src);
  storeDigest4(STATE4, dst);
}

/**
 * Bytes of the scratch that {@link sha256Pairs4In} and {@link sha256Block4In} take: a 4-lane state
 * (8 vectors) then a schedule (64 vectors). The threads of the threaded build share the static
 * STATE4 and W4 (one memory), so each thread hashes in its own scratch.
 */
export const SHA4_SCRATCH: u32 = 128 + 1024;

/** {@link sha256Pairs4} in the caller's scratch of SHA4_SCRATCH bytes (16-byte aligned). */
export function sha256Pairs4In(src: usize, dst: usize, scr: usize): void {
  const w = scr + 128;
  initState4(scr);
  loadBlockTo4(src, 64, w);
  expand4(w);
  rounds4(scr, w);
  rounds4(scr, PAD64_W);
  storeDigest4(scr, dst);
}

/** {@link sha256Block4} in the caller's scratch of SHA4_SCRATCH bytes (16-byte aligned). */
export function sha256Block4In(src: usize, dst: usize, scr: usize): void {
  const w = scr + 128;
  initState4(scr);
  loadBlockTo4(src, 64, w);
  expand4(w);
  rounds4(scr, w);
  storeDigest4(scr, dst);
}

/**
 * SHA-256 of four messages that each fit one block, already padded (FIPS 180-4 §5.1.1) into four
 * contiguous 64-byte blocks at `src` → four digests at `dst` (the state tree's leaves and paths).
 */
export function sha256Block4(src: usize, dst: usize): void {
  initState4(STATE4);
  loadBlock4(src, 64);
  expand4(W4);
  rounds4(STATE4, W4);
  storeDigest4(STATE4, dst);
}

/** SHA-256d of four independent 64-byte messages contiguous at `src` → four digests at `dst`. */
export function sha256dPairs4(src: usize, dst: usize): void {
  pairs4FirstHash(src);
  // The first digests are, word for word, the first 8 schedule words of the second hash: they
  // stay in vector form; words 8..15 are the constant padding of a 32-byte message.
  for (let i: usize = 0; i < 128; i += 16) v128.store(W4 + i, v128.load(STATE4 + i));
  v128.store(W4, i32x4.splat(0x80000000), 128);
  let zero = i32x4.splat(0);
  for (let i: usize = 144; i < 240; i += 16) v128.store(W4 + i, zero);
  v128.store(W4, i32x4.splat(256), 240);
  expand4(W4);
  initState4(STATE4);
  rounds4(STATE4, W4);
  storeDigest4(STATE4, dst);
}

/** The first hash of 4 × 64-byte messages into STATE4: the data block, then the constant padding. */
function pairs4FirstHash(src: usize): void {
  initState4(STATE4);
  loadBlock4(src, 64);
  expand4(W4);
  rounds4(STATE4, W4);
  rounds4(STATE4, PAD64_W);
}

/**
 * SHA-256 of `count` messages of `len` bytes each, contiguous in the input buffer; digest i is
 * written right after them, at input + count·len + 32·i. Four at a time go through the lanes.
 */
export function sha256ManyInput(len: usize, count: usize): void {
  if (len > INPUT_SIZE || count > INPUT_SIZE / (len + 32)) abort(E_MANY_TOO_LONG);
  let dst = INPUT + count * len;
  let i: usize = 0;
  for (; i + 4 <= count; i += 4) sha256Lanes4(INPUT + i * len, len, len, dst + (i << 5));
  for (; i < count; i++) sha256Bytes(INPUT + i * len, len, dst + (i << 5));
}

// The schedule of the padding block of a 64-byte message is the same for every message.
function initPad64Schedule(): void {
  store<u32>(PAD64_WS, 0x80000000);
  memory.fill(PAD64_WS + 4, 0, 56);
  store<u32>(PAD64_WS + 60, 512);
  expandScalar(PAD64_WS);
  for (let i: usize = 0; i < 64; i++) v128.store(PAD64_W + (i << 4), v128.load32_splat(PAD64_WS + (i << 2)));
}
initPad64Schedule();
