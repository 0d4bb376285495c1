/**
 * Engine selection: `createEngine("wasm" | "ts")`. Callers never know which engine they hold.
 * @module
 */
import { ChainDbError, ErrorCode } from "../util/index.ts";
import type { Engine, EngineName } from "./types.ts";
import type { KvStore } from "./kv-types.ts";
import type { LedgerState } from "./state-types.ts";

export type { Engine, EngineName, SearchResult } from "./types.ts";
export { NONCE_SPACE } from "./validate.ts";
export type { KvStore } from "./kv-types.ts";
export { KV_KEY_MAX, KV_VALUE_MAX, KV_DEPTH_MAX } from "./kv-types.ts";
export type {
  LedgerState,
  AccountState,
  TransferStatus,
  ProofMaterial,
  LoadProgress,
} from "./state-types.ts";
export { TRANSFER_STATUSES } from "./state-types.ts";
export {
  ACCOUNT_RECORD_SIZE,
  EMPTY_HASH,
  SMT_DEPTH_MAX,
  accountRecord,
  leafHash,
  nodeHash,
  pathBit,
  pathOf,
  sha256,
} from "./state-hash.ts";

/** The engine names, fastest first. */
export const ENGINE_NAMES: readonly EngineName[] = ["wasm", "ts"];

/** Creates an engine by name; the WASM module is compiled once and shared. */
export async function createEngine(name: EngineName = "wasm"): Promise<Engine> {
  switch (name) {
    case "wasm": {
      const { createWasmEngine } = await import("./wasm.ts");
      return createWasmEngine();
    }
    case "ts": {
      const { createTsEngine } = await import("./ts.ts");
      return createTsEngine();
    }
    default:
      throw new ChainDbError(
        ErrorCode.BAD_ENGINE,
        `unknown engine ${JSON.stringify(name)}: expected "wasm" or "ts"`,
      );
  }
}

/** Creates an empty key-value store on the given engine. */
export async function createKvStore(engine: EngineName = "wasm"): Promise<KvStore> {
  switch (engine) {
    case "wasm": {
      const { createWasmKvStore } = await import("./kv-wasm.ts");
      return createWasmKvStore();
    }
    case "ts": {
      const { TsKvStore } = await import("./kv-ts.ts");
      return new TsKvStore();
    }
    default:
      throw new ChainDbError(
        ErrorCode.BAD_ENGINE,
        `unknown engine ${JSON.stringify(engine)}: expected "wasm" or "ts"`,
      );
  }
}

/** Creates an empty ledger state (accounts + their sparse Merkle tree) on an engine. */
export async function createLedgerState(engine: EngineName): Promise<LedgerState> {
  switch (engine) {
    case "wasm": {
      const { createWasmState } = await import("./state-wasm.ts");
      return createWasmState();
    }
    case "ts": {
      const { createTsState } = await import("./state-ts.ts");
      return createTsState();
    }
    default:
      throw new ChainDbError(
        ErrorCode.BAD_ENGINE,
        `unknown engine ${JSON.stringify(engine)}: expected "wasm" or "ts"`,
      );
  }
}
