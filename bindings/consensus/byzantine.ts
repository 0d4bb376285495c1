/**
 * Byzantine behaviours for simulations and tests, plugged into the engine's {@link Behavior} hook
 * the way CometBFT's `byzantine_test.go` replaces the proposal and prevote functions: an
 * equivocating proposer, a double voter, a validator that proposes and votes for invalid values,
 * and a silent one. Each reports what it signed through `onSigned`, so a harness can tell which
 * equivocations happened.
 * @module
 */
import type { Behavior, BehaviorContext } from "./behavior.ts";
import type { Effect, Message, Proposal, Vote } from "./types.ts";

/** The byzantine strategies the simulation draws from. */
export const BYZANTINE_STRATEGIES = ["equivocate", "double-vote", "invalid", "silent"] as const;
/** One byzantine strategy. */
export type ByzantineStrategy = (typeof BYZANTINE_STRATEGIES)[number];

/** What a byzantine behaviour needs from its harness. */
export interface ByzantineOptions {
  /** A different, equally plausible value (for the second half of an equivocation). */
  readonly variant: (value: Uint8Array) => Uint8Array;
  /** An invalid value derived from `value` (for the "invalid" strategy). */
  readonly corrupt: (value: Uint8Array) => Uint8Array;
  /** Called with every message the behaviour signs and sends. */
  readonly onSigned?: (message: Proposal | Vote) => void;
}

/** Sends `a` to the even-indexed peers and `b` to the odd ones (never to itself). */
function split(ctx: BehaviorContext, a: Message, b: Message): Effect[] {
  const out: Effect[] = [];
  for (let to = 0; to < ctx.peers; to++)
    if (to !== ctx.self) out.push({ kind: "send", to, message: to % 2 === 0 ? a : b });
  return out;
}

/** The behaviour implementing `strategy`. */
export function byzantine(strategy: ByzantineStrategy, options: ByzantineOptions): Behavior {
  const note = <T extends Proposal | Vote>(m: T): T => (options.onSigned?.(m), m);
  switch (strategy) {
    case "silent":
      return { propose: () => [], vote: () => [] };
    case "equivocate":
      return {
        propose(ctx, p) {
          const other = ctx.signProposal({
            height: p.height,
            round: p.round,
            validRound: p.validRound,
            value: options.variant(p.value),
          });
          return split(ctx, note(p), note(other));
        },
        vote: (_ctx, v) => [{ kind: "broadcast", message: note(v) }],
      };
    case "double-vote":
      return {
        propose: (_ctx, p) => [{ kind: "broadcast", message: note(p) }],
        vote(ctx, v) {
          const proposed = ctx.proposalAt(v.round)?.valueId ?? null;
          const otherId = v.valueId === null ? proposed : null;
          if (otherId === null && v.valueId === null) return [{ kind: "broadcast", message: note(v) }];
          const other = ctx.signVote({ type: v.type, height: v.height, round: v.round, valueId: otherId });
          return split(ctx, note(v), note(other));
        },
      };
    case "invalid":
      return {
        propose(ctx, p) {
          const bad = ctx.signProposal({
            height: p.height,
            round: p.round,
            validRound: -1,
            value: options.corrupt(p.value),
          });
          return [{ kind: "broadcast", message: note(bad) }];
        },
        vote(ctx, v) {
          // Vote for whatever was proposed in the round, valid or not.
          const proposed = ctx.proposalAt(v.round)?.valueId ?? v.valueId;
          const vote = ctx.signVote({ type: v.type, height: v.height, round: v.round, valueId: proposed });
          return [{ kind: "broadcast", message: note(vote) }];
        },
      };
  }
}
