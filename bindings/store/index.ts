/**
 * Storage: the durable append log and snapshots in SQLite (@sqlite.org/sqlite-wasm over a node:fs
 * VFS). The in-memory stores (KV and ledger state) are the engine's: engine/index.ts.
 * @module
 */
export {
  openDurableLog,
  lastRecoveryStats,
  LEDGER_FILE,
  type LedgerLog,
  type DurableMeta,
  type RecoveryStats,
} from "./durable.ts";
export { loadSqlite } from "./sqlite.ts";
export {
  PagedState,
  createPagedState,
  createWasmPagedState,
  pageBitsFor,
  type PagedStateOptions,
  type PagedStats,
} from "./paged-state.ts";
export { NODE_VFS_NAME } from "./node-vfs.ts";
export {
  nodeFilePort,
  writeFileAtomic,
  readSmallFile,
  readFully,
  fsyncParent,
  ioError,
  type FilePort,
  type OpenFlags,
} from "./file-port.ts";
export {
  AppendLog,
  scanFrames,
  bytesSource,
  encodeFrame,
  crc32c,
  logHeader,
  LOG_HEADER_BYTES,
  FRAME_HEADER_BYTES,
  LOG_RECORD_MAX,
  type AppendLogOptions,
  type LogRecovery,
  type ByteSource,
} from "./append-log.ts";
export {
  FaultFs,
  withoutFsync,
  SlowFsyncPort,
  wrapPort,
  type FaultFsOptions,
  type FaultRule,
  type FaultOp,
  type CrashMode,
} from "./fault-fs.ts";
