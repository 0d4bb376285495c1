/**
 * Delegated proof of stake (in the manner of EOS and ICON) with plain numbers: a thin adapter over
 * {@link SelectionState} (the state machine `ConsensusNode` runs) and a small in-memory ledger.
 * Token holders vote for candidates with their balance, up to a fixed number of candidates each, a
 * new vote replacing the old one; at the last height H of each epoch the tally elects the top K
 * candidates, with equal or vote-weighted (capped) power, and that set applies from H + 2. Ties go
 * to the smaller address, so every node computes the same set. Ballots cast before the first
 * height-bound call ({@link DelegateElection.validatorsAt} or {@link DelegateElection.endBlock})
 * are the genesis election; later ones are transactions of the next block.
 * @module
 */
import { ChainDbError, ErrorCode, abytes, aint, toHex } from "../util/index.ts";
import { SelectionChain, type Ledger } from "./chain.ts";
import { SelectionState, type SelectionParams } from "./state.ts";
import { BALLOT_CANDIDATES_MAX } from "./txs.ts";
import type { PoweredValidator } from "./types.ts";

/** Options of {@link DelegateElection}. */
export interface DposOptions {
  /** Delegates elected per epoch (K). */
  readonly delegates: number;
  /** Most candidates one voter may vote for (at most the chain's ballot limit, 8). */
  readonly votesPerVoter: number;
  /** Heights per epoch; the tally is taken at heights epoch, 2·epoch, … and applies two heights later. */
  readonly epochHeights: number;
  /** "equal": power 1 each; "weighted": power = votes received (capped so the set's total fits). */
  readonly power: "equal" | "weighted";
}

/** Votes of token holders for delegate candidates, and the elected sets per epoch. */
export class DelegateElection {
  private readonly params: SelectionParams;
  private readonly ledger: Ledger = new Map();
  /** Before genesis: candidates and ballots in arrival order. */
  private readonly candidates = new Map<string, Uint8Array>();
  private readonly ballots = new Map<string, { voter: Uint8Array; candidates: Uint8Array[] }>();
  private chain: SelectionChain | null = null;

  constructor(readonly options: DposOptions) {
    aint(options.delegates, 1, 1024, "delegates");
    aint(options.votesPerVoter, 1, BALLOT_CANDIDATES_MAX, "votesPerVoter");
    aint(options.epochHeights, 1, 1 << 30, "epochHeights");
    this.params = {
      mode: "dpos",
      unbondingHeights: 0,
      slashPpm: 0,
      maxValidators: options.delegates,
      epochHeights: options.epochHeights,
      powerUnit: 1n,
      dposPower: options.power,
    };
  }

  /** Registers a candidate (its 32-byte validator key); registering twice changes nothing. */
  register(candidate: Uint8Array): void {
    abytes(candidate, 32, "candidate");
    if (this.chain === null) return void this.candidates.set(toHex(candidate), candidate.slice());
    if (!this.chain.state.isCandidate(candidate))
      this.chain.staking(this.chain.pendingHeight, "candidate", candidate);
  }

  /** Sets a voter's balance (its voting weight at the next tally); a ballot follows its voter's balance. */
  setBalance(voter: Uint8Array, balance: number): void {
    const b = BigInt(aint(balance, 0, Number.MAX_SAFE_INTEGER, "balance"));
    const key = toHex(abytes(voter, 32, "voter"));
    const a = this.ledger.get(key);
    if (a === undefined) this.ledger.set(key, { balance: b, nonce: 0n });
    else a.balance = b;
  }

  /** A voter's ballot, replacing any earlier one; throws `BAD_ARGUMENT` for too many or unknown candidates. */
  vote(voter: Uint8Array, candidates: readonly Uint8Array[]): void {
    abytes(voter, 32, "voter");
    const unique = new Map(candidates.map((c) => [toHex(abytes(c, 32, "candidate")), c.slice()]));
    if (unique.size > this.options.votesPerVoter)
      throw new ChainDbError(
        ErrorCode.BAD_ARGUMENT,
        `a ballot names at most ${this.options.votesPerVoter} candidates, got ${unique.size}`,
      );
    for (const [k, c] of unique)
      if (!(this.chain?.state.isCandidate(c) ?? this.candidates.has(k)))
        throw new ChainDbError(ErrorCode.BAD_ARGUMENT, `${k} is not a candidate`);
    if (this.chain === null)
      return void this.ballots.set(toHex(voter), { voter: voter.slice(), candidates: [...unique.values()] });
    this.chain.staking(this.chain.pendingHeight, "vote", voter, 0n, [...unique.values()]);
  }

  /** Votes per candidate now (each voter's whole balance counts for each candidate it names). */
  tally(): Map<string, number> {
    return new Map([...this.electionNow().tally].map(([k, v]) => [k, Number(v)]));
  }

  /** The top K by votes now (ties to the smaller address; zero votes never elected), sorted by address. */
  elect(): PoweredValidator[] {
    return this.electionNow().elected;
  }

  /** End of block `height`: at an epoch's last height, returns the set elected for height + 2, else null. */
  endBlock(height: number): PoweredValidator[] | null {
    const chain = this.started();
    chain.endBlock(height);
    return height % this.options.epochHeights === 0 ? chain.state.validatorsAt(height + 2) : null;
  }

  /** The set of `height` (the genesis election until the first epoch's set applies). */
  validatorsAt(height: number): PoweredValidator[] {
    return this.started().state.validatorsAt(height);
  }

  /** The selection state underneath (it starts with the first height-bound call). */
  get selection(): SelectionState {
    return this.started().state;
  }

  private electionNow(): { tally: Map<string, bigint>; elected: PoweredValidator[] } {
    // Before genesis, a throwaway genesis state tallies the ballots cast so far.
    const state = this.chain?.state ?? this.genesis();
    return state?.electionNow(this.chain?.view ?? this.view()) ?? { tally: new Map(), elected: [] };
  }

  private genesis(): SelectionState | null {
    if (this.candidates.size === 0) return null;
    const validators = [...this.candidates.values()].map((address) => ({ address, stake: 0n }));
    return SelectionState.genesis(this.params, validators, {
      ballots: [...this.ballots.values()],
      accounts: this.view(),
    });
  }

  private view() {
    return { account: (address: Uint8Array) => this.ledger.get(toHex(address)) };
  }

  private started(): SelectionChain {
    if (this.chain !== null) return this.chain;
    const state = this.genesis();
    if (state === null) throw new ChainDbError(ErrorCode.BAD_ARGUMENT, "no candidate is registered");
    this.chain = new SelectionChain(state, this.ledger);
    return this.chain;
  }
}
