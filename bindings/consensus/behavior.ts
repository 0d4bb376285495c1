/**
 * The replaceable hook through which a node's own proposals and votes leave it (CometBFT
 * `consensus/byzantine_test.go` swaps `decideProposal` and `doPrevote` the same way). A correct
 * node uses {@link honest}; tests plug in byzantine behaviours that equivocate, double-vote, vote
 * for invalid values or stay silent. The engine always records its own honest message locally and
 * durably; only what goes on the wire is the hook's choice.
 * @module
 */
import type { Effect, Proposal, Vote, VoteType } from "./types.ts";
import type { ValidatorSet } from "./validators.ts";

/** What a behaviour may use: unguarded signing (a byzantine node ignores its sign-state guard). */
export interface BehaviorContext {
  readonly chainId: string;
  /** This node's index in the validator set. */
  readonly self: number;
  readonly validators: ValidatorSet;
  /** Number of peers the driver addresses by index (0 … peers-1, including self). */
  readonly peers: number;
  /** Signs any proposal, bypassing the guard. */
  signProposal(fields: { height: number; round: number; validRound: number; value: Uint8Array }): Proposal;
  /** Signs any vote, bypassing the guard. */
  signVote(fields: { type: VoteType; height: number; round: number; valueId: Uint8Array | null }): Vote;
  /** The proposal this node holds for `round` of its current height, if any. */
  proposalAt(round: number): Proposal | null;
}

/** How a node's own messages are sent. */
export interface Behavior {
  /** Called with the honest proposal; returns what to send. */
  propose(ctx: BehaviorContext, proposal: Proposal): Effect[];
  /** Called with the honest vote; returns what to send. */
  vote(ctx: BehaviorContext, vote: Vote): Effect[];
}

/** A correct node: broadcast exactly the honest message. */
export const honest: Behavior = {
  propose: (_ctx, proposal) => [{ kind: "broadcast", message: proposal }],
  vote: (_ctx, vote) => [{ kind: "broadcast", message: vote }],
};
