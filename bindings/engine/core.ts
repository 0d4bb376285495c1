/**
 * The one loader of the WebAssembly core (assembly/, built to build/release.wasm). The module is
 * compiled once per thread and shared; {@link instantiateCore} makes an instance with its own
 * linear memory (each KV store and ledger state holds one, released with it; one per worker), and
 * {@link sharedCore} is the thread's instance for the hashing engine. Every instance gets the same
 * imports (AssemblyScript's `abort`, decoded into the thrown error) and is checked against the ABI
 * (core-abi.ts) before anyone binds it.
 *
 * CHAINDB_CORE_WASM (a path relative to the working directory) picks another build for all of
 * them, e.g. build/debug.wasm with its assertions.
 * @module
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { ChainDbError, ErrorCode } from "../util/index.ts";
import { checkCoreExports, type CoreExports } from "./core-abi.ts";

/** Location of the release build, relative to this file (also valid from dist/bindings/engine/). */
export const CORE_WASM_URL: URL = new URL("../../build/release.wasm", import.meta.url);

let compiled: { href: string; module: Promise<WebAssembly.Module> } | undefined;
let shared: Promise<CoreExports> | undefined;

/** The build to load: CHAINDB_CORE_WASM if set, else {@link CORE_WASM_URL}. */
export function coreWasmUrl(): URL {
  const override = typeof process !== "undefined" ? process.env?.CHAINDB_CORE_WASM : undefined;
  return override ? new URL(override, `file://${process.cwd()}/`) : CORE_WASM_URL;
}

/** Compiles the core once per thread (again if CHAINDB_CORE_WASM changed); `WASM_UNAVAILABLE` if missing or invalid. */
export function compileCore(): Promise<WebAssembly.Module> {
  const url = coreWasmUrl();
  if (compiled?.href !== url.href) {
    const entry = {
      href: url.href,
      module: compileCoreAt(url).catch((error: unknown) => {
        if (compiled === entry) compiled = undefined; // a later build may fix it
        throw error;
      }),
    };
    compiled = entry;
  }
  return compiled.module;
}

/** Compiles the module at `url` (uncached); `WASM_UNAVAILABLE` if it is missing or invalid. */
export async function compileCoreAt(url: URL): Promise<WebAssembly.Module> {
  let bytes: Uint8Array<ArrayBuffer>;
  try {
    bytes = new Uint8Array(readFileSync(url));
  } catch (cause) {
    throw new ChainDbError(
      ErrorCode.WASM_UNAVAILABLE,
      `cannot read ${fileURLToPath(url)}: run \`npm run build\` to build the WebAssembly core`,
      { cause },
    );
  }
  try {
    return await WebAssembly.compile(bytes);
  } catch (cause) {
    throw new ChainDbError(
      ErrorCode.WASM_UNAVAILABLE,
      `${fileURLToPath(url)} is not a valid WebAssembly module: run \`npm run build\``,
      { cause },
    );
  }
}

/** An AssemblyScript string (UTF-16, its byte length stored 4 bytes before it) read from memory. */
function readString(memory: WebAssembly.Memory | undefined, ptr: number): string {
  if (memory === undefined || ptr === 0 || ptr < 4 || ptr > memory.buffer.byteLength) return "";
  const length = new DataView(memory.buffer).getUint32(ptr - 4, true);
  const end = Math.min(ptr + (length & ~1), memory.buffer.byteLength);
  return String.fromCharCode(...new Uint16Array(memory.buffer.slice(ptr, end)));
}

/**
 * The imports every instance gets. An `abort` is a broken invariant in the core (a bug, never bad
 * input, which the bindings refuse first): it throws with the core's message and source line.
 */
export function coreImports(memory: () => WebAssembly.Memory | undefined): WebAssembly.Imports {
  return {
    env: {
      abort(messagePtr: number, filePtr: number, line: number, column: number): never {
        const message = readString(memory(), messagePtr);
        const file = readString(memory(), filePtr);
        throw new Error(`chaindb wasm abort: ${message} (${file}:${line}:${column})`);
      },
      // AssemblyScript's other environment imports, should a part of the core start using them.
      seed: (): number => Date.now(),
      trace: (): void => {},
    },
  };
}

