/**
 * The state commitment as seen from TypeScript: the proof encoding and the standalone
 * {@link verifyProof} for the sparse Merkle tree that assembly/commit.ts and
 * bindings/engine/state-ts.ts build (definitions in bindings/engine/state-hash.ts):
 *
 *   path(a) = SHA256(address); leaf(a) = SHA256(0x00 ‖ address ‖ balance u64le ‖ nonce u64le)
 *   empty = 0^32; node = SHA256(left ‖ right); a subtree with one account is that account's leaf.
 *
 * A proof is the walk from the root along path(address) down to the first leaf or empty subtree:
 *
 *   version u8 = 2 ‖ depth u16le (0..256) ‖ flags u8 (bit 0: a leaf record follows)
 *   ‖ [leaf record: address 32, balance u64le, nonce u64le]
 *   ‖ bitmap, ceil(depth / 8) bytes: bit i (byte i >> 3, bit i & 7) set if sibling i is not empty
 *   ‖ the non-empty siblings, 32 bytes each, the root's children first
 *
 * Inclusion: the leaf is the account's own. Absence: the walk ends in an empty subtree, or in the
 * leaf of another account whose path shares the first `depth` bits (it holds the subtree alone).
 * Size: 4 + 48 + depth/8 + 32 × non-empty siblings; depth ≈ log2(accounts) + 1.3 on average
 * (keys are SHA-256 outputs), so about 860 bytes at 10M accounts.
 * @module
 */
import { ChainDbError, ErrorCode, abytes, equalBytes } from "../util/index.ts";
import {
  ACCOUNT_RECORD_SIZE,
  EMPTY_HASH,
  SMT_DEPTH_MAX,
  accountRecord,
  leafHash,
  nodeHash,
  pathBit,
  pathOf,
} from "../engine/index.ts";
import type { ProofMaterial } from "../engine/index.ts";

export {
  ACCOUNT_RECORD_SIZE,
  EMPTY_HASH,
  SMT_DEPTH_MAX,
  accountRecord,
  leafHash,
  nodeHash,
  pathBit,
  pathOf,
  sha256,
} from "../engine/index.ts";

const PROOF_VERSION = 2;
const PROOF_HEADER = 4;

/** An account's state. */
export interface Account {
  /** Balance, u64. */
  balance: bigint;
  /** Number of transfers sent, u64. */
  nonce: bigint;
}

/** A decoded proof. */
export interface DecodedProof {
  /** Levels from the root to the terminal leaf or empty subtree. */
  depth: number;
  /** The terminal leaf's record, or undefined for an empty subtree. */
  leaf: Uint8Array | undefined;
  /** The `depth` sibling hashes (empty ones as 0^32), the root's children first. */
  siblings: Uint8Array[];
}

/** Encodes proof material (see the module comment); empty siblings go into the bitmap only. */
export function encodeProof(material: ProofMaterial): Uint8Array {
  const { depth, leaf, siblings } = material;
  const bitmap = new Uint8Array((depth + 7) >> 3);
  const kept: number[] = [];
  for (let i = 0; i < depth; i++) {
    if (!equalBytes(siblings.subarray(i * 32, i * 32 + 32), EMPTY_HASH)) {
      bitmap[i >> 3]! |= 1 << (i & 7);
      kept.push(i);
    }
  }
  const leafBytes = leaf === undefined ? 0 : ACCOUNT_RECORD_SIZE;
  const out = new Uint8Array(PROOF_HEADER + leafBytes + bitmap.length + kept.length * 32);
  out[0] = PROOF_VERSION;
  new DataView(out.buffer).setUint16(1, depth, true);
  out[3] = leaf === undefined ? 0 : 1;
  if (leaf !== undefined) out.set(leaf.subarray(0, ACCOUNT_RECORD_SIZE), PROOF_HEADER);
  let at = PROOF_HEADER + leafBytes;
  out.set(bitmap, at);
  at += bitmap.length;
  for (const i of kept) {
    out.set(siblings.subarray(i * 32, i * 32 + 32), at);
    at += 32;
  }
  return out;
}

function badProof(message: string): ChainDbError {
  return new ChainDbError(ErrorCode.BAD_PROOF, `malformed proof: ${message}`);
}

