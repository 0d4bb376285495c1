/**
 * Storage: the durable append log and snapshots in SQLite (@sqlite.org/sqlite-wasm over a node:fs
 * VFS). The in-memory stores (KV and ledger state) are the engine's: engine/index.ts.
 * @module
 */
export { openDurableLog, lastRecoveryStats, LEDGER_FILE, type LedgerLog, type DurableMeta, type RecoveryStats } from "./durable.ts";
export { loadSqlite } from "./sqlite.ts";
export { NODE_VFS_NAME } from "./node-vfs.ts";
