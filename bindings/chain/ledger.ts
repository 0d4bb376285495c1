/**
 * The ledger: a state machine whose initial state is the genesis allocation and whose transitions
 * are blocks of signed transfers. `applyBlock` decodes every transfer, checks its chain id and
 * ed25519 signature (node:crypto), and only then runs the block on the engine's state; with a
 * `dir` each block and its state changes are written in one SQLite transaction and fsynced
 * before the returned promise resolves (bindings/store/durable.ts).
 * @module
 */
import { ChainDbError, ErrorCode, abytes, aint, assert, equalBytes } from "../util/index.ts";
import type { EngineName } from "../engine/index.ts";
import {
  PACKED_TRANSFER_SIZE,
  TRANSFER_STATUSES,
  createLedgerState,
  type AccountState,
  type LedgerState,
  type TransferStatus,
} from "../engine/index.ts";
import {
  PagedState,
  createPagedState,
  createWasmPagedState,
  openDurableLog,
  type FilePort,
  type LedgerLog,
  type PagedStats,
} from "../store/index.ts";
import { ACCOUNT_RECORD_SIZE, accountRecord, encodeProof } from "./proof.ts";
import { TRANSFER_SIZE, au64, decodeTransfer, packTransfers, verifyTransferSignature } from "./transfer.ts";

/** Most transfers in one block. */
export const BLOCK_TRANSFERS_MAX = 100_000;

/** What a long `Ledger.open` is doing: loading account records, or building the state tree. */
export type LoadPhase = "accounts" | "tree";

/** One genesis allocation. */
export interface GenesisAllocation {
  /** 32-byte address. */
  address: Uint8Array;
  /** Initial balance (u64). */
  balance: bigint | number;
}

/** Options of {@link Ledger.open}. */
export interface LedgerOptions {
  /** Directory for the durable store; omitted: in memory only. */
  dir?: string;
  /** State engine (default "wasm"). */
  engine?: EngineName;
  /**
   * Threads that execute each block, the calling one included (default 0: serial). 1 or more runs
   * `threads - 1` workers with the calling thread: on the wasm engine over build/threads.wasm in
   * one shared memory, on the ts engine over SharedArrayBuffers; `close()` stops them. Results are
   * byte-identical.
   */
  threads?: number;
  /** Chain id (u32); transfers signed for another chain are refused. */
  chainId: number;
  /** Initial allocations (distinct addresses); may be empty when `genesisRecords` is given. */
  genesis: readonly GenesisAllocation[];
  /**
   * Genesis is a list of allocations, or packed 48-byte account records (address, balance u64le,
   * nonce u64le) for bulk loads of millions of accounts (checked: whole records, distinct
   * addresses). The state tree is a sparse Merkle tree with no depth to choose: a `treeDepth`
   * option (of the old bucket tree) is refused with BAD_ARGUMENT.
   */
  genesisRecords?: Uint8Array;
  /** Progress of long loads (genesis, snapshot recovery): called between chunks. */
  onProgress?: (phase: LoadPhase, done: number, total: number) => void;
  /** Blocks between full-state snapshots in the durable store (default 1000). */
  snapshotEvery?: number;
  /** Files of the durable store through this port (default node:fs; crash tests: a `FaultFs`). */
  filePort?: FilePort;
  /**
   * A ledger larger than memory: the state lives in pages in `dir` (needed) and at most this many
   * bytes of them stay in memory (bindings/store/paged-state.ts); `snapshotEvery` then sets how
   * often the pages are checkpointed. With `engine: "wasm"` the pages live in a core instance's
   * memory (so at most 3 GiB of cache) and hash four at a time in SIMD; otherwise on the ts
   * engine (engine "ts").
   */
  cacheBytes?: number;
  /**
   * Pipelined commit (durable ledgers): a block's fsync runs off the JavaScript thread after
   * `applyBlock` returns, so the caller can execute the next block meanwhile; each promise still
   * resolves only once its block is durable. Default false: the fsync runs inside the call.
   */
  pipelined?: boolean;
}

/** Options of {@link Ledger.applyBlock}. */
export interface ApplyOptions {
  /** Address credited with the block's fees. */
  proposer: Uint8Array;
  /** All transfers or none: a rejected transfer rejects the block (throws its code). */
  atomic?: boolean;
  /** The caller has checked every signature already (a parallel executor's workers did). */
  signaturesVerified?: boolean;
}

