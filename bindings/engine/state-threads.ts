/**
 * The `wasm` ledger state on the threaded build (build/threads.wasm): one shared memory holds the
 * hashmap store and the ledger state, the calling thread's instance owns them, and `threads - 1`
 * workers (Node worker_threads or Deno Web Workers) each run an instance of the same module over
 * that memory, waiting inside the core for the blocks it hands them (assembly/parallel.ts).
 * @module
 */
import { ChainDbError, ErrorCode } from "../util/index.ts";
import { CoreMemory, createSharedCoreMemory, instantiateThreadedCore } from "./core.ts";
import { WasmState } from "./state-wasm.ts";
import type { LedgerState } from "./state-types.ts";
import type { ThreadWorkerMessage } from "./state-thread-worker.ts";
import { checkThreads, expectReply, startStateWorker, type StateWorker } from "./state-workers.ts";

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
  checkThreads(threads);
  const memory = createSharedCoreMemory();
  const core = await instantiateThreadedCore(memory);
  const workers: StateWorker[] = [];
  const stop = async (): Promise<void> => {
    core.parStop();
    await Promise.all(workers.map((w) => w.handle.terminate()));
  };
  try {
    // Every instance before the first write: each instantiation re-applies the data segments.
    for (let t = 1; t < threads; t++) workers.push(startStateWorker(import.meta.url, "state-thread-worker"));
    for (const w of workers)
      w.handle.postMessage({ type: "instantiate", memory } satisfies ThreadWorkerMessage);
    for (const w of workers) await expectReply(w, "ready");
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
