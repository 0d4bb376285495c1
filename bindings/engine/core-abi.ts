/**
 * The ABI of the WebAssembly core (assembly/index.ts, built to build/release.wasm), typed once:
 * the hashing engine (wasm.ts), the key-value store (kv-wasm.ts) and the ledger state
 * (state-wasm.ts) all bind {@link CoreExports}. Pointers and lengths are byte offsets into
 * `memory`; a wasm i32 reaches JS signed, so addresses are read with `>>> 0`.
 *
 * The type is written by hand (so each export keeps its documentation) and held to the build
 * three ways: {@link CORE_FUNCTION_ARITY} must name exactly the type's functions with their
 * parameter counts (the compiler checks it), {@link checkCoreExports} refuses an instance that
 * lacks one of them at load time, and test/engine/core-abi.test.ts checks both builds' export
 * lists against the table, so an export added to assembly/ without a type fails the suite.
 * @module
 */
import { ChainDbError, ErrorCode } from "../util/index.ts";

/** The core's exported functions. */
export interface CoreFunctions {
  // io.ts: the static buffers of the hashing engine
  /** Address of the static input buffer. */
  inputPtr(): number;
  /** Size of the static input buffer in bytes (64 KiB). */
  inputSize(): number;
  /** Address of the static output buffer (128 bytes). */
  outputPtr(): number;
  /** Test-only: grows memory by `pages`, returns the previous size in pages. */
  growMemoryForTest(pages: number): number;

  // sha256.ts (FIPS 180-4; 4-lane v128 where messages come four at a time)
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

  // pow.ts, merkle.ts
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

  // kv.ts: the hashmap store (entries: see records.ts CORE_ENTRY_HEADER)
  /** Creates an empty store; returns its header pointer, or 0 when out of memory. */
  kvCreate(seedLo: number, seedHi: number): number;
  /** The IO area (key at +0, value at +KV_KEY_MAX), allocated on first use; 0 when out of memory. */
  kvIo(): number;
  /** Number of live entries. */
  kvSize(s: number): number;
  /** Slot count of the table (a power of two). */
  kvCapacity(s: number): number;
  /** Open checkpoints. */
  kvDepth(s: number): number;
  /** Entry pointer for the key in the IO area, or 0. */
  kvGetIo(s: number, keyLen: number): number;
  /** Puts the key and value from the IO area: 0, or -1 when out of memory (store unchanged). */
  kvPutIo(s: number, keyLen: number, valLen: number): number;
  /** Deletes the key in the IO area: 1 if it was present, 0 if not, -1 when out of memory. */
  kvDeleteIo(s: number, keyLen: number): number;
  /** Removes every entry (journaled inside a checkpoint): 0, or -1 when out of memory. */
  kvClear(s: number): number;
  /** Opens a checkpoint; returns the new depth, or a negative code when too deep. */
  kvCheckpoint(s: number): number;
  /** Undoes everything since the innermost checkpoint and closes it. */
  kvRollback(s: number): number;
  /** Keeps the innermost checkpoint's changes (an outer one can still undo them). */
  kvRelease(s: number): number;
  /** First slot index ≥ `from` holding an entry, or -1. */
  kvNextSlot(s: number, from: number): number;
  /** Entry pointer in slot `i` (0 if empty). */
  kvSlotEntry(s: number, i: number): number;
  /** Bytes the store allocator has handed out (store-alloc.ts). */
  heapUsed(): number;

