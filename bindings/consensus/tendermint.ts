/**
 * The Tendermint consensus engine, following Algorithm 1 of "The latest gossip on BFT consensus"
 * (Buchman, Kwon, Milosevic, 2018; arXiv:1807.04938) line by line: `StartRound` (lines 11-21),
 * the proposal rules (22-33), the prevote rules (34-46), the precommit and decision rules (47-54),
 * the round skip on f+1 messages from a higher round (55-56) and the three timeouts (57-67).
 * Quorums are voting power: "2f+1" is more than 2/3 of the total, "f+1" more than 1/3.
 * Each upon-rule is a method named by its line: `rule22FreshProposal`, `rule28ReProposal`,
 * `rule34PrevoteQuorum`, `rule36Polka`, `rule44NilPolka`, `rule47PrecommitQuorum`,
 * `rule49Decide`, `rule55RoundSkip`; the timeouts (lines 57, 61, 65) are in `onTimeout`. The
 * rules act only through `enterPropose/enterPrevote/enterPrecommit/enterCommit(height, round)`,
 * which drop stale input, as CometBFT's consensus/state.go does.
 *
 * A deterministic state machine: {@link TendermintEngine.handle} takes one event and returns the
 * effects to carry out, in order (persist before send). Clock, network and the application's
 * validity check are outside; so a seeded simulation replays any run exactly.
 *
 * Where CometBFT departs from the paper, this follows the paper:
 * - No unlocking: CometBFT ≤ 0.34 released its lock on a +2/3 nil polka; the paper never unlocks
 *   within a height; a locked process prevotes another value only when a proposal carries a
 *   validRound ≥ lockedRound with a polka for it (line 29).
 * - No commit timeout by default: on a decision the paper starts round 0 of the next height at once;
 *   CometBFT waits `timeout_commit` (here the opt-in `newHeightDelayMs`, used by the simulation to
 *   pace blocks as real chains do).
 * - Timeouts grow linearly with the round (`init + r·delta`), as the paper (and CometBFT) do.
 * Additions the paper leaves to its gossip layer: votes are relayed once when first accepted (late
 * votes of a past height too, so a double vote signed after a decision still meets both halves);
 * a proposal's header (its signed fields without the block) is relayed once, so an equivocating
 * proposer's two values meet somewhere and become evidence; when a gossip `tick` finds the node stuck (same height, round and step
 * as the tick before) it re-sends its own messages, the proposals it holds and the proofs of lock;
 * and a node answers a message from a lower height with that height's commit certificate, so a
 * lagging or restarted node catches up.
 * These live beside the engine, which calls them: relay.ts (what is relayed, the stuck tick's
 * re-sends), evidence-pool.ts (the equivocation detector and the bounded pool) and catch-up.ts
 * (certificates kept for lagging peers, a certificate's structural check).
 * @module
 */
import { ChainDbError, ErrorCode, assert, toHex } from "../util/index.ts";
import { honest, type Behavior, type BehaviorContext } from "./behavior.ts";
import * as codec from "./codec.ts";
import { CatchUp, CERTIFICATES_MAX, wellFormedCertificate } from "./catch-up.ts";
import { EvidencePool } from "./evidence-pool.ts";
import { FutureBuffer } from "./future.ts";
import {
  DEFAULT_TIMEOUTS,
  Step,
  VoteType,
  type CommitCertificate,
  type ConsensusEvent,
  type Effect,
  type Evidence,
  type Message,
  type Proposal,
  type Timeout,
  type TimeoutConfig,
  type Vote,
  type WalRecord,
} from "./types.ts";
import { ProposerSchedule, type ValidatorSet } from "./validators.ts";
import { relayAdmitted, resendWhenStuck, StuckDetector } from "./relay.ts";
import { PROPOSALS_PER_ROUND_MAX, RoundState, VOTES_PER_VALIDATOR_MAX, idKey } from "./votes.ts";
import { EVIDENCE_AGE_MAX } from "../selection/index.ts";

/** Options of {@link TendermintEngine}. */
export interface EngineOptions {
  readonly chainId: string;
  readonly validators: ValidatorSet;
  /** This node's keys; null for an observer that follows but never signs. */
  readonly key: { readonly publicKey: Uint8Array; readonly secretKey: Uint8Array } | null;
  /** The paper's getValue(): the value this node proposes at `height` when it has no validValue. */
  readonly buildValue: (height: number, round: number) => Uint8Array;
  /** First height to decide; default 1. */
  readonly height?: number;
  readonly timeouts?: TimeoutConfig;
  /** How own messages go out; default {@link honest}. */
  readonly behavior?: Behavior;
  readonly verifier?: codec.Verifier;
  /** Number of peers the driver addresses (for behaviours); default the validator count. */
  readonly peers?: number;
  /**
   * Wait between a decision and round 0 of the next height (CometBFT's timeout_commit); default 0,
   * as in the paper. Announced as a `schedule` effect whose timeout has round -1.
   */
  readonly newHeightDelayMs?: number;
  /**
   * The validator set of a height, when it changes over time (proof of stake); default `validators`
   * at every height. The set of h + 1 must be known once h − 1 is decided (CometBFT applies a change
   * made in block H from height H + 2).
   */
  readonly validatorsAt?: (height: number) => ValidatorSet;
  /**
   * Relay each vote once when first accepted (default true): the paper's gossip, which spreads both
   * halves of a split double vote, at O(n³) deliveries per height on a full mesh. Off, votes travel
   * only from their signers (O(n²)) and stuck ticks re-send them.
   */
  readonly relayVotes?: boolean;
  /** Proposer of (height, round), as a validator index; default CometBFT's schedule for the set. */
  readonly proposer?: (height: number, round: number) => number;
  /**
   * Evidence of heights this far below the current one is judged (against `validatorsAt`, which
   * must answer for them); older evidence is dropped unread. Default the selection layer's
   * `EVIDENCE_AGE_MAX`, the age a block may still include.
   */
  readonly evidenceHeights?: number;
}

