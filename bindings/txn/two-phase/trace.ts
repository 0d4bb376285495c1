/**
 * What the two-phase-commit simulation tells a {@link TraceRecorder}: each message decoded into a
 * label ("prepare t3", "vote yes t3", "commit t3") about its transaction, each node's protocol steps
 * (prepare sent, vote, force of a decision, outcome) and a violation with the nodes and the
 * transaction it names, so the page draws that transaction's events in red.
 * @module
 */
import {
  violationSubjects,
  type MessageDescription,
  type NodeId,
  type TraceRecorder,
} from "../../net/index.ts";
import { decodeTwoPcMessage, type TwoPcEffect } from "./types.ts";

/** A label and transaction for a 2PC payload. */
export function describeTwoPcPayload(payload: Uint8Array): MessageDescription {
  try {
    const m = decodeTwoPcMessage(payload);
    const what = m.type === "vote" ? `vote ${m.yes ? "yes" : "no"}` : m.type;
    return { label: `${what} ${m.tx}`, subject: m.tx };
  } catch {
    return { label: `malformed ${payload.length} B` };
  }
}

/** Records the step an effect of `node` shows: a prepare or vote it sends, or an outcome. */
export function traceTwoPcEffect(
  recorder: TraceRecorder,
  node: NodeId,
  e: TwoPcEffect,
  lastPrepare: Map<NodeId, string>,
): void {
  if (e.kind === "outcome") return recorder.step(node, e.committed ? "commit" : "abort", { subject: e.tx });
  if (e.kind !== "send") return;
  if (e.message.type === "vote")
    return recorder.step(node, e.message.yes ? "vote yes" : "vote no", { subject: e.message.tx });
  // A prepare goes to every participant: one mark per transaction.
  if (e.message.type === "prepare" && lastPrepare.get(node) !== e.message.tx) {
    lastPrepare.set(node, e.message.tx);
    recorder.step(node, "prepare", { subject: e.message.tx });
  }
}

/** Records a violation: the nodes its text names and the first known transaction id in it. */
export function traceTwoPcViolation(
  recorder: TraceRecorder,
  invariant: string,
  detail: string,
  nodes: readonly NodeId[],
  txs: Iterable<string>,
): void {
  const subjects = violationSubjects(detail, nodes);
  const tx = [...txs].find((t) =>
    new RegExp(`(^|[^\\w])${t.replace(/[^\w]/g, "\\$&")}($|[^\\w])`).test(detail),
  );
  recorder.violation(invariant, detail, subjects.nodes, tx === undefined ? {} : { subject: tx });
}
