/**
 * Instantiates the WebAssembly core for the store and the ledger state. Each store gets its own
 * instance (and so its own linear memory, released with the store); the compiled module is
 * shared. The core's heap above `__heap_base` belongs to assembly/store-alloc.ts.
 * @module
 */
import { readFile } from "node:fs/promises";
import { ChainDbError, ErrorCode } from "../util/index.ts";

/** The store and state exports of the core (see assembly/kv.ts, assembly/state.ts). */
export interface StoreExports {
  readonly memory: WebAssembly.Memory;
  kvCreate(seedLo: number, seedHi: number): number;
  kvIo(): number;
  kvSize(s: number): number;
  kvCapacity(s: number): number;
  kvDepth(s: number): number;
  kvGetIo(s: number, keyLen: number): number;
  kvPutIo(s: number, keyLen: number, valLen: number): number;
  kvDeleteIo(s: number, keyLen: number): number;
  kvClear(s: number): number;
  kvCheckpoint(s: number): number;
  kvRollback(s: number): number;
  kvRelease(s: number): number;
  kvNextSlot(s: number, from: number): number;
  kvSlotEntry(s: number, i: number): number;
  heapUsed(): number;
  [name: string]: unknown;
}

let compiled: Promise<WebAssembly.Module> | undefined;

/** Compiles build/release.wasm once per process. */
function compileCore(): Promise<WebAssembly.Module> {
  compiled ??= (async () => {
    // CHAINDB_CORE_WASM picks another build of the core (e.g. build/debug.wasm, with assertions).
    const override = typeof process !== "undefined" ? process.env?.CHAINDB_CORE_WASM : undefined;
    const url = override
      ? new URL(override, `file://${process.cwd()}/`)
      : new URL("../../build/release.wasm", import.meta.url);
    try {
      return await WebAssembly.compile(new Uint8Array(await readFile(url)));
    } catch (cause) {
      compiled = undefined;
      throw new ChainDbError(
        ErrorCode.WASM_UNAVAILABLE,
        `cannot load ${url.pathname}: run \`npm run build:wasm\``,
        { cause },
      );
    }
  })();
  return compiled;
}

/** A fresh instance of the core, with its own memory. */
export async function instantiateStoreCore(): Promise<StoreExports> {
  const module = await compileCore();
  const imports: WebAssembly.Imports = {};
  for (const imp of WebAssembly.Module.imports(module)) {
    if (imp.kind !== "function") continue;
    const ns = (imports[imp.module] ??= {}) as Record<string, unknown>;
    ns[imp.name] =
      imp.name === "abort"
        ? () => {
            throw new Error("chaindb internal error: wasm abort");
          }
        : () => 0;
  }
  const instance = await WebAssembly.instantiate(module, imports);
  const exports = instance.exports as unknown as StoreExports;
  if (typeof exports.kvCreate !== "function") {
    throw new ChainDbError(
      ErrorCode.WASM_UNAVAILABLE,
      "build/release.wasm has no store exports: rebuild with `npm run build:wasm`",
    );
  }
  return exports;
}
