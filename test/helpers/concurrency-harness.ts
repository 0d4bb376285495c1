/**
 * Test harness for real-worker tests of the synchronization primitives: a small pool of fixture
 * workers (test/helpers/concurrency-worker.ts) started through the runtime glue and reused by
 * every test of a file (starting a worker from sources costs about a second of CPU here, for tsx),
 * with every reply awaited under a bound so a deadlock fails the test instead of hanging it.
 * @module
 */
import { spawnWorker, workerUrl, type WorkerHandle } from "../../bindings/runtime/index.ts";
import type { Task } from "./concurrency-worker.ts";

/** A task running on a pool worker. */
export interface RunningTask {
  /** The task's result; rejects with the worker's error (with its `code`) or on the bound. */
  readonly done: Promise<unknown>;
}

/** An Error carrying the `code` a worker's ChainDbError had. */
export class WorkerTaskError extends Error {
  constructor(
    readonly code: string | undefined,
    message: string,
  ) {
    super(message);
  }
}

const URL_WORKER = workerUrl(new URL("./concurrency-harness.ts", import.meta.url).href, "concurrency-worker");

interface InFlight {
  resolve(value: unknown): void;
  reject(error: unknown): void;
  onProgress?: (m: Record<string, unknown>) => void;
}

interface Slot {
  worker: WorkerHandle;
  current: InFlight | undefined;
}

/** Up to `size` fixture workers, started on first use; slot i runs one task at a time. */
export class TaskPool {
  private readonly slots: (Slot | undefined)[];

  constructor(readonly size: number) {
    this.slots = Array(size).fill(undefined);
  }

  /** Starts `task` on worker `index`; a worker that misses its bound is terminated and replaced. */
  start(
    index: number,
    task: Task,
    options: { timeoutMs: number; onProgress?: (m: Record<string, unknown>) => void },
  ): RunningTask {
    if (index < 0 || index >= this.size) throw new RangeError(`pool slot ${index} outside [0, ${this.size})`);
    const slot = this.slot(index);
    if (slot.current) throw new Error(`pool slot ${index} is busy`);
    const done = new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => {
        slot.current = undefined;
        this.slots[index] = undefined;
        void slot.worker.terminate();
        reject(new Error(`worker task ${task.task} did not finish within ${options.timeoutMs} ms`));
      }, options.timeoutMs);
      const settle = (f: () => void) => {
        clearTimeout(timer);
        slot.current = undefined;
        f();
      };
      slot.current = {
        resolve: (v) => settle(() => resolve(v)),
        reject: (e) => settle(() => reject(e)),
        ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      };
    });
    slot.worker.postMessage(task);
    return { done };
  }

  /** Runs task i on worker i, all at once; resolves with the results in order. */
  run(tasks: Task[], timeoutMs: number): Promise<unknown[]> {
    return Promise.all(tasks.map((task, i) => this.start(i, task, { timeoutMs }).done));
  }

  /** Terminates every worker. */
  async close(): Promise<void> {
    const live = this.slots.filter((s): s is Slot => s !== undefined);
    this.slots.fill(undefined);
    await Promise.all(live.map((s) => s.worker.terminate()));
  }

  private slot(index: number): Slot {
    const existing = this.slots[index];
    if (existing) return existing;
    const slot: Slot = { worker: undefined as unknown as WorkerHandle, current: undefined };
    slot.worker = spawnWorker(URL_WORKER, {
      onMessage: (raw) => {
        const m = raw as { type: string; result?: unknown; error?: { code?: string; message: string } };
        const current = slot.current;
        if (!current) return;
        if (m.type === "progress") current.onProgress?.(m as Record<string, unknown>);
        else if (m.type === "done") current.resolve(m.result);
        else current.reject(new WorkerTaskError(m.error?.code, m.error?.message ?? "worker failed"));
      },
      onError: (error) => {
        this.slots[index] = undefined;
        slot.current?.reject(error);
      },
    });
    this.slots[index] = slot;
    return slot;
  }
}

const waitAsync = (
  Atomics as unknown as {
    waitAsync: (
      a: Int32Array,
      i: number,
      v: number,
      t: number,
    ) => { async: boolean; value: Promise<string> | string };
  }
).waitAsync;

/** Waits (without blocking the thread) until `words[index] >= target`, failing after `timeoutMs`. */
export async function waitForWord(
  words: Int32Array,
  index: number,
  target: number,
  timeoutMs: number,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (let value = Atomics.load(words, index); value < target; value = Atomics.load(words, index)) {
    const left = deadline - performance.now();
    if (left <= 0) throw new Error(`word ${index} stayed at ${value} < ${target} for ${timeoutMs} ms`);
    const keepAlive = setTimeout(() => {}, left + 1); // waitAsync alone does not keep the loop alive
    try {
      await waitAsync(words, index, value, left).value;
    } finally {
      clearTimeout(keepAlive);
    }
  }
}

/** True when running the slow suite (CHAINDB_SLOW set). */
export const slow = Boolean(process.env.CHAINDB_SLOW);
