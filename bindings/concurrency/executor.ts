/**
 * Serial and parallel block executors. The serial executor is the ledger itself: decode, verify
 * and apply in block order. The parallel executor splits the two kinds of work over K workers:
 * - signature verification, independent per transfer, claimed in chunks from a shared counter;
 * - execution, scheduled as in Solana's Sealevel (Yakovenko 2019): transfers are grouped by the
 *   accounts they declare (executor-plan.ts), disjoint groups run at once, a group in block order.
 * Either way the result — every status, every balance, the state root, the durable log entry —
 * equals serial execution's (test/concurrency/executor-property.test.ts checks it at every contention level).
 *
 * Execution runs on the workers only when asked (`parallelExecution: true`). Measured here
 * (bench/execution.bench.ts, blocks of 1000, four runs on a loaded 2-core machine): the worker
 * path ran at 0.21–0.49× serial on uniform wasm blocks and 0.58–0.95× on ts blocks. The wasm engine applies a transfer in well under a microsecond, marshalling accounts in
 * and out of shared slots costs several, and the state root — most of a block's time on both
 * engines — stays serial either way. So by default the workers verify signatures and the
 * ledger's engine executes; the two-account block then costs the parallel executor nothing extra.
 * @module
 */
import { ChainDbError, ErrorCode, abytes, aint, assert } from "../util/index.ts";
import {
  decodeTransfer,
  packTransfers,
  TRANSFER_SIZE,
  type ApplyOptions,
  type BlockResult,
  type Ledger,
} from "../chain/index.ts";
import {
  ACCOUNT_RECORD_SIZE,
  PACKED_TRANSFER_SIZE,
  TRANSFER_STATUSES,
  accountRecord,
  type TransferStatus,
} from "../engine/index.ts";
import { spawnWorker, workerUrl, type WorkerHandle } from "../runtime/index.ts";
import { EXISTS, TOUCHED, planBlock, type BlockPlan } from "./executor-plan.ts";
import type { ExecutorJob, ExecutorReply } from "./executor-protocol.ts";
import { verifyClaimedChunks, type VerifyWork } from "./executor-verify.ts";

/** A signed block checked on this thread, its signatures being verified (see `prepare`). */
interface PreparedBlock {
  readonly transfers: readonly Uint8Array[];
  readonly options: ApplyOptions;
  /** Transfers before the first that failed to decode (only these are verified). */
  readonly checked: number;
  /** The workers' share of the verification. */
  readonly job: Promise<void>;
  readonly work?: VerifyWork;
  readonly firstBad?: { index: number; error: ChainDbError };
  /** A bad argument, thrown when the block's turn comes. */
  readonly error?: Error;
}

/** Runs blocks of transfers on a ledger. */
export interface BlockExecutor {
  /** Verifies and applies signed transfers (as `Ledger.applyBlock`). */
  execute(ledger: Ledger, transfers: readonly Uint8Array[], options: ApplyOptions): Promise<BlockResult>;
  /** Applies pre-verified packed transfers (as `Ledger.applyPacked`). */
  executePacked(
    ledger: Ledger,
    packed: Uint8Array,
    count: number,
    options: ApplyOptions,
  ): Promise<BlockResult>;
  /** Stops the workers, if any. */
  close(): Promise<void>;
}

/** The reference: the ledger's own serial pipeline. */
export class SerialExecutor implements BlockExecutor {
  /** Verifies and applies in block order on the calling thread. */
  execute(ledger: Ledger, transfers: readonly Uint8Array[], options: ApplyOptions): Promise<BlockResult> {
    return ledger.applyBlock(transfers, options);
  }

  /** Applies pre-verified transfers in block order. */
  executePacked(
    ledger: Ledger,
    packed: Uint8Array,
    count: number,
    options: ApplyOptions,
  ): Promise<BlockResult> {
    return ledger.applyPacked(packed, count, options);
  }

  /** Nothing to stop. */
  async close(): Promise<void> {}
}

/** Options of {@link ParallelExecutor.start}. */
export interface ParallelExecutorOptions {
  /** Worker threads (1..64). */
  workers: number;
  /** Execute disjoint groups on the workers (default false: the ledger's engine executes). */
  parallelExecution?: boolean;
  /** Transfers per verification chunk (default 64: about 3 ms of ed25519 work here). */
  verifyChunk?: number;
  /** Bound on one job's wait for the workers (default 60 000 ms): then WORKER_FAILED. */
  jobTimeoutMs?: number;
}

