/**
 * Proof-of-work nonce search over an 80-byte Bitcoin header: the first nonce in [start, start+count)
 * whose sha256d(header), read as a 256-bit little-endian integer, is ≤ the target (32 bytes, little-
 * endian). Four nonces run at once in the v128 lanes.
 *
 * Work that does not depend on the nonce is done once per search ({@link powInit}): the midstate
 * (the first 64 header bytes compressed once), rounds 0..2 of the second block and the
 * nonce-independent part of round 3, the nonce-independent schedule words, and the schedules made
 * of the constant padding of both hashes. The second hash stops after round 60, where its last
 * state word H7 (hash bytes 28..31, the most significant 32 bits) is known; only candidates whose
 * top 32 bits are ≤ the target's get the full 256-bit comparison, in scalar code.
 *
 * Speed (scripts/measure-pow.mjs, one thread, Node 20, CPU-time median): 5.2–5.6 MH/s. The code is
 * kept compact: straight-line only where constants fold (rounds 4..7, schedule words 18..32), an
 * 8-round loop elsewhere (about 4 KB of x86 per hash). Tried without gain: Σ as nested shifts
 * (−5%), other orders of the T1/T2 sums (−10%), inlining the schedule loop, storing each schedule
 * word as soon as it is computed (both within noise).
 * @module
 */
import { INPUT } from "./io";
import {
  IV, K, bigSigma0, bigSigma1, bswap4, ch, compress, expandRange4, kw4, maj, sha256dBytes, smallSigma0,
  smallSigma1, smallSigma0x4, smallSigma1x4, t1x4, nextA4,
} from "./sha256";

const HEADER: usize = memory.data(80, 16);
const TARGET: usize = memory.data(32, 16);
const MID: usize = memory.data(32, 16);
// Per-search scalar constants, splatted where used (v128.load32_splat is one instruction).
const PC: usize = memory.data(32 * 4, 16);
// Vector schedules of the second block of hash 1 (W[3] = nonce) and of hash 2 (W[0..7] = hash 1).
const W1: usize = memory.data(64 * 16, 16);
const W2: usize = memory.data(64 * 16, 16);
// Scalar check of a candidate: the header with its nonce, the hash, the lane mask.
const CHECK_HEADER: usize = memory.data(80, 16);
const CHECK_HASH: usize = memory.data(32, 16);
const CHECK_MASK: usize = memory.data(16, 16);
let foundNonce: u32 = 0;

// Offsets into PC. S4_*: state entering round 4 of hash 1, without the nonce word (added to a, e).
// @ts-ignore: decorator
@inline const S4_A = 0;
// @ts-ignore: decorator
@inline const S4_E = 16;
// @ts-ignore: decorator
@inline const P18 = 32; // W18 = P18 + σ0(W3)
// @ts-ignore: decorator
@inline const P19 = 36; // W19 = P19 + W3
// @ts-ignore: decorator
@inline const P20 = 40; // W20 = P20 + σ1(W18); W21 = σ1(W19)
// @ts-ignore: decorator
@inline const P22 = 44; // W22 = P22 + σ1(W20)
// @ts-ignore: decorator
@inline const P23 = 48; // W23 = P23 + σ1(W21)
// @ts-ignore: decorator
@inline const P24 = 52; // W24 = P24 + σ1(W22)
// @ts-ignore: decorator
@inline const P30 = 56; // W30 = σ1(W28) + W23 + P30
// @ts-ignore: decorator
@inline const P31 = 60; // W31 = σ1(W29) + W24 + P31
// @ts-ignore: decorator
@inline const P32 = 64; // W32 = σ1(W30) + W25 + P32
// @ts-ignore: decorator
@inline const R0_A = 68; // hash 2 after round 0: a = R0_A + W0, e = R0_E + W0
// @ts-ignore: decorator
@inline const R0_E = 72;
// @ts-ignore: decorator
@inline const TOP = 76; // target bits 224..255 (bytes 28..31, little-endian)

// @ts-ignore: decorator
@inline function pc(offset: usize): v128 {
  return v128.load32_splat(PC + offset);
}

/**
 * Prepares a search: the 80-byte header (its nonce field is ignored) and the 32-byte little-endian
 * target are read from the input buffer at 0 and 80.
 */
export function powInit(): void {
  memory.copy(HEADER, INPUT, 80);
  memory.copy(TARGET, INPUT + 80, 32);
  store<u32>(PC + TOP, load<u32>(TARGET, 28));
  memory.copy(MID, IV, 32);
  compress(MID, HEADER);
  initHash1();
  initHash2();
}

