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

/** What the state sends a worker. */
export type ThreadWorkerMessage =
  { type: "instantiate"; memory: WebAssembly.Memory } | { type: "run"; ctl: number; tid: number };

/** What a worker answers. */
export type ThreadWorkerReply =
  { type: "instantiated" } | { type: "running" } | { type: "stopped" } | { type: "error"; message: string };

/** Loads of the job word before the worker sleeps: blocks come back to back in a busy ledger. */
const SPINS = 20_000;
/**
 * Bound of one sleep inside a job, in ms: the main thread notifies the word it waits on, so this
 * only bounds a missed wake-up.
 */
const JOB_WAIT_MS = 1;

/**
 * Runs this worker's share of job `gen`. Where the core asks the worker to wait for the main
 * thread (it spun in wasm first, 2^14 loads), the worker sleeps here, in `Atomics.wait`, so that a
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

/** Runs jobs until the stop word is set; blocks this worker's thread meanwhile. */
function serve(x: CoreExports, ctl: number, tid: number): void {
  const words = new Int32Array(x.memory.buffer);
  const job = ctl >>> 2;
  const stop = job + 1;
  let seen = 0; // parInit's generation: a job published before this point is seen at once
  // Bounded by the stop word: the state sets it (parStop) when it closes.
  for (;;) {
    for (let i = 0; i < SPINS && Atomics.load(words, job) === seen; i++);
    while (Atomics.load(words, job) === seen) Atomics.wait(words, job, seen);
    if (Atomics.load(words, stop) !== 0) return;
    seen = Atomics.load(words, job);
    runJob(x, words, ctl, tid, seen);
  }
}

// Attached before any await: Deno drops messages that arrive before a listener exists.
const parent = onParentMessage((message) => {
  const m = message as ThreadWorkerMessage;
  const reply = (r: ThreadWorkerReply): void => parent.postMessage(r);
  const fail = (error: unknown): void =>
    reply({ type: "error", message: String((error as Error)?.stack ?? error) });
  if (m.type === "instantiate") {
    core = instantiateThreadedCore(m.memory);
    core.then(() => reply({ type: "instantiated" }), fail);
    return;
  }
  if (core === undefined) return fail(new Error("run before instantiate"));
  core
    .then((x) => {
      reply({ type: "running" });
      serve(x, m.ctl, m.tid);
      reply({ type: "stopped" });
    })
    .catch(fail);
});