  // commit.ts, state.ts: the ledger state and its sparse Merkle tree
  /** SHA-256 compressions done by root updates so far (u64, so a BigInt). */
  commitHashCount(): bigint;
  /** Tree nodes allocated. */
  commitNodeCount(): number;
  /** Test hook: sort keys of the bulk tree build keep only this many path bits (1..64). */
  commitTestPrefixBits(bits: number): void;
  /** Starts a bulk build (empty tree, accounts waiting): accounts to link, -2 when none is due, -1 when out of memory. */
  commitBulkBegin(): number;
  /** Links up to `count` more accounts of the started bulk build; returns how many are linked so far. */
  commitBulkLink(count: number): number;
  /** Hashes the bulk-built tree bottom-up; returns the root's address (32 bytes). */
  commitBulkEnd(): number;
  /** Sets up an empty state: 0, or -1 when out of memory. */
  stateInit(seedLo: number, seedHi: number): number;
  /** Scratch for one address (queries, proofs). */
  stateAddrIo(): number;
  /** Where the bindings write the block's proposer. */
  stateProposerIo(): number;
  /** Number of accounts. */
  stateCount(): number;
  /** A buffer for `count` packed transfers; 0 when out of memory. */
  stateTxBuffer(count: number): number;
  /** The status bytes of the last `stateApply` (codes: records.ts TransferCode). */
  stateStatusPtr(): number;
  /** Account entry for the address in the address IO area, or 0 when absent. */
  stateGet(): number;
  /** Opens a block: 0, or -1 if a block is already open. */
  stateBegin(): number;
  /** Keeps the open block's changes: 0, or -1 if no block is open. */
  stateCommit(): number;
  /** Undoes the open block: 0, -1 if no block is open, -3 when out of memory. */
  stateAbort(): number;
  /** Applies `count` packed transfers from the tx buffer: ≥ 0, -1 when out of memory, else outside a block. */
  stateApply(count: number): number;
  /** Number of accounts the open (or last) block touched. */
  stateChangedCount(): number;
  /** Packs the touched accounts as account records; returns the buffer (0 when out of memory). */
  stateChanges(): number;
  /** Packs every account as account records; returns the buffer (0 when out of memory). */
  stateExportAll(): number;
  /** A buffer for `count` account records to load; 0 when out of memory. */
  stateLoadBuffer(count: number): number;
  /** Loads `count` records from the load buffer: 0, -1 when out of memory, else inside a block. */
  stateLoad(count: number): number;
  /** Sizes the account table for `more` accounts to come: 0, -1 when out of memory. */
  stateReserve(more: number): number;
  /** Brings the state root up to date; returns its address (32 bytes), 0 when out of memory. */
  stateRoot(): number;
  /** Proof material for the address in the address IO area (commit.ts layout); 0 when out of memory. */
  stateProve(): number;
  /** Test hook: leaves `bytes` of heap untouched so later allocations lie past it; 0, -1 when out of memory. */
  stateTestSkipHeap(bytes: number): number;

  // parallel.ts: parallel execution in the threaded build (the single-threaded build refuses)
  /** Sets up `threads` threads (main included); the control block's address, 0 if refused or out of memory. */
  parInit(threads: number): number;
  /** Threads set up by parInit (0: serial only). */
  parThreads(): number;
  /** Sets the stop word (control block +4) and wakes the workers waiting on the job word (+0). */
  parStop(): void;
  /**
   * A worker instance's share of job `gen` on the control block `ctl` as thread `tid` (1..threads-1):
   * 0 when done, else an address whose i32 the worker waits to differ from `parWorkerWaitValue()`
   * before it calls `parWorkerResume`.
   */
  parWorkerRun(ctl: number, tid: number, gen: number): number;
  /** The value a worker waits to change after `parWorkerRun` or `parWorkerResume` returned an address. */
  parWorkerWaitValue(): number;
  /** Goes on with job `gen` after the wait; returns as `parWorkerRun` does. */
  parWorkerResume(ctl: number, tid: number, gen: number): number;
  /** State-root hashing jobs (paths, or subtrees) that ran on the threads so far. */
  parRootJobs(): number;

  // paged.ts: the paged ledger state's memory and 4-lane hashing (digests in word layout)
  /** Allocates `size` bytes (8-byte aligned); 0 when out of memory. */
  pagedAlloc(size: number): number;
  /** Frees `size` bytes at `ptr` (the size it was allocated with). */
  pagedFree(ptr: number, size: number): void;
  /** SHA-256 compressions done by the paged kernels so far. */
  pagedHashCount(): number;
  /** Node jobs [message 64, dst, dst2 or 0] u32 × n, four at a time. */
  pagedNodes(jobs: number, n: number): void;
  /** Leaf jobs [record 48, dst, dst2 or 0] u32 × n, four at a time. */
  pagedLeaves(jobs: number, n: number): void;
  /** path(a) of n addresses at src + stride·i → dst + 32·i. */
  pagedPaths(src: number, stride: number, n: number, dst: number): void;
  /** Updates the heap ancestors of the sorted bucket nodes in `list` (overwritten). */
  pagedTopUpdate(top: number, cnt: number, list: number, n: number, bits: number): void;
  /** Recomputes the whole heap above the 2^bits buckets. */
  pagedTopAll(top: number, cnt: number, bits: number): void;
  /** CRC-32C of memory[ptr, ptr + len) from `crc` (as i32: use `>>> 0`). */
  pagedCrc32c(ptr: number, len: number, crc: number): number;
  /** Jobs run serially so far because the threads were slow (backing off under load). */
  parSerialJobs(): number;
  /** Test hook: a wait of `spins` loads or more makes a job slow (0: every job). */
  parTestSlowSpins(spins: number): void;
}