/** What the last block did, for tests and benchmarks. */
export interface ExecutionReport {
  /** Where execution ran: on the workers, or on the serial engine. */
  path: "workers" | "serial";
  /** Number of groups, and the size of the largest (0 when no plan was made). */
  groups: number;
  largestGroup: number;
}

/** K workers verifying signatures and executing disjoint groups of transfers at once. */
export class ParallelExecutor implements BlockExecutor {
  private nextId = 1;
  private readonly pending = new Map<number, { left: number; resolve(): void; reject(e: Error): void }>();
  private failure: Error | undefined;
  /** What the last block did. */
  lastReport: ExecutionReport = { path: "serial", groups: 0, largestGroup: 0 };

  private constructor(
    private readonly workers: WorkerHandle[],
    private readonly onWorkers: boolean,
    private readonly verifyChunk: number,
    private readonly jobTimeoutMs: number,
  ) {}

  /** Starts the workers and waits until each is ready. */
  static async start(options: ParallelExecutorOptions): Promise<ParallelExecutor> {
    const count = aint(options?.workers, 1, 64, "workers");
    const onWorkers = options.parallelExecution ?? false;
    if (typeof onWorkers !== "boolean")
      throw new ChainDbError(ErrorCode.BAD_ARGUMENT, `"parallelExecution" expected a boolean`);
    const handles: WorkerHandle[] = [];
    const ready: Promise<void>[] = [];
    let executor: ParallelExecutor | undefined;
    for (let i = 0; i < count; i++) {
      let markReady!: () => void;
      let fail!: (e: Error) => void;
      ready.push(new Promise<void>((res, rej) => ((markReady = res), (fail = rej))));
      handles.push(
        spawnWorker(workerUrl(import.meta.url, "executor-worker"), {
          onMessage: (m) =>
            (m as ExecutorReply).type === "ready" ? markReady() : executor?.onReply(m as ExecutorReply),
          onError: (e) => (executor ? executor.onFailure(e) : fail(e)),
        }),
      );
    }
    executor = new ParallelExecutor(
      handles,
      onWorkers,
      aint(options.verifyChunk ?? 64, 1, 1 << 20, "verifyChunk"),
      options.jobTimeoutMs ?? 60_000,
    );
    try {
      await Promise.all(ready);
    } catch (error) {
      await executor.close();
      throw new ChainDbError(ErrorCode.WORKER_FAILED, "an executor worker failed to start", { cause: error });
    }
    return executor;
  }

  /** Number of workers. */
  get size(): number {
    return this.workers.length;
  }

  /**
   * Verifies signatures on every thread — the workers and this one — then executes (see
   * {@link executePacked}).
   */
  async execute(
    ledger: Ledger,
    transfers: readonly Uint8Array[],
    options: ApplyOptions,
  ): Promise<BlockResult> {
    const { committed } = await this.finish(ledger, this.prepare(ledger, transfers, options));
    return committed;
  }

  /**
   * Runs a stream of signed blocks in order, pipelined: block n+1's signatures are verified on the
   * workers while block n executes and commits on this thread (which first joins the verification
   * of block n); on a `pipelined` ledger block n's fsync overlaps block n+1 as well. Yields each
   * block's result in order once it is committed (durable, on a durable ledger). A block that
   * fails (bad signature, wrong chain, atomic rejection) throws after the blocks before it were
   * committed, as the same calls to {@link execute} one after the other would.
   */
  async *executeBlocks(
    ledger: Ledger,
    blocks: Iterable<{ readonly transfers: readonly Uint8Array[]; readonly options: ApplyOptions }>,
  ): AsyncGenerator<BlockResult, void, undefined> {
    const source = blocks[Symbol.iterator]();
    const prepareNext = () => {
      const step = source.next();
      return step.done === true ? undefined : this.prepare(ledger, step.value.transfers, step.value.options);
    };
    let current = prepareNext();
    let previous: Promise<BlockResult> | undefined;
    // Bounded by the source; at most two blocks in flight (one verifying, one committing).
    while (current !== undefined) {
      const next = prepareNext(); // the workers start on it now
      let committed: Promise<BlockResult>;
      try {
        ({ committed } = await this.finish(ledger, current));
      } catch (error) {
        if (previous !== undefined) yield await previous; // the blocks before the failing one first
        throw error;
      }
      if (previous !== undefined) yield await previous;
      previous = committed;
      current = next;
    }
    if (previous !== undefined) yield await previous;
  }

