/**
 * The state commitment's hashing, shared by the ts state engine (state-ts.ts) and the proof
 * verifier (bindings/chain/proof.ts); assembly/commit.ts implements the same definitions in WASM.
 * A sparse Merkle tree over the 256-bit key space (Diem's sparse Merkle tree, the binary view of
 * Aptos' Jellyfish Merkle tree) with single-leaf subtrees compressed; SHA-256 (FIPS 180-4):
 *
 *   path(a)        = SHA256(address)                       bit 0 is the top bit of byte 0
 *   leaf(a)        = SHA256(0x00 ‖ address ‖ balance u64le ‖ nonce u64le)      (49 bytes)
 *   empty          = 0^32
 *   subtree(S, d)  = empty if S = ∅; leaf(a) if S = {a};
 *                    else SHA256(subtree(S0, d+1) ‖ subtree(S1, d+1))           (64 bytes)
 *   root           = subtree(all accounts, 0)
 *
 * Leaf and node messages differ in length (49 vs 64 bytes, and SHA-256 pads in the length), so
 * no leaf can pass for a node; the 0x00 prefix names the leaf domain on top.
 * @module
 */
import { createHash } from "node:crypto";
import { sha256 as nobleSha256 } from "@noble/hashes/sha2.js";
import { ACCOUNT_RECORD_SIZE } from "./records.ts";

/** Deepest leaf: a path has 256 bits. */
export const SMT_DEPTH_MAX = 256;
/** The hash of an empty subtree. */
export const EMPTY_HASH: Uint8Array = new Uint8Array(32);

/** SHA-256 of `data`. */
export function sha256(data: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha256").update(data).digest());
}

/** path(a): the key of the account at `address` in the tree. */
export function pathOf(address: Uint8Array): Uint8Array {
  return nobleSha256(address.subarray(0, 32));
}

/** Bit `d` of a path (0 = left), most significant bit of byte 0 first. */
export function pathBit(path: Uint8Array, d: number): number {
  return (path[d >> 3]! >> (7 - (d & 7))) & 1;
}

const leafMsg = new Uint8Array(1 + ACCOUNT_RECORD_SIZE);
const nodeMsg = new Uint8Array(64);

/** leaf(a) of an account record (48 bytes). */
export function leafHash(record: Uint8Array): Uint8Array {
  leafMsg.set(record.subarray(0, ACCOUNT_RECORD_SIZE), 1);
  return nobleSha256(leafMsg);
}

/** SHA256(left ‖ right): an inner node. */
export function nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  nodeMsg.set(left);
  nodeMsg.set(right, 32);
  return nobleSha256(nodeMsg);
}
