/**
 * Storage: the key-value store (WASM hashmap or its JS Map twin).
 * @module
 */
import { ChainDbError, ErrorCode } from "../util/index.ts";
import type { EngineName } from "../engine/index.ts";
import type { KvStore } from "../engine/kv-types.ts";

export type { KvStore } from "../engine/kv-types.ts";
export { openDurableLog, lastRecoveryStats, LEDGER_FILE, type LedgerLog, type DurableMeta, type RecoveryStats } from "./durable.ts";
export { loadSqlite } from "./sqlite.ts";
export {
  ACCOUNT_RECORD_SIZE, TREE_DEPTH_MAX, TREE_DEPTH_MIN, accountRecord, bucketHash, bucketOf, leafHash, nodeHash, sha256,
} from "../engine/state-hash.ts";
export { NODE_VFS_NAME } from "./node-vfs.ts";
export {
  nodeFilePort, writeFileAtomic, readSmallFile, fsyncParent, ioError, type FilePort, type OpenFlags,
} from "./file-port.ts";
export {
  AppendLog, scanFrames, bytesSource, encodeFrame, crc32c, logHeader, LOG_HEADER_BYTES, FRAME_HEADER_BYTES, LOG_RECORD_MAX,
  type AppendLogOptions, type LogRecovery, type ByteSource,
} from "./append-log.ts";
export { FaultFs, type FaultFsOptions, type FaultRule, type FaultOp, type CrashMode } from "./fault-fs.ts";
export { KV_KEY_MAX, KV_VALUE_MAX, KV_DEPTH_MAX } from "../engine/kv-types.ts";

/** Creates an empty key-value store on the given engine. */
export async function createKvStore(engine: EngineName = "wasm"): Promise<KvStore> {
  switch (engine) {
    case "wasm": {
      const { createWasmKvStore } = await import("../engine/kv-wasm.ts");
      return createWasmKvStore();
    }
    case "ts": {
      const { TsKvStore } = await import("../engine/kv-ts.ts");
      return new TsKvStore();
    }
    default:
      throw new ChainDbError(ErrorCode.BAD_ENGINE, `unknown engine ${JSON.stringify(engine)}: expected "wasm" or "ts"`);
  }
}

export type { LedgerState, AccountState, TransferStatus } from "../engine/state-types.ts";
export { TRANSFER_STATUSES } from "../engine/state-types.ts";

/** Creates an empty ledger state (accounts + state tree of depth `treeDepth`) on an engine. */
export async function createLedgerState(engine: EngineName, treeDepth: number): Promise<import("../engine/state-types.ts").LedgerState> {
  switch (engine) {
    case "wasm": {
      const { createWasmState } = await import("../engine/state-wasm.ts");
      return createWasmState(treeDepth);
    }
    case "ts": {
      const { createTsState } = await import("../engine/state-ts.ts");
      return createTsState(treeDepth);
    }
    default:
      throw new ChainDbError(ErrorCode.BAD_ENGINE, `unknown engine ${JSON.stringify(engine)}: expected "wasm" or "ts"`);
  }
}
