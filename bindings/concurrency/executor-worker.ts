/**
 * Block executor worker: verifies ed25519 signatures of transfers claimed in chunks from a shared
 * counter (independent per transfer, so this is where a second core pays most), and runs groups
 * of a Sealevel-style plan (executor-plan.ts) over the shared account slots.
 * @module
 */
import { onParentMessage } from "../runtime/index.ts";
import { verifyTransferSignature, TRANSFER_SIZE } from "../chain/index.ts";
import { runGroups, type BlockPlan } from "./executor-plan.ts";
import type { ExecutorJob, ExecutorReply } from "./executor-protocol.ts";

// Attached before any await: Deno drops messages that arrive before a listener exists.
const parent = onParentMessage((message) => {
  const job = message as ExecutorJob;
  try {
    if (job.type === "verify") verifyChunks(job);
    else runGroups(job.plan as BlockPlan, job.thread);
    post({ type: "done", id: job.id });
  } catch (error) {
    post({ type: "error", id: job.id, message: String((error as Error)?.stack ?? error) });
  }
});
post({ type: "ready", id: 0 });

function verifyChunks(job: Extract<ExecutorJob, { type: "verify" }>): void {
  const { transfers, results, ctl, count, chunk } = job;
  const chunks = Math.ceil(count / chunk);
  // Bounded: each iteration claims a distinct chunk index.
  for (;;) {
    const c = Atomics.add(ctl, 0, 1);
    if (c >= chunks) return;
    const end = Math.min(count, (c + 1) * chunk);
    for (let i = c * chunk; i < end; i++) {
      results[i] = verifyTransferSignature(transfers.subarray(i * TRANSFER_SIZE, (i + 1) * TRANSFER_SIZE))
        ? 1
        : 0;
    }
  }
}

function post(reply: ExecutorReply): void {
  parent.postMessage(reply);
}
