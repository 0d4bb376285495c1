/**
 * Catch-up, beside the engine: the commit certificates of decided heights, kept to help lagging
 * and restarted peers (a message from a lower height is answered with that height's certificate,
 * which proves itself, at most one per peer per tick), and the structural check a certificate
 * passes before any of its signatures is verified. CometBFT does the same in its consensus
 * reactor (the peer's round state tells which commit to send) and in `VerifyCommit`.
 * @module
 */
import { ROUND_MAX } from "./codec.ts";
import { VoteType, type CommitCertificate, type Effect, type Proposal, type Vote } from "./types.ts";
import type { ValidatorSet } from "./validators.ts";
import { idKey } from "./votes.ts";

/** Certificates kept to help lagging peers catch up. */
export const CERTIFICATES_MAX = 1024;

/** Certificates of decided heights, and the peers answered since the last tick. */
export class CatchUp {
  private readonly certificates = new Map<number, CommitCertificate>();
  /** Peers sent a catch-up certificate since the last tick. */
  private readonly answered = new Set<number>();

  get size(): number {
    return this.certificates.size;
  }

  /** The certificate of a decided height, if still kept. */
  certificate(height: number): CommitCertificate | undefined {
    return this.certificates.get(height);
  }

  /** Keeps the certificate of a decided height (the oldest goes past CERTIFICATES_MAX). */
  keep(height: number, certificate: CommitCertificate): void {
    if (this.certificates.size >= CERTIFICATES_MAX)
      this.certificates.delete(this.certificates.keys().next().value!);
    this.certificates.set(height, certificate);
  }

  /**
   * A message from a lower height, from peer `from` (-1: unknown): the effect that sends that
   * height's certificate, unless the peer was answered this tick or the height is not kept.
   */
  answer(from: number, m: Proposal | Vote): Effect | null {
    const certificate = this.certificates.get(m.height);
    if (from < 0 || certificate === undefined || this.answered.has(from)) return null;
    this.answered.add(from);
    return { kind: "send", to: from, message: certificate };
  }

  /** A gossip tick: every peer may be answered again. */
  tick(): void {
    this.answered.clear();
  }
}

/**
 * Structure of a certificate, checked against the set of its height without any signature: a
 * proposal from a validator, at most one precommit per validator of the set, all for the
 * proposal's height, round and value. So one certificate costs at most a set's worth of
 * signature checks, and extras are refused before any is verified.
 */
export function wellFormedCertificate(c: CommitCertificate, set: ValidatorSet): boolean {
  const p = c.proposal;
  if (c.precommits.length > set.size || set.indexOf(p.proposer) < 0 || p.round > ROUND_MAX) return false;
  const signers = new Set<number>();
  for (const v of c.precommits) {
    const index = set.indexOf(v.validator);
    if (index < 0 || signers.has(index) || !precommitFor(v, p)) return false;
    signers.add(index);
  }
  return true;
}

function precommitFor(v: Vote, p: Proposal): boolean {
  return (
    v.type === VoteType.Precommit &&
    v.height === p.height &&
    v.round === p.round &&
    v.valueId !== null &&
    idKey(v.valueId) === idKey(p.valueId)
  );
}
