/**
 * The WebAssembly engine: {@link Engine} over the AssemblyScript core (assembly/, built to
 * build/release.wasm). The module is compiled once per thread; {@link instantiateWasm} makes a fresh
 * instance (one per worker), {@link loadWasmExports} returns the thread's shared instance, which
 * {@link createWasmEngine} uses too, so other layers (the store) can reach the same memory.
 *
 * Data goes through the core's static input/output buffers. Other exports may grow the memory,
 * which detaches every view of the old buffer: views are re-created whenever `memory.buffer`
 * changed, never kept across a call.
 * @module
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { ChainDbError, ErrorCode, abytes } from "../util/index.ts";
import type { Engine, SearchResult } from "./types.ts";
import { checkLeaves, checkSearchArgs } from "./validate.ts";

/** Location of the release build, relative to this file (also valid from dist/bindings/engine/). */
export const WASM_URL: URL = new URL("../../build/release.wasm", import.meta.url);

/**
 * Nonces per `powSearch` call: V8 swaps in its optimizing tier only between calls, and a chunk
 * this size is a few milliseconds, so the first chunks run in the baseline tier.
 */
export const SEARCH_CHUNK = 65536;

/** The raw ABI of the core (assembly/index.ts). Pointers and lengths are byte offsets into `memory`. */
export interface WasmExports {
  /** The core's linear memory (its buffer changes when memory grows). */
  readonly memory: WebAssembly.Memory;
  /** Address of the static input buffer. */
  inputPtr(): number;
  /** Size of the static input buffer in bytes (64 KiB). */
  inputSize(): number;
  /** Address of the static output buffer (128 bytes). */
  outputPtr(): number;
  /** Test-only: grows memory by `pages`, returns the previous size in pages. */
  growMemoryForTest(pages: number): number;
  /** SHA-256 of input[0, len) → output[0, 32). */
  sha256Input(len: number): void;
  /** SHA-256d of input[0, len) → output[0, 32). */
  sha256dInput(len: number): void;
  /** Starts a streaming hash. */
  sha256Init(): void;
  /** Feeds input[0, len) to the streaming hash. */
  sha256Update(len: number): void;
  /** Ends the streaming hash: SHA-256 → output[0, 32). */
  sha256Final(): void;
  /** Ends the streaming hash: SHA-256d → output[0, 32). */
  sha256dFinal(): void;
  /** SHA-256 of four `len`-byte messages contiguous in the input → four digests in output[0, 128). */
  sha256x4Input(len: number): void;
  /** SHA-256 of memory[src, src + len) → memory[dst, dst + 32). */
  sha256Bytes(src: number, len: number, dst: number): void;
  /** SHA-256d of memory[src, src + len) → memory[dst, dst + 32). */
  sha256dBytes(src: number, len: number, dst: number): void;
  /** SHA-256 of four 64-byte messages contiguous at src → four digests at dst. */
  sha256Pairs4(src: number, dst: number): void;
  /** SHA-256d of four 64-byte messages contiguous at src → four digests at dst. */
  sha256dPairs4(src: number, dst: number): void;
  /** Prepares a search: header in input[0, 80), target in input[80, 112). */
  powInit(): void;
  /** Searches [start, start + count); 1 if found (see powFoundNonce), else 0. */
  powSearch(start: number, count: number): number;
  /** The nonce found by the last successful powSearch (as i32: use `>>> 0`). */
  powFoundNonce(): number;
  /** One merkle level over `count` hashes in the input buffer, in place; returns the parent count. */
  merkleLevelInput(count: number): number;
  /** Merkle root of `count` hashes in the input buffer → output[0, 32). */
  merkleRootInput(count: number): void;
}

let compiled: Promise<WebAssembly.Module> | undefined;
let shared: Promise<WasmExports> | undefined;

/**
 * Compiles build/release.wasm once per thread; `WASM_UNAVAILABLE` if it is missing or invalid.
 * The environment variable CHAINDB_CORE_WASM (a path relative to the working directory) picks
 * another build, e.g. build/debug.wasm, as the store's loader does.
 */
export function compileWasm(): Promise<WebAssembly.Module> {
  const override = typeof process !== "undefined" ? process.env?.CHAINDB_CORE_WASM : undefined;
  const url = override ? new URL(override, `file://${process.cwd()}/`) : WASM_URL;
  compiled ??= compileWasmAt(url).catch((error: unknown) => {
    compiled = undefined; // a later build may fix it
    throw error;
  });
  return compiled;
}