/** Hash 1, second block: W = [merkle tail, time, bits, nonce, 0x80000000, 0 × 10, 640]. */
function initHash1(): void {
  let w0 = bswap<u32>(load<u32>(HEADER, 64));
  let w1 = bswap<u32>(load<u32>(HEADER, 68));
  let w2 = bswap<u32>(load<u32>(HEADER, 72));
  // Rounds 0..2 and the nonce-independent part of round 3.
  let a = load<u32>(MID, 0), b = load<u32>(MID, 4), c = load<u32>(MID, 8), d = load<u32>(MID, 12);
  let e = load<u32>(MID, 16), f = load<u32>(MID, 20), g = load<u32>(MID, 24), h = load<u32>(MID, 28);
  for (let t = 0; t < 3; t++) {
    let w = t == 0 ? w0 : t == 1 ? w1 : w2;
    let x = h + bigSigma1(e) + ch(e, f, g) + load<u32>(K + (t << 2)) + w;
    let y = bigSigma0(a) + maj(a, b, c);
    h = g; g = f; f = e; e = d + x; d = c; c = b; b = a; a = x + y;
  }
  let x = h + bigSigma1(e) + ch(e, f, g) + load<u32>(K, 12);
  let y = bigSigma0(a) + maj(a, b, c);
  store<u32>(PC + S4_A, x + y, 0); store<u32>(PC + S4_A, a, 4); store<u32>(PC + S4_A, b, 8); store<u32>(PC + S4_A, c, 12);
  store<u32>(PC + S4_E, d + x, 0); store<u32>(PC + S4_E, e, 4); store<u32>(PC + S4_E, f, 8); store<u32>(PC + S4_E, g, 12);
  // Schedule: W[4..17] are constant; the nonce enters W18 onwards.
  let w16 = smallSigma0(w1) + w0;
  let w17 = smallSigma1(640) + smallSigma0(w2) + w1;
  for (let t: usize = 0; t < 16; t++) v128.store(W1 + (t << 4), i32x4.splat(0));
  v128.store(W1 + (4 << 4), i32x4.splat(0x80000000));
  v128.store(W1 + (15 << 4), i32x4.splat(640));
  v128.store(W1 + (16 << 4), i32x4.splat(w16));
  v128.store(W1 + (17 << 4), i32x4.splat(w17));
  store<u32>(PC + P18, smallSigma1(w16) + w2);
  store<u32>(PC + P19, smallSigma1(w17) + smallSigma0(0x80000000));
  store<u32>(PC + P20, 0x80000000);
  store<u32>(PC + P22, 640);
  store<u32>(PC + P23, w16);
  store<u32>(PC + P24, w17);
  store<u32>(PC + P30, smallSigma0(640));
  store<u32>(PC + P31, smallSigma0(w16) + 640);
  store<u32>(PC + P32, smallSigma0(w17) + w16);
}

/** Hash 2: W = [hash 1 (8 words), 0x80000000, 0 × 6, 256]; round 0 starts from the IV. */
function initHash2(): void {
  let a = load<u32>(IV, 0), b = load<u32>(IV, 4), c = load<u32>(IV, 8), d = load<u32>(IV, 12);
  let e = load<u32>(IV, 16), f = load<u32>(IV, 20), g = load<u32>(IV, 24), h = load<u32>(IV, 28);
  let x = h + bigSigma1(e) + ch(e, f, g) + load<u32>(K);
  store<u32>(PC + R0_A, x + bigSigma0(a) + maj(a, b, c));
  store<u32>(PC + R0_E, d + x);
  v128.store(W2 + (8 << 4), i32x4.splat(0x80000000));
  for (let t: usize = 9; t < 15; t++) v128.store(W2 + (t << 4), i32x4.splat(0));
  v128.store(W2 + (15 << 4), i32x4.splat(256));
}

/**
 * Searches nonces [start, start + count) (the caller keeps start + count ≤ 2^32) and returns
 * whether one meets the target; if so, {@link powFoundNonce} is the first. Lanes past the end of
 * the range are hashed but never reported. Search in chunks (say 64k nonces per call): V8 swaps in
 * optimized code only between calls.
 */
