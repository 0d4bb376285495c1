/**
 * What a node has heard in one round of one height: the proposal from the round's proposer, and
 * prevotes and precommits tallied by voting power per value id (Algorithm 1 counts "2f+1
 * ⟨PREVOTE, h, r, id(v)⟩" and so on; here the counts are power sums). A second, different vote
 * from a validator for the same height, round and type is not counted: it is returned as the
 * conflicting half of duplicate-vote evidence.
 * @module
 */
import { toHex } from "../util/index.ts";
import type { Proposal, Vote } from "./types.ts";

/** Key of a value id in the tallies; "nil" for a nil vote. */
export function idKey(id: Uint8Array | null): string {
  return id === null ? "nil" : toHex(id);
}

/** Votes of one type in one round, by validator index, with power per value id. */
export class VoteTally {
  readonly byValidator = new Map<number, Vote>();
  private readonly powerById = new Map<string, number>();
  /** Power of all validators that voted (for anything, nil included). */
  totalPower = 0;

  /** Adds `vote` by validator `index`; returns the earlier vote if it conflicts (not counted). */
  add(index: number, power: number, vote: Vote): Vote | null {
    const earlier = this.byValidator.get(index);
    if (earlier !== undefined) return idKey(earlier.valueId) === idKey(vote.valueId) ? null : earlier;
    this.byValidator.set(index, vote);
    const key = idKey(vote.valueId);
    this.powerById.set(key, (this.powerById.get(key) ?? 0) + power);
    this.totalPower += power;
    return null;
  }

  /** Power of the votes for `id` (null: nil votes). */
  powerFor(id: Uint8Array | null): number {
    return this.powerById.get(idKey(id)) ?? 0;
  }

  /** The value ids voted for (excluding nil), with their power. */
  entries(): IterableIterator<[string, number]> {
    return this.powerById.entries();
  }

  /** The votes for `id`, in validator order. */
  votesFor(id: Uint8Array | null): Vote[] {
    const key = idKey(id);
    return [...this.byValidator.entries()].sort((a, b) => a[0] - b[0]).map((e) => e[1]).filter((v) => idKey(v.valueId) === key);
  }
}

/** Everything heard in one round of the current height. */
export class RoundState {
  /** The proposal of the round's proposer (the first one, if it equivocated). */
  proposal: Proposal | null = null;
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