/** Outcome of a committed block. */
export interface BlockResult {
  /** Height of the block (genesis is 0, the first block 1). */
  height: number;
  /** State root after the block. */
  root: Uint8Array;
  /** One status per transfer: "ok" or the code of the rule it broke. */
  statuses: TransferStatus[];
}

/** Checks and encodes the genesis allocation as account records. */
export function genesisRecords(genesis: readonly GenesisAllocation[]): Uint8Array {
  if (!Array.isArray(genesis as unknown))
    throw new ChainDbError(ErrorCode.BAD_ARGUMENT, `"genesis" expected an array`);
  const seen = new Set<string>();
  const out = new Uint8Array(genesis.length * ACCOUNT_RECORD_SIZE);
  genesis.forEach((g, i) => {
    abytes(g?.address, 32, `genesis[${i}].address`);
    const key = Buffer.from(g.address).toString("hex");
    if (seen.has(key))
      throw new ChainDbError(ErrorCode.BAD_ARGUMENT, `genesis[${i}]: duplicate address ${key}`);
    seen.add(key);
    out.set(accountRecord(g.address, au64(g.balance, `genesis[${i}].balance`), 0n), i * ACCOUNT_RECORD_SIZE);
  });
  return out;
}

/** Where the last block's time went (milliseconds), for benchmarks and monitoring. */
export interface BlockTimings {
  /** Decoding, chain id and signature checks (0 for pre-verified blocks). */
  verifyMs: number;
  /** Running the transfers on the state. */
  applyMs: number;
  /** Recomputing the state root. */
  rootMs: number;
  /** Writing and fsyncing the block (0 in memory). */
  commitMs: number;
}

/** A block written to the log, waiting for the fsync that makes it durable. */
interface DurableWaiter {
  readonly height: number;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/**
 * An account ledger on one engine, in memory or durable.
 *
 * Pipelined commit (`pipelined: true` on a durable ledger): {@link Ledger.applyBlock} (and
 * `applyPacked`) executes the block, writes it to the log and returns at once with a promise that
 * resolves when the block is durable; the fsync runs off the JavaScript thread, so the caller may
 * apply the next block while it runs (call again before awaiting). Blocks apply in call order and
 * their promises resolve in that order; fsyncs are shared (one covers every block written before
 * it started). Without it each block is fsynced before its promise is returned.
 * Reads ({@link Ledger.height}, `root`, `account`) see every applied block, durable or not;
 * {@link Ledger.durableHeight} is the last durable one. If an fsync fails, every block not yet
 * durable is rejected with STORE_IO and the ledger closes itself (reopen to recover).
 */
export class Ledger {
  private closed = false;
  private logClosed = false;
  private durable: number;
  private readonly waiting: DurableWaiter[] = [];
  private syncing = false;
  private releaseAfterSync = false;
  /** The background fsync running now (never rejects: its failure goes to the waiting blocks). */
  private syncInFlight: Promise<void> | undefined;
  private failure: Error | undefined;
  /** Time spent in each stage of the last committed block. */
  lastBlockTimings: BlockTimings = { verifyMs: 0, applyMs: 0, rootMs: 0, commitMs: 0 };

  private constructor(
    /** Chain id. */
    readonly chainId: number,
    private readonly state: LedgerState,
    private currentHeight: number,
    private readonly log: LedgerLog | undefined,
    private readonly snapshotEvery: number,
    private readonly pipelined: boolean,
  ) {
    this.durable = currentHeight;
  }

  /** Opens a ledger: in memory, or from `dir` (created with the genesis if empty). */
  static async open(options: LedgerOptions): Promise<Ledger> {
    const chainId = aint(options?.chainId, 0, 0xffffffff, "chainId");
    if ((options as { treeDepth?: unknown }).treeDepth !== undefined) {
      throw new ChainDbError(
        ErrorCode.BAD_ARGUMENT,
        `"treeDepth" is gone: the state tree is a sparse Merkle tree with no depth to choose`,
      );
    }
    const snapshotEvery = aint(options.snapshotEvery ?? 1000, 1, 1_000_000_000, "snapshotEvery");
    const genesis = joinGenesis(genesisRecords(options.genesis), options.genesisRecords);
    const state = await openState(options);
    try {
      return await Ledger.openOn(state, options, chainId, genesis, snapshotEvery);
    } catch (error) {
      await state.close?.(); // a threaded state's workers, a paged state's file would outlive it
      throw error;
    }
  }