export function powSearch(start: u32, count: u32): bool {
  let groups = (count >> 2) + <u32>((count & 3) != 0);
  let nonces = i32x4.add(i32x4.splat(start), i32x4(0, 1, 2, 3));
  let top = pc(TOP);
  for (let g: u32 = 0; g < groups; g++) {
    hash1(bswap4(nonces));
    let h7 = hash2();
    // Top 32 bits of the hash as a little-endian number: H7 byte-swapped.
    let pass = i32x4.le_u(bswap4(h7), top);
    if (v128.any_true(pass)) {
      v128.store(CHECK_MASK, pass);
      if (checkLanes(start + (g << 2), count - (g << 2))) return true;
    }
    nonces = i32x4.add(nonces, i32x4.splat(4));
  }
  return false;
}

/** The nonce found by the last successful {@link powSearch}. */
export function powFoundNonce(): u32 {
  return foundNonce;
}

/** Full check, in nonce order, of the lanes flagged in CHECK_MASK that lie inside the range. */
function checkLanes(first: u32, remaining: u32): bool {
  let lanes = min<u32>(remaining, 4);
  for (let lane: u32 = 0; lane < lanes; lane++) {
    if (load<u32>(CHECK_MASK + (lane << 2)) == 0) continue;
    let nonce = first + lane;
    if (meetsTarget(nonce)) {
      foundNonce = nonce;
      return true;
    }
  }
  return false;
}

/** Whether sha256d(header with `nonce`) ≤ target, both read as 256-bit little-endian integers. */
function meetsTarget(nonce: u32): bool {
  memory.copy(CHECK_HEADER, HEADER, 76);
  store<u32>(CHECK_HEADER, nonce, 76);
  sha256dBytes(CHECK_HEADER, 80, CHECK_HASH);
  for (let i = 31; i >= 0; i--) {
    let h = load<u8>(CHECK_HASH + i), t = load<u8>(TARGET + i);
    if (h != t) return h < t;
  }
  return true;
}

