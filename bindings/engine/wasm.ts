/**
 * The WebAssembly engine: {@link Engine} over the AssemblyScript core (assembly/, built to
 * build/release.wasm, loaded by core.ts). By default it binds the thread's shared instance; a
 * caller may hand it a fresh one (`instantiateCore()`, e.g. one per worker).
 *
 * Data goes through the core's static input/output buffers. Other exports may grow the memory,
 * which detaches every view of the old buffer: views are re-created whenever `memory.buffer`
 * changed, never kept across a call.
 * @module
 */
import { ChainDbError, ErrorCode, abytes, assert } from "../util/index.ts";
import type { CoreExports } from "./core-abi.ts";
import { sharedCore } from "./core.ts";
import type { KvStore } from "./kv-types.ts";
import { createWasmKvStore } from "./kv-wasm.ts";
import type { LedgerState } from "./state-types.ts";
import { createWasmState } from "./state-wasm.ts";
import type { Engine, SearchResult } from "./types.ts";
import { checkLeaves, checkSearchArgs } from "./validate.ts";

/**
 * Nonces per `powSearch` call: V8 swaps in its optimizing tier only between calls, and a chunk
 * this size is a few milliseconds, so the first chunks run in the baseline tier.
 */
export const SEARCH_CHUNK = 65536;

/** The WebAssembly engine over `core` (default: the thread's shared instance, core.ts). */
export async function createWasmEngine(core?: CoreExports): Promise<Engine> {
  return new WasmEngine(core ?? (await sharedCore()));
}

class WasmEngine implements Engine {
  readonly name = "wasm" as const;
  readonly #x: CoreExports;
  readonly #input: number;
  readonly #inputSize: number;
  readonly #output: number;
  #view: Uint8Array;

  constructor(exports: CoreExports) {
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

  createKvStore(): Promise<KvStore> {
    return createWasmKvStore();
  }

  createLedgerState(): Promise<LedgerState> {
    return createWasmState();
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