  private static async openOn(
    state: LedgerState,
    options: LedgerOptions,
    chainId: number,
    genesis: Uint8Array,
    snapshotEvery: number,
  ): Promise<Ledger> {
    const progress = options.onProgress;
    const loading =
      progress === undefined
        ? undefined
        : { load: (done: number, total: number) => progress("accounts", done, total) };
    if (options.dir === undefined) {
      state.load(genesis, loading?.load);
      checkDistinct(state, genesis);
      rootWithProgress(state, progress);
      return new Ledger(chainId, state, 0, undefined, snapshotEvery, false);
    }
    const opened = await openDurableLog(options.dir, { chainId, genesis, onProgress: loading?.load }, state, {
      port: options.filePort,
    });
    return new Ledger(chainId, state, opened.height, opened.log, snapshotEvery, options.pipelined === true);
  }

  /** Height of the last applied block (0: genesis only); on a durable ledger maybe not durable yet. */
  get height(): number {
    return this.currentHeight;
  }

  /** Height of the last durable block (what a crash keeps); equal to {@link height} in memory. */
  get durableHeight(): number {
    return this.log === undefined ? this.currentHeight : this.durable;
  }

  /** Resolves once every block applied so far is durable; rejects (STORE_IO) if an fsync failed. */
  async flush(): Promise<void> {
    if (this.log === undefined || this.durable >= this.currentHeight) {
      if (this.failure !== undefined) throw this.failure;
      return;
    }
    return this.whenDurable(this.currentHeight);
  }

  /** The engine running the state. */
  get engine(): EngineName {
    return this.state.engine;
  }

  /** Number of accounts. */
  get accountCount(): number {
    return this.state.accountCount;
  }

  /** Cache and file counters of a paged ledger (`cacheBytes`), else undefined. */
  pagedStats(): PagedStats | undefined {
    return this.state instanceof PagedState ? this.state.stats() : undefined;
  }

  /** The current state root. */
  root(): Uint8Array {
    this.checkOpen();
    return this.state.root();
  }

  /** The account at `address`, or undefined. */
  account(address: Uint8Array): AccountState | undefined {
    this.checkOpen();
    return this.state.account(abytes(address, 32, "address"));
  }

  /** A proof of the account at `address` (or of its absence) against {@link root}. */
  prove(address: Uint8Array): Uint8Array {
    this.checkOpen();
    return encodeProof(this.state.proofMaterial(abytes(address, 32, "address")));
  }

  /** Every account as 48-byte records (address, balance u64le, nonce u64le), any order. */
  exportAccounts(): Uint8Array {
    this.checkOpen();
    return this.state.exportAll();
  }

  /**
   * Applies a block of encoded signed transfers. Throws (state untouched) for a malformed
   * transfer, a wrong chain id or a bad signature, and in atomic mode for any rejected transfer.
   * The block is executed before this returns; the promise resolves once it is durable, and the
   * next block may be applied meanwhile (see the class comment: pipelined commit).
   */
  async applyBlock(transfers: readonly Uint8Array[], options: ApplyOptions): Promise<BlockResult> {
    this.checkOpen();
    abytes(options?.proposer, 32, "proposer");
    if (!Array.isArray(transfers as unknown))
      throw new ChainDbError(ErrorCode.BAD_ARGUMENT, `"transfers" expected an array`);
    aint(transfers.length, 0, BLOCK_TRANSFERS_MAX, "transfers.length");
    const t0 = performance.now();
    transfers.forEach((bytes, i) => {
      const t = decodeTransfer(bytes);
      if (t.chainId !== this.chainId) {
        throw new ChainDbError(
          ErrorCode.WRONG_CHAIN,
          `transfer ${i} is for chain ${t.chainId}, this is chain ${this.chainId}`,
        );
      }
      if (options.signaturesVerified !== true && !verifyTransferSignature(bytes))
        throw new ChainDbError(ErrorCode.BAD_SIGNATURE, `transfer ${i} has a bad signature`);
    });
    const packed = packTransfers(transfers);
    const verifyMs = performance.now() - t0;
    const result = this.applyVerified(packed, transfers.length, options, () => concatTransfers(transfers));
    this.lastBlockTimings.verifyMs = verifyMs;
    return result;
  }

