/**
 * The validator-selection state a consensus chain carries next to its accounts, and how a block's
 * transactions change both. Balances live in the ledger (bindings/chain); this state holds what
 * the ledger cannot: bonded stake, pending unbondings, jail, DPoS candidates, ballots and tallies,
 * and the validator sets scheduled by height (CometBFT: a set computed at the end of block H
 * applies from H + 2).
 *
 * Money never leaves the ledger, so total supply is an invariant of the account records:
 * - stake moves `amount` from the holder to the {@link STAKE_POOL} account (bonded stake);
 * - a matured unbonding moves it back from the pool to the holder;
 * - slashing moves `slashPpm` of the offender's bonded and unbonding stake from the pool to
 *   {@link BURN_ADDRESS}, whose key nobody holds: burned = its balance, and
 *   circulating supply = genesis supply − burned. The pool's balance always equals the sum of
 *   bonded and unbonding stake (checked after every block).
 * A block runs as a list of packed ledger transfers ({@link BlockRun.finish}): user transfers as
 * signed, staking transactions as holder → pool moves (which bump the holder's nonce and pay its
 * fee), and the pool's own moves with the pool's nonce. So one block is one atomic ledger step.
 * @module
 */
import { createHash } from "node:crypto";
import { ChainDbError, ErrorCode, aint, assert, toHex, fromHex } from "../util/index.ts";
import type { Transfer } from "../chain/index.ts";
import { PACKED_TRANSFER_SIZE, packTransfer } from "../engine/index.ts";
import { TOTAL_POWER_MAX, compareAddresses, UNBONDINGS_MAX, type PoweredValidator } from "./types.ts";
import type { ChainTx, StakingTransaction } from "./txs.ts";

/** How validators are chosen: a fixed set with equal powers, proof of stake, or delegated proof of stake. */
export type SelectionMode = "tendermint" | "pos" | "dpos";

/** Parameters of a chain's selection (part of the chain's definition, like the chain id). */
export interface SelectionParams {
  readonly mode: SelectionMode;
  /** Heights an unbonding stays locked (and slashable) before it returns to the balance. */
  readonly unbondingHeights: number;
  /** Fraction of bonded and unbonding stake burned per offence, in parts per million. */
  readonly slashPpm: number;
  /** Most validators (PoS) or elected delegates K (DPoS). */
  readonly maxValidators: number;
  /** DPoS: heights per epoch; the tally is taken at the end of each epoch's last height. */
  readonly epochHeights: number;
  /** PoS: stake per unit of voting power (power = floor(bonded / unit)); DPoS "weighted": votes per unit. */
  readonly powerUnit: bigint;
  /** DPoS: every elected delegate has power 1 ("equal", default) or its votes / powerUnit ("weighted"). */
  readonly dposPower?: "equal" | "weighted";
}

/** Defaults: unbonding 10 heights, 10% slashed, 100 validators, epochs of 10 heights, unit 1. */
export const DEFAULT_SELECTION_PARAMS: SelectionParams = {
  mode: "tendermint",
  unbondingHeights: 10,
  slashPpm: 100_000,
  maxValidators: 100,
  epochHeights: 10,
  powerUnit: 1n,
};

/** Account holding all bonded and unbonding stake (no key: only the state machine moves it). */
export const STAKE_POOL = new Uint8Array(createHash("sha256").update("chaindb/stake-pool").digest());
/** Account that receives slashed stake: burned forever (no key). */
export const BURN_ADDRESS = new Uint8Array(createHash("sha256").update("chaindb/burned").digest());
/** Evidence older than this many heights is refused (and forgotten once slashed). */
export const EVIDENCE_AGE_MAX = 100;
/** Scheduled sets kept below the current height (for evidence of old heights). */
const SETS_KEPT = EVIDENCE_AGE_MAX + 4;

/** Balances and nonces of the ledger before the block (what a block run reads). */
export interface AccountView {
  account(address: Uint8Array): { balance: bigint; nonce: bigint } | undefined;
}

