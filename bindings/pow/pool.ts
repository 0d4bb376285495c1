/**
 * A pool of mining workers that search one nonce range together. Workers claim fixed-size chunks
 * from a shared counter (dynamic load balancing: a slow or busy core simply claims fewer chunks)
 * and stop on a shared flag as soon as any of them finds a solution.
 * @module
 */
import type { EngineName } from "../engine/index.ts";
import { spawnWorker, workerUrl, type WorkerHandle } from "../runtime/index.ts";
import { ChainDbError, ErrorCode, assert } from "../util/index.ts";
import { CTL_LENGTH, CTL_NEXT_CHUNK, CTL_STOP, type WorkerReply } from "./protocol.ts";

/** Outcome of one pooled range search. */
export interface PoolSearchResult {
  nonce: number | null;
  hashes: number;
}

interface Job {
  id: number;
  replies: number;
  found: number | null;
  resolve(result: number | null): void;
  reject(error: Error): void;
}

/** Upper bound on workers: more than a few per core only adds contention. */
export const MAX_WORKERS = 256;

/** A set of started workers, reused across range searches (one search at a time). */
export class MinerPool {
  private readonly ctl = new Int32Array(new SharedArrayBuffer(CTL_LENGTH * 4));
  /** Hashes per worker slot, cumulative over the pool's life. */
  readonly hashes: Float64Array;
  private job: Job | undefined;
  private nextJobId = 1;
  private failure: Error | undefined;

  private constructor(
    private readonly workers: WorkerHandle[],
    hashes: Float64Array,
  ) {
    this.hashes = hashes;
  }

  /** Starts `count` workers running `engine` and waits until each is ready. */
  static async start(count: number, engine: EngineName): Promise<MinerPool> {
    assert(count >= 1 && count <= MAX_WORKERS, "worker count out of range");
    const hashes = new Float64Array(new SharedArrayBuffer(count * 8));
    const ready: Promise<void>[] = [];
    const handles: WorkerHandle[] = [];
    let pool: MinerPool | undefined;
    for (let i = 0; i < count; i++) {
      let markReady!: () => void;
      let fail!: (e: Error) => void;
      ready.push(new Promise<void>((res, rej) => ((markReady = res), (fail = rej))));
      const handle = spawnWorker(workerUrl(import.meta.url, "miner-worker"), {
        onMessage: (m) =>
          (m as WorkerReply).type === "ready" ? markReady() : pool?.onReply(m as WorkerReply),
        onError: (e) => (pool ? pool.onFailure(e) : fail(e)),
      });
      handle.postMessage({ type: "init", engine });
      handles.push(handle);
    }
    pool = new MinerPool(handles, hashes);
    try {
      await Promise.all(ready);
    } catch (error) {
      await pool.close();
      throw new ChainDbError(ErrorCode.WORKER_FAILED, `a mining worker failed to start`, { cause: error });
    }
    return pool;
  }

  /** Number of workers. */
  get size(): number {
    return this.workers.length;
  }

  /** Total hashes tried by all workers so far. */
  totalHashes(): number {
    let sum = 0;
    for (let i = 0; i < this.hashes.length; i++) sum += this.hashes[i]!;
    return sum;
  }

  /** Asks the current search to stop; it resolves with `nonce: null` once every worker stopped. */
  stop(): void {
    Atomics.store(this.ctl, CTL_STOP, 1);
  }

  /**
   * Searches [startNonce, endNonce) of `header` with all workers. Resolves with a solution (not
   * necessarily the smallest: workers race) or null when the range is exhausted or stopped.
   */
  async search(
    header: Uint8Array,
    target: Uint8Array,
    startNonce: number,
    endNonce: number,
    chunkSize: number,
  ): Promise<PoolSearchResult> {
    assert(this.job === undefined, "one search at a time");
    if (this.failure) throw this.failure;
    const before = this.totalHashes();
    Atomics.store(this.ctl, CTL_STOP, 0);
    Atomics.store(this.ctl, CTL_NEXT_CHUNK, 0);
    const id = this.nextJobId++;
    const done = new Promise<number | null>((resolve, reject) => {
      this.job = { id, replies: 0, found: null, resolve, reject };
    });
    this.workers.forEach((w, slot) =>
      w.postMessage({
        type: "job",
        jobId: id,
        ctl: this.ctl,
        hashes: this.hashes,
        slot,
        header,
        target,
        startNonce,
        endNonce,
        chunkSize,
      }),
    );
    try {
      const nonce = await done;
      return { nonce, hashes: this.totalHashes() - before };
    } finally {
      this.job = undefined;
    }
  }

  private onReply(reply: WorkerReply): void {
    if (reply.type === "error") return this.onFailure(new Error(reply.message));
    const job = this.job;
    if (!job || reply.type === "ready" || reply.jobId !== job.id) return;
    if (reply.type === "found" && job.found === null) job.found = reply.nonce;
    job.replies++;
    // Every worker answers each job exactly once, so the job ends when all have answered:
    // after a "found", no worker is still hashing.
    if (job.replies === this.workers.length) job.resolve(job.found);
  }

  private onFailure(error: Error): void {
    const wrapped = new ChainDbError(ErrorCode.WORKER_FAILED, `a mining worker failed: ${error.message}`, {
      cause: error,
    });
    this.failure = wrapped;
    Atomics.store(this.ctl, CTL_STOP, 1);
    this.job?.reject(wrapped);
  }

  /** Terminates every worker. */
  async close(): Promise<void> {
    Atomics.store(this.ctl, CTL_STOP, 1);
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
