/**
 * The invariants of the node simulation (node-simulation.ts), checked as the run goes: what every
 * correct node committed, reported and signed, across all its incarnations, and what the
 * byzantine nodes signed and the correct ones made of it. The evidence rules are the engine
 * simulation's (simulation.ts: `coversEvidence`, the same windows), applied to ConsensusNodes.
 * @module
 */
import { toHex } from "../util/index.ts";
import { decodeMessage } from "./codec.ts";
import { accused } from "./evidence.ts";
import { slotKey } from "./evidence-pool.ts";
import type { ConsensusNode } from "./node.ts";
import { coversEvidence } from "./simulation.ts";
import { TAG } from "./sync.ts";
import type { Evidence, Proposal, Vote } from "./types.ts";

/** The invariants a node simulation checks. */
export type NodeInvariant =
  | "agreement"
  | "halt"
  | "liveness"
  | "funds"
  | "durability"
  | "signature"
  | "restart"
  | "evidence"
  | "accusation";

/** A violated invariant. */
export class NodeViolation extends Error {
  constructor(
    readonly invariant: NodeInvariant,
    detail: string,
  ) {
    super(detail);
  }
}

/** A consensus message in a node's payload, or null (another tag, or malformed). */
export function consensusMessage(payload: Uint8Array): Proposal | Vote | null {
  if (payload[0] !== TAG.consensus) return null;
  try {
    const m = decodeMessage(payload.subarray(1));
    return m.kind === "proposal" || m.kind === "vote" ? m : null;
  } catch {
    return null; // a node never sends malformed bytes; a byzantine one's are not ours to judge
  }
}

const signerOf = (m: Proposal | Vote) => (m.kind === "vote" ? m.validator : m.proposer);
const valueKey = (m: Proposal | Vote) => (m.valueId === null ? "nil" : toHex(m.valueId));

/** Agreement, durability and sign-state over every incarnation of the correct nodes. */
export class NodeChecker {
  /** The first block id and state root committed at each height. */
  readonly byHeight = new Map<number, { id: string; root: string }>();
  /** What each correct validator signed: `signer/height/round/type` → value. */
  private readonly signed = new Map<string, string>();
  /** Signatures of correct validators recorded (the self-test checks some were). */
  signatures = 0;
  violation: NodeViolation | undefined;

  constructor(private readonly isCorrect: (address: Uint8Array) => boolean) {}

  fail(invariant: NodeInvariant, detail: string): void {
    this.violation ??= new NodeViolation(invariant, detail);
  }

  /** A correct node committed `height`: one block and one state root per height, everywhere. */
  commit(node: string, height: number, id: string, root: string): void {
    const first = this.byHeight.get(height);
    if (first === undefined) this.byHeight.set(height, { id, root });
    else if (first.id !== id || first.root !== root)
      this.fail(
        "agreement",
        `${node} committed ${id.slice(0, 12)} (root ${root.slice(0, 12)}) at height ${height}, another node ${first.id.slice(0, 12)} (root ${first.root.slice(0, 12)})`,
      );
  }

  /**
   * A correct node sent `payload`: what it signed must never contradict what it signed before,
   * in this incarnation or an earlier one (its sign-state guard and WAL must survive the crash).
   */
  sent(node: string, payload: Uint8Array): void {
    const m = consensusMessage(payload);
    if (m === null || !this.isCorrect(signerOf(m))) return; // a relayed vote of another validator
    this.signatures++;
    const key = slotKey(m);
    const value = valueKey(m);
    const before = this.signed.get(key);
    if (before === undefined) this.signed.set(key, value);
    else if (before !== value)
      this.fail(
        "signature",
        `${node} signed two values for ${m.kind} ${m.height}/${m.round}${m.kind === "vote" ? ` type ${m.type}` : ""}: ${before.slice(0, 12)} and ${value.slice(0, 12)}`,
      );
  }

  /**
   * A reopened node: at least at the height it reported before the crash, and every block and the
   * state root it holds are the ones committed everywhere.
   */
  reopened(node: string, n: ConsensusNode, reportedBefore: number): void {
    if (n.height < reportedBefore)
      return this.fail(
        "durability",
        `${node} reopened at height ${n.height} after reporting ${reportedBefore} committed`,
      );
    for (let h = 1; h <= n.height; h++) {
      const cert = n.certificate(h);
      const known = this.byHeight.get(h);
      if (cert === undefined)
        return this.fail("durability", `${node} reopened at height ${n.height} without block ${h}`);
      if (known !== undefined && known.id !== toHex(cert.proposal.valueId))
        return this.fail(
          "durability",
          `${node} reopened with block ${toHex(cert.proposal.valueId).slice(0, 12)} at height ${h}, committed ${known.id.slice(0, 12)}`,
        );
    }
    const known = this.byHeight.get(n.height);
    if (known !== undefined && known.root !== toHex(n.root()))
      this.fail("durability", `${node} reopened at height ${n.height} with another state root`);
  }
}

