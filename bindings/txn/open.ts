/**
 * `transactional(ledger | store)`: the entry point that puts serializable transactions (strict
 * 2PL, Bernstein, Hadzilacos & Goodman 1987) on a ledger or a key-value store.
 * @module
 */
import { ChainDbError, ErrorCode } from "../util/index.ts";
import { Ledger } from "../chain/index.ts";
import type { KvStore } from "../engine/index.ts";
import { LedgerDatabase, type LedgerDatabaseOptions } from "./ledger-db.ts";
import { KvDatabase, type KvDatabaseOptions } from "./kv-db.ts";

/** Transactions on a ledger (accounts) or on a key-value store (bytes); `begin()` starts one. */
export function transactional(target: Ledger, options?: LedgerDatabaseOptions): LedgerDatabase;
export function transactional(target: KvStore, options?: KvDatabaseOptions): KvDatabase;
export function transactional(
  target: Ledger | KvStore,
  options: KvDatabaseOptions & LedgerDatabaseOptions = {},
): LedgerDatabase | KvDatabase {
  if (target instanceof Ledger) return new LedgerDatabase(target, options);
  if (
    target &&
    typeof (target as KvStore).checkpoint === "function" &&
    typeof (target as KvStore).get === "function"
  ) {
    return new KvDatabase(target as KvStore, options);
  }
  throw new ChainDbError(ErrorCode.BAD_ARGUMENT, `"target" expected a Ledger or a KvStore`);
}