  /**
   * Decodes and checks chain ids on this thread (cheap) and posts the signature checks to the
   * workers; never throws: an error waits in the result for {@link finish}.
   */
  private prepare(ledger: Ledger, transfers: readonly Uint8Array[], options: ApplyOptions): PreparedBlock {
    try {
      if (!Array.isArray(transfers as unknown))
        throw new ChainDbError(ErrorCode.BAD_ARGUMENT, `"transfers" expected an array`);
      abytes(options?.proposer, 32, "proposer");
    } catch (error) {
      return { transfers, options, checked: 0, job: Promise.resolve(), error: error as Error };
    }
    // The first failing index wins, as in applyBlock.
    let firstBad: { index: number; error: ChainDbError } | undefined;
    for (let i = 0; i < transfers.length && !firstBad; i++) {
      try {
        const t = decodeTransfer(transfers[i]!);
        if (t.chainId !== ledger.chainId) {
          throw new ChainDbError(
            ErrorCode.WRONG_CHAIN,
            `transfer ${i} is for chain ${t.chainId}, this is chain ${ledger.chainId}`,
          );
        }
      } catch (error) {
        if (!(error instanceof ChainDbError)) throw error;
        firstBad = { index: i, error };
      }
    }
    const checked = firstBad?.index ?? transfers.length;
    const work = checked > 0 ? this.verifyWork(transfers, checked) : undefined;
    const job =
      work === undefined ? Promise.resolve() : this.onAll((id) => ({ type: "verify", id, ...work }));
    job.catch(() => {}); // awaited by finish; a block abandoned after an earlier failure is not unhandled
    return { transfers, options, checked, job, work, firstBad };
  }

  /**
   * Joins the block's verification on this thread, waits for the workers' share, and executes;
   * `committed` resolves once the block is committed (wrapped: the caller goes on meanwhile).
   */
  private async finish(ledger: Ledger, block: PreparedBlock): Promise<{ committed: Promise<BlockResult> }> {
    if (block.error !== undefined) throw block.error;
    if (block.work !== undefined) verifyClaimedChunks(block.work); // the calling thread verifies too
    await block.job;
    const valid = block.work?.results.subarray(0, block.checked) ?? new Uint8Array(0);
    const badSig = valid.indexOf(0);
    if (badSig >= 0)
      throw new ChainDbError(ErrorCode.BAD_SIGNATURE, `transfer ${badSig} has a bad signature`);
    if (block.firstBad) throw block.firstBad.error;
    const { transfers, options } = block;
    return this.run(ledger, packTransfers(transfers), transfers.length, options, transfers);
  }

  /** Executes pre-verified transfers: on the workers with `parallelExecution`, else on the ledger's engine. */
  executePacked(
    ledger: Ledger,
    packed: Uint8Array,
    count: number,
    options: ApplyOptions,
  ): Promise<BlockResult> {
    abytes(options?.proposer, 32, "proposer");
    aint(count, 0, 100_000, "count");
    abytes(packed, count * PACKED_TRANSFER_SIZE, "packed");
    return this.run(ledger, packed, count, options, undefined).then((r) => r.committed);
  }

  /**
   * Executes the block; resolves once the ledger's state holds it (the next block may be planned
   * on it), with `committed` resolving once the block is committed (durable on a durable ledger).
   */
  private async run(
    ledger: Ledger,
    packed: Uint8Array,
    count: number,
    options: ApplyOptions,
    signed: readonly Uint8Array[] | undefined,
  ): Promise<{ committed: Promise<BlockResult> }> {
    const handled = (committed: Promise<BlockResult>) => {
      committed.catch(() => {}); // the caller awaits it; handled here so a later failure is not unhandled
      return { committed };
    };
    const serial = () => {
      this.lastReport = { path: "serial", groups: 0, largestGroup: 0 };
      // Both execute before they return (the state holds the block); the promise is the commit.
      return handled(
        signed
          ? ledger.applyBlock(signed, { ...options, signaturesVerified: true })
          : ledger.applyPacked(packed, count, options),
      );
    };
    if (!this.onWorkers || count === 0) return serial();
    const plan = planBlock(packed, count, options.proposer, (a) => ledger.account(a), this.workers.length);
    if (!plan) return serial(); // the proposer trades in the block, or its fees could overflow
    const groups = plan.groupStart.length - 1;
    await this.onAll((id, thread) => ({ type: "exec", id, plan: withoutAddresses(plan), thread }));
    this.lastReport = { path: "workers", groups, largestGroup: plan.largestGroup };
    // commit() loads the records into the state before its first await.
    return handled(this.commit(ledger, plan, options, signed ? concat(signed) : packed));
  }