/** Sizes of the engine's bounded collections (for tests and simulations that check the bounds). */
export interface EngineStats {
  /** Messages of higher heights held for later. */
  readonly futureMessages: number;
  /** Of those, commit certificates. */
  readonly futureCertificates: number;
  /** Rounds of the current height with state. */
  readonly rounds: number;
  readonly seen: number;
  readonly detector: number;
  readonly evidence: number;
  readonly certificates: number;
  /** Proposer computations (elections of the default schedule, O(n) each) so far. */
  readonly elections: number;
}

/** How many heights ahead are buffered. */
export const FUTURE_HEIGHTS = 2;
/**
 * Rounds above the engine's own round (at its height; above round 0 at a higher height, above the
 * deciding round at a lower one) whose messages are taken. CometBFT bounds the rounds it looks
 * ahead the same way (peerCatchupRounds). Beyond it, each validator may hold votes in one more
 * round of the current height (its catch-up round), enough for the round skip (line 55) when the
 * others are far ahead; proposals beyond it are dropped before their proposer is computed.
 */
export const ROUND_WINDOW = 8;
/** Rounds tracked per height (a byzantine validator can sign one message per round). */
const ROUNDS_MAX = 4096;
/** Bound of the rule loop of one event: each firing changes the step, round or height. */
const RULE_FIRINGS_MAX = 1000;
/** Old heights whose messages are still checked for equivocation. */
const PAST_HEIGHTS = 4;
/** Bound of the duplicate filter. */
const SEEN_MAX = 1 << 16;

/** A Tendermint validator (or observer) as a state machine: events in, effects out. */
export class TendermintEngine {
  /** h_p */
  height: number;
  /** round_p */
  round = 0;
  /** step_p */
  step = Step.Propose;
  lockedValue: Proposal | null = null;
  lockedRound = -1;
  validValue: Proposal | null = null;
  validRound = -1;

  private readonly opts: EngineOptions;
  private readonly timeouts: TimeoutConfig;
  private readonly behavior: Behavior;
  private readonly verify: codec.Verifier;
  private readonly proposerOf: (height: number, round: number) => number;
  private rounds = new Map<number, RoundState>();
  private validity = new Map<string, boolean | null>();
  /** Signatures already admitted, with their height (duplicates are dropped before verification). */
  private seen = new Map<string, number>();
  /** Own signed messages of the current height by `${round}/${type}` (the sign-state guard). */
  private signed = new Map<string, Proposal | Vote>();
  private readonly future = new FutureBuffer();
  /** Per validator index: the one round above the window it may send votes in (current height). */
  private catchUpRounds = new Map<number, number>();
  private readonly schedules = new Map<ValidatorSet, ProposerSchedule>();
  /** The equivocation detector and the evidence pool (evidence-pool.ts). */
  private readonly pool: EvidencePool;
  /** Certificates of decided heights for lagging peers (catch-up.ts). */
  private readonly catchUp = new CatchUp();
  private readonly stuck = new StuckDetector();
  /**
   * A verified commit certificate of the current height whose precommits the round's tally could
   * not hold (see {@link certify}); line 49 decides on it once its value is judged valid.
   */
  private certified: CommitCertificate | null = null;
  private prevoteTimeoutRound = -1;
  private precommitTimeoutRound = -1;
  private polkaRound = -1;
  private out: Effect[] = [];
  private started = false;
  /** Between a decision and round 0 of the next height, when `newHeightDelayMs` > 0. */
  private waiting = false;
  private lastState = "";

  constructor(options: EngineOptions) {
    this.opts = options;
    this.height = options.height ?? 1;
    this.timeouts = options.timeouts ?? DEFAULT_TIMEOUTS;
    this.behavior = options.behavior ?? honest;
    this.verify = options.verifier ?? codec.verifyEd25519;
    this.pool = new EvidencePool({
      chainId: options.chainId,
      verify: this.verify,
      setAt: (h) => this.setAt(h),
    });
    // One schedule per set object (a changed set restarts the rotation; CometBFT carries priorities over).
    const schedules = this.schedules;
    const scheduleOf = (set: ValidatorSet) => {
      let schedule = schedules.get(set);
      if (schedule === undefined) {
        if (schedules.size >= 16) schedules.clear();
        schedules.set(set, (schedule = new ProposerSchedule(set)));
      }
      return schedule;
    };
    this.proposerOf = options.proposer ?? ((h, r) => scheduleOf(this.setAt(h)).proposer(h, r));
    if (options.key !== null && options.validatorsAt === undefined && this.self < 0)
      throw new ChainDbError(ErrorCode.NOT_VALIDATOR, "the key is not in the validator set");
  }

  /** The validator set of the current height. */
  get validators(): ValidatorSet {
    return this.setAt(this.height);
  }

  /** This node's index in the current height's set; -1 when it does not validate at this height. */
  get self(): number {
    return this.opts.key === null ? -1 : this.validators.indexOf(this.opts.key.publicKey);
  }

  /** The validator set of `height`. */
  setAt(height: number): ValidatorSet {
    return this.opts.validatorsAt?.(height) ?? this.opts.validators;
  }

  /** Evidence this node has collected (verified), oldest first. */
  evidence(): Evidence[] {
    return this.pool.evidence();
  }

  /**
   * True if the pool holds its share of evidence against `address`: EVIDENCE_MAX split evenly over
   * the current set, so evidence against one validator (whose key can sign offences at any round)
   * never crowds out evidence against another. One offence is enough to slash.
   */
  evidenceQuotaReached(address: Uint8Array): boolean {
    return this.pool.quotaReached(address, this.validators.size);
  }

