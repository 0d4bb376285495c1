/**
 * The ledger state machine interface, implemented in WASM (assembly/state.ts + commit.ts) and in
 * TypeScript (state-ts.ts) with identical statuses and roots. It takes pre-verified transfers
 * packed as 88-byte records and keeps accounts as 48-byte records (layouts and status codes:
 * records.ts); signature checks happen before, in bindings/chain/ledger.ts.
 * @module
 */
import type { EngineName } from "./engine-name.ts";

/** Balance and nonce of an account. */
export interface AccountState {
  /** Balance, u64. */
  balance: bigint;
  /** Transfers sent, u64. */
  nonce: bigint;
}

/**
 * What a proof is made of: the path from the root towards an address's key, down to the first
 * leaf or empty subtree on it (bindings/chain/proof.ts encodes and verifies it).
 */
export interface ProofMaterial {
  /** Levels walked: the terminal leaf or empty subtree sits at this depth. */
  depth: number;
  /** The record (48 bytes) of the leaf the walk ended at, or undefined for an empty subtree. */
  leaf: Uint8Array | undefined;
  /** `depth` sibling hashes, 32 bytes each, the root's children first. */
  siblings: Uint8Array;
}

/** Progress of a long load: called between chunks, `done` of `total` records loaded. */
export type LoadProgress = (done: number, total: number) => void;

/**
 * Accounts plus their commitment (a sparse Merkle tree, engine/state-hash.ts). Blocks run between `begin` and `commit`/`abort`; `load` sets
 * accounts outside a block (genesis, snapshot, log replay).
 */
export interface LedgerState {
  /** Which implementation this is. */
  readonly engine: EngineName;
  /** Number of accounts. */
  readonly accountCount: number;
  /**
   * Sets accounts from 48-byte records (address, balance u64le, nonce u64le); not inside a block.
   * A later record for an address overwrites an earlier one (the ledger refuses such a genesis).
   * The tree takes them in at the next `root()` (onto an empty tree: one bulk build).
   */
  load(records: Uint8Array, onProgress?: LoadProgress): void;
  /** Opens a block. */
  begin(): void;
  /** Applies `count` packed transfers in order; returns one `TransferCode` per transfer (0 = ok). */
  apply(packed: Uint8Array, count: number, proposer: Uint8Array): Uint8Array;
  /** Keeps the open block. */
  commit(): void;
  /** Undoes the open block exactly. */
  abort(): void;
  /** The accounts the open (or last) block touched, as 48-byte records. */
  changes(): Uint8Array;
  /** Every account as 48-byte records (any order). */
  exportAll(): Uint8Array;
  /**
   * The state root (recomputes what changed since the last call). A bulk build onto an empty tree
   * reports its progress (accounts placed in the tree) between steps.
   */
  root(onProgress?: LoadProgress): Uint8Array;
  /** The account at `address`, or undefined. */
  account(address: Uint8Array): AccountState | undefined;
  /** Proof material for `address` (inclusion or absence) against the current root. */
  proofMaterial(address: Uint8Array): ProofMaterial;
  /** Tree nodes held (memory accounting for benchmarks). */
  readonly nodeCount: number;
  /** Threads that execute a block (0 or undefined: serial). */
  readonly threads?: number;
  /** SHA-256 compressions the roots took so far, on every thread (a benchmark metric). */
  readonly hashCount?: number;
  /** Roots whose hashing ran on the threads so far, in jobs (two per large root; 0: serial). */
  readonly rootJobs?: number;
  /** Jobs (blocks, root steps) the threads left to the calling thread because they were slow (under load). */
  readonly serialJobs?: number;
  /**
   * Blocks (apply calls) that ran on the threads' schedule so far rather than serially (the ts
   * engine with threads; a test and benchmark metric).
   */
  readonly applyJobs?: number;
  /**
   * Releases what the state runs on (the threaded build's workers, a paged state's file); the
   * state is unusable after. Idempotent.
   */
  close?(): void | Promise<void>;
}