/** Bonded stake, jail and pending unbondings of one account. */
export interface Bond {
  bonded: bigint;
  jailed: boolean;
  unbonding: { amount: bigint; release: number }[];
}

/** Selection state after some height; {@link clone} it to run a block on a scratch copy. */
export class SelectionState {
  private bonds = new Map<string, Bond>();
  private candidates = new Set<string>();
  private ballots = new Map<string, string[]>();
  private tally = new Map<string, bigint>();
  private sets = new Map<number, PoweredValidator[]>();
  /** Evidence keys already slashed, with their offence height (duplicates are refused). */
  private slashed = new Map<string, number>();
  private genesisSet: PoweredValidator[] = [];
  /** Last height whose block was applied (0 = genesis). */
  height = 0;

  private constructor(readonly params: SelectionParams) {}

  /**
   * The state at genesis. PoS: each validator's `stake` is bonded (and must be in the pool's
   * genesis balance, see {@link poolGenesisBalance}); DPoS: the validators are the first
   * candidates and the first set (power 1) until an epoch's tally elects others; Tendermint: the
   * validators with power 1, forever. A DPoS genesis may carry an `election`: ballots cast before
   * height 1 (naming genesis validators only), tallied with `accounts`' balances to elect the
   * first set as every epoch's tally does.
   */
  static genesis(
    params: SelectionParams,
    validators: readonly { address: Uint8Array; stake: bigint }[],
    election?: GenesisElection,
  ): SelectionState {
    aint(params.unbondingHeights, 0, 1 << 30, "unbondingHeights");
    aint(params.slashPpm, 0, 1_000_000, "slashPpm");
    if (params.dposPower !== undefined && params.dposPower !== "equal" && params.dposPower !== "weighted")
      throw new ChainDbError(
        ErrorCode.BAD_ARGUMENT,
        `"dposPower" expected equal or weighted, got ${String(params.dposPower)}`,
      );
    aint(params.maxValidators, 1, 1024, "maxValidators");
    aint(params.epochHeights, 1, 1 << 30, "epochHeights");
    if (params.powerUnit < 1n)
      throw new ChainDbError(ErrorCode.BAD_RANGE, `"powerUnit" expected ≥ 1, got ${params.powerUnit}`);
    const s = new SelectionState(params);
    for (const v of validators) {
      const key = toHex(v.address);
      if (params.mode === "pos") s.bonds.set(key, { bonded: v.stake, jailed: false, unbonding: [] });
      if (params.mode === "dpos") s.candidates.add(key);
    }
    s.genesisSet = sortSet(validators.map((v) => ({ address: v.address.slice(), power: 1 })));
    if (election !== undefined) s.castGenesisBallots(election);
    const first = s.computeSet();
    if (first.length === 0)
      throw new ChainDbError(ErrorCode.BAD_ARGUMENT, "the genesis validator set is empty");
    s.sets.set(1, first);
    return s;
  }

  private castGenesisBallots(election: GenesisElection): void {
    if (this.params.mode !== "dpos")
      throw new ChainDbError(ErrorCode.BAD_ARGUMENT, "a genesis election needs the dpos selection");
    for (const { voter, candidates } of election.ballots) {
      const names = [...new Set(candidates.map((c) => toHex(c)))];
      if (!names.every((k) => this.candidates.has(k)))
        throw new ChainDbError(
          ErrorCode.BAD_ARGUMENT,
          "a genesis ballot names an account that is not a candidate",
        );
      this.ballots.set(toHex(voter), names);
    }
    // A genesis election that elects nobody leaves the genesis set until the first epoch's tally.
    const tally = tallyBallots(this.candidates, this.ballots, election.accounts);
    if (this.elect(tally).length > 0) this.tally = tally;
  }

  /** A deep copy (the scratch state a proposed block runs on). */
  clone(): SelectionState {
    return SelectionState.fromJSON(this.toJSON());
  }