  /** Sizes of the bounded collections, and the proposer computations so far. */
  stats(): EngineStats {
    let elections = 0;
    for (const s of this.schedules.values()) elections += s.elections;
    return {
      futureMessages: this.future.size,
      futureCertificates: this.future.certificates,
      rounds: this.rounds.size,
      seen: this.seen.size,
      detector: this.pool.detectorSize,
      evidence: this.pool.size,
      certificates: this.catchUp.size,
      elections,
    };
  }

  /** The certificate of a decided height, if still kept. */
  certificate(height: number): CommitCertificate | undefined {
    return this.catchUp.certificate(height);
  }

  /** Starts round 0 of the first height (the paper's `upon start do StartRound(0)`). */
  start(): Effect[] {
    assert(!this.started, "engine started twice");
    this.started = true;
    this.enterPropose(this.height, 0);
    return this.finish();
  }

  /** Handles one event and returns the effects to carry out, in order. */
  handle(event: ConsensusEvent): Effect[] {
    assert(this.started, "engine not started");
    const height = this.height;
    switch (event.kind) {
      case "message":
        this.onMessage(event.from, event.message, true);
        break;
      case "timeout":
        this.onTimeout(event.timeout);
        break;
      case "validity":
        this.onValidity(event.valueId, event.valid);
        break;
      case "tick":
        this.onTick();
        break;
    }
    assert(this.height >= height, "height went backwards");
    return this.finish();
  }

  /** A one-line summary of the state (diagnostics for failed simulations). */
  describe(): string {
    const rounds = [...this.rounds.entries()]
      .sort((a, b) => a[0] - b[0])
      .slice(-4)
      .map(([r, rs]) => {
        const p =
          rs.proposal === null
            ? "-"
            : `${idKey(rs.proposal.valueId).slice(0, 6)}(vr${rs.proposal.validRound},${this.validity.get(idKey(rs.proposal.valueId))})`;
        const tally = (t: typeof rs.prevotes) =>
          [...t.entries()].map(([k, w]) => `${k.slice(0, 6)}:${w}`).join(" ");
        return `r${r}{p=${p} pv=[${tally(rs.prevotes)}] pc=[${tally(rs.precommits)}]}`;
      });
    const lock = this.lockedValue === null ? "-" : idKey(this.lockedValue.valueId).slice(0, 6);
    return `h${this.height} r${this.round} s${this.step} lock=${lock}@${this.lockedRound} valid@${this.validRound} ${rounds.join(" ")}`;
  }

  /** The proposer (validator index) of (height, round). */
  proposer(height: number, round: number): number {
    return this.proposerOf(height, round);
  }

  // ------------------------------------------------------------------ steps (lines 11-21, 49-54)

  /**
   * StartRound(round), lines 11-21: triggered by start, by a decision (round 0 of the next height),
   * by the end of the wait for the next height, by timeoutPrecommit (line 65: round+1), by the
   * round skip (line 55) and by a restart in the propose step. Stale input (another height, an
   * earlier round, or this round once past its propose step) is dropped.
   */
  private enterPropose(height: number, round: number): void {
    if (height !== this.height || round < this.round || (round === this.round && this.step !== Step.Propose))
      return;
    assert(round <= codec.ROUND_MAX, "round overflow");
    this.setStep(round, Step.Propose);
    if (this.self >= 0 && this.proposer(this.height, round) === this.self) {
      const reuse = this.validValue !== null;
      const value = reuse ? this.validValue!.value : this.opts.buildValue(this.height, round);
      this.propose(round, value, reuse ? this.validRound : -1);
    } else {
      this.scheduleTimeout(Step.Propose);
    }
    assert(this.step === Step.Propose, "StartRound ends in the propose step");
  }

  /**
   * Broadcast ⟨PREVOTE, h, round, id or nil⟩ and step ← prevote: triggered by a proposal (lines
   * 22-33) and by timeoutPropose (line 57). Dropped unless in the propose step of (height, round).
   */
  private enterPrevote(height: number, round: number, valueId: Uint8Array | null): void {
    if (height !== this.height || round !== this.round || this.step !== Step.Propose) return;
    this.vote(VoteType.Prevote, valueId);
    this.setStep(round, Step.Prevote);
  }

  /**
   * Broadcast ⟨PRECOMMIT, h, round, id or nil⟩ and step ← precommit: triggered by a polka for a
   * value (line 36, after locking), a nil polka (line 44) and timeoutPrevote (line 61). Dropped
   * unless in the prevote step of (height, round).
   */
  private enterPrecommit(height: number, round: number, valueId: Uint8Array | null): void {
    if (height !== this.height || round !== this.round || this.step !== Step.Prevote) return;
    this.vote(VoteType.Precommit, valueId);
    this.setStep(round, Step.Precommit);
  }

  /** The one place round and step change (a restart restores them in `resume`). */
  private setStep(round: number, step: Step): void {
    assert(
      round > this.round || (round === this.round && step >= this.step) || step === Step.Propose,
      "steps only go forward",
    );
    this.round = round;
    this.step = step;
  }

  /** timeoutX(round) = initX + round·deltaX (the paper's and CometBFT's linear growth). */
  private timeoutMs(step: Step, round: number): number {
    const t = this.timeouts;
    if (step === Step.Propose) return t.proposeMs + round * t.proposeDeltaMs;
    return step === Step.Prevote
      ? t.prevoteMs + round * t.prevoteDeltaMs
      : t.precommitMs + round * t.precommitDeltaMs;
  }

  /** Schedules the timeout guarding `step` of the current round. */
  private scheduleTimeout(step: Step): void {
    this.out.push({
      kind: "schedule",
      timeout: { step, height: this.height, round: this.round },
      delayMs: this.timeoutMs(step, this.round),
    });
  }

