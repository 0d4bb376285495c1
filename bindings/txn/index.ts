/**
 * Transactions: the strict two-phase-locking lock manager (Gray & Reuter, "Transaction
 * Processing", ch. 7–8) and the injectable timers it runs on. ACID transactions over the ledger
 * and the KV store build on these once the storage layer lands.
 * @module
 */
export {
  LockManager,
  compatible,
  type AcquireOptions,
  type LockKey,
  type LockManagerOptions,
  type LockManagerStats,
  type LockMode,
  type TxId,
} from "./lock-manager.ts";
export { ManualClock, systemClock, type TimerClock } from "./clock.ts";