/** Hash 1 (second block, from the midstate) of four nonces; the result goes to W2[0..7]. */
function hash1(w3: v128): void {
  // Schedule words that depend on the nonce; the constant parts were folded by initHash1.
  let w18 = i32x4.add(pc(P18), smallSigma0x4(w3));
  let w19 = i32x4.add(pc(P19), w3);
  let w20 = i32x4.add(pc(P20), smallSigma1x4(w18));
  let w21 = smallSigma1x4(w19);
  let w22 = i32x4.add(pc(P22), smallSigma1x4(w20));
  let w23 = i32x4.add(pc(P23), smallSigma1x4(w21));
  let w24 = i32x4.add(pc(P24), smallSigma1x4(w22));
  let w25 = i32x4.add(smallSigma1x4(w23), w18);
  let w26 = i32x4.add(smallSigma1x4(w24), w19);
  let w27 = i32x4.add(smallSigma1x4(w25), w20);
  let w28 = i32x4.add(smallSigma1x4(w26), w21);
  let w29 = i32x4.add(smallSigma1x4(w27), w22);
  let w30 = i32x4.add(i32x4.add(smallSigma1x4(w28), w23), pc(P30));
  let w31 = i32x4.add(i32x4.add(smallSigma1x4(w29), w24), pc(P31));
  let w32 = i32x4.add(i32x4.add(smallSigma1x4(w30), w25), pc(P32));
  v128.store(W1, w18, 18 << 4); v128.store(W1, w19, 19 << 4); v128.store(W1, w20, 20 << 4);
  v128.store(W1, w21, 21 << 4); v128.store(W1, w22, 22 << 4); v128.store(W1, w23, 23 << 4);
  v128.store(W1, w24, 24 << 4); v128.store(W1, w25, 25 << 4); v128.store(W1, w26, 26 << 4);
  v128.store(W1, w27, 27 << 4); v128.store(W1, w28, 28 << 4); v128.store(W1, w29, 29 << 4);
  v128.store(W1, w30, 30 << 4); v128.store(W1, w31, 31 << 4); v128.store(W1, w32, 32 << 4);
  expandRange4(W1, 33, 64);

  // Rounds 4..7 with the variables named as at position 4 of the 8-round renaming cycle, so that
  // the loop below starts aligned: role (a, b, c, d, e, f, g, h) = variables (e, f, g, h, a, b, c, d).
  let e = i32x4.add(pc(S4_A), w3), f = pc(S4_A + 4), g = pc(S4_A + 8), h = pc(S4_A + 12);
  let a = i32x4.add(pc(S4_E), w3), b = pc(S4_E + 4), c = pc(S4_E + 8), d = pc(S4_E + 12);
  let x: v128, q: v128, p = v128.xor(f, g); // p, q: a ^ b of alternate rounds (see nextA4)
  x = t1x4(a, b, c, d, kw4(K + 16, W1 + 64)); h = i32x4.add(h, x); q = v128.xor(e, f); d = nextA4(x, e, f, q, p);
  x = t1x4(h, a, b, c, kw4(K + 20, W1 + 80)); g = i32x4.add(g, x); p = v128.xor(d, e); c = nextA4(x, d, e, p, q);
  x = t1x4(g, h, a, b, kw4(K + 24, W1 + 96)); f = i32x4.add(f, x); q = v128.xor(c, d); b = nextA4(x, c, d, q, p);
  x = t1x4(f, g, h, a, kw4(K + 28, W1 + 112)); e = i32x4.add(e, x); p = v128.xor(b, c); a = nextA4(x, b, c, p, q);
  for (let i: usize = 8; i < 64; i += 8) {
    let k = K + (i << 2), w = W1 + (i << 4);
    x = t1x4(e, f, g, h, kw4(k, w)); d = i32x4.add(d, x); q = v128.xor(a, b); h = nextA4(x, a, b, q, p);
    x = t1x4(d, e, f, g, kw4(k + 4, w + 16)); c = i32x4.add(c, x); p = v128.xor(h, a); g = nextA4(x, h, a, p, q);
    x = t1x4(c, d, e, f, kw4(k + 8, w + 32)); b = i32x4.add(b, x); q = v128.xor(g, h); f = nextA4(x, g, h, q, p);
    x = t1x4(b, c, d, e, kw4(k + 12, w + 48)); a = i32x4.add(a, x); p = v128.xor(f, g); e = nextA4(x, f, g, p, q);
    x = t1x4(a, b, c, d, kw4(k + 16, w + 64)); h = i32x4.add(h, x); q = v128.xor(e, f); d = nextA4(x, e, f, q, p);
    x = t1x4(h, a, b, c, kw4(k + 20, w + 80)); g = i32x4.add(g, x); p = v128.xor(d, e); c = nextA4(x, d, e, p, q);
    x = t1x4(g, h, a, b, kw4(k + 24, w + 96)); f = i32x4.add(f, x); q = v128.xor(c, d); b = nextA4(x, c, d, q, p);
    x = t1x4(f, g, h, a, kw4(k + 28, w + 112)); e = i32x4.add(e, x); p = v128.xor(b, c); a = nextA4(x, b, c, p, q);
  }
  v128.store(W2, i32x4.add(v128.load32_splat(MID, 0), a), 0);
  v128.store(W2, i32x4.add(v128.load32_splat(MID, 4), b), 16);
  v128.store(W2, i32x4.add(v128.load32_splat(MID, 8), c), 32);
  v128.store(W2, i32x4.add(v128.load32_splat(MID, 12), d), 48);
  v128.store(W2, i32x4.add(v128.load32_splat(MID, 16), e), 64);
  v128.store(W2, i32x4.add(v128.load32_splat(MID, 20), f), 80);
  v128.store(W2, i32x4.add(v128.load32_splat(MID, 24), g), 96);
  v128.store(W2, i32x4.add(v128.load32_splat(MID, 28), h), 112);
}

