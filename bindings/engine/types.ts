/**
 * The `Engine` interface: every hot path exists twice, in WebAssembly (`wasm`) and in pure
 * TypeScript (`ts`), with byte-identical results (ChainSafe persistent-merkle-tree `hasher/`).
 * An engine hashes and searches itself, and creates the key-value stores and ledger states that
 * run on it: `createEngine(name)` is the one factory.
 * @module
 */
import type { EngineName } from "./engine-name.ts";
import type { KvStore } from "./kv-types.ts";
import type { LedgerState } from "./state-types.ts";

export type { EngineName };

/** Outcome of a nonce search. */
export interface SearchResult {
  /** The first nonce in the range whose sha256d(header) ≤ target, or null. */
  nonce: number | null;
  /** Hashes tried: up to and including the solution, or the whole range. */
  hashes: number;
}

/** The hot paths, implemented by both engines. */
export interface Engine {
  /** Which implementation this is. */
  readonly name: EngineName;
  /** SHA-256 (FIPS 180-4) of `data`. */
  sha256(data: Uint8Array): Uint8Array;
  /** sha256(sha256(data)). */
  sha256d(data: Uint8Array): Uint8Array;
  /** SHA-256 of each message (the wasm engine hashes four equal-length messages at once). */
  sha256Many(messages: readonly Uint8Array[]): Uint8Array[];
  /**
   * Searches nonces [startNonce, startNonce + count) of an 80-byte header for the first whose
   * sha256d, read as a 256-bit little-endian integer, is ≤ `target` (32 bytes, little-endian).
   * The header's own nonce field is ignored. `startNonce + count` must not exceed 2^32.
   */
  searchNonce(header: Uint8Array, target: Uint8Array, startNonce: number, count: number): SearchResult;
  /** Bitcoin's merkle root of 32-byte hashes (internal byte order); odd levels duplicate the last. */
  merkleRoot(hashes: readonly Uint8Array[]): Uint8Array;
  /** A new, empty key-value store on this engine (wasm: in a core instance with its own memory). */
  createKvStore(): Promise<KvStore>;
  /** A new, empty ledger state on this engine (wasm: in a core instance with its own memory). */
  createLedgerState(): Promise<LedgerState>;
}