  /** Writes the touched accounts (and the proposer's fees) as the block's durable step. */
  private async commit(
    ledger: Ledger,
    plan: BlockPlan,
    options: ApplyOptions,
    body: Uint8Array,
  ): Promise<BlockResult> {
    const statuses = Array.from(plan.status, (c) => TRANSFER_STATUSES[c]!);
    const rejected = statuses.findIndex((s) => s !== "ok");
    if (options.atomic === true && rejected >= 0) {
      const code = statuses[rejected] as Exclude<TransferStatus, "ok">;
      throw new ChainDbError(
        ErrorCode[code],
        `atomic block rejected: transfer ${rejected} failed with ${code}`,
      );
    }
    const records: Uint8Array[] = [];
    plan.addresses.forEach((address, s) => {
      if (plan.flags[s]! & TOUCHED) records.push(accountRecord(address, plan.balance[s]!, plan.nonce[s]!));
      else assert(plan.flags[s] === 0 || plan.flags[s] === EXISTS, "unknown slot flags");
    });
    const fees = plan.fees.reduce((a, b) => a + b, 0n);
    if (fees > 0n) {
      const p = ledger.account(options.proposer);
      records.push(accountRecord(options.proposer, (p?.balance ?? 0n) + fees, p?.nonce ?? 0n));
    }
    const all = new Uint8Array(records.length * ACCOUNT_RECORD_SIZE);
    records.forEach((r, i) => all.set(r, i * ACCOUNT_RECORD_SIZE));
    const { height, root } = await ledger.commitAccounts(all, {
      proposer: options.proposer,
      transfers: body,
    });
    return { height, root, statuses };
  }

  /** Shared buffers for one block's verification (the first `count` transfers). */
  private verifyWork(transfers: readonly Uint8Array[], count: number): VerifyWork {
    const buf = new Uint8Array(new SharedArrayBuffer(count * TRANSFER_SIZE));
    for (let i = 0; i < count; i++) buf.set(transfers[i]!, i * TRANSFER_SIZE);
    return {
      transfers: buf,
      results: new Uint8Array(new SharedArrayBuffer(count)),
      ctl: new Int32Array(new SharedArrayBuffer(8)),
      count,
      chunk: this.verifyChunk,
    };
  }

  /** Posts one job to every worker and waits for all their answers (bounded by jobTimeoutMs). */
  private onAll(make: (id: number, thread: number) => ExecutorJob): Promise<void> {
    if (this.failure)
      return Promise.reject(
        new ChainDbError(ErrorCode.WORKER_FAILED, "an executor worker failed", { cause: this.failure }),
      );
    const id = this.nextId++;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(
          new ChainDbError(
            ErrorCode.WORKER_FAILED,
            `executor workers did not answer within ${this.jobTimeoutMs} ms`,
          ),
        );
      }, this.jobTimeoutMs);
      const done = (error?: Error) => {
        clearTimeout(timer);
        this.pending.delete(id);
        if (error) reject(error);
        else resolve();
      };
      this.pending.set(id, { left: this.workers.length, resolve: () => done(), reject: (e) => done(e) });
      this.workers.forEach((w, thread) => w.postMessage(make(id, thread)));
    });
  }

  private onReply(reply: ExecutorReply): void {
    const job = this.pending.get(reply.id);
    if (!job) return;
    if (reply.type === "error")
      return job.reject(
        new ChainDbError(ErrorCode.WORKER_FAILED, `executor worker failed: ${reply.message}`),
      );
    if (--job.left === 0) job.resolve();
  }

  private onFailure(error: Error): void {
    this.failure = error;
    for (const job of [...this.pending.values()])
      job.reject(new ChainDbError(ErrorCode.WORKER_FAILED, "an executor worker failed", { cause: error }));
  }

  /** Stops the workers. */
  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

function withoutAddresses(plan: BlockPlan): Omit<BlockPlan, "addresses"> {
  const { addresses: _addresses, ...rest } = plan;
  return rest;
}

function concat(transfers: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(transfers.length * TRANSFER_SIZE);
  transfers.forEach((t, i) => out.set(t, i * TRANSFER_SIZE));
  return out;
}
