/**
 * fast-check arbitraries of valid values for the decoder fuzzers: consensus messages and blocks,
 * transfers, staking transactions, block transaction lists. Signatures are random bytes unless a
 * test needs them valid (decoders never check them; the checks that do are fuzzed separately).
 */
import fc from "fast-check";
import {
  VoteType,
  type Block,
  type CommitCertificate,
  type Evidence,
  type Message,
  type Proposal,
  type Vote,
} from "../../bindings/consensus/index.ts";
import { ROUND_MAX } from "../../bindings/consensus/codec.ts";

const bytes32 = fc.uint8Array({ minLength: 32, maxLength: 32 });
const bytes64 = fc.uint8Array({ minLength: 64, maxLength: 64 });
const height = fc.oneof(fc.integer({ min: 0, max: 1000 }), fc.maxSafeNat());
const round = fc.oneof(fc.integer({ min: 0, max: 10 }), fc.integer({ min: 0, max: ROUND_MAX }));

/** A proposal (value up to `valueMax` bytes). */
export function proposalArb(valueMax = 64): fc.Arbitrary<Proposal> {
  return fc
    .record({
      height,
      round,
      vr: fc.nat(),
      valueId: bytes32,
      value: fc.uint8Array({ maxLength: valueMax }),
      proposer: bytes32,
      signature: bytes64,
    })
    .map(({ vr, ...p }) => ({ kind: "proposal" as const, ...p, validRound: (vr % (p.round + 1)) - 1 }));
}

/** A prevote or precommit, for a value or nil. */
export const voteArb: fc.Arbitrary<Vote> = fc.record({
  kind: fc.constant("vote" as const),
  type: fc.constantFrom(VoteType.Prevote, VoteType.Precommit),
  height,
  round,
  valueId: fc.option(bytes32, { nil: null }),
  validator: bytes32,
  signature: bytes64,
});

/** A certificate with 0..`votes` precommits. */
export function commitArb(votes = 4): fc.Arbitrary<CommitCertificate> {
  return fc.record({
    kind: fc.constant("commit" as const),
    proposal: proposalArb(),
    precommits: fc.array(voteArb, { maxLength: votes }),
  });
}

/** Evidence of either kind (the decoder checks shape only, not that the halves conflict). */
export const evidenceArb: fc.Arbitrary<Evidence> = fc.oneof(
  fc.record({
    kind: fc.constant("evidence" as const),
    type: fc.constant("vote" as const),
    a: voteArb,
    b: voteArb,
  }),
  fc.record({
    kind: fc.constant("evidence" as const),
    type: fc.constant("proposal" as const),
    a: proposalArb(0),
    b: proposalArb(0),
  }),
);

/** Any consensus message. */
export const messageArb: fc.Arbitrary<Message> = fc.oneof(proposalArb(), voteArb, commitArb(), evidenceArb);

/** A consensus block. */
export const blockArb: fc.Arbitrary<Block> = fc.record({
  height: fc.oneof(fc.integer({ min: 1, max: 1000 }), fc.maxSafeNat()),
  parent: bytes32,
  lastCommit: fc.option(fc.record({ precommits: fc.array(voteArb, { maxLength: 4 }) }), { nil: null }),
  evidence: fc.array(evidenceArb, { maxLength: 2 }),
  txs: fc.uint8Array({ maxLength: 200 }),
  stateRoot: bytes32,
});