/** Everything the core exports: its functions and its linear memory (whose buffer changes as it grows). */
export interface CoreExports extends CoreFunctions {
  /** The core's linear memory. */
  readonly memory: WebAssembly.Memory;
}

/** Each export's parameter count; the type makes this table list exactly the functions above. */
export const CORE_FUNCTION_ARITY: {
  readonly [K in keyof CoreFunctions]: Parameters<CoreFunctions[K]>["length"];
} = {
  inputPtr: 0,
  inputSize: 0,
  outputPtr: 0,
  growMemoryForTest: 1,
  sha256Input: 1,
  sha256dInput: 1,
  sha256Init: 0,
  sha256Update: 1,
  sha256Final: 0,
  sha256dFinal: 0,
  sha256ManyInput: 2,
  sha256Bytes: 3,
  sha256dBytes: 3,
  sha256Pairs4: 2,
  sha256dPairs4: 2,
  powInit: 0,
  powSearch: 2,
  powFoundNonce: 0,
  merkleLevelsInput: 2,
  merkleRootInput: 1,
  kvCreate: 2,
  kvIo: 0,
  kvSize: 1,
  kvCapacity: 1,
  kvDepth: 1,
  kvGetIo: 2,
  kvPutIo: 3,
  kvDeleteIo: 2,
  kvClear: 1,
  kvCheckpoint: 1,
  kvRollback: 1,
  kvRelease: 1,
  kvNextSlot: 2,
  kvSlotEntry: 2,
  heapUsed: 0,
  commitHashCount: 0,
  commitNodeCount: 0,
  commitTestPrefixBits: 1,
  commitBulkBegin: 0,
  commitBulkLink: 1,
  commitBulkEnd: 0,
  stateInit: 2,
  stateAddrIo: 0,
  stateProposerIo: 0,
  stateCount: 0,
  stateTxBuffer: 1,
  stateStatusPtr: 0,
  stateGet: 0,
  stateBegin: 0,
  stateCommit: 0,
  stateAbort: 0,
  stateApply: 1,
  stateChangedCount: 0,
  stateChanges: 0,
  stateExportAll: 0,
  stateLoadBuffer: 1,
  stateLoad: 1,
  stateReserve: 1,
  stateRoot: 0,
  stateProve: 0,
  stateTestSkipHeap: 1,
  parInit: 1,
  parThreads: 0,
  parStop: 0,
  parWorkerRun: 3,
  parWorkerWaitValue: 0,
  parWorkerResume: 3,
  parRootJobs: 0,
  pagedAlloc: 1,
  pagedFree: 2,
  pagedHashCount: 0,
  pagedNodes: 2,
  pagedLeaves: 2,
  pagedPaths: 4,
  pagedTopUpdate: 5,
  pagedTopAll: 3,
  pagedCrc32c: 3,
  parSerialJobs: 0,
  parTestSlowSpins: 1,
};

/**
 * Exports of a build the bindings deliberately do not type (none today; AssemblyScript's managed
 * runtime would add `__new`, `__pin`, … here). The ABI test fails on any other untyped export.
 */
export const CORE_EXPORTS_IGNORED: readonly string[] = [];

/** How `exports` departs from {@link CoreExports}: one line per missing or mismatched export. */
export function coreAbiMismatches(exports: WebAssembly.Exports): string[] {
  const problems: string[] = [];
  if (!(exports.memory instanceof WebAssembly.Memory)) problems.push("memory: not exported");
  for (const [name, arity] of Object.entries(CORE_FUNCTION_ARITY)) {
    const value = exports[name];
    if (typeof value !== "function") problems.push(`${name}: not an exported function`);
    else if (value.length !== arity)
      problems.push(`${name}: takes ${value.length} parameters, expected ${arity}`);
  }
  return problems;
}

function isCoreExports(exports: WebAssembly.Exports): exports is WebAssembly.Exports & CoreExports {
  return coreAbiMismatches(exports).length === 0;
}

/**
 * The instance's exports as {@link CoreExports}, once checked against the ABI; `WASM_UNAVAILABLE`
 * naming what is missing when the build at `source` is older or newer than these bindings.
 */
export function checkCoreExports(exports: WebAssembly.Exports, source: string): CoreExports {
  if (isCoreExports(exports)) return exports;
  const problems = coreAbiMismatches(exports);
  throw new ChainDbError(
    ErrorCode.WASM_UNAVAILABLE,
    `${source} does not match the bindings' ABI (${problems.slice(0, 3).join("; ")}` +
      `${problems.length > 3 ? `; ${problems.length - 3} more` : ""}): run \`npm run build:wasm\``,
  );
}
