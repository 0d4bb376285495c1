/**
 * A worker of the threaded ts ledger state (state-ts-threads.ts): attaches to the state's shared
 * buffers, then waits on the control block's job word and runs its share of each job
 * (state-ts-par.ts `parWorkerRun`) until the stop word is set.
 * @module
 */
import { onParentMessage } from "../runtime/index.ts";
import { C_GEN, ParMemory, parWorkerRun } from "./state-ts-par.ts";
import type { TsThreadWorkerMessage } from "./state-ts-threads.ts";
import { serveJobs, type StateWorkerReply } from "./state-workers.ts";

// Attached before any await: Deno drops messages that arrive before a listener exists.
const parent = onParentMessage((message) => {
  const m = message as TsThreadWorkerMessage;
  const reply = (r: StateWorkerReply): void => parent.postMessage(r);
  try {
    const memory = new ParMemory(m.buffers);
    reply({ type: "running" });
    serveJobs(memory.ctl, C_GEN, (gen) => parWorkerRun(memory, gen));
    reply({ type: "stopped" });
  } catch (error) {
    reply({ type: "error", message: String((error as Error)?.stack ?? error) });
  }
});
