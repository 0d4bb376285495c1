/**
 * Messages, events and effects of the Tendermint engine ("The latest gossip on BFT consensus",
 * Buchman, Kwon, Milosevic, 2018, Algorithm 1). The engine is a pure state machine: the driver
 * feeds it {@link ConsensusEvent}s and carries out the {@link Effect}s it returns, in order.
 * @module
 */

/** The steps of a round, ordered as in the paper (`step_p ∈ {propose, prevote, precommit}`). */
export enum Step {
  Propose = 0,
  Prevote = 1,
  Precommit = 2,
}

/** The two kinds of vote. The numeric value is part of the signed encoding. */
export enum VoteType {
  Prevote = 1,
  Precommit = 2,
}

/** ⟨PROPOSAL, h, r, v, vr⟩ signed by the proposer of (h, r); `value` travels with its id. */
export interface Proposal {
  readonly kind: "proposal";
  readonly height: number;
  readonly round: number;
  /** The paper's `validRound` carried by the proposal (-1 for a fresh value). */
  readonly validRound: number;
  /** sha256 of `value`; the signature covers the id, not the bytes. */
  readonly valueId: Uint8Array;
  readonly value: Uint8Array;
  /** The proposer's 32-byte public key (its address). */
  readonly proposer: Uint8Array;
  readonly signature: Uint8Array;
}

/** ⟨PREVOTE|PRECOMMIT, h, r, id(v) or nil⟩ signed by a validator. */
export interface Vote {
  readonly kind: "vote";
  readonly type: VoteType;
  readonly height: number;
  readonly round: number;
  /** Value id, or null for a nil vote. */
  readonly valueId: Uint8Array | null;
  /** The voter's 32-byte public key (its address). */
  readonly validator: Uint8Array;
  readonly signature: Uint8Array;
}

/** A decided height's certificate: the proposal and more than 2/3 of precommits for it. */
export interface CommitCertificate {
  readonly kind: "commit";
  readonly proposal: Proposal;
  readonly precommits: readonly Vote[];
}

/** Two conflicting signed messages from one validator for the same height, round and type. */
export interface Evidence {
  readonly kind: "evidence";
  /** "vote": duplicate vote (same h, r, type; different value). "proposal": equivocating proposer. */
  readonly type: "vote" | "proposal";
  readonly a: Vote | Proposal;
  readonly b: Vote | Proposal;
}

/** Anything a node sends to another. */
export type Message = Proposal | Vote | CommitCertificate | Evidence;

/** A timeout the engine asked for, identified by the step it guards. */
export interface Timeout {
  readonly step: Step;
  readonly height: number;
  readonly round: number;
}

/** Inputs of the engine. */
export type ConsensusEvent =
  | { readonly kind: "message"; readonly from: number; readonly message: Message }
  | { readonly kind: "timeout"; readonly timeout: Timeout }
  | { readonly kind: "validity"; readonly valueId: Uint8Array; readonly valid: boolean }
  /** Periodic gossip: re-send what this node holds for its height (messages may have been lost). */
  | { readonly kind: "tick" };

/** A record the driver keeps durable; `sync` records must be durable before later sends. */
export type WalRecord =
  | { readonly type: "message"; readonly message: Proposal | Vote }
  | {
      readonly type: "state";
      readonly height: number;
      readonly round: number;
      readonly step: Step;
      readonly lockedRound: number;
      readonly lockedId: Uint8Array | null;
      readonly validRound: number;
      readonly validId: Uint8Array | null;
    }
  | { readonly type: "decide"; readonly height: number; readonly certificate: CommitCertificate };

/** Outputs of the engine, to be carried out in order. */
export type Effect =
  | { readonly kind: "persist"; readonly record: WalRecord; readonly sync: boolean }
  | { readonly kind: "broadcast"; readonly message: Message }
  | { readonly kind: "send"; readonly to: number; readonly message: Message }
  | { readonly kind: "schedule"; readonly timeout: Timeout; readonly delayMs: number }
  /** Ask the application whether a proposed value is valid; answer with a `validity` event. */
  | {
      readonly kind: "validate";
      readonly height: number;
      readonly valueId: Uint8Array;
      readonly value: Uint8Array;
    }
  | {
      readonly kind: "decide";
      readonly height: number;
      readonly value: Uint8Array;
      readonly certificate: CommitCertificate;
    }
  | { readonly kind: "evidence"; readonly evidence: Evidence };

/** Timeouts growing linearly with the round, as in the paper: `timeoutX(r) = initX + r·deltaX`. */
export interface TimeoutConfig {
  readonly proposeMs: number;
  readonly proposeDeltaMs: number;
  readonly prevoteMs: number;
  readonly prevoteDeltaMs: number;
  readonly precommitMs: number;
  readonly precommitDeltaMs: number;
}

/** Defaults in the spirit of CometBFT's (3 s / 1 s), scaled down for simulated networks. */
export const DEFAULT_TIMEOUTS: TimeoutConfig = {
  proposeMs: 300,
  proposeDeltaMs: 100,
  prevoteMs: 100,
  prevoteDeltaMs: 50,
  precommitMs: 100,
  precommitDeltaMs: 50,
};
