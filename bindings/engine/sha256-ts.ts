/**
 * SHA-256 compression (FIPS 180-4 §6.2) specialised for Bitcoin's proof-of-work nonce search:
 * sha256(sha256(header80)) where only the nonce (header bytes 76..79) changes between tries.
 *
 * The generic hashing of the `ts` engine stays on @noble/hashes; this module exists only for the
 * hot loop, where the classic miner shortcuts apply (cpuminer's `sha256d_ms`, and what the WASM
 * prototype in DESIGN.md measured):
 * - midstate: the first 64 header bytes are compressed once per search, not once per nonce;
 * - the first 3 rounds of the second block and the nonce-independent schedule words are
 *   precomputed (W16, W17 and parts of W18, W19);
 * - the constant padding of both second blocks is folded into precomputed K+W sums;
 * - early rejection: the last compression stops after round 60, when H7 (the hash's top 32 bits
 *   as a little-endian number) is already known; the full comparison runs only when those top
 *   32 bits equal the target's.
 * All arithmetic is on int32 values (`| 0`), so V8 keeps it in registers without boxing.
 * @module
 */

/** Round constants K (FIPS 180-4 §4.2.2), as int32. */
const K = Int32Array.from([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);

/** Initial hash value H(0) (FIPS 180-4 §5.3.3), as int32. */
const IV = Int32Array.from([
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
]);

const rotr = (x: number, n: number): number => (x >>> n) | (x << (32 - n));
const sig0 = (x: number): number => rotr(x, 7) ^ rotr(x, 18) ^ (x >>> 3);
const sig1 = (x: number): number => rotr(x, 17) ^ rotr(x, 19) ^ (x >>> 10);
const bswap32 = (x: number): number => ((x & 0xff) << 24) | ((x & 0xff00) << 8) | ((x >>> 8) & 0xff00) | (x >>> 24);

/** Reads a big-endian 32-bit word as int32. */
function readBE(bytes: Uint8Array, offset: number): number {
  return (bytes[offset]! << 24) | (bytes[offset + 1]! << 16) | (bytes[offset + 2]! << 8) | bytes[offset + 3]!;
}

/**
 * Runs rounds [from, to) of the compression on `s` (a..h, updated in place) with schedule `w`
 * (which must already hold the words for those rounds).
 */
function rounds(s: Int32Array, w: Int32Array, from: number, to: number): void {
  let a = s[0]!, b = s[1]!, c = s[2]!, d = s[3]!, e = s[4]!, f = s[5]!, g = s[6]!, h = s[7]!;
  for (let t = from; t < to; t++) {
    const t1 = (h + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K[t]! + w[t]!) | 0;
    const t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) | 0;
    h = g; g = f; f = e; e = (d + t1) | 0;
    d = c; c = b; b = a; a = (t1 + t2) | 0;
  }
  s[0] = a; s[1] = b; s[2] = c; s[3] = d; s[4] = e; s[5] = f; s[6] = g; s[7] = h;
}

/** Fills schedule words w[from..to) from the words before them (FIPS 180-4 §6.2.2 step 1). */
function expand(w: Int32Array, from: number, to: number): void {
  for (let t = from; t < to; t++) w[t] = (sig1(w[t - 2]!) + w[t - 7]! + sig0(w[t - 15]!) + w[t - 16]!) | 0;
}

/** The per-search constants: everything that does not depend on the nonce. */
interface SearchPlan {
  /** Chaining value after the first 64 header bytes. */
  mid: Int32Array;
  /** State after rounds 0..2 of the second block (they use only nonce-independent words). */
  after3: Int32Array;
  /** Second block schedule; w1[3] is the nonce slot, w1[18..63] are rewritten per nonce. */
  w1: Int32Array;
  /** w1[18] minus σ0(nonce word), and w1[19] minus the nonce word. */
  w18Base: number;
  w19Base: number;
  /** Target's top 32 bits (bytes 28..31 read little-endian), as uint32. */
  targetTop: number;
}

/** Precomputes the midstate, the first three rounds of block two and the fixed schedule words. */
function plan(header: Uint8Array, target: Uint8Array): SearchPlan {
  const w = new Int32Array(64);
  for (let i = 0; i < 16; i++) w[i] = readBE(header, 4 * i);
  expand(w, 16, 64);
  const mid = IV.slice();
  rounds(mid, w, 0, 64);
  for (let i = 0; i < 8; i++) mid[i] = (mid[i]! + IV[i]!) | 0;

  const w1 = new Int32Array(64);
  for (let i = 0; i < 3; i++) w1[i] = readBE(header, 64 + 4 * i);
  w1[4] = 0x80000000 | 0; // padding bit right after the 80 bytes
  w1[15] = 640; // message length in bits
  expand(w1, 16, 18); // W16, W17 read W0..W2, W9..W15 only: nonce-independent
  const after3 = mid.slice();
  rounds(after3, w1, 0, 3);
  const targetTop = (target[28]! | (target[29]! << 8) | (target[30]! << 16) | (target[31]! << 24)) >>> 0;
  return {
    mid, after3, w1, targetTop,
    w18Base: (sig1(w1[16]!) + w1[11]! + w1[2]!) | 0,
    w19Base: (sig1(w1[17]!) + w1[12]! + sig0(w1[4]!)) | 0,
  };
}