  /**
   * Applies pre-verified transfers packed as 88-byte records (benchmarks and replicas that
   * verified them already). The durable log stores the packed records in place of the signed bytes.
   */
  async applyPacked(packed: Uint8Array, count: number, options: ApplyOptions): Promise<BlockResult> {
    this.checkOpen();
    abytes(options?.proposer, 32, "proposer");
    aint(count, 0, BLOCK_TRANSFERS_MAX, "count");
    abytes(packed, count * PACKED_TRANSFER_SIZE, "packed");
    return this.applyVerified(packed, count, options, () => packed);
  }

  /**
   * Runs pre-verified packed transfers on a checkpoint of the state and undoes them: the root and
   * statuses the block would give, with the state untouched (consensus checks a proposed block
   * this way before voting for it).
   */
  preview(
    packed: Uint8Array,
    count: number,
    proposer: Uint8Array,
  ): { root: Uint8Array; statuses: TransferStatus[] } {
    this.checkOpen();
    abytes(proposer, 32, "proposer");
    aint(count, 0, BLOCK_TRANSFERS_MAX, "count");
    abytes(packed, count * PACKED_TRANSFER_SIZE, "packed");
    const state = this.state;
    const rootBefore = state.root();
    state.begin();
    try {
      const codes = state.apply(packed, count, proposer);
      return { root: state.root(), statuses: Array.from(codes, (c) => TRANSFER_STATUSES[c]!) };
    } finally {
      state.abort();
      assert(equalBytes(state.root(), rootBefore), "preview: abort restored the previous root");
    }
  }

  private applyVerified(
    packed: Uint8Array,
    count: number,
    options: ApplyOptions,
    body: () => Uint8Array,
  ): BlockResult | Promise<BlockResult> {
    const state = this.state;
    const rootBefore = state.root();
    const t0 = performance.now();
    state.begin();
    let codes: Uint8Array;
    let root: Uint8Array;
    const timings: BlockTimings = { verifyMs: 0, applyMs: 0, rootMs: 0, commitMs: 0 };
    try {
      codes = state.apply(packed, count, options.proposer);
      const rejected = codes.findIndex((c) => c !== 0);
      if (options.atomic === true && rejected >= 0) {
        const code = TRANSFER_STATUSES[codes[rejected]!]! as Exclude<TransferStatus, "ok">;
        throw new ChainDbError(
          ErrorCode[code],
          `atomic block rejected: transfer ${rejected} failed with ${code}`,
        );
      }
      const t1 = performance.now();
      root = state.root();
      const t2 = performance.now();
      // The snapshot joins the block's transaction: an error never follows a durable block.
      // Pipelined: written, not fsynced; the fsync runs in the background (whenDurable).
      const block = [
        this.currentHeight + 1,
        root,
        options.proposer,
        body(),
        state.changes(),
        this.snapshotDue() ? state.exportAll() : undefined,
      ] as const;
      if (this.pipelined) this.log?.writeBlock(...block);
      else this.log?.appendBlock(...block);
      timings.applyMs = t1 - t0;
      timings.rootMs = t2 - t1;
      timings.commitMs = performance.now() - t2;
    } catch (error) {
      state.abort();
      assert(equalBytes(state.root(), rootBefore), "abort restored the previous root");
      throw error;
    }
    state.commit();
    this.currentHeight++;
    this.checkpointIfDue();
    this.lastBlockTimings = timings;
    const result = {
      height: this.currentHeight,
      root,
      statuses: Array.from(codes, (c) => TRANSFER_STATUSES[c]!),
    };
    if (!this.pipelined || this.log === undefined) {
      // Durable already; returned as a value: the caller's promise settles in as many microtask
      // turns as before pipelining existed (the seeded simulations pin their schedules).
      this.markDurable(this.currentHeight);
      return result;
    }
    return this.whenDurable(this.currentHeight).then(() => result);
  }

  /** Resolves when block `height` (written to the log) is durable; starts an fsync if none runs. */
  private whenDurable(height: number): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    const done = new Promise<void>((resolve, reject) => this.waiting.push({ height, resolve, reject }));
    this.startSync();
    return done;
  }

