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
  ACCOUNT_RECORD_SIZE, EMPTY_HASH, SMT_DEPTH_MAX, accountRecord, leafHash, nodeHash, pathBit, pathOf, sha256,
} from "../engine/state-hash.ts";
export { NODE_VFS_NAME } from "./node-vfs.ts";
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

export type { LedgerState, AccountState, TransferStatus, ProofMaterial, LoadProgress } from "../engine/state-types.ts";
export { TRANSFER_STATUSES } from "../engine/state-types.ts";

/** Creates an empty ledger state (accounts + their sparse Merkle tree) on an engine. */
export async function createLedgerState(engine: EngineName): Promise<import("../engine/state-types.ts").LedgerState> {
  switch (engine) {
    case "wasm": {
      const { createWasmState } = await import("../engine/state-wasm.ts");
      return createWasmState();
    }
    case "ts": {
      const { createTsState } = await import("../engine/state-ts.ts");
      return createTsState();
    }
    default:
      throw new ChainDbError(ErrorCode.BAD_ENGINE, `unknown engine ${JSON.stringify(engine)}: expected "wasm" or "ts"`);
  }
}
