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
      serveJobs(new Int32Array(x.memory.buffer), m.ctl >>> 2, (gen) => x.parWorkerRun(m.ctl, m.tid, gen));
      reply({ type: "stopped" });
    })
    .catch(fail);
});