/** A fresh instance of the core with its own memory, checked against the ABI. */
export async function instantiateCore(): Promise<CoreExports> {
  const module = await compileCore();
  let memory: WebAssembly.Memory | undefined;
  let instance: WebAssembly.Instance;
  try {
    instance = await WebAssembly.instantiate(
      module,
      coreImports(() => memory),
    );
  } catch (cause) {
    throw new ChainDbError(
      ErrorCode.WASM_UNAVAILABLE,
      `cannot instantiate ${fileURLToPath(coreWasmUrl())}: run \`npm run build:wasm\``,
      { cause },
    );
  }
  const exports = checkCoreExports(instance.exports, fileURLToPath(coreWasmUrl()));
  memory = exports.memory;
  return exports;
}

/** The thread's shared instance of the core (instantiated on first use), for the hashing engine. */
export function sharedCore(): Promise<CoreExports> {
  shared ??= instantiateCore().catch((error: unknown) => {
    shared = undefined;
    throw error;
  });
  return shared;
}

/** Location of the threaded build (same sources, shared imported memory: assembly/parallel.ts). */
export const THREADS_WASM_URL: URL = new URL("../../build/threads.wasm", import.meta.url);
/** Largest shared memory of the threaded build, in 64 KiB pages (4 GiB: asconfig.json `maximumMemory`). */
export const THREADS_MEMORY_PAGES_MAX = 65536;

let compiledThreads: Promise<WebAssembly.Module> | undefined;

/** Compiles the threaded build once per thread; `WASM_UNAVAILABLE` if missing or invalid. */
export function compileThreadedCore(): Promise<WebAssembly.Module> {
  compiledThreads ??= compileCoreAt(THREADS_WASM_URL).catch((error: unknown) => {
    compiledThreads = undefined;
    throw error;
  });
  return compiledThreads;
}

/**
 * A new shared memory for the threaded build, at its full 4 GiB from the start: it never grows.
 * A worker instance did not always see a growth by the main instance (Node 20: "memory access out
 * of bounds" in a worker reading a page the main thread had just grown into), and a shared memory
 * is reserved at its maximum anyway; untouched pages cost address space, not memory.
 */
export function createSharedCoreMemory(): WebAssembly.Memory {
  return new WebAssembly.Memory({
    // One page short of 4 GiB: the allocator computes the memory's end in 32 bits (store-alloc.ts).
    initial: THREADS_MEMORY_PAGES_MAX - 1,
    maximum: THREADS_MEMORY_PAGES_MAX,
    shared: true,
  });
}

/**
 * An instance of the threaded build over `memory`, checked against the ABI. Instantiating applies
 * the module's data segments to the memory again: create every instance of a memory before the
 * first one writes anything (assembly/parallel.ts).
 */
export async function instantiateThreadedCore(memory: WebAssembly.Memory): Promise<CoreExports> {
  const module = await compileThreadedCore();
  const imports = coreImports(() => memory);
  imports.env = { ...imports.env, memory };
  let instance: WebAssembly.Instance;
  try {
    instance = await WebAssembly.instantiate(module, imports);
  } catch (cause) {
    throw new ChainDbError(
      ErrorCode.WASM_UNAVAILABLE,
      `cannot instantiate ${fileURLToPath(THREADS_WASM_URL)}: run \`npm run build:wasm\``,
      { cause },
    );
  }
  return checkCoreExports(instance.exports, fileURLToPath(THREADS_WASM_URL));
}

/** A byte view of a core's memory that follows its growth (growth detaches every older view). */
export class CoreMemory {
  private buffer: ArrayBuffer | SharedArrayBuffer;
  private view: Uint8Array;
  constructor(private readonly memory: WebAssembly.Memory) {
    this.buffer = memory.buffer;
    this.view = new Uint8Array(this.buffer);
  }
  /** The current byte view (re-created after growth). */
  get u8(): Uint8Array {
    if (this.memory.buffer !== this.buffer) {
      this.buffer = this.memory.buffer;
      this.view = new Uint8Array(this.buffer);
    }
    return this.view;
  }
  /** Memory size in bytes. */
  get byteLength(): number {
    return this.memory.buffer.byteLength;
  }
}
