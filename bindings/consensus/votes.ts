/**
 * What a node has heard in one round of one height: the proposal from the round's proposer, and
 * prevotes and precommits tallied by voting power per value id (Algorithm 1 counts "2f+1
 * ⟨PREVOTE, h, r, id(v)⟩" and so on; here the counts are power sums).
 * @module
 */
import { toHex } from "../util/index.ts";
import type { Proposal, Vote } from "./types.ts";

/** Distinct proposals kept per round (an equivocating proposer can sign any number). */
export const PROPOSALS_PER_ROUND_MAX = 8;

/** Distinct values counted per validator per round and type (bounds an equivocator's weight). */
export const VOTES_PER_VALIDATOR_MAX = 4;

/** Key of a value id in the tallies; "nil" for a nil vote. */
export function idKey(id: Uint8Array | null): string {
  return id === null ? "nil" : toHex(id);
}

/**
 * Votes of one type in one round, by validator index, with power per value id. A validator that
 * equivocates is counted once in the total and once for each value it voted for (at most
 * {@link VOTES_PER_VALIDATOR_MAX}): Algorithm 1 counts messages received, and a certificate made of
 * +2/3 signed precommits is valid even if one signer also signed something else — two quorums of
 * more than 2/3 still share more than 1/3, which includes a correct validator.
 */
export class VoteTally {
  readonly byValidator = new Map<number, Vote[]>();
  private readonly powerById = new Map<string, number>();
  /** Power of all validators that voted (for anything, nil included), each counted once. */
  totalPower = 0;

  /** Adds `vote` by validator `index`; true if it was new. */
  add(index: number, power: number, vote: Vote): boolean {
    const votes = this.byValidator.get(index) ?? [];
    const key = idKey(vote.valueId);
    if (votes.some((v) => idKey(v.valueId) === key) || votes.length >= VOTES_PER_VALIDATOR_MAX) return false;
    if (votes.length === 0) this.totalPower += power;
    votes.push(vote);
    this.byValidator.set(index, votes);
    this.powerById.set(key, (this.powerById.get(key) ?? 0) + power);
    return true;
  }

  /** Power of the votes for `id` (null: nil votes). */
  powerFor(id: Uint8Array | null): number {
    return this.powerById.get(idKey(id)) ?? 0;
  }

  /** The value ids voted for (nil as "nil"), with their power. */
  entries(): IterableIterator<[string, number]> {
    return this.powerById.entries();
  }

  /** The votes for `id`, in validator order. */
  votesFor(id: Uint8Array | null): Vote[] {
    const key = idKey(id);
    const out: Vote[] = [];
    for (const index of [...this.byValidator.keys()].sort((a, b) => a - b)) {
      const vote = this.byValidator.get(index)!.find((v) => idKey(v.valueId) === key);
      if (vote !== undefined) out.push(vote);
    }
    return out;
  }
}

/** Everything heard in one round of the current height. */
export class RoundState {
  /** The proposal of the round's proposer (the first one, if it equivocated). */
  proposal: Proposal | null = null;
  /**
   * Every distinct proposal of the round's proposer (more than one only if it equivocated): the
   * paper's rules hold for any ⟨PROPOSAL⟩ received, and a commit may be for the second one.
   */
  readonly proposals: Proposal[] = [];

  /** Adds a proposal unless its value is known or the bound is reached; true if added. */
  addProposal(p: Proposal): boolean {
    if (this.proposals.length >= PROPOSALS_PER_ROUND_MAX) return false;
    if (this.proposals.some((q) => idKey(q.valueId) === idKey(p.valueId))) return false;
    this.proposals.push(p);
    this.proposal ??= p;
    return true;
  }
  readonly prevotes = new VoteTally();
  readonly precommits = new VoteTally();
  /** Validators that sent anything for this round (for the round skip on f+1 messages). */
  readonly senders = new Set<number>();
  senderPower = 0;

  /** Records that validator `index` sent a message in this round. */
  noteSender(index: number, power: number): void {
    if (this.senders.has(index)) return;
    this.senders.add(index);
    this.senderPower += power;
  }
}