  /** The validator set of `height` (the latest scheduled at or before it). */
  validatorsAt(height: number): PoweredValidator[] {
    let best = -1;
    for (const h of this.sets.keys()) if (h <= height && h > best) best = h;
    assert(best >= 1, `no validator set for height ${height}`);
    return this.sets.get(best)!;
  }

  /** Bonded stake, unbonding stake and jail of `address` (zeros for an unknown account). */
  bondOf(address: Uint8Array): { bonded: bigint; unbonding: bigint; jailed: boolean } {
    const b = this.bonds.get(toHex(address));
    return {
      bonded: b?.bonded ?? 0n,
      unbonding: b?.unbonding.reduce((s, u) => s + u.amount, 0n) ?? 0n,
      jailed: b?.jailed ?? false,
    };
  }

  /** Sum of bonded and unbonding stake (equals the pool's balance). */
  totalStaked(): bigint {
    let sum = 0n;
    for (const b of this.bonds.values()) sum += b.bonded + b.unbonding.reduce((s, u) => s + u.amount, 0n);
    return sum;
  }

  /** True if `address` is a DPoS candidate. */
  isCandidate(address: Uint8Array): boolean {
    return this.candidates.has(toHex(address));
  }

  /** DPoS: the set a tally taken now with `accounts`' balances would elect (reads only; sorted by address). */
  electionNow(accounts: AccountView): { tally: Map<string, bigint>; elected: PoweredValidator[] } {
    const tally = tallyBallots(this.candidates, this.ballots, accounts);
    return { tally, elected: this.elect(tally) };
  }

  /** True if the offence `key` (an `evidenceKey`) was slashed already. */
  wasSlashed(key: string): boolean {
    return this.slashed.has(key);
  }

  /** Starts running block `height` on this state (use a {@link clone} unless committing). */
  begin(height: number, feeRecipient: Uint8Array, accounts: AccountView): BlockRun {
    assert(height === this.height + 1, `block ${height} on selection state of height ${this.height}`);
    return new BlockRun(this, height, feeRecipient, accounts);
  }

  /** sha256 of the canonical encoding (part of the block's state root). */
  hash(): Uint8Array {
    return new Uint8Array(createHash("sha256").update(JSON.stringify(this.toJSON())).digest());
  }

