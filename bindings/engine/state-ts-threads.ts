/**
 * The `ts` ledger state on several threads: the same state (state-ts.ts) with its shared arrays in
 * growable SharedArrayBuffers, and `threads - 1` workers (Node worker_threads or Deno Web
 * Workers) that run the twin of assembly/parallel.ts over them (state-ts-par.ts): a block's
 * lookups and levels on all threads, then a walk in block order on the calling thread that
 * journals, marks and credits exactly as serial execution; the root's stale subtrees on all
 * threads. What the schedule cannot run runs serially, as on the wasm path: a missing account,
 * the proposer as a sender or recipient, fees that could overflow the proposer's balance, a
 * schedule too deep to pay.
 * @module
 */
import { ChainDbError, ErrorCode, assert } from "../util/index.ts";
import { PACKED_FEE, PACKED_TRANSFER_SIZE as TX } from "./records.ts";
import { TsState } from "./state-ts.ts";
import * as L from "./state-ts-layout.ts";
import {
  PAR_MIN_BLOCK,
  PAR_MIN_ROOT,
  ParMemory,
  ParScheduler,
  parStop,
  type ParBuffers,
} from "./state-ts-par.ts";
import type { LedgerState, LoadProgress } from "./state-types.ts";
import { checkThreads, expectReply, startStateWorker, type StateWorker } from "./state-workers.ts";

// Module-level aliases of the layout's helpers, as state-ts.ts does (V8 inlines its own, not imports).
const { TWO32, U32_MAX, addrHash, u32le } = L;

/** What the state sends a worker (state-ts-thread-worker.ts). */
export interface TsThreadWorkerMessage {
  type: "run";
  buffers: ParBuffers;
}

/** Test hooks of the threaded ts state. */
export interface TsThreadsTestHooks {
  /** The workers' module (tests point it at one that fails to start). */
  workerUrl?: URL;
  /**
   * Transfers per level below which a schedule counts as too deep and the block runs serially
   * (default 64, as assembly/parallel.ts); 1 puts every block on the schedule.
   */
  minPerLevel?: number;
}

/**
 * An empty ts ledger state whose blocks execute on `threads` threads (the calling one included;
 * 1 runs the schedule on the calling thread alone). Close it to stop the workers.
 */
export async function createThreadedTsState(threads: number): Promise<LedgerState> {
  return createThreadedTsStateForTest(threads, {});
}

/** {@link createThreadedTsState} with test hooks (tests only). */
export async function createThreadedTsStateForTest(
  threads: number,
  hooks: TsThreadsTestHooks,
): Promise<LedgerState> {
  checkThreads(threads);
  const memory = ParMemory.create();
  const workers: StateWorker[] = [];
  const stop = async (): Promise<void> => {
    parStop(memory);
    await Promise.all(workers.map((w) => w.handle.terminate()));
  };
  try {
    for (let t = 1; t < threads; t++)
      workers.push(startStateWorker(import.meta.url, "state-ts-thread-worker", hooks.workerUrl));
    for (const w of workers)
      w.handle.postMessage({ type: "run", buffers: memory.buffers } satisfies TsThreadWorkerMessage);
    for (const w of workers) await expectReply(w, "running");
    return new ThreadedTsState(new ParScheduler(memory, threads, hooks.minPerLevel), stop);
  } catch (error) {
    await stop();
    throw error;
  }
}

class ThreadedTsState extends TsState {
  private closed = false;
  /** A thread lost in the middle of a block: the state is unusable after (WORKER_FAILED). */
  private failure: ChainDbError | undefined;

  constructor(
    private readonly par: ParScheduler,
    private readonly stopWorkers: () => Promise<void>,
  ) {
    super(par.m);
  }

  /** Threads that execute a block. */
  get threads(): number {
    return this.par.threads;
  }

  /** Roots whose hashing ran on the threads. */
  get rootJobs(): number {
    return this.par.rootJobs;
  }

  /** Blocks that ran on the schedule (not serially). */
  get applyJobs(): number {
    return this.par.applyJobs;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.stopWorkers();
  }

  private checkUsable(): void {
    if (this.closed) throw new ChainDbError(ErrorCode.CLOSED, "the ts state is closed");
    if (this.failure) throw this.failure;
  }

