/**
 * Proof of stake with plain numbers: a thin adapter over {@link SelectionState} (the state machine
 * `ConsensusNode` runs) and a small in-memory ledger, for the seeded consensus simulation and
 * callers that hold no chain. Bonded stake is voting power; the set computed at the end of block H
 * takes effect at height H + 2, as in CometBFT; verified evidence burns `slashPpm` of the
 * offender's bonded and unbonding stake and jails it, once per offence (a jailed validator burns
 * nothing more). Sets are listed by address, as `ValidatorSet` orders them.
 * @module
 */
import { ChainDbError, ErrorCode, aint, toHex } from "../util/index.ts";
import { SelectionChain, type Ledger } from "./chain.ts";
import { SelectionState, STAKE_POOL, poolGenesisBalance, type SelectionParams } from "./state.ts";
import type { PoweredValidator } from "./types.ts";

export { UNBONDINGS_MAX, compareAddresses, type PoweredValidator } from "./types.ts";

/** Options of {@link StakingState}. */
export interface StakingOptions {
  /** Heights an unbonding stays locked (and slashable) before it returns to the balance. */
  readonly unbondingHeights: number;
  /** Fraction of stake burned per slashing, in parts per million. */
  readonly slashPpm: number;
  /** Stake per unit of voting power (power = floor(bonded / unit)); default 1. */
  readonly powerUnit?: number;
  /** Most validators in the set (largest stakes win, ties to the smaller address). */
  readonly maxValidators: number;
  /** Heights between a change and its effect: 2, as `ConsensusNode` runs (CometBFT); any other value is refused. */
  readonly updateDelay?: 2;
}

/** A staking transaction. */
export type StakingTx =
  | { readonly kind: "stake"; readonly validator: Uint8Array; readonly amount: number }
  | { readonly kind: "unbond"; readonly validator: Uint8Array; readonly amount: number }
  | { readonly kind: "unjail"; readonly validator: Uint8Array };

/** One offence: its evidence key (the same for every piece of evidence of it) and its height. */
export interface Offence {
  readonly key: string;
  readonly height: number;
}

/** Deterministic staking state: balances, bonded stake, unbondings, jail, and scheduled sets. */
export class StakingState {
  private readonly chain: SelectionChain;
  private burnedTotal = 0n;

  constructor(
    readonly options: StakingOptions,
    genesis: readonly { address: Uint8Array; balance: number; bonded?: number }[],
  ) {
    if (options.updateDelay !== undefined && options.updateDelay !== 2)
      throw new ChainDbError(
        ErrorCode.BAD_ARGUMENT,
        `"updateDelay" expected 2 (sets apply at H + 2), got ${String(options.updateDelay)}`,
      );
    const params: SelectionParams = {
      mode: "pos",
      unbondingHeights: options.unbondingHeights,
      slashPpm: options.slashPpm,
      maxValidators: options.maxValidators,
      epochHeights: 1,
      powerUnit: BigInt(aint(options.powerUnit ?? 1, 1, Number.MAX_SAFE_INTEGER, "powerUnit")),
    };
    const stakes = genesis.map((g) => ({
      address: g.address,
      stake: BigInt(aint(g.bonded ?? 0, 0, Number.MAX_SAFE_INTEGER, "bonded")),
    }));
    const ledger: Ledger = new Map([
      [toHex(STAKE_POOL), { balance: poolGenesisBalance(params, stakes), nonce: 0n }],
    ]);
    for (const g of genesis)
      ledger.set(toHex(g.address), {
        balance: BigInt(aint(g.balance, 0, Number.MAX_SAFE_INTEGER, "balance")),
        nonce: 0n,
      });
    this.chain = new SelectionChain(SelectionState.genesis(params, stakes), ledger);
  }

  /** Total stake burned by slashing. */
  get burned(): number {
    return Number(this.burnedTotal);
  }

  /** The selection state underneath (read it; change it only through this adapter). */
  get selection(): SelectionState {
    return this.chain.state;
  }

  /** Balance, bonded stake and jail status of `address` (the open block's changes included). */
  info(address: Uint8Array): { balance: number; bonded: number; unbonding: number; jailed: boolean } {
    const bond = this.chain.state.bondOf(address);
    return {
      balance: Number(this.chain.accountOf(address).balance),
      bonded: Number(bond.bonded),
      unbonding: Number(bond.unbonding),
      jailed: bond.jailed,
    };
  }

  /** Applies a transaction in block `height` (not behind the open block); throws `INSUFFICIENT_FUNDS`/`BAD_ARGUMENT` and changes nothing on failure. */
  apply(tx: StakingTx, height: number): void {
    const amount = tx.kind === "unjail" ? 0n : BigInt(aint(tx.amount, 1, Number.MAX_SAFE_INTEGER, "amount"));
    this.chain.staking(height, tx.kind, tx.validator, amount);
  }

  /**
   * Slashes `offender` in the open (or next) block, evidence verified by the caller: burns
   * `slashPpm` of its bonded and unbonding stake and jails it, unless it is jailed already.
   * With an `offence`, the rules of `ConsensusNode` hold: a repeated key throws `BAD_ARGUMENT`,
   * an offence outside the evidence window `BAD_RANGE`. Without one, the call is one offence of
   * the offender in this block (a second call in the same block burns nothing).
   */
  slash(offender: Uint8Array, offence?: Offence): number {
    const run = this.chain.runAt(this.chain.pendingHeight);
    const o = offence ?? { key: `${toHex(offender)}@block${run.height}`, height: run.height - 1 };
    if (offence === undefined && this.chain.state.wasSlashed(o.key)) return 0;
    const burned = run.slash(o.key, offender, o.height);
    this.burnedTotal += burned;
    return Number(burned);
  }

  /** End of block `height`: matured unbondings return, the set for height + 2 is scheduled; returns the set of height + 2. */
  endBlock(height: number): PoweredValidator[] {
    this.chain.endBlock(height);
    return this.chain.state.validatorsAt(height + 2);
  }

  /** The validator set that applies at `height` (the latest one scheduled at or before it). */
  validatorsAt(height: number): PoweredValidator[] {
    return this.chain.state.validatorsAt(height);
  }
}