  /** A canonical JSON form (sorted; amounts as decimal strings). */
  toJSON(): SelectionJson {
    const sorted = <T>(m: Map<string, T>) => [...m.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1));
    return {
      params: { ...this.params, powerUnit: this.params.powerUnit.toString() },
      height: this.height,
      bonds: sorted(this.bonds).map(([k, b]) => [
        k,
        b.bonded.toString(),
        b.jailed,
        b.unbonding.map((u) => [u.amount.toString(), u.release]),
      ]),
      candidates: [...this.candidates].sort(),
      ballots: sorted(this.ballots),
      tally: sorted(this.tally).map(([k, v]) => [k, v.toString()]),
      sets: [...this.sets.entries()]
        .sort((a, b) => a[0] - b[0])
        .map(([h, set]) => [h, set.map((v) => [toHex(v.address), v.power])]),
      slashed: sorted(this.slashed),
      genesisSet: this.genesisSet.map((v) => toHex(v.address)),
    };
  }

  /** Rebuilds a state from {@link toJSON}'s output. */
  static fromJSON(j: SelectionJson): SelectionState {
    const s = new SelectionState({ ...j.params, powerUnit: BigInt(j.params.powerUnit) });
    s.height = j.height;
    for (const [k, bonded, jailed, unbonding] of j.bonds)
      s.bonds.set(k, {
        bonded: BigInt(bonded),
        jailed,
        unbonding: unbonding.map(([a, r]) => ({ amount: BigInt(a), release: r })),
      });
    s.candidates = new Set(j.candidates);
    s.ballots = new Map(j.ballots.map(([k, v]) => [k, [...v]]));
    s.tally = new Map(j.tally.map(([k, v]) => [k, BigInt(v)]));
    s.sets = new Map(
      j.sets.map(([h, set]) => [h, set.map(([a, p]) => ({ address: fromHex(a, "address"), power: p }))]),
    );
    s.slashed = new Map(j.slashed);
    s.genesisSet = j.genesisSet.map((a) => ({ address: fromHex(a, "address"), power: 1 }));
    return s;
  }

  // ------------------------------------------------------------------ used by BlockRun

  /** @internal Every bond, in key order. */
  allBonds(): [string, Bond][] {
    return [...this.bonds.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1));
  }

  /** @internal The bond of `key`, or undefined (reading never creates one). */
  peekBond(key: string): Bond | undefined {
    return this.bonds.get(key);
  }

  /** @internal */
  bond(key: string): Bond {
    let b = this.bonds.get(key);
    if (b === undefined) this.bonds.set(key, (b = { bonded: 0n, jailed: false, unbonding: [] }));
    return b;
  }

  /** @internal */
  hasCandidate(key: string): boolean {
    return this.candidates.has(key);
  }

  /** @internal */
  addCandidate(key: string): void {
    this.candidates.add(key);
  }

  /** @internal */
  setBallot(voter: string, candidates: string[]): void {
    this.ballots.set(voter, candidates);
  }

  /** @internal Marks an offence slashed. */
  markSlashed(key: string, height: number): void {
    this.slashed.set(key, height);
  }

  /** @internal End of block `height`: the tally at epoch ends, the set for height + 2, pruning. */
  endBlock(height: number, accounts: AccountView): void {
    if (this.params.mode === "dpos" && height % this.params.epochHeights === 0)
      this.tally = tallyBallots(this.candidates, this.ballots, accounts);
    const set = this.computeSet();
    const latest = this.validatorsAt(height + 2);
    // Never an empty set: with no eligible validator the chain keeps the last one (and halts on its own).
    if (set.length > 0 && !sameSet(set, latest)) this.sets.set(height + 2, set);
    for (const [k, h] of this.slashed) if (h < height - EVIDENCE_AGE_MAX) this.slashed.delete(k);
    if (height - SETS_KEPT >= 1) {
      const keep = this.validatorsAt(height - SETS_KEPT);
      for (const h of [...this.sets.keys()]) if (h < height - SETS_KEPT) this.sets.delete(h);
      this.sets.set(height - SETS_KEPT, keep);
    }
    this.height = height;
  }

  /** Most power one validator gets, so that a full set's total stays within what `ValidatorSet` accepts. */
  private powerCap(): bigint {
    return BigInt(Math.floor(TOTAL_POWER_MAX / this.params.maxValidators));
  }

  /** Voting power of an elected delegate; weighted power is capped so the set's total stays in range. */
  private delegatePower(votes: bigint): number {
    if (this.params.dposPower !== "weighted") return 1;
    const power = votes / this.params.powerUnit;
    return Number(power < 1n ? 1n : power > this.powerCap() ? this.powerCap() : power);
  }

  /** The top K of `tally` among unjailed candidates with votes (ties to the smaller address), sorted by address. */
  private elect(tally: ReadonlyMap<string, bigint>): PoweredValidator[] {
    const jailed = (k: string) => this.bonds.get(k)?.jailed === true;
    const ranked = [...tally].filter(([k, v]) => v > 0n && !jailed(k) && this.candidates.has(k));
    ranked.sort((a, b) => (a[1] === b[1] ? (a[0] < b[0] ? -1 : 1) : a[1] > b[1] ? -1 : 1));
    return sortSet(
      ranked
        .slice(0, this.params.maxValidators)
        .map(([k, votes]) => ({ address: fromHex(k, "candidate"), power: this.delegatePower(votes) })),
    );
  }

  private computeSet(): PoweredValidator[] {
    if (this.params.mode === "tendermint") return this.genesisSet;
    if (this.params.mode === "dpos") {
      if (this.tally.size === 0)
        return this.genesisSet.filter((v) => this.bonds.get(toHex(v.address))?.jailed !== true);
      return this.elect(this.tally);
    }
    const powered: { key: string; power: bigint }[] = [];
    for (const [key, b] of this.bonds) {
      const power = b.bonded / this.params.powerUnit;
      if (!b.jailed && power > 0n) powered.push({ key, power });
    }
    powered.sort((a, b) => (a.power === b.power ? (a.key < b.key ? -1 : 1) : a.power > b.power ? -1 : 1));
    // Ranked by stake, then capped like weighted delegates: uncapped, 2^48 staked units made a set ValidatorSet refuses (the chain halted).
    const cap = this.powerCap();
    return sortSet(
      powered
        .slice(0, this.params.maxValidators)
        .map((p) => ({ address: fromHex(p.key, "validator"), power: Number(p.power > cap ? cap : p.power) })),
    );
  }
}

