/**
 * Mining worker: takes nonce chunks from a shared counter until a solution is found, the range is
 * exhausted, or the shared stop flag is raised. The flag lives in shared memory because the search
 * loop is synchronous: a worker busy hashing cannot receive messages, but it reads the flag
 * between chunks, so it stops within one chunk (10–15 ms of work).
 * @module
 */
import { createEngine, type Engine, type EngineName } from "../engine/index.ts";
import { onParentMessage } from "../runtime/index.ts";
import { CTL_NEXT_CHUNK, CTL_STOP, type JobMessage, type WorkerReply } from "./protocol.ts";

let engine: Engine | undefined;
const pending: JobMessage[] = [];

// Attached before any await: Deno drops messages that arrive before a listener exists.
const parent = onParentMessage((message) => {
  const m = message as JobMessage | { type: "init"; engine: EngineName };
  if (m.type === "init") void init(m.engine);
  else if (engine) runJob(engine, m);
  else pending.push(m);
});

async function init(name: EngineName): Promise<void> {
  try {
    engine = await createEngine(name);
  } catch (error) {
    post({ type: "error", message: String((error as Error)?.message ?? error) });
    return;
  }
  post({ type: "ready" });
  for (const job of pending.splice(0)) runJob(engine, job);
}

function runJob(e: Engine, job: JobMessage): void {
  const { ctl, hashes, slot, header, target, startNonce, endNonce, chunkSize } = job;
  const maxChunks = Math.ceil((endNonce - startNonce) / chunkSize);
  try {
    // Bounded: each iteration claims a distinct chunk index, and there are maxChunks of them.
    for (;;) {
      if (Atomics.load(ctl, CTL_STOP) !== 0) return post({ type: "stopped", jobId: job.jobId });
      const index = Atomics.add(ctl, CTL_NEXT_CHUNK, 1);
      if (index >= maxChunks) return post({ type: "exhausted", jobId: job.jobId });
      const start = startNonce + index * chunkSize;
      const count = Math.min(chunkSize, endNonce - start);
      const result = e.searchNonce(header, target, start, count);
      hashes[slot] = hashes[slot]! + result.hashes;
      if (result.nonce !== null) {
        Atomics.store(ctl, CTL_STOP, 1);
        return post({ type: "found", jobId: job.jobId, nonce: result.nonce });
      }
    }
  } catch (error) {
    post({ type: "error", message: String((error as Error)?.message ?? error) });
  }
}

function post(reply: WorkerReply): void {
  parent.postMessage(reply);
}