  private propose(round: number, value: Uint8Array, validRound: number): void {
    let proposal = this.signed.get(`${round}/0`) as Proposal | undefined;
    // Guard: after a restart the proposer re-sends what it signed, never a different value.
    if (proposal === undefined) {
      proposal = codec.signProposal(this.opts.chainId, this.opts.key!.secretKey, this.opts.key!.publicKey, {
        height: this.height,
        round,
        validRound,
        value,
      });
      this.signed.set(`${round}/0`, proposal);
      this.persistState(true);
      this.out.push({ kind: "persist", record: { type: "message", message: proposal }, sync: true });
    }
    this.validity.set(idKey(proposal.valueId), true); // the paper assumes getValue() is valid
    this.admitOwn(proposal);
    this.acceptProposal(proposal, this.self);
    this.out.push(...this.behavior.propose(this.context(), proposal));
  }

  private vote(type: VoteType, valueId: Uint8Array | null): void {
    if (this.self < 0) return;
    const key = `${this.round}/${type}`;
    let vote = this.signed.get(key) as Vote | undefined;
    // Guard: a vote already signed for this height/round/type is re-sent as it was.
    if (vote === undefined) {
      vote = codec.signVote(this.opts.chainId, this.opts.key!.secretKey, this.opts.key!.publicKey, {
        type,
        height: this.height,
        round: this.round,
        valueId,
      });
      this.signed.set(key, vote);
      this.persistState(true);
      this.out.push({ kind: "persist", record: { type: "message", message: vote }, sync: true });
      this.admitOwn(vote);
      this.acceptVote(vote, this.self);
    }
    this.out.push(...this.behavior.vote(this.context(), vote));
  }

  private admitOwn(m: Proposal | Vote): void {
    this.seen.set(toHex(m.signature), m.height);
    this.detect(m);
  }

  private context(): BehaviorContext {
    const key = this.opts.key!;
    const chainId = this.opts.chainId;
    return {
      chainId,
      self: this.self,
      validators: this.validators,
      peers: this.opts.peers ?? this.validators.size,
      signProposal: (f) => codec.signProposal(chainId, key.secretKey, key.publicKey, f),
      signVote: (f) => codec.signVote(chainId, key.secretKey, key.publicKey, f),
      proposalAt: (r) => this.rounds.get(r)?.proposal ?? null,
    };
  }

  // ------------------------------------------------------------------ rules (lines 22-56)

  /** Fires the upon-rules until none applies (each firing changes height, round or step). */
  private applyRules(): void {
    // A decision may start the wait for the next height: no rule fires until round 0 starts.
    for (let i = 0; i < RULE_FIRINGS_MAX; i++) if (this.waiting || !this.fireOne()) return;
    assert(false, "rule loop did not settle");
  }

  /** One pass over the upon-rules in the order the engine has always tried them; true if one fired. */
  private fireOne(): boolean {
    if (this.rule49Decide()) return true;
    if (this.rule55RoundSkip()) return true;
    const rs = this.roundState(this.round);
    if (this.step === Step.Propose && (this.rule22FreshProposal(rs) || this.rule28ReProposal(rs)))
      return true;
    this.rule34PrevoteQuorum(rs);
    if (this.step >= Step.Prevote && this.rule36Polka(rs)) return true;
    if (this.rule44NilPolka(rs)) return true;
    this.rule47PrecommitQuorum(rs);
    return false;
  }

  /** The round's proposal with the application's answer, or null while it is missing or pending. */
  private judgedProposal(rs: RoundState): { p: Proposal; valid: boolean } | null {
    const p = rs.proposal;
    if (p === null) return null;
    const valid = this.validity.get(idKey(p.valueId));
    return valid === undefined || valid === null ? null : { p, valid };
  }

  /** Line 22: upon ⟨PROPOSAL, h, round, v, -1⟩ while step = propose: prevote v if valid and not locked on another value. */
  private rule22FreshProposal(rs: RoundState): boolean {
    const judged = this.judgedProposal(rs);
    if (judged === null || judged.p.validRound !== -1) return false;
    const { p, valid } = judged;
    const ok = valid && (this.lockedRound === -1 || sameId(this.lockedValue, p.valueId));
    this.enterPrevote(this.height, this.round, ok ? p.valueId : null);
    return true;
  }

  /**
   * Line 28: upon ⟨PROPOSAL, h, round, v, vr⟩ and 2f+1 ⟨PREVOTE, h, vr, id(v)⟩ while step =
   * propose and 0 ≤ vr < round: prevote v if valid and lockedRound ≤ vr or locked on v.
   */
  private rule28ReProposal(rs: RoundState): boolean {
    const judged = this.judgedProposal(rs);
    if (judged === null || judged.p.validRound === -1) return false;
    const { p, valid } = judged;
    if (p.validRound >= this.round) return false;
    const polka = this.rounds.get(p.validRound)?.prevotes.powerFor(p.valueId) ?? 0;
    if (!this.validators.isQuorum(polka)) return false;
    const ok = valid && (this.lockedRound <= p.validRound || sameId(this.lockedValue, p.valueId));
    this.enterPrevote(this.height, this.round, ok ? p.valueId : null);
    return true;
  }

  /** Line 34: upon 2f+1 ⟨PREVOTE, h, round, *⟩ while step = prevote for the first time: schedule timeoutPrevote. */
  private rule34PrevoteQuorum(rs: RoundState): void {
    if (
      this.step !== Step.Prevote ||
      this.prevoteTimeoutRound === this.round ||
      !this.validators.isQuorum(rs.prevotes.totalPower)
    )
      return;
    this.prevoteTimeoutRound = this.round;
    this.scheduleTimeout(Step.Prevote);
  }

  /**
   * Line 36: upon a valid ⟨PROPOSAL, h, round, v, *⟩ and 2f+1 ⟨PREVOTE, h, round, id(v)⟩ while
   * step ≥ prevote for the first time: in the prevote step lock on v and precommit it; either way
   * v becomes the valid value.
   */
  private rule36Polka(rs: RoundState): boolean {
    if (this.polkaRound === this.round) return false;
    const p = rs.proposals.find(
      (q) =>
        this.validity.get(idKey(q.valueId)) === true &&
        this.validators.isQuorum(rs.prevotes.powerFor(q.valueId)),
    );
    if (p === undefined) return false;
    this.polkaRound = this.round;
    if (this.step === Step.Prevote) {
      this.lockedValue = p;
      this.lockedRound = this.round;
      this.enterPrecommit(this.height, this.round, p.valueId);
    }
    this.validValue = p;
    this.validRound = this.round;
    return true;
  }