/** The JSON form of a {@link SelectionState}. */
export interface SelectionJson {
  params: Omit<SelectionParams, "powerUnit"> & { powerUnit: string };
  height: number;
  bonds: [string, string, boolean, [string, number][]][];
  candidates: string[];
  ballots: [string, string[]][];
  tally: [string, string][];
  sets: [number, [string, number][]][];
  slashed: [string, number][];
  genesisSet: string[];
}

/** DPoS ballots cast before height 1 and the balances that weigh them (see {@link SelectionState.genesis}). */
export interface GenesisElection {
  readonly ballots: readonly { readonly voter: Uint8Array; readonly candidates: readonly Uint8Array[] }[];
  readonly accounts: AccountView;
}

/**
 * Votes per candidate: each voter's whole balance counts for every candidate it names. Every
 * candidate is listed (0 without votes), so a taken tally is never empty: an epoch in which no
 * ballot names anyone keeps the last set (as a tally of zero-weight ballots does), rather than
 * falling back to the genesis set, which an empty tally stands for.
 */
function tallyBallots(
  candidates: ReadonlySet<string>,
  ballots: ReadonlyMap<string, readonly string[]>,
  accounts: AccountView,
): Map<string, bigint> {
  const tally = new Map<string, bigint>([...candidates].map((k) => [k, 0n]));
  for (const [voter, names] of ballots) {
    const weight = accounts.account(fromHex(voter, "voter"))?.balance ?? 0n;
    for (const k of names) tally.set(k, (tally.get(k) ?? 0n) + weight);
  }
  return tally;
}

/** Pool balance a PoS genesis needs: the sum of the validators' bonded stake (0 otherwise). */
export function poolGenesisBalance(
  params: SelectionParams,
  validators: readonly { stake: bigint }[],
): bigint {
  return params.mode === "pos" ? validators.reduce((s, v) => s + v.stake, 0n) : 0n;
}

/** One block running on a selection state: collects the ledger moves in order. */
export class BlockRun {
  private readonly moves: { from: Uint8Array; to: Uint8Array; amount: bigint; fee: bigint; nonce: bigint }[] =
    [];
  /** Balances and nonces as this block changed them so far (checks before the ledger runs). */
  private readonly overlay = new Map<string, { balance: bigint; nonce: bigint }>();

  /** @internal Created by {@link SelectionState.begin}. */
  constructor(
    private readonly state: SelectionState,
    readonly height: number,
    private readonly feeRecipient: Uint8Array,
    private readonly accounts: AccountView,
  ) {}

