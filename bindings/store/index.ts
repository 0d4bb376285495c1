/**
 * Storage: the key-value store (WASM hashmap or its JS Map twin).
 * @module
 */
import { ChainDbError, ErrorCode } from "../util/index.ts";
import type { EngineName } from "../engine/index.ts";
import type { KvStore } from "../engine/kv-types.ts";

export type { KvStore } from "../engine/kv-types.ts";
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
