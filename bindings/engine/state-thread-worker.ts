/**
 * A worker of the threaded ledger state (state-threads.ts): instantiates the threaded build over
 * the state's shared memory, then waits on the control block's job word and runs its share of
 * each job (assembly/parallel.ts `parWorkerRun`) until the stop word is set. The wait is
 * JavaScript's `Atomics.wait`, not the core's: a wasm `memory.atomic.wait32` broke parallel
 * execution on Node 20 here (see assembly/parallel.ts BARRIER_SPINS_MAX).
 * @module
 */
import { onParentMessage } from "../runtime/index.ts";
import { instantiateThreadedCore } from "./core.ts";
import type { CoreExports } from "./core-abi.ts";
import { serveJobs, type StateWorkerReply } from "./state-workers.ts";

/** What the state sends a worker. */
export type ThreadWorkerMessage =
  { type: "instantiate"; memory: WebAssembly.Memory } | { type: "run"; ctl: number; tid: number };

/**
 * Bound of one sleep inside a job, in ms: the main thread notifies the word it waits on, so this
 * only bounds a missed wake-up.
 */
const JOB_WAIT_MS = 1;

/**
 * Runs this worker's share of job `gen`. Where the core asks the worker to wait for the main
 * thread (after spinning in wasm first), the worker sleeps here, in `Atomics.wait`, so that a
 * main thread put aside by another process gets this core back sooner than from a spinning
 * worker; then it re-enters the core.
 */
function runJob(x: CoreExports, words: Int32Array, ctl: number, tid: number, gen: number): void {
  // Bounded: the core asks for one wait per job today (the lookup barrier of a block).
  for (let at = x.parWorkerRun(ctl, tid, gen) >>> 0; at !== 0; at = x.parWorkerResume(ctl, tid, gen) >>> 0) {
    const i = at >>> 2;
    const value = x.parWorkerWaitValue();
    while (Atomics.load(words, i) === value) Atomics.wait(words, i, value, JOB_WAIT_MS);
  }
}

let core: Promise<CoreExports> | undefined;

// Attached before any await: Deno drops messages that arrive before a listener exists.
const parent = onParentMessage((message) => {
  const m = message as ThreadWorkerMessage;
  const reply = (r: StateWorkerReply): void => parent.postMessage(r);
  const fail = (error: unknown): void =>
    reply({ type: "error", message: String((error as Error)?.stack ?? error) });
  if (m.type === "instantiate") {
    core = instantiateThreadedCore(m.memory);
    core.then(() => reply({ type: "ready" }), fail);
    return;
  }
  if (core === undefined) return fail(new Error("run before instantiate"));
  core
    .then((x) => {
      reply({ type: "running" });
      const words = new Int32Array(x.memory.buffer);
      serveJobs(words, m.ctl >>> 2, (gen) => runJob(x, words, m.ctl, m.tid, gen));
      reply({ type: "stopped" });
    })
    .catch(fail);
});