  /**
   * Burns `slashPpm` of the offender's bonded and unbonding stake and jails it; throws for a
   * repeated offence. Evidence against a validator that is jailed already is recorded but burns
   * nothing: one misbehaving round yields several pieces of evidence (its prevote and its
   * precommit), and they are one offence, as in Cosmos, which tombstones after the first.
   */
  slash(evidenceKey: string, offender: Uint8Array, offenceHeight: number): bigint {
    if (this.state.wasSlashed(evidenceKey))
      throw new ChainDbError(ErrorCode.BAD_ARGUMENT, `offence ${evidenceKey} was slashed already`);
    if (offenceHeight < this.height - EVIDENCE_AGE_MAX || offenceHeight >= this.height)
      throw new ChainDbError(
        ErrorCode.BAD_RANGE,
        `evidence of height ${offenceHeight} is out of the window of block ${this.height}`,
      );
    const b = this.state.bond(toHex(offender));
    if (b.jailed) {
      this.state.markSlashed(evidenceKey, offenceHeight);
      return 0n;
    }
    const cut = (x: bigint) => (x * BigInt(this.state.params.slashPpm)) / 1_000_000n;
    let burned = cut(b.bonded);
    b.bonded -= burned;
    for (const u of b.unbonding) {
      const c = cut(u.amount);
      u.amount -= c;
      burned += c;
    }
    b.jailed = true;
    this.state.markSlashed(evidenceKey, offenceHeight);
    if (burned > 0n) this.poolMove(BURN_ADDRESS, burned);
    return burned;
  }

  /** Balance and nonce of `address` as this block changed them so far (a copy). */
  accountOf(address: Uint8Array): { balance: bigint; nonce: bigint } {
    return { ...this.view(address) };
  }

  /** Runs one transaction; throws (changing nothing) if the rules refuse it. */
  tx(t: ChainTx): void {
    if (t.type === "transfer") return this.transfer(t.tx);
    this.staking(t.tx);
  }

  private transfer(t: Transfer): void {
    if (compareAddresses(t.from, t.to) === 0)
      throw new ChainDbError(ErrorCode.SELF_TRANSFER, "transfer to itself");
    this.debit(t.from, t.amount + t.fee, t.nonce);
    this.credit(t.to, t.amount);
    this.credit(this.feeRecipient, t.fee);
    this.moves.push({ from: t.from, to: t.to, amount: t.amount, fee: t.fee, nonce: t.nonce });
  }

  private staking(t: StakingTransaction): void {
    const mode = this.state.params.mode;
    const key = toHex(t.from);
    const b = this.state.peekBond(key) ?? { bonded: 0n, jailed: false, unbonding: [] };
    if (mode === "tendermint")
      throw new ChainDbError(ErrorCode.BAD_ARGUMENT, "staking transactions need the pos or dpos selection");
    if ((t.kind === "candidate" || t.kind === "vote") && mode !== "dpos")
      throw new ChainDbError(ErrorCode.BAD_ARGUMENT, `a ${t.kind} transaction needs the dpos selection`);
    if (t.kind === "unbond" && b.bonded < t.amount)
      throw new ChainDbError(ErrorCode.INSUFFICIENT_FUNDS, `unbond ${t.amount} exceeds bonded ${b.bonded}`);
    if (t.kind === "unbond" && b.unbonding.length >= UNBONDINGS_MAX)
      throw new ChainDbError(ErrorCode.BAD_ARGUMENT, `more than ${UNBONDINGS_MAX} pending unbondings`);
    if (t.kind === "unjail" && !b.jailed)
      throw new ChainDbError(ErrorCode.BAD_ARGUMENT, "unjail: the account is not jailed");
    if (t.kind === "candidate" && this.state.hasCandidate(key))
      throw new ChainDbError(ErrorCode.BAD_ARGUMENT, "already a candidate");
    const names = t.candidates.map((c) => toHex(c));
    if (t.kind === "vote" && !names.every((k) => this.state.hasCandidate(k)))
      throw new ChainDbError(ErrorCode.BAD_ARGUMENT, "a ballot names an account that is not a candidate");
    // Checks done: the holder → pool move (bonds for stake; nonce and fee for every kind).
    const bonded = t.kind === "stake" ? t.amount : 0n;
    this.debit(t.from, bonded + t.fee, t.nonce);
    this.credit(STAKE_POOL, bonded);
    this.credit(this.feeRecipient, t.fee);
    this.moves.push({ from: t.from, to: STAKE_POOL, amount: bonded, fee: t.fee, nonce: t.nonce });
    if (t.kind === "stake") this.state.bond(key).bonded += t.amount;
    if (t.kind === "unbond") {
      const held = this.state.bond(key);
      held.bonded -= t.amount;
      held.unbonding.push({ amount: t.amount, release: this.height + this.state.params.unbondingHeights });
    }
    if (t.kind === "unjail") this.state.bond(key).jailed = false;
    if (t.kind === "candidate") this.state.addCandidate(key);
    if (t.kind === "vote") this.state.setBallot(key, names);
  }