  /**
   * One background fsync at a time: it covers every block written before it started, and when it
   * returns the next one starts for the blocks written meanwhile (group commit: the blocks of one
   * fsync window share it).
   */
  private startSync(): void {
    if (this.syncing || this.waiting.length === 0 || this.log === undefined || this.logClosed) return;
    this.syncing = true;
    const target = this.currentHeight;
    this.syncInFlight = this.log.syncInBackground().then(
      () => {
        this.syncing = false;
        this.markDurable(target);
        if (this.releaseAfterSync) this.releaseLog();
        this.startSync();
      },
      (error: unknown) => {
        this.syncing = false;
        this.failDurable(error);
      },
    );
  }

  private markDurable(height: number): void {
    if (height > this.durable) this.durable = height;
    // Bounded by the number of blocks in flight.
    while (this.waiting.length > 0 && this.waiting[0]!.height <= this.durable)
      this.waiting.shift()!.resolve();
  }

  /**
   * A failed fsync: what reached the disk is unknown and memory holds blocks the log may lack, so
   * every waiting block fails and the ledger closes (as PostgreSQL panics): reopen to recover.
   */
  private failDurable(error: unknown): void {
    this.failure = error as Error;
    this.closed = true;
    for (const w of this.waiting.splice(0)) w.reject(error);
    this.releaseLog();
  }

  /** Closes the log's files, after the fsync in flight (its descriptor must stay open until then). */
  private releaseLog(): void {
    if (this.logClosed) return;
    if (this.syncing) {
      this.releaseAfterSync = true;
      return;
    }
    this.logClosed = true;
    try {
      this.log?.close();
    } catch {
      /* closing after a failed fsync or a crash: only the files are let go */
    }
  }

  /**
   * Writes account records (48 bytes each: address, balance u64le, nonce u64le) as one durable
   * step, for ACID transactions that read and write accounts directly (bindings/txn). It is logged
   * as the next height: a block with no transfers whose changes are these records. If the durable
   * write fails the in-memory state can no longer be trusted (it may hold accounts the log lacks),
   * so the ledger closes itself, as PostgreSQL panics on a failed fsync: reopen to recover.
   * With `block`, the records are the outcome of a block executed elsewhere (a parallel executor)
   * and the log keeps that block's proposer and transfers. On a pipelined ledger the promise
   * resolves once the step is durable, and the next one may be committed meanwhile.
   */
  async commitAccounts(
    records: Uint8Array,
    block?: { proposer: Uint8Array; transfers: Uint8Array },
  ): Promise<{ height: number; root: Uint8Array }> {
    this.checkOpen();
    abytes(records, undefined, "records");
    if (records.length % ACCOUNT_RECORD_SIZE !== 0) {
      throw new ChainDbError(
        ErrorCode.BAD_LENGTH,
        `"records" expected a multiple of ${ACCOUNT_RECORD_SIZE} bytes, got ${records.length}`,
      );
    }
    this.state.load(records);
    const root = this.state.root();
    try {
      const row = [
        this.currentHeight + 1,
        root,
        block?.proposer ?? new Uint8Array(32),
        block?.transfers ?? new Uint8Array(0),
        records,
        this.snapshotDue() ? this.state.exportAll() : undefined,
      ] as const;
      if (this.pipelined) this.log?.writeBlock(...row);
      else this.log?.appendBlock(...row);
    } catch (error) {
      this.failure = error as Error;
      this.closed = true;
      for (const w of this.waiting.splice(0)) w.reject(error);
      this.releaseLog();
      throw error;
    }
    this.currentHeight++;
    this.checkpointIfDue();
    const result = { height: this.currentHeight, root };
    // Pipelined: the next group of transactions runs while this one's fsync does.
    if (this.pipelined && this.log !== undefined) return this.whenDurable(result.height).then(() => result);
    this.markDurable(this.currentHeight); // its fsync covered every block written before it
    return result;
  }

  /**
   * Closes the ledger, once every applied block is durable (or its fsync failed), and its files;
   * further calls throw CLOSED.
   */
  async close(): Promise<void> {
    if (this.closed) return this.releaseLog();
    this.closed = true;
    if (this.durable < this.currentHeight) {
      try {
        await this.flush();
      } catch {
        /* the failed fsync rejected the blocks it concerned; close releases the files regardless */
      }
    }
    if (this.syncing) await this.syncInFlight; // its descriptor stays open until it returns
    this.releaseLog();
    await this.state.close?.();
  }

