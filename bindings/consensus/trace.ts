/**
 * What the consensus simulation tells a {@link TraceRecorder}: each message decoded into a label
 * ("prevote h3 r0 5f2a… by n2"), each validator's own steps of the Tendermint paper's round
 * (propose → prevote → precommit, then commit of the height) taken from the effects it carries out,
 * evidence it finds, and a violated invariant with the validators and height it concerns.
 * @module
 */
import { fromHex, toHex } from "../util/index.ts";
import { violationSubjects, type MessageDescription, type TraceRecorder } from "../net/index.ts";
import { decodeMessage } from "./codec.ts";
import { accused } from "./evidence.ts";
import { VoteType, type Effect, type Message } from "./types.ts";
import type { ValidatorSet } from "./validators.ts";

/** Feeds one simulation's protocol steps and violations to a recorder (node `i` is named `n<i>`). */
export class ConsensusTracer {
  private readonly last = new Map<number, string>();
  private lastEvidence: { holder: number; accused: number; height: number } | undefined;

  /** Installs the message describer on `recorder`. */
  constructor(
    private readonly recorder: TraceRecorder,
    private readonly set: ValidatorSet,
  ) {
    recorder.setDescriber((payload) => this.describe(payload));
  }

  private name(address: Uint8Array): string {
    const i = this.set.indexOf(address);
    return i < 0 ? "?" : `n${i}`;
  }

  /** A label, height and signer for a payload (undecodable bytes are labelled as such). */
  describe(payload: Uint8Array): MessageDescription {
    let m: Message;
    try {
      m = decodeMessage(payload);
    } catch {
      return { label: `malformed ${payload.length} B` };
    }
    const id = (v: Uint8Array | null) => (v === null ? "nil" : toHex(v).slice(0, 6));
    switch (m.kind) {
      case "proposal":
        return {
          label: `proposal h${m.height} r${m.round} ${id(m.valueId)} by ${this.name(m.proposer)}`,
          height: m.height,
          origin: this.name(m.proposer),
        };
      case "vote": {
        const type = m.type === VoteType.Prevote ? "prevote" : "precommit";
        return {
          label: `${type} h${m.height} r${m.round} ${id(m.valueId)} by ${this.name(m.validator)}`,
          height: m.height,
          origin: this.name(m.validator),
        };
      }
      case "commit":
        return { label: `commit certificate h${m.proposal.height}`, height: m.proposal.height };
      case "evidence":
        return { label: `evidence against ${this.name(accused(m))} h${m.a.height}`, height: m.a.height };
    }
  }

  /** Records the step an effect of validator `index` shows (its own proposal or vote, a commit, evidence). */
  effect(index: number, e: Effect): void {
    const node = `n${index}`;
    if (e.kind === "decide") return this.note(index, "commit", e.height, e.certificate.proposal.round);
    if (e.kind === "evidence") {
      const target = this.set.indexOf(accused(e.evidence));
      this.lastEvidence = { holder: index, accused: target, height: e.evidence.a.height };
      return this.recorder.step(node, "evidence", {
        height: e.evidence.a.height,
        detail: `against n${target}`,
      });
    }
    if (e.kind !== "broadcast" && e.kind !== "send") return;
    const m = e.message;
    if (m.kind === "proposal" && this.set.indexOf(m.proposer) === index)
      this.note(index, "propose", m.height, m.round);
    if (m.kind === "vote" && this.set.indexOf(m.validator) === index)
      this.note(index, m.type === VoteType.Prevote ? "prevote" : "precommit", m.height, m.round);
  }

  // One mark per step: a byzantine validator's split sends and re-broadcasts repeat it.
  private note(index: number, step: string, height: number, round: number): void {
    const key = `${step}/${height}/${round}`;
    if (this.last.get(index) === key) return;
    this.last.set(index, key);
    this.recorder.step(`n${index}`, step, { height, round });
  }

  /** Records a violation: the validators its text names (as `n<i>` or by address) and its height. */
  violation(invariant: string, detail: string, validators: number): void {
    const ids = Array.from({ length: validators }, (_, i) => `n${i}`);
    const named = detail.replace(/[0-9a-f]{64}/g, (hex) => this.name(fromHex(hex)));
    const subjects = violationSubjects(named, ids);
    let height = subjects.height;
    if (invariant === "accusation" && this.lastEvidence !== undefined) {
      // The accusation is thrown on the evidence effect just recorded: its height is the evidence's.
      height ??= this.lastEvidence.height;
      for (const i of [this.lastEvidence.holder, this.lastEvidence.accused])
        if (!subjects.nodes.includes(`n${i}`)) subjects.nodes.push(`n${i}`);
    }
    this.recorder.violation(invariant, named, subjects.nodes, height === undefined ? {} : { height });
  }
}