function popcount8(x: number): number {
  let n = 0;
  for (; x !== 0; x &= x - 1) n++;
  return n;
}

/**
 * Decodes a proof strictly (version, depth range, flags, bitmap padding, exact length, no
 * explicit empty sibling); throws BAD_PROOF otherwise.
 */
export function decodeProof(proof: Uint8Array): DecodedProof {
  abytes(proof, undefined, "proof");
  if (proof.length < PROOF_HEADER) throw badProof(`${proof.length} bytes is shorter than its header`);
  if (proof[0] !== PROOF_VERSION) throw badProof(`unknown version ${proof[0]}`);
  const depth = new DataView(proof.buffer, proof.byteOffset, proof.length).getUint16(1, true);
  if (depth > SMT_DEPTH_MAX) throw badProof(`depth ${depth} beyond ${SMT_DEPTH_MAX}`);
  const flags = proof[3]!;
  if (flags > 1) throw badProof(`unknown flags ${flags}`);
  const leafBytes = flags === 1 ? ACCOUNT_RECORD_SIZE : 0;
  const bitmapAt = PROOF_HEADER + leafBytes;
  const bitmapLen = (depth + 7) >> 3;
  if (proof.length < bitmapAt + bitmapLen) throw badProof(`${proof.length} bytes is shorter than its bitmap`);
  const bitmap = proof.subarray(bitmapAt, bitmapAt + bitmapLen);
  if (depth % 8 !== 0 && bitmapLen > 0 && bitmap[bitmapLen - 1]! >> (depth % 8) !== 0)
    throw badProof("bitmap bits beyond the depth");
  const count = bitmap.reduce((n, b) => n + popcount8(b), 0);
  const expected = bitmapAt + bitmapLen + count * 32;
  if (proof.length !== expected)
    throw badProof(`expected ${expected} bytes for ${count} siblings, got ${proof.length}`);
  const siblings: Uint8Array[] = [];
  let at = bitmapAt + bitmapLen;
  for (let i = 0; i < depth; i++) {
    if ((bitmap[i >> 3]! >> (i & 7)) & 1) {
      const s = new Uint8Array(proof.subarray(at, at + 32));
      if (equalBytes(s, EMPTY_HASH)) throw badProof(`sibling ${i} is empty but listed`);
      siblings.push(s);
      at += 32;
    } else siblings.push(EMPTY_HASH);
  }
  const leaf =
    flags === 1
      ? new Uint8Array(proof.subarray(PROOF_HEADER, PROOF_HEADER + ACCOUNT_RECORD_SIZE))
      : undefined;
  return { depth, leaf, siblings };
}

/** True if two paths agree on their first `bits` bits. */
function samePrefix(a: Uint8Array, b: Uint8Array, bits: number): boolean {
  for (let d = 0; d < bits; d++) if (pathBit(a, d) !== pathBit(b, d)) return false;
  return true;
}

/**
 * Verifies that under `root` the account at `address` is `account` (or, for undefined, that no
 * account exists there). Returns false for a proof that does not match; throws BAD_PROOF for
 * bytes that are not a proof.
 */
export function verifyProof(
  root: Uint8Array,
  address: Uint8Array,
  account: Account | undefined,
  proof: Uint8Array,
): boolean {
  abytes(root, 32, "root");
  abytes(address, 32, "address");
  const { depth, leaf, siblings } = decodeProof(proof);
  const path = pathOf(address);
  let h: Uint8Array;
  if (leaf === undefined) {
    if (account !== undefined) return false;
    h = EMPTY_HASH;
  } else {
    const own = equalBytes(leaf.subarray(0, 32), address);
    if (account !== undefined) {
      if (!own || !equalBytes(leaf, accountRecord(address, account.balance, account.nonce))) return false;
    } else if (own || !samePrefix(pathOf(leaf.subarray(0, 32)), path, depth)) return false;
    h = leafHash(leaf);
  }
  for (let d = depth - 1; d >= 0; d--) {
    h = pathBit(path, d) === 0 ? nodeHash(h, siblings[d]!) : nodeHash(siblings[d]!, h);
  }
  return equalBytes(h, root);
}
