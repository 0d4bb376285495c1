// Sizes the transport's frame limit from the largest real messages, built with the real encoders:
// a consensus proposal of a default block (1,000 transfers, the node's blockTxsMax) and the
// protocol's largest commit (BLOCK_TXS_MAX staking transactions of the largest size, 1,024
// precommits, 64 pieces of evidence), a replication catch-up append at the default settings
// (appendEntriesMax 64 × blockTransfersMax 1,000), and a proof-of-work block as gossiped.
// Run with `npx vitest run test/net/frame-limit.test.ts` to print the numbers.
import { describe, expect, it } from "vitest";
import { FRAME_MAX_DEFAULT, encodeMessage as encodeNetMessage } from "../../bindings/net/index.ts";
import {
  BLOCK_EVIDENCE_MAX,
  VoteType,
  encodeBlock,
  encodeMessage,
  type Evidence,
  type Vote,
} from "../../bindings/consensus/index.ts";
import {
  BLOCK_TXS_MAX,
  BALLOT_CANDIDATES_MAX,
  STAKING_TX_BASE_SIZE,
  encodeBlockTxs,
} from "../../bindings/selection/index.ts";
import { replicaMessageSize } from "../../bindings/replication/index.ts";
import { POW_BLOCK_TRANSFERS_MAX } from "../../bindings/replication/pow-block.ts";

const TRANSFER_SIZE = 157;
const vote = (i: number): Vote => ({
  kind: "vote",
  type: VoteType.Precommit,
  height: 2 ** 40,
  round: 2 ** 20,
  valueId: new Uint8Array(32).fill(1),
  validator: new Uint8Array(32).fill(i),
  signature: new Uint8Array(64),
});

function consensusMessage(txCount: number, txSize: number, precommits: number, evidence: number): number {
  const txs = encodeBlockTxs({
    feeRecipient: new Uint8Array(32),
    txs: Array.from({ length: txCount }, () => new Uint8Array(txSize).fill(1)),
  });
  const ev: Evidence = {
    kind: "evidence",
    type: "vote",
    a: vote(1),
    b: { ...vote(1), valueId: new Uint8Array(32).fill(2) },
  };
  const lastCommit = { precommits: Array.from({ length: precommits }, (_, i) => vote(i)) };
  const value = encodeBlock({
    height: 2 ** 40,
    parent: new Uint8Array(32),
    lastCommit,
    evidence: Array(evidence).fill(ev),
    txs,
    stateRoot: new Uint8Array(32),
  });
  const proposal = {
    kind: "proposal" as const,
    height: 2 ** 40,
    round: 2 ** 20,
    validRound: 2 ** 20 - 1,
    valueId: new Uint8Array(32),
    value,
    proposer: new Uint8Array(32),
    signature: new Uint8Array(64),
  };
  return encodeMessage({ kind: "commit", proposal, precommits: lastCommit.precommits }).length;
}

describe("the frame limit is sized from the largest real message", () => {
  it("covers every default-configuration message with at most 5% to spare", () => {
    const defaultProposalBlock = consensusMessage(1000, TRANSFER_SIZE, 4, 0); // commit of a default block, 4 validators
    const consensusCap = consensusMessage(
      BLOCK_TXS_MAX,
      STAKING_TX_BASE_SIZE + BALLOT_CANDIDATES_MAX * 32,
      1024,
      BLOCK_EVIDENCE_MAX,
    );
    const entry = {
      epoch: 2 ** 40,
      proposer: new Uint8Array(32),
      transfers: new Uint8Array(1000 * TRANSFER_SIZE),
    };
    const replicationAppend = replicaMessageSize({
      t: "append",
      epoch: 1,
      prevHeight: 1,
      prevEpoch: 1,
      commit: 1,
      entries: Array(64).fill(entry),
    });
    const powBlock = encodeNetMessage({
      t: "block",
      b: new Uint8Array(116 + POW_BLOCK_TRANSFERS_MAX * TRANSFER_SIZE),
    }).length;
    const sizes = { defaultProposalBlock, consensusCap, replicationAppend, powBlock };
    console.log("largest messages (bytes):", sizes, "frame limit:", FRAME_MAX_DEFAULT);
    const largest = Math.max(...Object.values(sizes));
    expect(largest).toBe(replicationAppend);
    expect(FRAME_MAX_DEFAULT).toBeGreaterThanOrEqual(largest + 1); // + the frame type byte
    expect(FRAME_MAX_DEFAULT).toBeLessThanOrEqual(largest * 1.05);
  });
});
