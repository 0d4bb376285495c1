/**
 * The key-value store interface shared by the `wasm` store (assembly/kv.ts) and its `ts` twin
 * (a JS Map): byte keys of 1..1024 bytes, byte values of 0..64 KiB, and nested checkpoints
 * with rollback in the style of SQLite savepoints.
 * @module
 */
import type { EngineName } from "./engine-name.ts";

/** Largest key in bytes. */
export const KV_KEY_MAX = 1024;
/** Largest value in bytes. */
export const KV_VALUE_MAX = 65536;
/** Deepest checkpoint nesting. */
export const KV_DEPTH_MAX = 256;

/** A byte-keyed store with nested checkpoints; both engines behave identically. */
export interface KvStore {
  /** Which implementation this is. */
  readonly engine: EngineName;
  /** Number of live entries. */
  readonly size: number;
  /** Open checkpoints. */
  readonly depth: number;
  /** A copy of the value of `key`, or undefined. */
  get(key: Uint8Array): Uint8Array | undefined;
  /** True if `key` is present. */
  has(key: Uint8Array): boolean;
  /** Sets `key` to a copy of `value`. */
  put(key: Uint8Array, value: Uint8Array): void;
  /** Removes `key`; true if it was present. */
  delete(key: Uint8Array): boolean;
  /** Removes every entry (undoable by an open checkpoint). */
  clear(): void;
  /** Every live entry exactly once, as copies; the store must not change during iteration. */
  entries(): IterableIterator<[Uint8Array, Uint8Array]>;
  /** Opens a (nested) checkpoint; returns the new depth. */
  checkpoint(): number;
  /** Restores exactly the content at the innermost checkpoint and closes it. */
  rollback(): void;
  /** Closes the innermost checkpoint, keeping its changes (an outer rollback still undoes them). */
  release(): void;
}