  /** Line 44: upon 2f+1 ⟨PREVOTE, h, round, nil⟩ while step = prevote: precommit nil. */
  private rule44NilPolka(rs: RoundState): boolean {
    if (this.step !== Step.Prevote || !this.validators.isQuorum(rs.prevotes.powerFor(null))) return false;
    this.enterPrecommit(this.height, this.round, null);
    return true;
  }

  /** Line 47: upon 2f+1 ⟨PRECOMMIT, h, round, *⟩ for the first time: schedule timeoutPrecommit. */
  private rule47PrecommitQuorum(rs: RoundState): void {
    if (this.precommitTimeoutRound === this.round || !this.validators.isQuorum(rs.precommits.totalPower))
      return;
    this.precommitTimeoutRound = this.round;
    this.scheduleTimeout(Step.Precommit);
  }

  /** Line 49: upon a valid ⟨PROPOSAL, h, r, v, *⟩ and 2f+1 ⟨PRECOMMIT, h, r, id(v)⟩ of any round r: decide. */
  private rule49Decide(): boolean {
    const c = this.certified;
    if (c !== null && this.validity.get(idKey(c.proposal.valueId)) === true) {
      this.enterCommit(this.height, c.proposal, [...c.precommits]);
      return true;
    }
    for (const rs of this.rounds.values()) {
      for (const p of rs.proposals) {
        if (this.validity.get(idKey(p.valueId)) !== true) continue;
        if (!this.validators.isQuorum(rs.precommits.powerFor(p.valueId))) continue;
        this.enterCommit(this.height, p, rs.precommits.votesFor(p.valueId));
        return true;
      }
    }
    return false;
  }

  /** Line 55: upon f+1 messages (by power) of a round above round_p: StartRound(that round). */
  private rule55RoundSkip(): boolean {
    let target = -1;
    for (const [round, rs] of this.rounds)
      if (round > this.round && round > target && this.validators.isOneThird(rs.senderPower)) target = round;
    if (target < 0) return false;
    this.enterPropose(this.height, target);
    return true;
  }

  /** Lines 49-54: record the decision, then StartRound(0) of the next height (after the wait, if any). */
  private enterCommit(height: number, proposal: Proposal, precommits: Vote[]): void {
    assert(height === this.height, "a decision for another height");
    const certificate: CommitCertificate = { kind: "commit", proposal, precommits };
    this.out.push({ kind: "persist", record: { type: "decide", height, certificate }, sync: true });
    this.out.push({ kind: "decide", height, value: proposal.value, certificate });
    this.catchUp.keep(height, certificate);
    this.height = height + 1;
    this.round = 0;
    this.step = Step.Propose; // a new height: round and step start over
    this.lockedValue = this.validValue = null;
    this.lockedRound = this.validRound = -1;
    this.rounds = new Map();
    this.validity = new Map();
    this.prune();
    this.signed = new Map();
    this.prevoteTimeoutRound = this.precommitTimeoutRound = this.polkaRound = -1;
    this.catchUpRounds = new Map();
    this.certified = null;
    if ((this.opts.newHeightDelayMs ?? 0) > 0) {
      // CometBFT's timeout_commit (opt-in; the paper starts at once): the next height waits, and
      // records what arrives for it meanwhile.
      this.waiting = true;
      this.out.push({
        kind: "schedule",
        timeout: { step: Step.Propose, height: this.height, round: -1 },
        delayMs: this.opts.newHeightDelayMs!,
      });
      this.drainFuture();
      return;
    }
    this.enterPropose(this.height, 0);
    this.drainFuture();
  }

  // ------------------------------------------------------------------ timeouts (lines 57-67)

  private onTimeout(t: Timeout): void {
    if (t.round === -1) {
      if (t.height !== this.height || !this.waiting) return;
      this.waiting = false;
      this.enterPropose(this.height, 0);
      return;
    }
    if (this.waiting || t.height !== this.height || t.round !== this.round) return; // stale
    if (t.step === Step.Propose)
      this.enterPrevote(t.height, t.round, null); // line 57 (dropped past the propose step)
    else if (t.step === Step.Prevote)
      this.enterPrecommit(t.height, t.round, null); // line 61 (dropped past the prevote step)
    else this.enterPropose(t.height, t.round + 1); // line 65
  }

  private onValidity(valueId: Uint8Array, valid: boolean): void {
    const key = idKey(valueId);
    if (this.validity.get(key) === null) this.validity.set(key, valid);
  }

  // ------------------------------------------------------------------ messages

  private onMessage(from: number, m: Message, relay: boolean): void {
    switch (m.kind) {
      case "proposal":
      case "vote": {
        if (m.kind === "proposal" && codec.isProposalHeader(m)) return this.onProposalHeader(m);
        // A message from a lower height: first help its sender catch up (no trust needed: the
        // certificate proves itself), then still check it for equivocation.
        if (m.height < this.height) this.onPastMessage(from, m);
        const index = this.admit(m);
        if (index < 0) return;
        // A proposal's header is relayed once, at any height in the window (a node that moved on
        // may hold the only copy of one half of an equivocation).
        if (relay && m.kind === "proposal") this.out.push(relayAdmitted(m, true)!);
        // A late vote of a past height is still relayed once (it was new here): a validator that
        // signs two votes after the others decided reaches each half of the set with one of them,
        // and only relaying lets someone hold both and make evidence.
        if (m.height < this.height) {
          if (relay && m.kind === "vote") this.relay(m);
          return;
        }
        if (m.height > this.height) return this.buffer(m, index);
        // While waiting for the next height's round 0 the messages are recorded; rules fire after.
        return m.kind === "proposal" ? this.onProposal(m, index) : this.onVote(m, index, relay);
      }
      case "commit":
        return this.onCertificate(from, m);
      case "evidence":
        return this.onEvidence(m);
    }
  }

