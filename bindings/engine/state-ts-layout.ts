/**
 * The `ts` ledger state's memory layout and the pieces of it that every thread runs: the account
 * record and tree node formats (state-ts.ts describes them), the address hash and compare of the
 * account table, and the rehash of a stale subtree (the sparse Merkle tree of state-hash.ts).
 * Shared by the serial state (state-ts.ts) and the threaded one's workers (state-ts-par.ts), so
 * both run the same code over the same arrays.
 * @module
 */
import * as H from "./sha256-block.ts";

// Module-level aliases, not the imports themselves: V8 inlines a module's own functions in hot
// loops, not imported bindings (state-ts.ts: execution 1.6-2.5x slower through imports).
const { leafDigest, nodeDigest } = H;

/** Words per tree node: c0, c1, h0[8], h1[8]. */
export const NODE = 18;
/**
 * Words per account record: address (8 words), balance lo/hi, nonce lo/hi, block epoch, leaf
 * stale flag, 2 spare. One 64-byte record is one cache line: a lookup's key compare brings in the
 * balance, nonce and flags that execution then reads and writes. Separate arrays (address,
 * values, epoch, flag) cost four scattered loads per account, and execution at 100k+ accounts
 * waits on memory more than it computes.
 */
export const ACC = 16;
/** Bytes per account record. */
export const ACC_BYTES = ACC * 4;
/** Record word of the balance (lo, hi). */
export const BAL = 8;
/** Record word of the nonce (lo, hi). */
export const NON = 10;
/** Record word of the block epoch that journaled the account last. */
export const EPOCH = 12;
/** Record word of the leaf's stale flag (1: its digest needs recomputing). */
export const STALE = 13;
/** 2^32: u64 values are (lo, hi) u32 halves in doubles, with explicit carries. */
export const TWO32 = 4294967296;
/** The largest u32 half. */
export const U32_MAX = 0xffffffff;

/** Little-endian u32 at bytes[o..o+4). */
export function u32le(b: Uint8Array, o: number): number {
  return (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
}

/** A 32-bit hash of 32 address bytes (the table's key; addresses are not trusted to be random). */
export function addrHash(b: Uint8Array, o: number): number {
  let h = 0x2545f491;
  for (let i = 0; i < 32; i += 4) {
    h = Math.imul(h ^ u32le(b, o + i), 0x9e3779b1);
    h ^= h >>> 15;
  }
  return Math.imul(h ^ (h >>> 13), 0x85ebca6b) ^ (h >>> 16);
}

/** True if a[ao..ao+32) equals b[bo..bo+32). */
export function eq32(a: Uint8Array, ao: number, b: Uint8Array, bo: number): boolean {
  for (let i = 0; i < 32; i++) if (a[ao + i] !== b[bo + i]) return false;
  return true;
}

/**
 * Index of the account with address bytes[o..o+32) and hash `h` in the open-addressing table
 * (pairs of (hash, index + 1); `mask` = pairs - 1), or -1.
 */
export function findHashed(
  table: Int32Array,
  mask: number,
  accB: Uint8Array,
  bytes: Uint8Array,
  o: number,
  h: number,
): number {
  for (let s = h & mask; ; s = (s + 1) & mask) {
    const e = table[2 * s + 1]!;
    if (e === 0) return -1;
    if (table[2 * s] === h && eq32(accB, (e - 1) * ACC_BYTES, bytes, o)) return e - 1;
  }
}

/**
 * Recomputes the digests in stale node n's two slots (stale children first, recursively; stale
 * leaves from their account records) and marks what it hashed clean. Touches only n's subtree.
 */
export function rehashNode(
  t: Int32Array,
  nodeStale: Uint8Array,
  acc: Uint32Array,
  accB: Uint8Array,
  n: number,
): void {
  for (let side = 0; side < 2; side++) {
    const c = t[n * NODE + side]!;
    const at = n * NODE + 2 + side * 8;
    if (c > 0) {
      if (nodeStale[c] === 1) {
        rehashNode(t, nodeStale, acc, accB, c);
        nodeDigest(t, c * NODE + 2, t, at);
      }
    } else if (c < 0) {
      const i = -c - 1;
      const v = i * ACC;
      if (acc[v + STALE] === 1) {
        leafDigest(
          accB,
          i * ACC_BYTES,
          acc[v + BAL]!,
          acc[v + BAL + 1]!,
          acc[v + NON]!,
          acc[v + NON + 1]!,
          t,
          at,
        );
        acc[v + STALE] = 0;
      }
    }
  }
  nodeStale[n] = 0;
}