  /** True when the next block's height is a snapshot height of a durable in-memory ledger. */
  private snapshotDue(): boolean {
    if (this.state instanceof PagedState) return false; // its checkpoints stand in for snapshots
    return this.log !== undefined && (this.currentHeight + 1) % this.snapshotEvery === 0;
  }

  /**
   * Checkpoints a paged state at snapshot heights, after the block is durable in the log. If that
   * fails the block stays committed (recovery replays it from the older checkpoint), but the
   * page files are in doubt: the ledger closes itself and rethrows (reopen to recover).
   */
  private checkpointIfDue(): void {
    const state = this.state;
    if (!(state instanceof PagedState) || this.currentHeight % this.snapshotEvery !== 0) return;
    try {
      state.checkpoint(this.currentHeight);
    } catch (error) {
      this.closed = true;
      this.releaseLog();
      state.close();
      throw error;
    }
  }

  private checkOpen(): void {
    if (this.closed) throw new ChainDbError(ErrorCode.CLOSED, "the ledger is closed");
  }
}

/** The state of a ledger: in memory on its engine, or paged (`cacheBytes`, in `dir`). */
async function openState(options: LedgerOptions): Promise<LedgerState> {
  if (options.cacheBytes === undefined)
    return createLedgerState(options.engine ?? "wasm", { threads: options.threads ?? 0 });
  if (options.dir === undefined)
    throw new ChainDbError(ErrorCode.BAD_ARGUMENT, `"cacheBytes" needs a "dir" for the pages`);
  // A checkpoint names a block that must already be durable; pipelining would let it run ahead.
  if (options.pipelined === true)
    throw new ChainDbError(ErrorCode.BAD_ARGUMENT, `a paged state ("cacheBytes") is not pipelined yet`);
  if ((options.threads ?? 0) > 0)
    throw new ChainDbError(ErrorCode.BAD_ARGUMENT, `a paged state ("cacheBytes") runs on one thread`);
  const paged = { dir: options.dir, cacheBytes: options.cacheBytes, port: options.filePort };
  // Without an engine named, a paged ledger stays on the ts engine it started on (0.2).
  return options.engine === "wasm" ? createWasmPagedState(paged) : createPagedState(paged);
}

/** Builds the tree (the first root after a bulk load), reporting it as the "tree" phase. */
function rootWithProgress(state: LedgerState, progress: LedgerOptions["onProgress"]): void {
  const n = state.accountCount;
  progress?.("tree", 0, n);
  state.root(progress === undefined ? undefined : (done) => progress("tree", done, n));
  progress?.("tree", n, n);
}

/** Genesis allocations plus packed records, checked as one set of distinct addresses. */
function joinGenesis(fromList: Uint8Array, packed: Uint8Array | undefined): Uint8Array {
  if (packed === undefined) return fromList;
  abytes(packed, undefined, "genesisRecords");
  if (packed.length % ACCOUNT_RECORD_SIZE !== 0) {
    throw new ChainDbError(
      ErrorCode.BAD_LENGTH,
      `"genesisRecords" expected a multiple of ${ACCOUNT_RECORD_SIZE} bytes, got ${packed.length}`,
    );
  }
  // Millions of packed records and no list: no copy (it is only read).
  if (fromList.length === 0) return packed;
  const all = new Uint8Array(fromList.length + packed.length);
  all.set(fromList);
  all.set(packed, fromList.length);
  return all; // distinct addresses: the state counts them after loading (checkDistinct)
}

/** Throws BAD_ARGUMENT if the genesis named an address twice (the state holds fewer accounts). */
export function checkDistinct(state: LedgerState, records: Uint8Array): void {
  const n = records.length / ACCOUNT_RECORD_SIZE;
  if (state.accountCount !== n) {
    throw new ChainDbError(
      ErrorCode.BAD_ARGUMENT,
      `genesis: ${n - state.accountCount} duplicate address(es) among ${n} records`,
    );
  }
}

function concatTransfers(transfers: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(transfers.length * TRANSFER_SIZE);
  transfers.forEach((t, i) => out.set(t, i * TRANSFER_SIZE));
  return out;
}
