/**
 * The state commitment's hashing, shared by the ts state engine (state-ts.ts) and the proof
 * verifier (bindings/chain/proof.ts); assembly/commit.ts implements the same definitions in WASM:
 *
 *   leaf(a)   = SHA256(address ‖ balance u64le ‖ nonce u64le ‖ 0^16)
 *   bucket    = 0^32 if empty, else h := leaf(m0), h := SHA256(h ‖ leaf(mi)), members by address
 *   node      = SHA256(left ‖ right); bucket b is leaf b of a binary tree of depth D, b = top D bits
 * @module
 */
import { createHash } from "node:crypto";

/** Shallowest and deepest tree. */
export const TREE_DEPTH_MIN = 1;
/** Deepest tree (2^23 nodes of 32 bytes: 256 MiB). */
export const TREE_DEPTH_MAX = 22;
/** Size of an account record: address, balance u64le, nonce u64le. */
export const ACCOUNT_RECORD_SIZE = 48;

/** SHA-256 of `data`. */
export function sha256(data: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha256").update(data).digest());
}

/** The bucket of an address in a tree of depth `depth`: its top `depth` bits. */
export function bucketOf(address: Uint8Array, depth: number): number {
  const top = ((address[0]! << 24) | (address[1]! << 16) | (address[2]! << 8) | address[3]!) >>> 0;
  return Math.floor(top / 2 ** (32 - depth));
}

/** leaf(a) of an account record (48 bytes). */
export function leafHash(record: Uint8Array): Uint8Array {
  const msg = new Uint8Array(64);
  msg.set(record.subarray(0, ACCOUNT_RECORD_SIZE));
  return sha256(msg);
}

/** The hash of a bucket from its member records, sorted by address. */
export function bucketHash(records: readonly Uint8Array[]): Uint8Array {
  if (records.length === 0) return new Uint8Array(32);
  let h = leafHash(records[0]!);
  const msg = new Uint8Array(64);
  for (let i = 1; i < records.length; i++) {
    msg.set(h);
    msg.set(leafHash(records[i]!), 32);
    h = sha256(msg);
  }
  return h;
}

/** SHA256(left ‖ right). */
export function nodeHash(left: Uint8Array, right: Uint8Array): Uint8Array {
  const msg = new Uint8Array(64);
  msg.set(left);
  msg.set(right, 32);
  return sha256(msg);
}

/** An account record: address ‖ balance u64le ‖ nonce u64le. */
export function accountRecord(address: Uint8Array, balance: bigint, nonce: bigint): Uint8Array {
  const r = new Uint8Array(ACCOUNT_RECORD_SIZE);
  r.set(address);
  const dv = new DataView(r.buffer);
  dv.setBigUint64(32, balance, true);
  dv.setBigUint64(40, nonce, true);
  return r;
}