  /**
   * A commit certificate: of the current height, its proposal and precommits are admitted like any
   * other; of a higher height (in the window), it is kept in the sender's slot. Before either, the
   * cheap checks: a proposal from a validator, at most one precommit per validator of the set, all
   * for the proposal's height, round and value — so one certificate costs at most a set's worth of
   * signature checks, and extras are refused before any is verified.
   */
  private onCertificate(from: number, c: CommitCertificate): void {
    const h = c.proposal.height;
    if (h < this.height || h > this.height + FUTURE_HEIGHTS || !wellFormedCertificate(c, this.setAt(h)))
      return;
    if (h > this.height) return void (from >= 0 && this.future.addCertificate(h, from, c));
    this.onMessage(from, c.proposal, false);
    for (const v of c.precommits) this.onMessage(from, v, false);
    this.certify(c);
  }

  /**
   * A certificate of the current height the tally still lacks a quorum for: the tally keeps at most
   * VOTES_PER_VALIDATOR_MAX values per validator and round, so an equivocator (whose keys a hostile
   * peer may hold) can fill its slots with other values before its precommit in the certificate
   * arrives, and that precommit is then dropped as a duplicate on every later copy — a lagging node
   * would never count the quorum that decided. A certificate is proof on its own: with its
   * signatures checked (at most a set's worth, and only while no decision is made) and a quorum of
   * power, it is kept whole (one per height) for line 49.
   */
  private certify(c: CommitCertificate): void {
    const p = c.proposal;
    const set = this.validators;
    const counted = this.rounds.get(p.round)?.precommits.powerFor(p.valueId) ?? 0;
    if (this.certified !== null || set.isQuorum(counted)) return;
    let power = 0;
    for (const v of c.precommits) power += set.power(set.indexOf(v.validator));
    if (!set.isQuorum(power)) return;
    const proposer = set.indexOf(p.proposer);
    if (!this.fromProposer(p, proposer) || !codec.verifyProposal(this.opts.chainId, p, this.verify)) return;
    if (!c.precommits.every((v) => codec.verifyVote(this.opts.chainId, v, this.verify))) return;
    this.certified = c;
    const key = idKey(p.valueId);
    if (!this.validity.has(key)) {
      this.validity.set(key, null);
      this.out.push({ kind: "validate", height: p.height, valueId: p.valueId, value: p.value });
    }
  }

  /**
   * Admission of a proposal or vote of any height in the window, cheapest checks first: duplicate,
   * height and round window, signer in the set, signature, and last (for a proposal) whether the
   * signer is the proposer of its round. A second message from the same signer for the same
   * height, round and type with another value becomes evidence. Returns the signer's index, or -1
   * when the message is dropped.
   */
  private admit(m: Proposal | Vote): number {
    const sig = toHex(m.signature);
    if (this.seen.has(sig)) return -1;
    const index = this.admissible(m);
    if (index < 0) return -1;
    if (m.kind === "vote" && m.height === this.height && m.round > this.roundLimit(m.height))
      this.catchUpRounds.set(index, m.round);
    if (this.seen.size >= SEEN_MAX) this.seen.clear(); // a bound; only costs re-verification
    this.seen.set(sig, m.height);
    this.detect(m);
    return index;
  }

  /**
   * The checks of admission that have no side effect, cheapest first: height and round window,
   * signer in the set, signature, and last (for a proposal) whether the signer is the proposer of
   * its round. Returns the signer's index, or -1. (Public so a simulation can tell which messages
   * the engine takes in, e.g. which equivocations it must turn into evidence.)
   */
  admissible(m: Proposal | Vote): number {
    if (!this.inWindow(m)) return -1;
    const index = this.setAt(m.height).indexOf(m.kind === "proposal" ? m.proposer : m.validator);
    if (index < 0 || !this.roundAllowed(m, index)) return -1;
    if (m.kind === "proposal") {
      // A header carries no value: its signature is all there is to check.
      const header = codec.isProposalHeader(m);
      if (
        !(header
          ? codec.verifyProposalSignature(this.opts.chainId, m, this.verify)
          : codec.verifyProposal(this.opts.chainId, m, this.verify))
      )
        return -1;
      if (!this.fromProposer(m, index)) return -1;
    } else if (!codec.verifyVote(this.opts.chainId, m, this.verify)) return -1;
    return index;
  }

  /**
   * True if `m` is of a height the engine keeps and of a round it may look at: heights from
   * PAST_HEIGHTS below to FUTURE_HEIGHTS above, rounds up to the window above the height's round.
   * A vote of the current height beyond the window is the signer's one catch-up round
   * ({@link roundAllowed} checks that once the signer is known).
   */
  inWindow(m: Proposal | Vote): boolean {
    if (m.height < Math.max(1, this.height - PAST_HEIGHTS) || m.height > this.height + FUTURE_HEIGHTS)
      return false;
    if (m.round < 0 || m.round > codec.ROUND_MAX) return false;
    return m.round <= this.roundLimit(m.height) || (m.kind === "vote" && m.height === this.height);
  }

  /** Votes beyond the window: one catch-up round per validator index at the current height. */
  private roundAllowed(m: Proposal | Vote, index: number): boolean {
    if (m.round <= this.roundLimit(m.height)) return true;
    const round = this.catchUpRounds.get(index);
    // A catch-up round the window has since reached frees the validator's slot.
    return (
      m.kind === "vote" &&
      m.height === this.height &&
      (round === undefined || round === m.round || round <= this.roundLimit(m.height))
    );
  }