/** K[t] + W[t] for rounds 8..15 of the second hash, whose words are constant padding. */
const KW2_PAD = Int32Array.from({ length: 16 }, (_, t) =>
  t < 8 ? 0 : (K[t]! + (t === 8 ? 0x80000000 | 0 : t === 15 ? 256 : 0)) | 0);

/** sha256 of the 32-byte digest `h1` (as 8 words in w2[0..7]); stops after round 60 and returns H7. */
function secondHashH7(w2: Int32Array, s: Int32Array): number {
  w2[8] = 0x80000000 | 0; w2[9] = 0; w2[10] = 0; w2[11] = 0; w2[12] = 0; w2[13] = 0; w2[14] = 0; w2[15] = 256;
  expand(w2, 16, 61);
  let a = IV[0]!, b = IV[1]!, c = IV[2]!, d = IV[3]!, e = IV[4]!, f = IV[5]!, g = IV[6]!, h = IV[7]!;
  for (let t = 0; t < 61; t++) {
    const kw = t >= 8 && t < 16 ? KW2_PAD[t]! : (K[t]! + w2[t]!) | 0;
    const t1 = (h + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + kw) | 0;
    const t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) | 0;
    h = g; g = f; f = e; e = (d + t1) | 0;
    d = c; c = b; b = a; a = (t1 + t2) | 0;
  }
  s[0] = a; s[1] = b; s[2] = c; s[3] = d; s[4] = e; s[5] = f; s[6] = g; s[7] = h;
  // After round 60 the new `e` is what three more rounds shift into `h`.
  return (e + IV[7]!) | 0;
}

/** Finishes rounds 61..63 of the second hash from `s` and writes the 32-byte digest. */
function secondHashFinish(w2: Int32Array, s: Int32Array): Uint8Array {
  expand(w2, 61, 64);
  rounds(s, w2, 61, 64);
  const out = new Uint8Array(32);
  for (let i = 0; i < 8; i++) {
    const v = (s[i]! + IV[i]!) | 0;
    out[4 * i] = v >>> 24; out[4 * i + 1] = v >>> 16; out[4 * i + 2] = v >>> 8; out[4 * i + 3] = v;
  }
  return out;
}

/** Compares two 32-byte values as 256-bit little-endian integers: a ≤ b. */
function leqLE(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 31; i >= 0; i--) if (a[i] !== b[i]) return a[i]! < b[i]!;
  return true;
}

/** Result of {@link searchNonceTs}: the solving nonce or null, and the hashes tried. */
export interface TsSearchResult {
  /** First solving nonce, or null. */
  nonce: number | null;
  /** Hashes tried, up to and including the solution. */
  hashes: number;
}

/**
 * First nonce in [startNonce, startNonce + count) whose sha256d(header) ≤ target (both 256-bit
 * little-endian). Arguments must already be validated (80-byte header, 32-byte target, range
 * inside 2^32).
 */
export function searchNonceTs(header: Uint8Array, target: Uint8Array, startNonce: number, count: number): TsSearchResult {
  const p = plan(header, target);
  const w1 = p.w1, after3 = p.after3, mid = p.mid;
  const w2 = new Int32Array(64);
  const s = new Int32Array(8);
  for (let i = 0; i < count; i++) {
    const nonce = startNonce + i;
    const wn = bswap32(nonce | 0);
    w1[3] = wn;
    w1[18] = (p.w18Base + sig0(wn)) | 0;
    w1[19] = (p.w19Base + wn) | 0;
    expand(w1, 20, 64);
    s.set(after3);
    rounds(s, w1, 3, 64);
    for (let j = 0; j < 8; j++) w2[j] = (s[j]! + mid[j]!) | 0;
    const top = bswap32(secondHashH7(w2, s)) >>> 0;
    if (top > p.targetTop) continue;
    if (top < p.targetTop || leqLE(secondHashFinish(w2, s), target)) return { nonce, hashes: i + 1 };
  }
  return { nonce: null, hashes: count };
}
