/**
 * The ledger state machine interface, implemented in WASM (assembly/state.ts + commit.ts) and in
 * TypeScript (state-ts.ts) with identical statuses and roots. It takes pre-verified transfers
 * packed as 88-byte records (from 32, to 32, amount u64le, fee u64le, nonce u64le); signature
 * checks happen before, in bindings/chain/ledger.ts.
 * @module
 */
import type { EngineName } from "./types.ts";

/** Transfer status by code (the WASM core writes the code; index = code). */
export const TRANSFER_STATUSES = ["ok", "BAD_NONCE", "INSUFFICIENT_FUNDS", "OVERFLOW", "SELF_TRANSFER"] as const;

/** A transfer's outcome: applied, or the code of the rule it broke. */
export type TransferStatus = (typeof TRANSFER_STATUSES)[number];

/** Balance and nonce of an account. */
export interface AccountState {
  /** Balance, u64. */
  balance: bigint;
  /** Transfers sent, u64. */
  nonce: bigint;
}

/**
 * Accounts plus their commitment. Blocks run between `begin` and `commit`/`abort`; `load` sets
 * accounts outside a block (genesis, snapshot, log replay).
 */
export interface LedgerState {
  /** Which implementation this is. */
  readonly engine: EngineName;
  /** Depth of the state tree (fixed per chain: the root depends on it). */
  readonly treeDepth: number;
  /** Number of accounts. */
  readonly accountCount: number;
  /** Sets accounts from 48-byte records (address, balance u64le, nonce u64le); not inside a block. */
  load(records: Uint8Array): void;
  /** Opens a block. */
  begin(): void;
  /** Applies `count` packed transfers in order; returns one status code per transfer (0 = ok). */
  apply(packed: Uint8Array, count: number, proposer: Uint8Array): Uint8Array;
  /** Keeps the open block. */
  commit(): void;
  /** Undoes the open block exactly. */
  abort(): void;
  /** The accounts the open (or last) block touched, as 48-byte records. */
  changes(): Uint8Array;
  /** Every account as 48-byte records (any order). */
  exportAll(): Uint8Array;
  /** The state root (recomputes what changed since the last call). */
  root(): Uint8Array;
  /** The account at `address`, or undefined. */
  account(address: Uint8Array): AccountState | undefined;
  /** Proof material for `address`: the bucket's sorted member records and the siblings. */
  proofMaterial(address: Uint8Array): { members: Uint8Array; siblings: Uint8Array };
}
