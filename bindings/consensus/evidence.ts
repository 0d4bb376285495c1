/**
 * Duplicate-vote evidence (CometBFT `types/evidence.go` DuplicateVoteEvidence) and, for an
 * equivocating proposer, duplicate-proposal evidence: two messages signed by one validator for the
 * same height, round and type with different values. Anyone can verify it against the validator
 * set of that height: both signatures hold, the signer is a validator, the values differ.
 * @module
 */
import { toHex } from "../util/index.ts";
import { proposalHeader, verifyProposalSignature, verifyVote, type Verifier } from "./codec.ts";
import type { Evidence, Proposal, Vote } from "./types.ts";
import type { ValidatorSet } from "./validators.ts";
import { idKey } from "./votes.ts";

/** The accused validator's address. */
export function accused(e: Evidence): Uint8Array {
  return e.a.kind === "vote" ? e.a.validator : e.a.proposer;
}

/** A key that is the same for every evidence of one offence (validator, height, round, type). */
export function evidenceKey(e: Evidence): string {
  const type = e.a.kind === "vote" ? e.a.type : 0;
  return `${toHex(accused(e))}/${e.a.height}/${e.a.round}/${type}`;
}

/**
 * Builds evidence from two conflicting messages, in a canonical order (smaller value id first).
 * Proposals are kept as headers: the signatures cover the value ids, so the blocks are not needed.
 */
export function makeEvidence(a: Vote | Proposal, b: Vote | Proposal): Evidence {
  const ka = idKey(a.valueId),
    kb = idKey(b.valueId);
  const strip = (m: Vote | Proposal) => (m.kind === "proposal" ? proposalHeader(m) : m);
  const [first, second] = (ka < kb ? [a, b] : [b, a]).map(strip) as [Vote | Proposal, Vote | Proposal];
  return { kind: "evidence", type: a.kind === "vote" ? "vote" : "proposal", a: first, b: second };
}

/** True if `e` proves misbehaviour by a member of `set` on chain `chainId`. */
export function verifyEvidence(chainId: string, set: ValidatorSet, e: Evidence, verify?: Verifier): boolean {
  const { a, b } = e;
  if (a.height !== b.height || a.round !== b.round) return false;
  if (idKey(a.valueId) === idKey(b.valueId)) return false;
  if (a.kind === "vote" && b.kind === "vote") {
    if (e.type !== "vote" || a.type !== b.type || toHex(a.validator) !== toHex(b.validator)) return false;
    if (set.indexOf(a.validator) < 0) return false;
    return verifyVote(chainId, a, verify) && verifyVote(chainId, b, verify);
  }
  if (a.kind === "proposal" && b.kind === "proposal") {
    if (e.type !== "proposal" || toHex(a.proposer) !== toHex(b.proposer)) return false;
    if (set.indexOf(a.proposer) < 0) return false;
    return verifyProposalSignature(chainId, a, verify) && verifyProposalSignature(chainId, b, verify);
  }
  return false;
}