  /**
   * Ends the block: matured unbondings return to their holders, the set for height + 2 is
   * scheduled. Returns the block as packed ledger transfers (the engine's records) in order.
   */
  finish(): { packed: Uint8Array; count: number } {
    const released: [Uint8Array, bigint][] = [];
    for (const [key, b] of this.state.allBonds()) {
      const due = b.unbonding.filter((u) => u.release <= this.height);
      b.unbonding = b.unbonding.filter((u) => u.release > this.height);
      const sum = due.reduce((s, u) => s + u.amount, 0n);
      if (sum > 0n) released.push([fromHex(key, "holder"), sum]);
    }
    for (const [holder, amount] of released) this.poolMove(holder, amount);
    this.state.endBlock(this.height, this.accounts);
    const pool = this.view(STAKE_POOL);
    assert(
      pool.balance === this.state.totalStaked(),
      `stake pool holds ${pool.balance}, bonded + unbonding is ${this.state.totalStaked()}`,
    );
    const out = new Uint8Array(this.moves.length * PACKED_TRANSFER_SIZE);
    this.moves.forEach((m, i) => packTransfer(out, i, m.from, m.to, m.amount, m.fee, m.nonce));
    return { packed: out, count: this.moves.length };
  }

  /** A move out of the stake pool (unbonding release or burn), with the pool's own nonce. */
  private poolMove(to: Uint8Array, amount: bigint): void {
    const nonce = this.view(STAKE_POOL).nonce;
    this.debit(STAKE_POOL, amount, nonce);
    this.credit(to, amount);
    this.moves.push({ from: STAKE_POOL, to, amount, fee: 0n, nonce });
  }

  private view(address: Uint8Array): { balance: bigint; nonce: bigint } {
    const key = toHex(address);
    let a = this.overlay.get(key);
    if (a === undefined) {
      const base = this.accounts.account(address);
      this.overlay.set(key, (a = { balance: base?.balance ?? 0n, nonce: base?.nonce ?? 0n }));
    }
    return a;
  }

  private debit(address: Uint8Array, total: bigint, nonce: bigint): void {
    const a = this.view(address);
    if (nonce !== a.nonce)
      throw new ChainDbError(ErrorCode.BAD_NONCE, `nonce ${nonce}, the account expects ${a.nonce}`);
    if (a.balance < total)
      throw new ChainDbError(ErrorCode.INSUFFICIENT_FUNDS, `needs ${total}, has ${a.balance}`);
    a.balance -= total;
    a.nonce += 1n;
  }

  private credit(address: Uint8Array, amount: bigint): void {
    this.view(address).balance += amount;
  }
}

function sortSet(set: PoweredValidator[]): PoweredValidator[] {
  return set.sort((a, b) => compareAddresses(a.address, b.address));
}

function sameSet(a: readonly PoweredValidator[], b: readonly PoweredValidator[]): boolean {
  return (
    a.length === b.length &&
    a.every((v, i) => v.power === b[i]!.power && compareAddresses(v.address, b[i]!.address) === 0)
  );
}
