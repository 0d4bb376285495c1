/**
 * Block executor worker: verifies ed25519 signatures of transfers claimed in chunks from a shared
 * counter (independent per transfer, so this is where a second core pays most), and runs groups
 * of a Sealevel-style plan (executor-plan.ts) over the shared account slots.
 * @module
 */
import { onParentMessage } from "../runtime/index.ts";
import { runGroups, type BlockPlan } from "./executor-plan.ts";
import { verifyClaimedChunks } from "./executor-verify.ts";
import type { ExecutorJob, ExecutorReply } from "./executor-protocol.ts";

// Attached before any await: Deno drops messages that arrive before a listener exists.
const parent = onParentMessage((message) => {
  const job = message as ExecutorJob;
  try {
    if (job.type === "verify") verifyClaimedChunks(job);
    else runGroups(job.plan as BlockPlan, job.thread);
    post({ type: "done", id: job.id });
  } catch (error) {
    post({ type: "error", id: job.id, message: String((error as Error)?.stack ?? error) });
  }
});
post({ type: "ready", id: 0 });

function post(reply: ExecutorReply): void {
  parent.postMessage(reply);
}
