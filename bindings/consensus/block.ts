/**
 * The block a Tendermint value carries (CometBFT `types/block.go`, reduced): height, the parent's
 * id, the previous height's commit (the +2/3 precommits that decided the parent, so anyone can
 * check the chain without having watched the votes), the evidence it includes, the transactions,
 * and the state root after applying them. {@link verifyCommit} is what a node that
 * catches up (or a light client) runs on every block it fetches.
 * @module
 */
import { ChainDbError, ErrorCode, abytes } from "../util/index.ts";
import {
  CERTIFICATE_VOTES_MAX,
  decodeMessage,
  encodeMessage,
  verifyProposal,
  verifyVote,
  type Verifier,
} from "./codec.ts";
import { verifyEvidence } from "./evidence.ts";
import { VoteType, type CommitCertificate, type Evidence, type Vote } from "./types.ts";
import type { ValidatorSet } from "./validators.ts";
import { idKey } from "./votes.ts";

/**
 * The commit a block carries for its parent: only the precommits (CometBFT's `Commit`). They sign
 * the parent's id, which is enough to prove the decision; carrying the parent's proposal as well
 * would nest every earlier block inside each new one, and block size would grow with the height.
 */
export interface BlockCommit {
  readonly precommits: readonly Vote[];
}

/** The block commit of a certificate (drops the proposal and its value). */
export function blockCommitOf(certificate: CommitCertificate): BlockCommit {
  return { precommits: certificate.precommits };
}

/** A block. */
export interface Block {
  readonly height: number;
  /** Id (sha256) of the parent block's value; zeros at height 1. */
  readonly parent: Uint8Array;
  /** Commit of height − 1 (null at height 1); a certificate given here is stored as its precommits. */
  readonly lastCommit: BlockCommit | null;
  readonly evidence: readonly Evidence[];
  readonly txs: Uint8Array;
  /** State root after applying `txs` (the application's; zeros when it keeps none). */
  readonly stateRoot: Uint8Array;
}

/** Most evidence one block carries. */
export const BLOCK_EVIDENCE_MAX = 64;

/** The bytes of a block (the value the engine orders). */
export function encodeBlock(b: Block): Uint8Array {
  const parts: Uint8Array[] = [];
  const head = new Uint8Array(8 + 32 + 32);
  const view = new DataView(head.buffer);
  view.setUint32(0, b.height % 2 ** 32, true);
  view.setUint32(4, Math.floor(b.height / 2 ** 32), true);
  head.set(abytes(b.parent, 32, "parent"), 8);
  head.set(abytes(b.stateRoot, 32, "stateRoot"), 40);
  parts.push(head);
  const section = (bytes: Uint8Array) => {
    const len = new Uint8Array(4);
    new DataView(len.buffer).setUint32(0, bytes.length, true);
    parts.push(len, bytes);
  };
  section(b.lastCommit === null ? new Uint8Array(0) : encodeCommit(b.lastCommit));
  section(new Uint8Array([Math.min(b.evidence.length, BLOCK_EVIDENCE_MAX)]));
  for (const e of b.evidence.slice(0, BLOCK_EVIDENCE_MAX)) section(encodeMessage(e));
  section(b.txs);
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) (out.set(p, at), (at += p.length));
  return out;
}

/** Decodes {@link encodeBlock}'s output; throws `BAD_MESSAGE` on malformed bytes. */
export function decodeBlock(bytes: Uint8Array): Block {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 72;
  const need = (k: number) => {
    if (at + k > bytes.length)
      throw new ChainDbError(ErrorCode.BAD_MESSAGE, `block truncated at byte ${at} of ${bytes.length}`);
  };
  need(0);
  const section = () => {
    need(4);
    const len = view.getUint32(at, true);
    at += 4;
    need(len);
    const out = bytes.subarray(at, at + len);
    at += len;
    return out;
  };
  const height = view.getUint32(0, true) + view.getUint32(4, true) * 2 ** 32;
  if (!Number.isSafeInteger(height))
    throw new ChainDbError(ErrorCode.BAD_MESSAGE, `block height ${height} beyond 2^53 - 1`);
  const commitBytes = section();
  const lastCommit = commitBytes.length === 0 ? null : decodeCommit(commitBytes);
  const count = section();
  if (count.length !== 1 || count[0]! > BLOCK_EVIDENCE_MAX)
    throw new ChainDbError(ErrorCode.BAD_MESSAGE, "block evidence count out of range");
  const evidence: Evidence[] = [];
  for (let i = 0; i < count[0]!; i++) {
    const e = decodeMessage(section());
    if (e.kind !== "evidence")
      throw new ChainDbError(ErrorCode.BAD_MESSAGE, "block evidence entry is not evidence");
    evidence.push(e);
  }
  const txs = copy(section());
  if (at !== bytes.length)
    throw new ChainDbError(ErrorCode.BAD_MESSAGE, `${bytes.length - at} trailing bytes after the block`);
  return {
    height,
    parent: copy(bytes.subarray(8, 40)),
    lastCommit,
    evidence,
    txs,
    stateRoot: copy(bytes.subarray(40, 72)),
  };
}

