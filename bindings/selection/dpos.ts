/**
 * Delegated proof of stake (in the manner of EOS and ICON): token holders vote for candidates with
 * their balance, up to a fixed number of candidates each, a new vote replacing the old one; at each
 * epoch boundary the top K candidates by votes become the validator set, with equal or
 * vote-weighted power. Ties are broken by the smaller address, so every node computes the same set.
 * @module
 */
import { ChainDbError, ErrorCode, abytes, aint, toHex } from "../util/index.ts";
import { compareAddresses, type PoweredValidator } from "./pos.ts";

/** Options of {@link DelegateElection}. */
export interface DposOptions {
  /** Delegates elected per epoch (K). */
  readonly delegates: number;
  /** Most candidates one voter may vote for. */
  readonly votesPerVoter: number;
  /** Heights per epoch; the set changes at heights 1, 1 + epoch, 1 + 2·epoch, … */
  readonly epochHeights: number;
  /** "equal": power 1 each; "weighted": power = votes received. */
  readonly power: "equal" | "weighted";
}

/** Votes of token holders for delegate candidates, and the elected sets per epoch. */
export class DelegateElection {
  private readonly candidates = new Map<string, Uint8Array>();
  private readonly balances = new Map<string, number>();
  private readonly ballots = new Map<string, string[]>();
  private readonly sets = new Map<number, PoweredValidator[]>();

  constructor(readonly options: DposOptions) {
    aint(options.delegates, 1, 1024, "delegates");
    aint(options.votesPerVoter, 1, 1024, "votesPerVoter");
    aint(options.epochHeights, 1, 1 << 30, "epochHeights");
  }

  /** Registers a candidate (its 32-byte validator key). */
  register(candidate: Uint8Array): void {
    this.candidates.set(toHex(abytes(candidate, 32, "candidate")), candidate.slice());
  }

  /** Sets a voter's balance (its voting weight); a ballot follows its voter's balance. */
  setBalance(voter: Uint8Array, balance: number): void {
    this.balances.set(toHex(abytes(voter, 32, "voter")), aint(balance, 0, Number.MAX_SAFE_INTEGER, "balance"));
  }

  /** A voter's ballot, replacing any earlier one; throws `BAD_ARGUMENT` for too many or unknown candidates. */
  vote(voter: Uint8Array, candidates: readonly Uint8Array[]): void {
    const keys = [...new Set(candidates.map((c) => toHex(abytes(c, 32, "candidate"))))];
    if (keys.length > this.options.votesPerVoter) throw new ChainDbError(ErrorCode.BAD_ARGUMENT, `a ballot names at most ${this.options.votesPerVoter} candidates, got ${keys.length}`);
    for (const k of keys) if (!this.candidates.has(k)) throw new ChainDbError(ErrorCode.BAD_ARGUMENT, `${k} is not a candidate`);
    this.ballots.set(toHex(abytes(voter, 32, "voter")), keys);
  }

  /** Votes per candidate now (each voter's whole balance counts for each candidate it names). */
  tally(): Map<string, number> {
    const votes = new Map<string, number>([...this.candidates.keys()].map((k) => [k, 0]));
    for (const [voter, keys] of this.ballots) {
      const weight = this.balances.get(voter) ?? 0;
      for (const k of keys) votes.set(k, votes.get(k)! + weight);
    }
    return votes;
  }

  /** Elects the top K by votes (ties to the smaller address; zero votes never elected). */
  elect(): PoweredValidator[] {
    const ranked = [...this.tally()].filter(([, v]) => v > 0).map(([k, v]) => ({ address: this.candidates.get(k)!, votes: v }));
    ranked.sort((a, b) => b.votes - a.votes || compareAddresses(a.address, b.address));
    return ranked.slice(0, this.options.delegates).map((c) => ({ address: c.address, power: this.options.power === "equal" ? 1 : c.votes }));
  }

  /** End of block `height`: at an epoch's last height, elects the set for the next epoch; returns it or null. */
  endBlock(height: number): PoweredValidator[] | null {
    if (height % this.options.epochHeights !== 0) return null;
    const set = this.elect();
    this.sets.set(height + 1, set);
    return set;
  }

  /** The set of the epoch containing `height` (the genesis election for the first epoch). */
  validatorsAt(height: number): PoweredValidator[] {
    if (!this.sets.has(1)) this.sets.set(1, this.elect());
    let best = 1;
    for (const h of this.sets.keys()) if (h <= height && h > best) best = h;
    return this.sets.get(best)!;
  }
}
