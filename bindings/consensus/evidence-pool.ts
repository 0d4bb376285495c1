/**
 * Equivocation detection and the evidence pool, beside the engine (CometBFT keeps them in its
 * evidence reactor and pool; the paper leaves them out). The detector remembers the first message
 * per signer, height, round and type in the engine's height window; a second one with another
 * value is evidence. The pool keeps verified evidence with two bounds: EVIDENCE_MAX in all, and an
 * even share of it per accused validator, so one key that signs offences at every round never
 * crowds out evidence against another (one offence is enough to slash).
 * @module
 */
import { toHex } from "../util/index.ts";
import { verifyEvidence, accused, evidenceKey, makeEvidence } from "./evidence.ts";
import type { Verifier } from "./codec.ts";
import type { Evidence, Proposal, Vote } from "./types.ts";
import type { ValidatorSet } from "./validators.ts";
import { idKey } from "./votes.ts";

/** Evidence kept in the pool. */
export const EVIDENCE_MAX = 4096;
/** Bound of the detector (first messages held). */
const SIGNED_BY_MAX = 1 << 16;

/** What the pool needs to know of the engine. */
export interface EvidencePoolOptions {
  readonly chainId: string;
  readonly verify: Verifier;
  /** The validator set of a height. */
  readonly setAt: (height: number) => ValidatorSet;
}

/** The key of one signer's message slot: the signer, height, round and type (0 for a proposal). */
export function slotKey(m: Proposal | Vote): string {
  const signer = m.kind === "vote" ? m.validator : m.proposer;
  return `${toHex(signer)}/${m.height}/${m.round}/${m.kind === "vote" ? m.type : 0}`;
}

/** The equivocation detector and the bounded pool of verified evidence. */
export class EvidencePool {
  /** First message per signer/height/round/type in the height window. */
  private readonly signedBy = new Map<string, Proposal | Vote>();
  private readonly pool = new Map<string, Evidence>();
  /** Evidence held per accused address. */
  private readonly perAccused = new Map<string, number>();

  constructor(private readonly opts: EvidencePoolOptions) {}

  /** Messages the detector holds. */
  get detectorSize(): number {
    return this.signedBy.size;
  }

  /** Evidence held. */
  get size(): number {
    return this.pool.size;
  }

  /** Evidence held, oldest first. */
  evidence(): Evidence[] {
    return [...this.pool.values()];
  }

  has(e: Evidence): boolean {
    return this.pool.has(evidenceKey(e));
  }

  /**
   * Evidence when `m` conflicts with the first message of its slot, else null (and `m` becomes
   * the slot's first message while the detector has room). `m` must be admitted (signature checked).
   */
  detect(m: Proposal | Vote): Evidence | null {
    const key = slotKey(m);
    const earlier = this.signedBy.get(key);
    if (earlier === undefined) {
      if (this.signedBy.size < SIGNED_BY_MAX) this.signedBy.set(key, m);
      return null;
    }
    if (idKey(earlier.valueId) === idKey(m.valueId)) return null; // same content (e.g. another validRound)
    return makeEvidence(earlier, m);
  }

  /**
   * True if the pool holds its share of evidence against `address`: EVIDENCE_MAX split evenly over
   * `setSize` validators.
   */
  quotaReached(address: Uint8Array, setSize: number): boolean {
    const share = Math.max(1, Math.floor(EVIDENCE_MAX / setSize));
    return (this.perAccused.get(toHex(address)) ?? 0) >= share;
  }

  /**
   * Evidence from a peer, of height `low` ≤ h ≤ `high`: verified against the set of its height
   * only when new and within the accused's share. True if it is worth adding.
   */
  judge(e: Evidence, low: number, high: number, setSize: number): boolean {
    const h = e.a.height;
    if (h < low || h > high || this.has(e) || this.quotaReached(accused(e), setSize)) return false;
    return verifyEvidence(this.opts.chainId, this.opts.setAt(h), e, this.opts.verify);
  }

  /** Adds verified evidence; false if it is held already or a bound is reached. */
  add(e: Evidence, setSize: number): boolean {
    const key = evidenceKey(e);
    if (this.pool.has(key) || this.pool.size >= EVIDENCE_MAX || this.quotaReached(accused(e), setSize))
      return false;
    const who = toHex(accused(e));
    this.pool.set(key, e);
    this.perAccused.set(who, (this.perAccused.get(who) ?? 0) + 1);
    return true;
  }

  /** Forgets detector entries of heights below `low`. */
  prune(low: number): void {
    for (const [key, m] of this.signedBy) if (m.height < low) this.signedBy.delete(key);
  }
}