/** A copy of `b` (a Node Buffer's own `slice` would alias a possibly pooled input). */
const copy = (b: Uint8Array): Uint8Array => new Uint8Array(b);

/** A block commit's bytes: the count of precommits, then each precommit's message bytes. */
function encodeCommit(c: BlockCommit): Uint8Array {
  const votes = c.precommits.slice(0, CERTIFICATE_VOTES_MAX).map((v) => encodeMessage(v));
  const out = new Uint8Array(4 + votes.reduce((n, v) => n + 4 + v.length, 0));
  const view = new DataView(out.buffer);
  view.setUint32(0, votes.length, true);
  let at = 4;
  for (const v of votes) (view.setUint32(at, v.length, true), out.set(v, at + 4), (at += 4 + v.length));
  return out;
}

function decodeCommit(bytes: Uint8Array): BlockCommit {
  const bad = (why: string) => new ChainDbError(ErrorCode.BAD_MESSAGE, `block commit: ${why}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 4) throw bad("truncated");
  const count = view.getUint32(0, true);
  if (count > CERTIFICATE_VOTES_MAX) throw bad(`${count} precommits`);
  const precommits: Vote[] = [];
  let at = 4;
  for (let i = 0; i < count; i++) {
    if (at + 4 > bytes.length) throw bad("truncated");
    const length = view.getUint32(at, true);
    if (at + 4 + length > bytes.length) throw bad("truncated");
    const v = decodeMessage(bytes.subarray(at + 4, at + 4 + length));
    if (v.kind !== "vote") throw bad("an entry is not a vote");
    precommits.push(v);
    at += 4 + length;
  }
  if (at !== bytes.length) throw bad("trailing bytes");
  return { precommits };
}

/**
 * True if `c` proves that the value `id` was decided at `height`: precommits for it, all of one
 * round, from distinct validators of `set` with more than 2/3 of the power, each correctly signed.
 * A full certificate must also hold a valid proposal for `id` in that round.
 */
export function verifyCommit(
  chainId: string,
  set: ValidatorSet,
  c: BlockCommit | CommitCertificate,
  height: number,
  id: Uint8Array,
  verify?: Verifier,
): boolean {
  // Extras are refused before any signature is checked: at most one precommit per validator.
  if (c.precommits.length > set.size) return false;
  let round = c.precommits[0]?.round ?? -1;
  if ("proposal" in c) {
    const p = c.proposal;
    if (p.height !== height || idKey(p.valueId) !== idKey(id) || !verifyProposal(chainId, p, verify))
      return false;
    round = p.round;
  }
  const seen = new Set<number>();
  let power = 0;
  for (const v of c.precommits) {
    const index = set.indexOf(v.validator);
    if (index < 0 || seen.has(index)) return false;
    if (
      v.type !== VoteType.Precommit ||
      v.height !== height ||
      v.round !== round ||
      idKey(v.valueId) !== idKey(id)
    )
      return false;
    if (!verifyVote(chainId, v, verify)) return false;
    seen.add(index);
    power += set.power(index);
  }
  return set.isQuorum(power);
}

/** True if every evidence in `b` verifies against `set` (the set of the evidence's height). */
export function verifyBlockEvidence(
  chainId: string,
  set: ValidatorSet,
  b: Block,
  verify?: Verifier,
): boolean {
  return b.evidence.every((e) => verifyEvidence(chainId, set, e, verify));
}
