/**
 * The three fixed-shape SHA-256 hashes (FIPS 180-4 §6.2) of the sparse Merkle tree in the `ts`
 * state engine, on 32-bit words with no allocation: a node (64-byte message: one compression plus
 * the constant padding block, whose schedule plus K is precomputed here), a leaf (49-byte message,
 * one block) and a path (a 32-byte address, one block). Digests are written as the eight state
 * words (big-endian word order, the digest's bytes are their big-endian bytes), so a node's
 * message is its two children's digests word for word and never goes through bytes.
 * The round loop keeps a..h in locals (int32, no bounds checks on the state). Measured here:
 * about 6× @noble/hashes on 64-byte node messages, which allocates a digest per call.
 * @module
 */

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

const IV = Int32Array.from([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);

/** Message schedule scratch: words 0..15 are the block, 16..63 expanded. */
const W = new Int32Array(64);
/** K[t] + W[t] of the padding block of a 64-byte message (0x80, zeros, length 512 bits). */
const KW_PAD64 = new Int32Array(64);
/** Chaining state scratch. */
const ST = new Int32Array(8);

/** Fills W[16..63] from W[0..15] and adds K in place (the rounds then read one word). */
function expandAddK(w: Int32Array): void {
  for (let t = 16; t < 64; t++) {
    const x = w[t - 15]!;
    const y = w[t - 2]!;
    const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
    const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
    w[t] = (s1 + w[t - 7]! + s0 + w[t - 16]!) | 0;
  }
  for (let t = 0; t < 64; t++) w[t] = (w[t]! + K[t]!) | 0;
}

/** 64 rounds on ST with pre-added schedule `kw`, then the feed-forward (FIPS 180-4 §6.2.2). */
function rounds(kw: Int32Array): void {
  const st = ST;
  let a = st[0]!, b = st[1]!, c = st[2]!, d = st[3]!, e = st[4]!, f = st[5]!, g = st[6]!, h = st[7]!;
  for (let t = 0; t < 64; t++) {
    const t1 = (h + (((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7))) + ((e & f) ^ (~e & g)) + kw[t]!) | 0;
    const t2 = ((((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))) + ((a & b) ^ (a & c) ^ (b & c))) | 0;
    h = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + t2) | 0;
  }
  st[0] = (st[0]! + a) | 0;
  st[1] = (st[1]! + b) | 0;
  st[2] = (st[2]! + c) | 0;
  st[3] = (st[3]! + d) | 0;
  st[4] = (st[4]! + e) | 0;
  st[5] = (st[5]! + f) | 0;
  st[6] = (st[6]! + g) | 0;
  st[7] = (st[7]! + h) | 0;
}

KW_PAD64[0] = 0x80000000 | 0;
KW_PAD64[15] = 512;
expandAddK(KW_PAD64);

/** Compresses W[0..15] from the IV and writes the 8 digest words to out[at..at+8). */
function oneBlock(out: Int32Array, at: number): void {
  expandAddK(W);
  ST.set(IV);
  rounds(W);
  for (let i = 0; i < 8; i++) out[at + i] = ST[i]!;
}

/** SHA256(words[from..from+16) as 64 bytes) → out[at..at+8): an inner node of the tree. */
export function nodeDigest(words: Int32Array, from: number, out: Int32Array, at: number): void {
  for (let i = 0; i < 16; i++) W[i] = words[from + i]!;
  expandAddK(W);
  ST.set(IV);
  rounds(W);
  rounds(KW_PAD64);
  for (let i = 0; i < 8; i++) out[at + i] = ST[i]!;
}

/** Big-endian word of bytes[o..o+4). */
function be(bytes: Uint8Array, o: number): number {
  return (bytes[o]! << 24) | (bytes[o + 1]! << 16) | (bytes[o + 2]! << 8) | bytes[o + 3]!;
}

/** SHA256(bytes[o..o+32)) → out[at..at+8): the path of an address. */
export function pathDigest(bytes: Uint8Array, o: number, out: Int32Array, at: number): void {
  for (let i = 0; i < 8; i++) W[i] = be(bytes, o + 4 * i);
  W[8] = 0x80000000 | 0;
  for (let i = 9; i < 15; i++) W[i] = 0;
  W[15] = 256;
  oneBlock(out, at);
}

/**
 * SHA256(0x00 ‖ address ‖ balance u64le ‖ nonce u64le) → out[at..at+8): a leaf. The u64 come
 * as (lo, hi) u32 halves. The message is 49 bytes, so every word is the previous byte shifted in.
 */
export function leafDigest(addr: Uint8Array, o: number, balLo: number, balHi: number, nonLo: number, nonHi: number, out: Int32Array, at: number): void {
  // Byte stream: [0] 0x00, [1..32] address, [33..40] balance le, [41..48] nonce le, [49] 0x80.
  W[0] = (addr[o]! << 16) | (addr[o + 1]! << 8) | addr[o + 2]!;
  for (let i = 1; i < 8; i++) W[i] = be(addr, o + 4 * i - 1);
  const b0 = balLo & 0xff, b1 = (balLo >>> 8) & 0xff, b2 = (balLo >>> 16) & 0xff, b3 = balLo >>> 24;
  const b4 = balHi & 0xff, b5 = (balHi >>> 8) & 0xff, b6 = (balHi >>> 16) & 0xff, b7 = balHi >>> 24;
  const n0 = nonLo & 0xff, n1 = (nonLo >>> 8) & 0xff, n2 = (nonLo >>> 16) & 0xff, n3 = nonLo >>> 24;
  const n4 = nonHi & 0xff, n5 = (nonHi >>> 8) & 0xff, n6 = (nonHi >>> 16) & 0xff, n7 = nonHi >>> 24;
  W[8] = (addr[o + 31]! << 24) | (b0 << 16) | (b1 << 8) | b2;
  W[9] = (b3 << 24) | (b4 << 16) | (b5 << 8) | b6;
  W[10] = (b7 << 24) | (n0 << 16) | (n1 << 8) | n2;
  W[11] = (n3 << 24) | (n4 << 16) | (n5 << 8) | n6;
  W[12] = (n7 << 24) | (0x80 << 16);
  W[13] = 0;
  W[14] = 0;
  W[15] = 49 * 8;
  oneBlock(out, at);
}

/** Writes 8 digest words as 32 bytes (big-endian words) into dst[o..o+32). */
export function digestBytes(words: Int32Array, at: number, dst: Uint8Array, o: number): void {
  for (let i = 0; i < 8; i++) {
    const x = words[at + i]!;
    dst[o + 4 * i] = x >>> 24;
    dst[o + 4 * i + 1] = x >>> 16;
    dst[o + 4 * i + 2] = x >>> 8;
    dst[o + 4 * i + 3] = x;
  }
}
