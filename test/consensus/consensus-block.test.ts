// Blocks carry the previous height's commit certificate and evidence; anyone can verify both.
import { describe, expect, it } from "vitest";
import { keyPairFromSeed } from "../../bindings/chain/index.ts";
import {
  ValidatorSet,
  VoteType,
  decodeBlock,
  encodeBlock,
  makeEvidence,
  signProposal,
  signVote,
  valueIdOf,
  verifyBlockEvidence,
  verifyCommit,
  type Block,
  type CommitCertificate,
} from "../../bindings/consensus/index.ts";

const CHAIN = "block-chain";
const keys = [1, 2, 3, 4].map((i) => keyPairFromSeed(new Uint8Array(32).fill(i)));
const set = new ValidatorSet(keys.map((k) => ({ address: k.publicKey, power: 1 })));
const parentValue = new TextEncoder().encode("parent block");
const id = valueIdOf(parentValue);
const proposal = signProposal(CHAIN, keys[0]!.secretKey, keys[0]!.publicKey, {
  height: 5,
  round: 2,
  validRound: -1,
  value: parentValue,
});
const precommit = (
  i: number,
  fields: Partial<{ round: number; height: number; valueId: Uint8Array | null; type: VoteType }> = {},
) =>
  signVote(CHAIN, keys[i]!.secretKey, keys[i]!.publicKey, {
    type: VoteType.Precommit,
    height: 5,
    round: 2,
    valueId: id,
    ...fields,
  });
const cert = (votes = [0, 1, 2].map((i) => precommit(i))): CommitCertificate => ({
  kind: "commit",
  proposal,
  precommits: votes,
});

describe("blocks with commits and evidence", () => {
  it("round-trips a block and rejects trailing or truncated bytes", () => {
    const evidence = makeEvidence(precommit(3), precommit(3, { valueId: null }));
    const block: Block = {
      height: 6,
      parent: id,
      lastCommit: { precommits: cert().precommits },
      evidence: [evidence],
      txs: new Uint8Array([1, 2, 3]),
      stateRoot: new Uint8Array(32).fill(7),
    };
    const bytes = encodeBlock(block);
    expect(decodeBlock(bytes)).toEqual(block);
    expect(() => decodeBlock(bytes.subarray(0, bytes.length - 1))).toThrow(/truncated/);
    expect(() => decodeBlock(new Uint8Array([...bytes, 0]))).toThrow(/trailing/);
    expect(verifyBlockEvidence(CHAIN, set, block)).toBe(true);
    const forged = makeEvidence(precommit(3), {
      ...precommit(3, { valueId: null }),
      signature: new Uint8Array(64),
    });
    expect(verifyBlockEvidence(CHAIN, set, { ...block, evidence: [forged] })).toBe(false);
  });

  it("verifies a commit of more than 2/3 and rejects every way of faking one", () => {
    expect(verifyCommit(CHAIN, set, cert(), 5, id)).toBe(true);
    expect(verifyCommit(CHAIN, set, cert(), 6, id)).toBe(false); // another height
    expect(verifyCommit(CHAIN, set, cert(), 5, valueIdOf(new Uint8Array(1)))).toBe(false); // another value
    expect(verifyCommit(CHAIN, set, cert([0, 1].map((i) => precommit(i))), 5, id)).toBe(false); // 2 of 4
    expect(verifyCommit(CHAIN, set, cert([precommit(0), precommit(1), precommit(1)]), 5, id)).toBe(false); // duplicate signer
    expect(
      verifyCommit(CHAIN, set, cert([precommit(0), precommit(1), precommit(2, { round: 3 })]), 5, id),
    ).toBe(false); // other round
    expect(
      verifyCommit(
        CHAIN,
        set,
        cert([precommit(0), precommit(1), precommit(2, { type: VoteType.Prevote })]),
        5,
        id,
      ),
    ).toBe(false); // prevote
    expect(
      verifyCommit(
        CHAIN,
        set,
        cert([precommit(0), precommit(1), { ...precommit(2), signature: precommit(3).signature }]),
        5,
        id,
      ),
    ).toBe(false);
    const outsider = keyPairFromSeed(new Uint8Array(32).fill(9));
    const stranger = signVote(CHAIN, outsider.secretKey, outsider.publicKey, {
      type: VoteType.Precommit,
      height: 5,
      round: 2,
      valueId: id,
    });
    expect(verifyCommit(CHAIN, set, cert([precommit(0), precommit(1), stranger]), 5, id)).toBe(false);
    expect(verifyCommit("other-chain", set, cert(), 5, id)).toBe(false);
  });

  it("verifies a block commit (precommits only) the same way", () => {
    const commit = (votes = [0, 1, 2].map((i) => precommit(i))) => ({ precommits: votes });
    expect(verifyCommit(CHAIN, set, commit(), 5, id)).toBe(true);
    expect(verifyCommit(CHAIN, set, commit(), 6, id)).toBe(false);
    expect(verifyCommit(CHAIN, set, commit([0, 1].map((i) => precommit(i))), 5, id)).toBe(false);
    expect(
      verifyCommit(CHAIN, set, commit([precommit(0), precommit(1), precommit(2, { round: 3 })]), 5, id),
    ).toBe(false); // mixed rounds
    expect(verifyCommit(CHAIN, set, commit([]), 5, id)).toBe(false);
  });

  it("keeps block size flat as the chain grows (a commit does not carry the parent's bytes)", () => {
    // Regression: blocks once carried the parent's whole certificate, proposal and value included,
    // so every block nested all earlier ones; by height 22 a proposal exceeded the 16 MiB message
    // limit, was dropped by every receiver, and the chain stalled.
    let parent: Uint8Array = new Uint8Array(32);
    const sizes: number[] = [];
    for (let height = 1; height <= 30; height++) {
      const votes =
        height === 1
          ? null
          : [0, 1, 2].map((i) =>
              signVote(CHAIN, keys[i]!.secretKey, keys[i]!.publicKey, {
                type: VoteType.Precommit,
                height: height - 1,
                round: 0,
                valueId: parent,
              }),
            );
      const value = encodeBlock({
        height,
        parent,
        lastCommit: votes && { precommits: votes },
        evidence: [],
        txs: new Uint8Array(5),
        stateRoot: new Uint8Array(32),
      });
      const p = signProposal(CHAIN, keys[height % 4]!.secretKey, keys[height % 4]!.publicKey, {
        height,
        round: 0,
        validRound: -1,
        value,
      });
      sizes.push(value.length);
      if (votes !== null)
        expect(verifyCommit(CHAIN, set, decodeBlock(value).lastCommit!, height - 1, parent)).toBe(true);
      parent = p.valueId;
    }
    expect(new Set(sizes.slice(1)).size).toBe(1);
  });
});