/** Hash 2 of the four results of {@link hash1}, up to round 60; returns its H7 word. */
function hash2(): v128 {
  let w0 = v128.load(W2, 0), w1 = v128.load(W2, 16), w2 = v128.load(W2, 32), w3 = v128.load(W2, 48);
  let w4 = v128.load(W2, 64), w5 = v128.load(W2, 80), w6 = v128.load(W2, 96), w7 = v128.load(W2, 112);
  // W8 = 0x80000000, W9..W14 = 0, W15 = 256: their terms fold into constants.
  let w16 = i32x4.add(smallSigma0x4(w1), w0);
  let w17 = i32x4.add(i32x4.add(i32x4.splat(smallSigma1(256)), smallSigma0x4(w2)), w1);
  let w18 = i32x4.add(i32x4.add(smallSigma1x4(w16), smallSigma0x4(w3)), w2);
  let w19 = i32x4.add(i32x4.add(smallSigma1x4(w17), smallSigma0x4(w4)), w3);
  let w20 = i32x4.add(i32x4.add(smallSigma1x4(w18), smallSigma0x4(w5)), w4);
  let w21 = i32x4.add(i32x4.add(smallSigma1x4(w19), smallSigma0x4(w6)), w5);
  let w22 = i32x4.add(i32x4.add(smallSigma1x4(w20), i32x4.add(smallSigma0x4(w7), i32x4.splat(256))), w6);
  let w23 = i32x4.add(i32x4.add(smallSigma1x4(w21), w16), i32x4.add(w7, i32x4.splat(smallSigma0(0x80000000))));
  let w24 = i32x4.add(i32x4.add(smallSigma1x4(w22), w17), i32x4.splat(0x80000000));
  let w25 = i32x4.add(smallSigma1x4(w23), w18);
  let w26 = i32x4.add(smallSigma1x4(w24), w19);
  let w27 = i32x4.add(smallSigma1x4(w25), w20);
  let w28 = i32x4.add(smallSigma1x4(w26), w21);
  let w29 = i32x4.add(smallSigma1x4(w27), w22);
  let w30 = i32x4.add(i32x4.add(smallSigma1x4(w28), w23), i32x4.splat(smallSigma0(256)));
  let w31 = i32x4.add(i32x4.add(smallSigma1x4(w29), w24), i32x4.add(smallSigma0x4(w16), i32x4.splat(256)));
  v128.store(W2, w16, 16 << 4); v128.store(W2, w17, 17 << 4); v128.store(W2, w18, 18 << 4);
  v128.store(W2, w19, 19 << 4); v128.store(W2, w20, 20 << 4); v128.store(W2, w21, 21 << 4);
  v128.store(W2, w22, 22 << 4); v128.store(W2, w23, 23 << 4); v128.store(W2, w24, 24 << 4);
  v128.store(W2, w25, 25 << 4); v128.store(W2, w26, 26 << 4); v128.store(W2, w27, 27 << 4);
  v128.store(W2, w28, 28 << 4); v128.store(W2, w29, 29 << 4); v128.store(W2, w30, 30 << 4);
  v128.store(W2, w31, 31 << 4);
  expandRange4(W2, 32, 61);

  // Round 0 from the IV folded to two adds; rounds 1..56 in the loop.
  let a = i32x4.add(pc(R0_A), w0), b = v128.load32_splat(IV, 0), c = v128.load32_splat(IV, 4);
  let d = v128.load32_splat(IV, 8), e = i32x4.add(pc(R0_E), w0), f = v128.load32_splat(IV, 16);
  let g = v128.load32_splat(IV, 20), h = v128.load32_splat(IV, 24);
  let x: v128, q: v128, p = v128.xor(b, c); // p, q: a ^ b of alternate rounds (see nextA4)
  for (let i: usize = 1; i < 57; i += 8) {
    let k = K + (i << 2), w = W2 + (i << 4);
    x = t1x4(e, f, g, h, kw4(k, w)); d = i32x4.add(d, x); q = v128.xor(a, b); h = nextA4(x, a, b, q, p);
    x = t1x4(d, e, f, g, kw4(k + 4, w + 16)); c = i32x4.add(c, x); p = v128.xor(h, a); g = nextA4(x, h, a, p, q);
    x = t1x4(c, d, e, f, kw4(k + 8, w + 32)); b = i32x4.add(b, x); q = v128.xor(g, h); f = nextA4(x, g, h, q, p);
    x = t1x4(b, c, d, e, kw4(k + 12, w + 48)); a = i32x4.add(a, x); p = v128.xor(f, g); e = nextA4(x, f, g, p, q);
    x = t1x4(a, b, c, d, kw4(k + 16, w + 64)); h = i32x4.add(h, x); q = v128.xor(e, f); d = nextA4(x, e, f, q, p);
    x = t1x4(h, a, b, c, kw4(k + 20, w + 80)); g = i32x4.add(g, x); p = v128.xor(d, e); c = nextA4(x, d, e, p, q);
    x = t1x4(g, h, a, b, kw4(k + 24, w + 96)); f = i32x4.add(f, x); q = v128.xor(c, d); b = nextA4(x, c, d, q, p);
    x = t1x4(f, g, h, a, kw4(k + 28, w + 112)); e = i32x4.add(e, x); p = v128.xor(b, c); a = nextA4(x, b, c, p, q);
  }
  // Rounds 57..60 only need their new e: the e of round 60 becomes H7 after three more shifts.
  d = i32x4.add(d, t1x4(e, f, g, h, kw4(K + 57 * 4, W2 + 57 * 16)));
  c = i32x4.add(c, t1x4(d, e, f, g, kw4(K + 58 * 4, W2 + 58 * 16)));
  b = i32x4.add(b, t1x4(c, d, e, f, kw4(K + 59 * 4, W2 + 59 * 16)));
  a = i32x4.add(a, t1x4(b, c, d, e, kw4(K + 60 * 4, W2 + 60 * 16)));
  return i32x4.add(a, v128.load32_splat(IV, 28));
}
