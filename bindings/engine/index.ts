/**
 * Engine selection: `createEngine("wasm" | "ts")`. Callers never know which engine they hold.
 * @module
 */
import { ChainDbError, ErrorCode } from "../util/index.ts";
import type { Engine, EngineName } from "./types.ts";

export type { Engine, EngineName, SearchResult } from "./types.ts";
export { NONCE_SPACE } from "./validate.ts";

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
      throw new ChainDbError(ErrorCode.BAD_ENGINE, `unknown engine ${JSON.stringify(name)}: expected "wasm" or "ts"`);
  }
}
