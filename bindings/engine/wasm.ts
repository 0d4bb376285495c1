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
import { ChainDbError, ErrorCode, abytes, assert } from "../util/index.ts";
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
  /**
   * SHA-256 of `count` messages of `len` bytes contiguous in the input (four at a time in the SIMD
   * lanes); digest i goes to input + count·len + 32·i.
   */
  sha256ManyInput(len: number, count: number): void;
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
  /** `levels` merkle levels over `count` hashes in the input buffer, in place; returns the node count left. */
  merkleLevelsInput(count: number, levels: number): number;
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
    if (!Array.isArray(messages as unknown))
      throw new ChainDbError(ErrorCode.BAD_ARGUMENT, `"messages" expected an array`);
    for (let i = 0; i < messages.length; i++) {
      if (!(messages[i] instanceof Uint8Array)) abytes(messages[i], undefined, `messages[${i}]`); // throws
    }
    const out = new Array<Uint8Array>(messages.length);
    const byLength = new Map<number, number[]>();
    messages.forEach((m, i) => {
      const group = byLength.get(m.length);
      if (group === undefined) byLength.set(m.length, [i]);
      else group.push(i);
    });
    for (const [length, indices] of byLength) {
      // As many messages as fit with their digests go in one call (four at a time in the lanes).
      const perCall = Math.floor(this.#inputSize / (length + 32));
      if (perCall < 4) {
        for (const i of indices) out[i] = this.#hash(messages[i]!, false);
        continue;
      }
      for (let first = 0; first < indices.length; first += perCall) {
        const count = Math.min(perCall, indices.length - first);
        let view = this.#mem();
        for (let k = 0; k < count; k++) view.set(messages[indices[first + k]!]!, this.#input + k * length);
        this.#x.sha256ManyInput(length, count);
        view = this.#mem();
        const digests = this.#input + count * length;
        for (let k = 0; k < count; k++)
          out[indices[first + k]!] = view.slice(digests + 32 * k, digests + 32 * k + 32);
      }
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
    return this.#merkle(hashes);
  }

  #merkle(level: readonly Uint8Array[]): Uint8Array {
    // The input buffer holds 2^11 hashes. A larger tree is cut into aligned blocks of 2^11 leaves:
    // each block's node 11 levels up is computed in one call (a partial last block pairs its last
    // node with itself exactly where the whole tree does, since full blocks add even counts to
    // every level below), then the tree over those nodes.
    const capacity = this.#inputSize / 32;
    const depth = Math.log2(capacity);
    assert(Number.isInteger(depth), "merkle capacity is a power of two");
    if (level.length <= capacity) {
      this.#writeHashes(level);
      this.#x.merkleRootInput(level.length);
      return this.#read(0, 32);
    }
    const nodes: Uint8Array[] = [];
    for (let first = 0; first < level.length; first += capacity) {
      const block = level.slice(first, first + capacity);
      this.#writeHashes(block);
      assert(this.#x.merkleLevelsInput(block.length, depth) === 1, "one node per block");
      nodes.push(this.#mem().slice(this.#input, this.#input + 32));
    }
    return this.#merkle(nodes);
  }

  #writeHashes(hashes: readonly Uint8Array[]): void {
    const view = this.#mem();
    for (let j = 0; j < hashes.length; j++) view.set(hashes[j]!, this.#input + 32 * j);
  }
}
