/**
 * Proof of stake: who validates and with what voting power. Bonded stake is voting power; staking
 * and unbonding are deterministic transactions; the validator set computed at the end of block H
 * takes effect at height H + 2, as in CometBFT (ABCI EndBlock updates apply two heights later, so
 * the next block's proposer and signers are known when it is built); verified evidence slashes a
 * configurable fraction of the offender's bonded and unbonding stake (burned) and jails it.
 * @module
 */
import { ChainDbError, ErrorCode, abytes, aint, assert, toHex } from "../util/index.ts";

/**
 * Largest total voting power of a validator set: keeps consensus' proposer priorities (within
 * ±3·total) exact as plain numbers. Defined here, below consensus, because selection caps the
 * powers it hands up by it; consensus/validators.ts enforces it.
 */
export const TOTAL_POWER_MAX = 2 ** 48;

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
  /** Heights between a change and its effect; default 2 (CometBFT). */
  readonly updateDelay?: number;
}

/** A staking transaction. */
export type StakingTx =
  | { readonly kind: "stake"; readonly validator: Uint8Array; readonly amount: number }
  | { readonly kind: "unbond"; readonly validator: Uint8Array; readonly amount: number }
  | { readonly kind: "unjail"; readonly validator: Uint8Array };

/** A validator with voting power (address = 32-byte public key). */
export interface PoweredValidator {
  readonly address: Uint8Array;
  readonly power: number;
}

interface Account {
  balance: number;
  bonded: number;
  jailed: boolean;
  unbonding: { amount: number; releaseHeight: number }[];
}

/** Most pending unbondings per validator (bounds the queue). */
export const UNBONDINGS_MAX = 64;

/** Deterministic staking state: balances, bonded stake, unbondings, jail, and scheduled sets. */
export class StakingState {
  private readonly accounts = new Map<string, Account>();
  private readonly addresses = new Map<string, Uint8Array>();
  /** Validator sets by the height from which they apply. */
  private readonly sets = new Map<number, PoweredValidator[]>();
  /** Total stake burned by slashing. */
  burned = 0;

  constructor(readonly options: StakingOptions, genesis: readonly { address: Uint8Array; balance: number; bonded?: number }[]) {
    aint(options.slashPpm, 0, 1_000_000, "slashPpm");
    aint(options.unbondingHeights, 0, 1 << 30, "unbondingHeights");
    aint(options.maxValidators, 1, 1024, "maxValidators");
    for (const g of genesis) {
      const a = this.account(g.address);
      a.balance = aint(g.balance, 0, Number.MAX_SAFE_INTEGER, "balance");
      a.bonded = aint(g.bonded ?? 0, 0, Number.MAX_SAFE_INTEGER, "bonded");
    }
    // The genesis set applies from height 1 (and 2, until the first change takes effect).
    const set = this.computeSet();
    this.sets.set(1, set);
  }

  private account(address: Uint8Array): Account {
    const key = toHex(abytes(address, 32, "address"));
    let a = this.accounts.get(key);
    if (a === undefined) {
      a = { balance: 0, bonded: 0, jailed: false, unbonding: [] };
      this.accounts.set(key, a);
      this.addresses.set(key, address.slice());
    }
    return a;
  }

  /** Balance, bonded stake and jail status of `address`. */
  info(address: Uint8Array): { balance: number; bonded: number; unbonding: number; jailed: boolean } {
    const a = this.account(address);
    return { balance: a.balance, bonded: a.bonded, unbonding: a.unbonding.reduce((s, u) => s + u.amount, 0), jailed: a.jailed };
  }

  /** Applies a transaction in block `height`; throws `INSUFFICIENT_FUNDS`/`BAD_ARGUMENT` and changes nothing on failure. */
  apply(tx: StakingTx, height: number): void {
    const a = this.account(tx.validator);
    if (tx.kind === "unjail") {
      if (!a.jailed) throw new ChainDbError(ErrorCode.BAD_ARGUMENT, "unjail: the validator is not jailed");
      a.jailed = false;
      return;
    }
    const amount = aint(tx.amount, 1, Number.MAX_SAFE_INTEGER, "amount");
    if (tx.kind === "stake") {
      if (a.balance < amount) throw new ChainDbError(ErrorCode.INSUFFICIENT_FUNDS, `stake ${amount} exceeds balance ${a.balance}`);
      a.balance -= amount;
      a.bonded += amount;
    } else {
      if (a.bonded < amount) throw new ChainDbError(ErrorCode.INSUFFICIENT_FUNDS, `unbond ${amount} exceeds bonded ${a.bonded}`);
      if (a.unbonding.length >= UNBONDINGS_MAX) throw new ChainDbError(ErrorCode.BAD_ARGUMENT, `more than ${UNBONDINGS_MAX} pending unbondings`);
      a.bonded -= amount;
      a.unbonding.push({ amount, releaseHeight: height + this.options.unbondingHeights });
    }
  }

  /** Burns `slashPpm` of the offender's bonded and unbonding stake and jails it (evidence verified by the caller). */
  slash(offender: Uint8Array): number {
    const a = this.account(offender);
    const cut = (x: number) => Math.floor((x * this.options.slashPpm) / 1_000_000);
    let burned = cut(a.bonded);
    a.bonded -= burned;
    for (const u of a.unbonding) {
      const c = cut(u.amount);
      u.amount -= c;
      burned += c;
    }
    a.jailed = true;
    this.burned += burned;
    return burned;
  }

  /** End of block `height`: releases matured unbondings, schedules the set for height + delay; returns that set. */
  endBlock(height: number): PoweredValidator[] {
    for (const a of this.accounts.values()) {
      const released = a.unbonding.filter((u) => u.releaseHeight <= height);
      for (const u of released) a.balance += u.amount;
      a.unbonding = a.unbonding.filter((u) => u.releaseHeight > height);
    }
    const set = this.computeSet();
    this.sets.set(height + (this.options.updateDelay ?? 2), set);
    return set;
  }

  /** The validator set that applies at `height` (the latest one scheduled at or before it). */
  validatorsAt(height: number): PoweredValidator[] {
    let best = -1;
    for (const h of this.sets.keys()) if (h <= height && h > best) best = h;
    assert(best >= 1, `no validator set for height ${height}`);
    return this.sets.get(best)!;
  }

  private computeSet(): PoweredValidator[] {
    const unit = this.options.powerUnit ?? 1;
    const candidates: PoweredValidator[] = [];
    for (const [key, a] of this.accounts) {
      const power = Math.floor(a.bonded / unit);
      if (!a.jailed && power > 0) candidates.push({ address: this.addresses.get(key)!, power });
    }
    candidates.sort((x, y) => y.power - x.power || compare(x.address, y.address));
    return candidates.slice(0, this.options.maxValidators);
  }
}

function compare(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}

/** Byte order of addresses (ties in selection go to the smaller). */
export const compareAddresses = compare;