  /** The highest round of `height` taken without a catch-up round. */
  private roundLimit(height: number): number {
    const base =
      height === this.height
        ? this.round
        : height < this.height
          ? (this.catchUp.certificate(height)?.proposal.round ?? 0)
          : 0;
    return Math.min(codec.ROUND_MAX, base + ROUND_WINDOW);
  }

  /** True if `p` names the proposer of its height and round (validator `index`) and a valid round below its own. */
  private fromProposer(p: Proposal, index: number): boolean {
    return p.validRound >= -1 && p.validRound < p.round && this.proposer(p.height, p.round) === index;
  }

  /**
   * A relayed proposal header: checked (window, signer, signature, proposer) and run through the
   * equivocation detector only; the round's proposal is still the full one, which carries the block.
   */
  private onProposalHeader(h: Proposal): void {
    const key = `header/${toHex(h.signature)}`;
    if (this.seen.has(key) || this.admissible(h) < 0) return;
    if (this.seen.size >= SEEN_MAX) this.seen.clear();
    this.seen.set(key, h.height);
    this.detect(h);
  }

  /**
   * The equivocation detector (evidence-pool.ts): evidence when `m` conflicts with a message
   * already held. The message is used either way: the paper counts every message received (see
   * VoteTally), and a commit may be for an equivocating proposer's second proposal.
   */
  private detect(m: Proposal | Vote): void {
    const evidence = this.pool.detect(m);
    if (evidence !== null) this.addEvidence(evidence, true);
  }

  /**
   * A proposal is not relayed whole (it carries the block: n² copies; stuck ticks re-send it); its
   * header is (see onMessage): an equivocating proposer that sends one value to some validators
   * and another to the rest is then seen by everyone, and the header is evidence enough.
   */
  private onProposal(p: Proposal, index: number): void {
    const rs = this.roundState(p.round, true);
    if (rs === null) return void this.seen.delete(toHex(p.signature)); // unseen: a later copy may fit
    if (rs.proposals.some((q) => sameId(q, p.valueId))) return;
    this.acceptProposal(p, index);
    this.out.push({ kind: "persist", record: { type: "message", message: p }, sync: false });
  }

  private acceptProposal(p: Proposal, index: number): void {
    const rs = this.roundState(p.round, true);
    assert(rs !== null, "round table full for an accepted proposal");
    if (!rs.addProposal(p)) return;
    rs.noteSender(index, this.validators.power(index));
    const key = idKey(p.valueId);
    if (!this.validity.has(key)) {
      this.validity.set(key, null);
      this.out.push({ kind: "validate", height: p.height, valueId: p.valueId, value: p.value });
    }
  }

  private onVote(v: Vote, index: number, relay: boolean): void {
    if (this.roundState(v.round, true) === null) return void this.seen.delete(toHex(v.signature));
    if (!this.acceptVote(v, index)) return;
    this.out.push({ kind: "persist", record: { type: "message", message: v }, sync: false });
    if (relay) this.relay(v);
  }

  /** Relays an admitted vote once (relay.ts), unless vote relaying is off. */
  private relay(v: Vote): void {
    const effect = relayAdmitted(v, this.opts.relayVotes !== false);
    if (effect !== null) this.out.push(effect);
  }

  /** Counts a vote; false if it was already counted. */
  private acceptVote(v: Vote, index: number): boolean {
    const rs = this.roundState(v.round, true);
    assert(rs !== null, "round table full for an accepted vote");
    const tally = v.type === VoteType.Prevote ? rs.prevotes : rs.precommits;
    if (!tally.add(index, this.validators.power(index), v)) return false;
    rs.noteSender(index, this.validators.power(index));
    return true;
  }

  /**
   * A message from a lower height: help the sender catch up with that height's certificate — at
   * most one certificate per peer per tick, whatever heights its messages name.
   */
  private onPastMessage(from: number, m: Proposal | Vote): void {
    const answer = this.catchUp.answer(from, m);
    if (answer !== null) this.out.push(answer);
  }

  /**
   * Keeps an admitted proposal or vote of a higher height in a slot of its signer (see
   * FutureBuffer): as many per round as a round counts (an equivocator's values included, so the
   * tallies match what a node at that height would have counted). A message that finds no slot is
   * forgotten as unseen, so a later copy is admitted.
   */
  private buffer(m: Proposal | Vote, index: number): void {
    const values = m.kind === "proposal" ? PROPOSALS_PER_ROUND_MAX : VOTES_PER_VALIDATOR_MAX;
    const prefix = m.kind === "proposal" ? `p/${m.round}` : `v/${m.round}/${m.type}/${index}`;
    for (let k = 0; k < values; k++)
      if (this.future.add(m.height, `${prefix}/${k}`, { message: m, index })) return;
    this.seen.delete(toHex(m.signature));
  }

  /** On a new height: take the buffered messages of that height (lower heights are forgotten). */
  private drainFuture(): void {
    for (const { message: m } of this.future.take(this.height)) {
      if (m.kind === "commit") this.onCertificate(-1, m);
      else if (m.height === this.height) {
        // Admit again: the set of this height may not have been known when the message arrived.
        this.seen.delete(toHex(m.signature));
        const now = this.admit(m);
        if (now >= 0) m.kind === "proposal" ? this.onProposal(m, now) : this.onVote(m, now, true);
      }
    }
  }

  /**
   * Evidence from a peer: judged against the set of its height only within the evidence window
   * (older heights' sets need not be kept, later ones are not final), and only while its
   * validator has room in the pool.
   */
  private onEvidence(e: Evidence): void {
    const low = Math.max(1, this.height - (this.opts.evidenceHeights ?? EVIDENCE_AGE_MAX));
    // Up to the next height: its set is final (known once the height before this one was decided).
    if (this.pool.judge(e, low, this.height + 1, this.validators.size)) this.addEvidence(e, true);
  }

  private addEvidence(e: Evidence, gossip: boolean): void {
    if (!this.pool.add(e, this.validators.size)) return;
    this.out.push({ kind: "evidence", evidence: e });
    if (gossip) this.out.push({ kind: "broadcast", message: e });
  }