/** Compiles the module at `url` (uncached); `WASM_UNAVAILABLE` if it is missing or invalid. */
export async function compileWasmAt(url: URL): Promise<WebAssembly.Module> {
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

/** A fresh instance of the core with its own memory (e.g. one per worker). */
export async function instantiateWasm(): Promise<WasmExports> {
  const module = await compileWasm();
  let memory: WebAssembly.Memory | undefined;
  const imports = {
    env: {
      // AssemblyScript's abort(message, fileName, line, column): strings are UTF-16 with their
      // byte length stored 4 bytes before the pointer.
      abort(messagePtr: number, filePtr: number, line: number, column: number): never {
        const text = (ptr: number): string => {
          if (memory === undefined || ptr === 0) return "";
          const length = new Uint32Array(memory.buffer, ptr - 4, 1)[0]!;
          return String.fromCharCode(...new Uint16Array(memory.buffer, ptr, length >>> 1));
        };
        throw new Error(`chaindb wasm abort: ${text(messagePtr)} (${text(filePtr)}:${line}:${column})`);
      },
      // AssemblyScript's other environment imports, in case a part of the core uses them.
      seed: (): number => Date.now(),
      trace: (): void => {},
    },
  };
  const instance = await WebAssembly.instantiate(module, imports);
  const exports = instance.exports as unknown as WasmExports;
  memory = exports.memory;
  return exports;
}

/** The thread's shared instance of the core (instantiated on first use). */
export function loadWasmExports(): Promise<WasmExports> {
  shared ??= instantiateWasm().catch((error: unknown) => {
    shared = undefined;
    throw error;
  });
  return shared;
}

/** The WebAssembly engine over `exports` (default: the thread's shared instance). */
export async function createWasmEngine(exports?: WasmExports): Promise<Engine> {
  return new WasmEngine(exports ?? (await loadWasmExports()));
}

class WasmEngine implements Engine {
  readonly name = "wasm" as const;
  readonly #x: WasmExports;
  readonly #input: number;
  readonly #inputSize: number;
  readonly #output: number;
  #view: Uint8Array;

  constructor(exports: WasmExports) {
    this.#x = exports;
    this.#input = exports.inputPtr();
    this.#inputSize = exports.inputSize();
    this.#output = exports.outputPtr();
    this.#view = new Uint8Array(exports.memory.buffer);
  }

  /** A view of the current memory: re-created when growth replaced the buffer. */
  #mem(): Uint8Array {
    if (this.#view.buffer !== this.#x.memory.buffer) this.#view = new Uint8Array(this.#x.memory.buffer);
    return this.#view;
  }

  #write(data: Uint8Array, offset = 0): void {
    this.#mem().set(data, this.#input + offset);
  }

  #read(offset: number, length: number): Uint8Array {
    const start = this.#output + offset;
    return this.#mem().slice(start, start + length);
  }

  sha256(data: Uint8Array): Uint8Array {
    abytes(data, undefined, "data");
    return this.#hash(data, false);
  }

  sha256d(data: Uint8Array): Uint8Array {
    abytes(data, undefined, "data");
    return this.#hash(data, true);
  }

  #hash(data: Uint8Array, double: boolean): Uint8Array {
    const x = this.#x;
    if (data.length <= this.#inputSize) {
      this.#write(data);
      if (double) x.sha256dInput(data.length);
      else x.sha256Input(data.length);
    } else {
      x.sha256Init();
      for (let i = 0; i < data.length; i += this.#inputSize) {
        const chunk = data.subarray(i, i + this.#inputSize);
        this.#write(chunk);
        x.sha256Update(chunk.length);
      }
      if (double) x.sha256dFinal();
      else x.sha256Final();
    }
    return this.#read(0, 32);
  }

  sha256Many(messages: readonly Uint8Array[]): Uint8Array[] {
    if (!Array.isArray(messages)) throw new ChainDbError(ErrorCode.BAD_ARGUMENT, `"messages" expected an array`);
    messages.forEach((m, i) => abytes(m, undefined, `messages[${i}]`));
    const out = new Array<Uint8Array>(messages.length);
    // Messages of equal length go four at a time through the SIMD lanes.
    const byLength = new Map<number, number[]>();
    messages.forEach((m, i) => {
      const group = byLength.get(m.length);
      if (group === undefined) byLength.set(m.length, [i]);
      else group.push(i);
    });
    for (const [length, indices] of byLength) {
      let j = 0;
      if (4 * length <= this.#inputSize) {
        for (; j + 4 <= indices.length; j += 4) {
          for (let lane = 0; lane < 4; lane++) this.#write(messages[indices[j + lane]!]!, lane * length);
          this.#x.sha256x4Input(length);
          for (let lane = 0; lane < 4; lane++) out[indices[j + lane]!] = this.#read(lane * 32, 32);
        }
      }
      for (; j < indices.length; j++) out[indices[j]!] = this.#hash(messages[indices[j]!]!, false);
    }
    return out;
  }

  searchNonce(header: Uint8Array, target: Uint8Array, startNonce: number, count: number): SearchResult {
    checkSearchArgs(header, target, startNonce, count);
    const x = this.#x;
    this.#write(header);
    this.#write(target, 80);
    x.powInit();
    const end = startNonce + count;
    for (let start = startNonce; start < end; start += SEARCH_CHUNK) {
      if (x.powSearch(start, Math.min(SEARCH_CHUNK, end - start)) !== 0) {
        const nonce = x.powFoundNonce() >>> 0;
        return { nonce, hashes: nonce - startNonce + 1 };
      }
    }
    return { nonce: null, hashes: count };
  }

  merkleRoot(hashes: readonly Uint8Array[]): Uint8Array {
    checkLeaves(hashes);
    const capacity = this.#inputSize / 32; // even, so no chunk but the last has an odd count
    let level: readonly Uint8Array[] = hashes;
    while (level.length > capacity) {
      const next: Uint8Array[] = [];
      for (let i = 0; i < level.length; i += capacity) {
        const chunk = level.slice(i, i + capacity);
        chunk.forEach((h, j) => this.#write(h, 32 * j));
        const parents = this.#x.merkleLevelInput(chunk.length);
        const view = this.#mem();
        for (let p = 0; p < parents; p++) next.push(view.slice(this.#input + 32 * p, this.#input + 32 * p + 32));
      }
      level = next;
    }
    level.forEach((h, j) => this.#write(h, 32 * j));
    this.#x.merkleRootInput(level.length);
    return this.#read(0, 32);
  }
}
