/**
 * What the single-primary simulation tells a {@link TraceRecorder}: each replica message decoded
 * into a label ("append e2 h5+3", "vote e3", "voteReply e3 granted"), the primary's commits as
 * steps, and a violation with the replicas and height it names.
 * @module
 */
import { violationSubjects, type MessageDescription, type NodeId, type TraceRecorder } from "../net/index.ts";
import type { ReplicaEffect } from "./types.ts";
import { decodeReplicaMessage } from "./wire.ts";

/** A label (and height, for appends) for a replica payload. */
export function describeReplicaPayload(payload: Uint8Array): MessageDescription {
  try {
    const m = decodeReplicaMessage(payload);
    switch (m.t) {
      case "append":
        return {
          label: `append e${m.epoch} h${m.prevHeight + 1}+${m.entries.length} commit ${m.commit}`,
          ...(m.entries.length > 0 ? { height: m.prevHeight + 1 } : {}),
        };
      case "appendReply":
        return { label: `appendReply e${m.epoch} ${m.ok ? "ok" : "no"} h${m.height}`, height: m.height };
      case "vote":
        return { label: `vote e${m.epoch}` };
      case "voteReply":
        return { label: `voteReply e${m.epoch} ${m.granted ? "granted" : "refused"}` };
    }
  } catch {
    return { label: `malformed ${payload.length} B` };
  }
}

/** Records a replica's commit (the primary's, per epoch and height) as a step. */
export function traceReplicaEffect(recorder: TraceRecorder, node: NodeId, e: ReplicaEffect): void {
  if (e.kind === "committed") recorder.step(node, "commit", { height: e.height, detail: `epoch ${e.epoch}` });
}

/** Records a violation with the replicas and height its text names. */
export function traceReplicaViolation(
  recorder: TraceRecorder,
  invariant: string,
  detail: string,
  nodes: readonly NodeId[],
): void {
  const { nodes: named, height } = violationSubjects(detail, nodes);
  recorder.violation(invariant, detail, named, height === undefined ? {} : { height });
}