  /** Runs `f`; a lost thread makes the state unusable (the block may be half applied). */
  private guard<T>(f: () => T): T {
    try {
      return f();
    } catch (error) {
      if (error instanceof ChainDbError && error.code === ErrorCode.WORKER_FAILED) this.failure = error;
      throw error;
    }
  }

  override load(records: Uint8Array, onProgress?: LoadProgress): void {
    this.checkUsable();
    super.load(records, onProgress);
  }

  override begin(): void {
    this.checkUsable();
    super.begin();
  }

  override apply(packed: Uint8Array, count: number, proposer: Uint8Array): Uint8Array {
    this.checkUsable();
    assert(this.inBlock, "apply outside a block");
    assert(packed.length >= count * TX, "apply: packed buffer too short");
    if (count >= PAR_MIN_BLOCK) {
      const statuses = this.guard(() => this.applyThreads(packed, count, proposer));
      if (statuses !== undefined) return statuses;
    }
    return super.apply(packed, count, proposer);
  }

  override root(onProgress?: LoadProgress): Uint8Array {
    this.checkUsable();
    return super.root(onProgress);
  }

  protected override hashStale(changed: number): void {
    if (this.par.threads >= 2 && changed >= PAR_MIN_ROOT)
      this.guard(() => this.par.hashSubtrees(this.tree[0]!));
    super.hashStale(changed);
  }

  /**
   * The block on all threads, then the walk in block order; undefined when it must run serially
   * (nothing changed then): the proposer is a sender or recipient (by address hash), the fees
   * could overflow its balance, an account is missing, or the schedule is too deep.
   */
  private applyThreads(packed: Uint8Array, count: number, proposer: Uint8Array): Uint8Array | undefined {
    const prop = Uint8Array.prototype.slice.call(proposer, 0, 32);
    const at = this.par.layout(count);
    if (at === undefined) return undefined;
    const levels = this.par.schedule(at, packed, count, addrHash(prop, 0));
    if (levels === 0) return undefined;
    let feeLo = 0;
    let feeHi = 0;
    for (let i = 0; i < count; i++) {
      feeLo += u32le(packed, i * TX + PACKED_FEE);
      feeHi += u32le(packed, i * TX + PACKED_FEE + 4);
      if (feeLo >= TWO32) {
        feeLo -= TWO32;
        feeHi++;
      }
    }
    if (feeHi > U32_MAX) return undefined;
    this.propIdx = this.find(prop, 0);
    if (this.propIdx >= 0 && !this.fits(this.propIdx, feeLo, feeHi)) return undefined;
    this.par.copyTransfers(at, packed, count);
    if (!this.par.run(at, count, levels, this.mask)) return undefined;
    return this.walk(at, count, prop);
  }

  /**
   * Touches the accounts of the applied transfers in block order (journaling their values from
   * before the block) and credits the proposer the fees they paid, as serial execution does.
   */
  private walk(
    at: { txs: number; ents: number; snap: number; status: number },
    count: number,
    prop: Uint8Array,
  ): Uint8Array {
    const { s8, s32, su32 } = this.par.m;
    const statuses = s8.slice(at.status, at.status + count);
    let feeLo = 0;
    let feeHi = 0;
    for (let i = 0; i < count; i++) {
      if (statuses[i] !== 0) continue;
      this.touchJournaled(s32[at.ents + 2 * i]!, su32, at.snap + 8 * i);
      this.touchJournaled(s32[at.ents + 2 * i + 1]!, su32, at.snap + 8 * i + 4);
      const lo = u32le(s8, at.txs + i * TX + PACKED_FEE);
      const hi = u32le(s8, at.txs + i * TX + PACKED_FEE + 4);
      if (lo === 0 && hi === 0) continue;
      if (this.propIdx < 0) this.propIdx = this.create(prop, 0);
      else this.touch(this.propIdx);
      // No overflow: the sum of every fee of the block fits (applyThreads checked it).
      feeLo += lo;
      feeHi += hi;
      if (feeLo >= TWO32) {
        feeLo -= TWO32;
        feeHi++;
      }
    }
    if (feeLo !== 0 || feeHi !== 0) this.add(this.propIdx, feeLo, feeHi);
    return statuses;
  }
}
