/**
 * The three fixed-shape SHA-256 hashes (FIPS 180-4 §6.2) of the sparse Merkle tree in the `ts`
 * state engine, on 32-bit words with no allocation: a node (64-byte message: one compression plus
 * the constant padding block, whose schedule plus K is precomputed here), a leaf (49-byte message,
 * one block) and a path (a 32-byte address, one block). Digests are written as the eight state
 * words (big-endian word order, the digest's bytes are their big-endian bytes), so a node's
 * message is its two children's digests word for word and never goes through bytes.
 * The compressions are generated and fully unrolled (sha256-block.generated.ts): every round
 * and schedule word is a local and the padding block's K + W are literals.
 * @module
 */
import { sha256Block, sha256Msg64 } from "./sha256-block.generated.ts";

/** Message words of a leaf or path block (one block, padding included). */
const W = new Int32Array(16);

/** Compresses the padded block in W[0..15] from the IV → out[at..at+8). */
function oneBlock(out: Int32Array, at: number): void {
  sha256Block(W, 0, out, at);
}

/** SHA256(words[from..from+16) as 64 bytes) → out[at..at+8): an inner node of the tree. */
export function nodeDigest(words: Int32Array, from: number, out: Int32Array, at: number): void {
  sha256Msg64(words, from, out, at);
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
export function leafDigest(
  addr: Uint8Array,
  o: number,
  balLo: number,
  balHi: number,
  nonLo: number,
  nonHi: number,
  out: Int32Array,
  at: number,
): void {
  // Byte stream: [0] 0x00, [1..32] address, [33..40] balance le, [41..48] nonce le, [49] 0x80.
  W[0] = (addr[o]! << 16) | (addr[o + 1]! << 8) | addr[o + 2]!;
  for (let i = 1; i < 8; i++) W[i] = be(addr, o + 4 * i - 1);
  const b0 = balLo & 0xff,
    b1 = (balLo >>> 8) & 0xff,
    b2 = (balLo >>> 16) & 0xff,
    b3 = balLo >>> 24;
  const b4 = balHi & 0xff,
    b5 = (balHi >>> 8) & 0xff,
    b6 = (balHi >>> 16) & 0xff,
    b7 = balHi >>> 24;
  const n0 = nonLo & 0xff,
    n1 = (nonLo >>> 8) & 0xff,
    n2 = (nonLo >>> 16) & 0xff,
    n3 = nonLo >>> 24;
  const n4 = nonHi & 0xff,
    n5 = (nonHi >>> 8) & 0xff,
    n6 = (nonHi >>> 16) & 0xff,
    n7 = nonHi >>> 24;
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