/**
 * The evidence invariants (simulation.ts's): every equivocation a correct node took in both
 * halves of in one incarnation becomes evidence there; every one signed after the heal while all
 * correct nodes could admit it becomes evidence at some correct node; no correct validator is
 * accused or slashed.
 */
export class EvidenceChecker {
  /** Byzantine values signed per slot (`signer/height/round/type`). */
  readonly signedByByzantine = new Map<string, Set<string>>();
  private readonly signedAfterHeal = new Map<string, Set<string>>();
  /** Equivocation slots with a half first signed after the heal (see signedByzantine). */
  private readonly freshAfterHeal = new Set<string>();
  /** Equivocations every correct node could take in: slot → simulated time of the second half. */
  readonly equivocatedAt = new Map<string, number>();
  /** Evidence in blocks committed by correct nodes. */
  readonly inBlocks = new Set<string>();
  /** Validators slashed by committed evidence. */
  readonly slashed = new Set<string>();
  healed = false;

  constructor(
    private readonly checker: NodeChecker,
    private readonly isCorrect: (address: Uint8Array) => boolean,
    private readonly now: () => number,
    /** True if every correct node is up with its engine near `height` (within its window). */
    private readonly allCorrectNear: (height: number) => boolean,
  ) {}

  /** A byzantine behaviour signed and sent `m`. */
  signedByzantine(m: Proposal | Vote): void {
    const key = slotKey(m);
    const ids = this.signedByByzantine.get(key) ?? new Set<string>();
    // Signed again, a half is the same message (same signature): nodes take a signature in and
    // relay it once, so a pair whose halves were both first sent during the faults (when a relay
    // could be lost) stays exempt though the behaviour re-sends it after the heal.
    if (this.healed && !ids.has(valueKey(m))) this.freshAfterHeal.add(key);
    ids.add(valueKey(m));
    this.signedByByzantine.set(key, ids);
    if (!this.healed) return;
    const after = this.signedAfterHeal.get(key) ?? new Set<string>();
    after.add(valueKey(m));
    this.signedAfterHeal.set(key, after);
    if (
      after.size === 2 &&
      this.freshAfterHeal.has(key) &&
      !this.equivocatedAt.has(key) &&
      this.allCorrectNear(m.height)
    )
      this.equivocatedAt.set(key, this.now());
  }

  /** A correct node received `payload`: a byzantine half it admits is noted in `received`. */
  received(node: ConsensusNode, payload: Uint8Array, received: Map<string, Set<string>>): void {
    const m = consensusMessage(payload);
    if (m === null || this.isCorrect(signerOf(m)) || !node.admits(m)) return;
    const key = slotKey(m);
    const ids = received.get(key) ?? new Set<string>();
    ids.add(valueKey(m));
    received.set(key, ids);
  }

  /** A correct node found or took in evidence: it must name a byzantine validator. */
  evidence(node: string, e: Evidence): void {
    if (this.isCorrect(accused(e)))
      this.checker.fail(
        "accusation",
        `${node} holds evidence against correct validator ${toHex(accused(e)).slice(0, 12)}`,
      );
  }

  /** A correct node committed a block with `evidence` that slashed `slashed`. */
  committed(node: string, evidenceKeys: readonly string[], slashed: readonly Uint8Array[]): void {
    for (const k of evidenceKeys) this.inBlocks.add(k);
    for (const a of slashed) {
      this.slashed.add(toHex(a));
      if (this.isCorrect(a))
        this.checker.fail(
          "accusation",
          `${node} committed a block slashing correct validator ${toHex(a).slice(0, 12)}`,
        );
    }
  }

  /** One incarnation of a correct node, all it received processed: every equivocation it saw is evidence. */
  checkIncarnation(name: string, node: ConsensusNode, received: ReadonlyMap<string, Set<string>>): void {
    const held = coversEvidence([node]);
    for (const [key, ids] of received)
      if (ids.size > 1 && !held(key))
        this.checker.fail(
          "evidence",
          `${name} received an equivocation (${key}) but holds no evidence for it`,
        );
  }

  /** After the heal (and a drain): every equivocation signed while all could admit it is evidence somewhere. */
  checkAfterHeal(correct: readonly ConsensusNode[], healAt: number, until: number): void {
    const held = coversEvidence(correct);
    for (const [key, at] of this.equivocatedAt)
      if (at >= healAt && at <= until && !held(key))
        this.checker.fail(
          "evidence",
          `equivocation ${key} signed at ${Math.round(at)} ms, after the heal at ${Math.round(healAt)} ms, became evidence at no correct node`,
        );
  }

  /** Distinct equivocations signed, and of those how many some correct node holds evidence for. */
  tally(correct: readonly ConsensusNode[]): { equivocations: number; withEvidence: number } {
    const held = coversEvidence(correct);
    const keys = [...this.signedByByzantine].filter(([, ids]) => ids.size > 1).map(([k]) => k);
    return { equivocations: keys.length, withEvidence: keys.filter(held).length };
  }
}
