/**
 * The state commitment as seen from TypeScript: leaf and bucket hashing exactly as
 * assembly/commit.ts defines them, the proof encoding, and the standalone {@link verifyProof}.
 *
 *   leaf(a)   = SHA256(address ‖ balance u64le ‖ nonce u64le ‖ 0^16)
 *   bucket    = 0^32 if empty, else h := leaf(m0), h := SHA256(h ‖ leaf(mi)), members by address
 *   node      = SHA256(left ‖ right); bucket b is leaf b of a binary tree of depth D, b = top D bits
 *
 * Proof encoding: version u8 = 1 ‖ depth u8 ‖ count u32le ‖ count × (address 32, balance u64le,
 * nonce u64le) ‖ depth × 32-byte siblings, bucket level first. The bucket's full member list makes
 * absence provable: a sorted list of the bucket without the address.
 * @module
 */
import { ChainDbError, ErrorCode, abytes, equalBytes } from "../util/index.ts";
import { ACCOUNT_RECORD_SIZE, TREE_DEPTH_MAX, TREE_DEPTH_MIN, accountRecord, bucketHash, bucketOf, nodeHash } from "../engine/index.ts";

export { ACCOUNT_RECORD_SIZE, TREE_DEPTH_MAX, TREE_DEPTH_MIN, accountRecord, bucketHash, bucketOf, leafHash, nodeHash, sha256 } from "../engine/index.ts";

const PROOF_VERSION = 1;
const PROOF_HEADER = 6;

/** An account's state. */
export interface Account {
  /** Balance, u64. */
  balance: bigint;
  /** Number of transfers sent, u64. */
  nonce: bigint;
}

/** A decoded proof. */
export interface DecodedProof {
  /** Tree depth. */
  depth: number;
  /** The bucket's member records, sorted by address. */
  members: Uint8Array[];
  /** Sibling hashes from the bucket level up. */
  siblings: Uint8Array[];
}

/** Encodes proof material (members as 48-byte records, siblings bucket level first). */
export function encodeProof(depth: number, members: Uint8Array, siblings: Uint8Array): Uint8Array {
  const count = members.length / ACCOUNT_RECORD_SIZE;
  const out = new Uint8Array(PROOF_HEADER + members.length + siblings.length);
  out[0] = PROOF_VERSION;
  out[1] = depth;
  new DataView(out.buffer).setUint32(2, count, true);
  out.set(members, PROOF_HEADER);
  out.set(siblings, PROOF_HEADER + members.length);
  return out;
}

function badProof(message: string): ChainDbError {
  return new ChainDbError(ErrorCode.BAD_PROOF, `malformed proof: ${message}`);
}

/** Decodes a proof strictly (version, depth range, exact length); throws BAD_PROOF otherwise. */
export function decodeProof(proof: Uint8Array): DecodedProof {
  abytes(proof, undefined, "proof");
  if (proof.length < PROOF_HEADER) throw badProof(`${proof.length} bytes is shorter than its header`);
  if (proof[0] !== PROOF_VERSION) throw badProof(`unknown version ${proof[0]}`);
  const depth = proof[1]!;
  if (depth < TREE_DEPTH_MIN || depth > TREE_DEPTH_MAX) throw badProof(`depth ${depth} outside [1, ${TREE_DEPTH_MAX}]`);
  const count = new DataView(proof.buffer, proof.byteOffset, proof.length).getUint32(2, true);
  const expected = PROOF_HEADER + count * ACCOUNT_RECORD_SIZE + depth * 32;
  if (proof.length !== expected) throw badProof(`expected ${expected} bytes for ${count} members, got ${proof.length}`);
  const members: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const at = PROOF_HEADER + i * ACCOUNT_RECORD_SIZE;
    members.push(proof.slice(at, at + ACCOUNT_RECORD_SIZE));
  }
  const siblings: Uint8Array[] = [];
  const base = PROOF_HEADER + count * ACCOUNT_RECORD_SIZE;
  for (let i = 0; i < depth; i++) siblings.push(proof.slice(base + i * 32, base + i * 32 + 32));
  return { depth, members, siblings };
}

function compareAddress(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < 32; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}

/**
 * Verifies that under `root` the account at `address` is `account` (or, for undefined, that no
 * account exists there). Returns false for a proof that does not match; throws BAD_PROOF for
 * bytes that are not a proof.
 */
export function verifyProof(root: Uint8Array, address: Uint8Array, account: Account | undefined, proof: Uint8Array): boolean {
  abytes(root, 32, "root");
  abytes(address, 32, "address");
  const { depth, members, siblings } = decodeProof(proof);
  const bucket = bucketOf(address, depth);
  let found: Uint8Array | undefined;
  for (let i = 0; i < members.length; i++) {
    const m = members[i]!;
    if (bucketOf(m, depth) !== bucket) return false;
    if (i > 0 && compareAddress(members[i - 1]!, m) >= 0) return false; // sorted, no duplicates
    if (compareAddress(m, address) === 0) found = m;
  }
  if (account === undefined) {
    if (found !== undefined) return false;
  } else {
    if (found === undefined) return false;
    if (!equalBytes(found, accountRecord(address, account.balance, account.nonce))) return false;
  }
  let h = bucketHash(members);
  let index = bucket;
  for (let level = 0; level < depth; level++) {
    h = index % 2 === 0 ? nodeHash(h, siblings[level]!) : nodeHash(siblings[level]!, h);
    index = Math.floor(index / 2);
  }
  return equalBytes(h, root);
}
