/**
 * The engine layer's public face. `createEngine("wasm" | "ts")` is the one factory: an
 * {@link Engine} hashes, searches nonces and builds merkle roots, and creates the key-value stores
 * and ledger states on its implementation. Callers never know which engine they hold. The binary
 * records and status codes the state machines exchange are in records.ts, re-exported here.
 * @module
 */
import { ChainDbError, ErrorCode } from "../util/index.ts";
import type { Engine, EngineName } from "./types.ts";
import type { KvStore } from "./kv-types.ts";
import type { LedgerState } from "./state-types.ts";
import { createThreadedWasmState } from "./state-threads.ts";
import { createThreadedTsState } from "./state-ts-threads.ts";

export type { Engine, EngineName, SearchResult } from "./types.ts";
export { NONCE_SPACE } from "./validate.ts";
export type { KvStore } from "./kv-types.ts";
export { KV_KEY_MAX, KV_VALUE_MAX, KV_DEPTH_MAX } from "./kv-types.ts";
export type { LedgerState, AccountState, ProofMaterial, LoadProgress } from "./state-types.ts";
export {
  ACCOUNT_RECORD_SIZE,
  PACKED_TRANSFER_SIZE,
  PACKED_FROM,
  PACKED_TO,
  PACKED_AMOUNT,
  PACKED_FEE,
  PACKED_NONCE,
  RECORD_BALANCE,
  RECORD_NONCE,
  TRANSFER_STATUSES,
  TransferCode,
  accountRecord,
  packTransfer,
  type TransferStatus,
} from "./records.ts";
export { STATE_THREADS_MAX } from "./state-workers.ts";
export { EMPTY_HASH, SMT_DEPTH_MAX, leafHash, nodeHash, pathBit, pathOf, sha256 } from "./state-hash.ts";
export { digestBytes, leafDigest, nodeDigest, pathDigest } from "./sha256-block.ts";
export { instantiateCore } from "./core.ts";
export type { CoreExports } from "./core-abi.ts";

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

/** Creates an empty key-value store on the given engine: `(await createEngine(name)).createKvStore()`. */
export async function createKvStore(engine: EngineName = "wasm"): Promise<KvStore> {
  return (await createEngine(engine)).createKvStore();
}

/** Options of {@link createLedgerState}. */
export interface LedgerStateOptions {
  /**
   * Threads that execute each block, the calling one included (default 0: serial). With 1 or
   * more, `threads - 1` workers run each block's schedule (and the root's subtrees) with the
   * calling thread: on the wasm engine the state runs on build/threads.wasm in one shared memory,
   * on the ts engine its arrays live in SharedArrayBuffers. Results are byte-identical to serial
   * execution; close the state to stop the workers.
   */
  threads?: number;
}

/** Creates an empty ledger state on an engine: `(await createEngine(name)).createLedgerState()`. */
export async function createLedgerState(
  engine: EngineName,
  options: LedgerStateOptions = {},
): Promise<LedgerState> {
  const threads = options.threads ?? 0;
  if (threads !== 0) {
    if (engine === "wasm") return createThreadedWasmState(threads);
    if (engine === "ts") return createThreadedTsState(threads);
  }
  return (await createEngine(engine)).createLedgerState();
}
