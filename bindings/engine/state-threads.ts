/**
 * The `wasm` ledger state on the threaded build (build/threads.wasm): one shared memory holds the
 * hashmap store and the ledger state, the calling thread's instance owns them, and `threads - 1`
 * workers (Node worker_threads or Deno Web Workers) each run an instance of the same module over
 * that memory, waiting inside the core for the blocks it hands them (assembly/parallel.ts).
 * @module
 */
import { ChainDbError, ErrorCode, aint } from "../util/index.ts";
import { spawnWorker, workerUrl, type WorkerHandle } from "../runtime/index.ts";
import { CoreMemory, createSharedCoreMemory, instantiateThreadedCore } from "./core.ts";
import { WasmState } from "./state-wasm.ts";
import type { LedgerState } from "./state-types.ts";
import type { ThreadWorkerMessage, ThreadWorkerReply } from "./state-thread-worker.ts";

/** Most threads per state (assembly/parallel.ts PAR_THREADS_MAX). */
export const STATE_THREADS_MAX = 16;
/** Bound on a worker's start (instantiation) before the state gives up: WORKER_FAILED. */
const START_TIMEOUT_MS = 30_000;

/** A worker and the promise of its next reply. */
interface ThreadWorker {
  handle: WorkerHandle;
  next(): Promise<ThreadWorkerReply>;
}

function startWorker(): ThreadWorker {
  const replies: ThreadWorkerReply[] = [];
  const waiting: ((r: ThreadWorkerReply) => void)[] = [];
  let failure: Error | undefined;
  const fail: ((e: Error) => void)[] = [];
  const handle = spawnWorker(workerUrl(import.meta.url, "state-thread-worker"), {
    onMessage: (m) => {
      const w = waiting.shift();
      if (w) w(m as ThreadWorkerReply);
      else replies.push(m as ThreadWorkerReply);
    },
    onError: (e) => {
      failure = e;
      for (const f of fail.splice(0)) f(e);
    },
  });
  const next = (): Promise<ThreadWorkerReply> =>
    new Promise((resolve, reject) => {
      if (failure) return reject(failure);
      const r = replies.shift();
      if (r) return resolve(r);
      const timer = setTimeout(
        () => reject(new Error(`no reply within ${START_TIMEOUT_MS} ms`)),
        START_TIMEOUT_MS,
      );
      waiting.push((reply) => {
        clearTimeout(timer);
        resolve(reply);
      });
      fail.push((e) => {
        clearTimeout(timer);
        reject(e);
      });
    });
  return { handle, next };
}

async function expectReply(w: ThreadWorker, type: ThreadWorkerReply["type"]): Promise<void> {
  let reply: ThreadWorkerReply;
  try {
    reply = await w.next();
  } catch (cause) {
    throw new ChainDbError(ErrorCode.WORKER_FAILED, `state thread failed to start: ${String(cause)}`, {
      cause,
    });
  }
  if (reply.type === "error")
    throw new ChainDbError(ErrorCode.WORKER_FAILED, `state thread failed: ${reply.message}`);
  if (reply.type !== type)
    throw new ChainDbError(ErrorCode.WORKER_FAILED, `state thread replied ${reply.type}, expected ${type}`);
}

/** Test hooks of the threaded state. */
export interface ThreadedStateTestHooks {
  /**
   * A wait of this many loads or more makes a job slow, so the next jobs run serially (0: every
   * job; 2^32 − 1: in effect never, for tests that check the threads did the work).
   */
  slowSpins?: number;
}

/**
 * An empty WASM ledger state whose blocks execute on `threads` threads (the calling one
 * included; 1 runs the threaded build's schedule on the calling thread alone). Close it to stop
 * the workers.
 */
export async function createThreadedWasmState(
  threads: number,
  hooks: ThreadedStateTestHooks = {},
): Promise<LedgerState> {
  aint(threads, 1, STATE_THREADS_MAX, "threads");
  const memory = createSharedCoreMemory();
  const core = await instantiateThreadedCore(memory);
  const workers: ThreadWorker[] = [];
  const stop = async (): Promise<void> => {
    core.parStop();
    await Promise.all(workers.map((w) => w.handle.terminate()));
  };
  try {
    // Every instance before the first write: each instantiation re-applies the data segments.
    for (let t = 1; t < threads; t++) workers.push(startWorker());
    for (const w of workers)
      w.handle.postMessage({ type: "instantiate", memory } satisfies ThreadWorkerMessage);
    for (const w of workers) await expectReply(w, "instantiated");
    const state = new WasmState(core, new CoreMemory(memory), stop);
    const ctl = core.parInit(threads) >>> 0;
    if (ctl === 0) throw new ChainDbError(ErrorCode.OUT_OF_MEMORY, "wasm state: out of memory during init");
    if (hooks.slowSpins !== undefined) core.parTestSlowSpins(hooks.slowSpins);
    workers.forEach((w, i) =>
      w.handle.postMessage({ type: "run", ctl, tid: i + 1 } satisfies ThreadWorkerMessage),
    );
    for (const w of workers) await expectReply(w, "running");
    return state;
  } catch (error) {
    await stop();
    throw error;
  }
}
