/**
 * Relaying, beside the engine: what the paper leaves to its gossip layer ("every message sent is
 * eventually received"). Three parts:
 * - an admitted proposal's header is relayed once, at any height in the window: a node that moved
 *   on may hold the only copy of one half of an equivocating proposer's pair;
 * - an admitted vote is relayed once, a late vote of a past height too: a validator that signs two
 *   votes after the others decided reaches each half of the set with one of them, and only
 *   relaying lets someone hold both and make evidence;
 * - a gossip tick that finds the node stuck (same height, round and step as the tick before)
 *   re-sends its own messages, the proposals it holds, the proofs of lock and the last certificate,
 *   so a lost message is not lost forever (CometBFT's gossipVotesRoutine does this per peer).
 * @module
 */
import { proposalHeader } from "./codec.ts";
import type { Behavior, BehaviorContext } from "./behavior.ts";
import type { CommitCertificate, Effect, Proposal, Vote } from "./types.ts";
import { idKey, type RoundState } from "./votes.ts";

/** The relay of a newly admitted proposal or vote (none for a vote when vote relaying is off). */
export function relayAdmitted(m: Proposal | Vote, relayVotes: boolean): Effect | null {
  if (m.kind === "proposal") return { kind: "broadcast", message: proposalHeader(m) };
  return relayVotes ? { kind: "broadcast", message: m } : null;
}

/** What a stuck tick re-sends from. */
export interface StuckView {
  /** Own signed messages of the current height. */
  readonly signed: ReadonlyMap<string, Proposal | Vote>;
  readonly rounds: ReadonlyMap<number, RoundState>;
  readonly round: number;
  readonly validValue: Proposal | null;
  readonly validRound: number;
  /** The previous height's certificate, if kept. */
  readonly lastCertificate: CommitCertificate | undefined;
  readonly behavior: Behavior;
  readonly context: () => BehaviorContext;
}

/** Tells a stuck tick from one after progress. */
export class StuckDetector {
  private position = "";

  /** True if the node sits where it sat at the previous tick (or at {@link mark}). */
  stuck(height: number, round: number, step: number): boolean {
    const position = `${height}/${round}/${step}`;
    if (position === this.position) return true;
    this.position = position;
    return false;
  }

  /** Starts counting from this position (after a restart, whose re-send is done already). */
  mark(height: number, round: number, step: number): void {
    this.position = `${height}/${round}/${step}`;
  }
}

/** The re-sends of a stuck tick, in order. */
export function resendWhenStuck(v: StuckView): Effect[] {
  const out: Effect[] = [];
  for (const m of v.signed.values())
    out.push(
      ...(m.kind === "proposal" ? v.behavior.propose(v.context(), m) : v.behavior.vote(v.context(), m)),
    );
  for (const rs of v.rounds.values())
    for (const p of rs.proposals)
      if (v.signed.get(`${p.round}/0`) !== p) out.push({ kind: "broadcast", message: p });
  for (const prevote of proofsOfLock(v)) out.push({ kind: "broadcast", message: prevote });
  if (v.lastCertificate !== undefined) out.push({ kind: "broadcast", message: v.lastCertificate });
  return out;
}

/**
 * The proofs of lock: prevotes for a re-proposed value in its validRound, and for our validValue.
 * Without them a process that missed those prevotes can never prevote the value (line 28).
 */
function proofsOfLock(v: StuckView): Vote[] {
  const pols = new Map<string, { round: number; id: Uint8Array }>();
  if (v.validValue !== null)
    pols.set(`${v.validRound}/${idKey(v.validValue.valueId)}`, {
      round: v.validRound,
      id: v.validValue.valueId,
    });
  for (const p of v.rounds.get(v.round)?.proposals ?? [])
    if (p.validRound >= 0)
      pols.set(`${p.validRound}/${idKey(p.valueId)}`, { round: p.validRound, id: p.valueId });
  const votes: Vote[] = [];
  for (const { round, id } of pols.values())
    votes.push(...(v.rounds.get(round)?.prevotes.votesFor(id) ?? []));
  return votes;
}
