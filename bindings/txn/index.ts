/**
 * Transactions: the strict two-phase-locking lock manager (Gray & Reuter, "Transaction
 * Processing", ch. 7–8) and the injectable timers it runs on. ACID transactions over the ledger
 * and the KV store (serializable by strict 2PL, invariants before commit, durable commits).
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
export {
  Transaction,
  TxDatabase,
  RETRYABLE_CODES,
  type TxBackend,
  type Write,
  type Change,
  type Invariant,
  type TxDatabaseOptions,
  type RetryOptions,
  type Savepoint,
} from "./transaction.ts";
export {
  LedgerDatabase,
  LedgerTransaction,
  noNegativeBalance,
  supplyConserved,
  type LedgerDatabaseOptions,
  type TxAccount,
} from "./ledger-db.ts";
export { KvDatabase, type KvDatabaseOptions } from "./kv-db.ts";
export { transactional } from "./open.ts";
export {
  Coordinator,
  Participant,
  TwoPcRunner,
  LogBank,
  LedgerBank,
  FileTwoPcLog,
  encodeTwoPcMessage,
  decodeTwoPcMessage,
  simulateTwoPc,
  twoPcReplayCommand,
  type CoordinatorOptions,
  type ParticipantOptions,
  type TwoPcResource,
  type TwoPcCore,
  type TwoPcLog,
  type TwoPcRunnerOptions,
  type TwoPcEffect,
  type TwoPcEvent,
  type TwoPcMessage,
  type TwoPcOp,
  type TwoPcWrite,
  type TwoPcBug,
  type TwoPcSimulationOptions,
  type TwoPcSimulationReport,
} from "./two-phase/index.ts";