  /** A gossip tick: peers may be answered again; when stuck, re-send (relay.ts). */
  private onTick(): void {
    this.catchUp.tick();
    if (!this.stuck.stuck(this.height, this.round, this.step)) return;
    this.out.push(
      ...resendWhenStuck({
        signed: this.signed,
        rounds: this.rounds,
        round: this.round,
        validValue: this.validValue,
        validRound: this.validRound,
        lastCertificate: this.height > 1 ? this.catchUp.certificate(this.height - 1) : undefined,
        behavior: this.behavior,
        context: () => this.context(),
      }),
    );
  }

  // ------------------------------------------------------------------ bookkeeping

  private roundState(round: number): RoundState;
  private roundState(round: number, create: true): RoundState | null;
  private roundState(round: number, create = false): RoundState | null {
    let rs = this.rounds.get(round);
    if (rs === undefined) {
      if (create && this.rounds.size >= ROUNDS_MAX && round !== this.round) return null;
      rs = new RoundState();
      this.rounds.set(round, rs);
    }
    return rs;
  }

  /** Forgets duplicate-filter and detector entries below the height window. */
  private prune(): void {
    const low = this.height - PAST_HEIGHTS;
    for (const [sig, h] of this.seen) if (h < low) this.seen.delete(sig);
    this.pool.prune(low);
  }

  private stateRecord(): WalRecord {
    return {
      type: "state",
      height: this.height,
      round: this.round,
      step: this.step,
      lockedRound: this.lockedRound,
      lockedId: this.lockedValue?.valueId ?? null,
      validRound: this.validRound,
      validId: this.validValue?.valueId ?? null,
    };
  }

  private persistState(sync: boolean): void {
    const record = this.stateRecord();
    const text = stateText(record);
    if (text === this.lastState && !sync) return;
    this.lastState = text;
    this.out.push({ kind: "persist", record, sync });
  }

  private finish(): Effect[] {
    this.applyRules();
    this.persistState(false);
    assert(this.lockedRound <= this.round, "locked in a future round");
    assert(this.validRound <= this.round, "valid value from a future round");
    const out = this.out;
    this.out = [];
    return out;
  }

  // ------------------------------------------------------------------ restart

  /**
   * Rebuilds an engine from its write-ahead log (records in the order they were persisted) and
   * resumes it: the state of the last decided height + 1, its messages, its lock and valid value,
   * and the sign-state guard (own signed messages), so the node re-sends what it signed before.
   */
  static restore(
    options: EngineOptions,
    records: readonly WalRecord[],
  ): { engine: TendermintEngine; effects: Effect[] } {
    let start = 0;
    let height = options.height ?? 1;
    const decided: Extract<WalRecord, { type: "decide" }>[] = [];
    for (const [i, r] of records.entries())
      if (r.type === "decide" && r.height >= height)
        ((height = r.height + 1), (start = i + 1), decided.push(r));
    const engine = new TendermintEngine({ ...options, height });
    for (const d of decided.slice(-CERTIFICATES_MAX)) engine.catchUp.keep(d.height, d.certificate);
    let state: Extract<WalRecord, { type: "state" }> | null = null;
    for (const r of records.slice(start)) {
      if (r.type === "state" && r.height === height) state = r;
      if (r.type !== "message" || r.message.height !== height) continue;
      engine.replay(r.message);
    }
    engine.started = true;
    if (state !== null) engine.resume(state);
    else engine.enterPropose(engine.height, 0);
    engine.stuck.mark(engine.height, engine.round, engine.step);
    engine.onTick(); // re-send own messages of this height
    return { engine, effects: engine.finish() };
  }

  private replay(m: Proposal | Vote): void {
    const own =
      this.opts.key !== null &&
      toHex(m.kind === "vote" ? m.validator : m.proposer) === toHex(this.opts.key.publicKey);
    if (own) this.signed.set(`${m.round}/${m.kind === "vote" ? m.type : 0}`, m);
    this.seen.set(toHex(m.signature), m.height);
    this.detect(m);
    if (m.kind === "proposal") this.acceptProposal(m, this.proposer(m.height, m.round));
    else {
      const index = this.validators.indexOf(m.validator);
      if (index >= 0) this.acceptVote(m, index);
    }
  }

  private resume(s: Extract<WalRecord, { type: "state" }>): void {
    this.round = s.round;
    this.step = s.step;
    this.lockedRound = s.lockedRound;
    this.validRound = s.validRound;
    this.lockedValue = s.lockedId === null ? null : this.findProposal(s.lockedId);
    this.validValue = s.validId === null ? null : this.findProposal(s.validId);
    // Timeouts did not survive the crash: arm the one of the current step again. In the propose
    // step, StartRound again: a proposer re-sends the proposal its guard holds (or makes one).
    if (this.step === Step.Propose) this.enterPropose(this.height, this.round);
    else this.scheduleTimeout(this.step);
    this.prevoteTimeoutRound = this.step === Step.Prevote ? this.round : -1;
    this.precommitTimeoutRound = this.step === Step.Precommit ? this.round : -1;
  }

  private findProposal(id: Uint8Array): Proposal {
    for (const rs of this.rounds.values()) for (const p of rs.proposals) if (sameId(p, id)) return p;
    throw new ChainDbError(
      ErrorCode.WAL_CORRUPT,
      `the log names a locked or valid value ${toHex(id)} whose proposal it does not hold`,
    );
  }
}

function sameId(p: Proposal | null, id: Uint8Array | null): boolean {
  return p !== null && id !== null && idKey(p.valueId) === idKey(id);
}

function stateText(r: WalRecord): string {
  if (r.type !== "state") return "";
  return `${r.height}/${r.round}/${r.step}/${r.lockedRound}/${idKey(r.lockedId)}/${r.validRound}/${idKey(r.validId)}`;
}
