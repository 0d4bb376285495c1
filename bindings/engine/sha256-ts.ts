/**
 * SHA-256d (FIPS 180-4 §6.2) nonce search of the `ts` engine: sha256(sha256(header80)) where only
 * the nonce (header bytes 76..79) changes between tries.
 *
 * The generic hashing of the `ts` engine stays on @noble/hashes; this module and the generated,
 * fully unrolled core it drives (`sha256d-search.generated.ts`) exist only for the hot loop, with
 * the classic miner shortcuts (cpuminer's `sha256d_ms`, and what the WASM prototype in DESIGN.md
 * measured):
 * - midstate: the first 64 header bytes are compressed once per search, not once per nonce;
 * - the first 3 rounds of the second block and the nonce-independent schedule words (W16, W17,
 *   parts of W18, W19) are computed here once per search;
 * - the constant padding words of both second blocks are folded into literals by the generator;
 * - early rejection: the last compression stops after round 60, when H7 (the hash's top 32 bits
 *   as a little-endian number) is known; only candidates get a full sha256d and comparison.
 * Measured side by side (scripts/bench-ts-search.ts): several times @noble/hashes with a midstate.
 * @module
 */

import { sha256 } from "@noble/hashes/sha2.js";
import { PLAN_LENGTH, searchCandidates } from "./sha256d-search.generated.ts";

/** Round constants K (FIPS 180-4 §4.2.2), as int32. */
const K = Int32Array.from([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
  0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
  0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
  0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
  0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
  0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
  0xc67178f2,
]);

/** Initial hash value H(0) (FIPS 180-4 §5.3.3), as int32. */
const IV = Int32Array.from([
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
]);

const rotr = (x: number, n: number): number => (x >>> n) | (x << (32 - n));
const sig0 = (x: number): number => rotr(x, 7) ^ rotr(x, 18) ^ (x >>> 3);
const sig1 = (x: number): number => rotr(x, 17) ^ rotr(x, 19) ^ (x >>> 10);

/** Reads a big-endian 32-bit word as int32. */
function readBE(bytes: Uint8Array, offset: number): number {
  return (bytes[offset]! << 24) | (bytes[offset + 1]! << 16) | (bytes[offset + 2]! << 8) | bytes[offset + 3]!;
}

/**
 * Runs rounds [from, to) of the compression on `s` (a..h, updated in place) with schedule `w`
 * (which must already hold the words for those rounds).
 */
function rounds(s: Int32Array, w: Int32Array, from: number, to: number): void {
  let a = s[0]!,
    b = s[1]!,
    c = s[2]!,
    d = s[3]!,
    e = s[4]!,
    f = s[5]!,
    g = s[6]!,
    h = s[7]!;
  for (let t = from; t < to; t++) {
    const t1 = (h + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K[t]! + w[t]!) | 0;
    const t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) | 0;
    h = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + t2) | 0;
  }
  s[0] = a;
  s[1] = b;
  s[2] = c;
  s[3] = d;
  s[4] = e;
  s[5] = f;
  s[6] = g;
  s[7] = h;
}

/** Fills schedule words w[from..to) from the words before them (FIPS 180-4 §6.2.2 step 1). */
function expand(w: Int32Array, from: number, to: number): void {
  for (let t = from; t < to; t++) w[t] = (sig1(w[t - 2]!) + w[t - 7]! + sig0(w[t - 15]!) + w[t - 16]!) | 0;
}

/**
 * The per-search constants in the layout `searchCandidates` reads: the state after rounds 0..2 of
 * the second block (they use only nonce-independent words), the midstate, W16, W17, and the
 * nonce-independent parts of W18 and W19.
 */
function plan(header: Uint8Array): Int32Array {
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

  const out = new Int32Array(PLAN_LENGTH);
  out.set(after3, 0);
  out.set(mid, 8);
  out[16] = w1[16]!;
  out[17] = w1[17]!;
  out[18] = (sig1(w1[16]!) + w1[11]! + w1[2]!) | 0; // W18 = this + σ0(W3)
  out[19] = (sig1(w1[17]!) + w1[12]! + sig0(w1[4]!)) | 0; // W19 = this + W3
  return out;
}

/** Nonces per call of the core: keeps its loop counter a small integer (V8 Smi) for any count. */
const CHUNK = 1 << 24;

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
 * inside 2^32). Candidates from the unrolled core (top 32 bits ≤ the target's) are confirmed with
 * a full sha256d; only a tie in the top 32 bits can fail that check.
 */
export function searchNonceTs(
  header: Uint8Array,
  target: Uint8Array,
  startNonce: number,
  count: number,
): TsSearchResult {
  const p = plan(header);
  const targetTop = (target[28]! | (target[29]! << 8) | (target[30]! << 16) | (target[31]! << 24)) >>> 0;
  // A fresh copy: a Node Buffer's `slice` shares memory, and its `.buffer` is the whole pool, so
  // `header.slice()` + `new DataView(trial.buffer)` wrote the nonce into someone else's bytes.
  const trial = new Uint8Array(header);
  const view = new DataView(trial.buffer, trial.byteOffset, trial.byteLength);
  let done = 0;
  while (done < count) {
    const chunk = Math.min(count - done, CHUNK);
    const i = searchCandidates(p, targetTop, startNonce + done, chunk);
    if (i < 0) {
      done += chunk;
      continue;
    }
    const nonce = startNonce + done + i;
    done += i + 1;
    view.setUint32(76, nonce, true);
    if (leqLE(sha256(sha256(trial)), target)) return { nonce, hashes: done };
  }
  return { nonce: null, hashes: count };
}
