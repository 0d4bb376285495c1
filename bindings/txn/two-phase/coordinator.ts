/**
 * The two-phase-commit coordinator as a deterministic state machine (Gray & Reuter 1993, §10.3),
 * presumed abort (Mohan, Lindsay & Obermarck, R*, TODS 1986): nothing is logged before the
 * decision; a COMMIT decision is force-written before any COMMIT leaves; an ABORT is never
 * logged, and a transaction the coordinator has no record of is answered "abort". The END
 * record (here: deleting the COMMIT record) is written lazily once every participant acked.
 *
 * Transaction ids carry a durable epoch bumped at every start, so an id never names two
 * transactions across crashes (an id once presumed aborted stays aborted).
 * @module
 */
import { ChainDbError, ErrorCode, assert } from "../../util/index.ts";
import type { MessageValue, NodeId } from "../../net/index.ts";
import {
  TWO_PC_PARTICIPANTS_MAX,
  type TwoPcEffect,
  type TwoPcEvent,
  type TwoPcMessage,
  type TwoPcOp,
} from "./types.ts";

/** Timing of a {@link Coordinator}. */
export interface CoordinatorOptions {
  /** Abort a transaction whose votes are not all in after this long (default 2000 ms). */
  voteTimeoutMs?: number;
  /** First re-send interval of PREPARE / COMMIT; doubles up to 8× (default 100 ms). */
  retryMs?: number;
  /** Most transactions in flight (default 10 000). */
  inFlightMax?: number;
}

type Phase = "collecting" | "committing";
interface CoordTx {
  phase: Phase;
  participants: NodeId[];
  ops: Map<NodeId, readonly TwoPcOp[]>;
  votes: Set<NodeId>;
  acks: Set<NodeId>;
  retryMs: number;
}

/** Log key of the coordinator's epoch. */
export const COORDINATOR_EPOCH_KEY = "2pc/c/epoch";
const COMMIT_PREFIX = "2pc/c/commit/";

/** The coordinator core: `begin` a transaction, feed it events, execute the effects in order. */
export class Coordinator {
  private readonly txs = new Map<string, CoordTx>();
  private epoch = 0;
  private seq = 0;
  private readonly voteTimeoutMs: number;
  private readonly retryMs: number;
  private readonly inFlightMax: number;

  /** A coordinator named `self`; call {@link recover} before anything else. */
  constructor(
    /** This node's id. */
    readonly self: NodeId,
    options: CoordinatorOptions = {},
  ) {
    this.voteTimeoutMs = options.voteTimeoutMs ?? 2000;
    this.retryMs = options.retryMs ?? 100;
    this.inFlightMax = options.inFlightMax ?? 10_000;
  }

  /**
   * Rebuilds from the durable log (`records`: key → record): bumps and forces the epoch, and
   * re-drives every logged COMMIT that has no END yet (undecided transactions were never logged:
   * presumed abort answers them).
   */
  recover(records: ReadonlyMap<string, MessageValue>): TwoPcEffect[] {
    assert(this.txs.size === 0, "recover once, on a fresh core");
    const stored = records.get(COORDINATOR_EPOCH_KEY);
    this.epoch = (typeof stored === "number" ? stored : 0) + 1;
    const effects: TwoPcEffect[] = [{ kind: "force", key: COORDINATOR_EPOCH_KEY, record: this.epoch }];
    for (const [key, record] of records) {
      if (!key.startsWith(COMMIT_PREFIX)) continue;
      const tx = key.slice(COMMIT_PREFIX.length);
      const participants = (record as { participants?: unknown })?.participants;
      if (!Array.isArray(participants))
        throw new ChainDbError(ErrorCode.STORE_CORRUPT, `2PC log: bad commit record ${key}`);
      const state: CoordTx = {
        phase: "committing",
        participants: participants as NodeId[],
        ops: new Map(),
        votes: new Set(participants as NodeId[]),
        acks: new Set(),
        retryMs: this.retryMs,
      };
      this.txs.set(tx, state);
      effects.push(...this.sendAll(state, { type: "commit", tx }), {
        kind: "timer",
        timer: "retry",
        tx,
        delayMs: state.retryMs,
      });
    }
    return effects;
  }

  /** Transactions in flight (collecting votes or waiting for acks). */
  get inFlight(): number {
    return this.txs.size;
  }

  /** Ids of transactions decided COMMIT whose acks are not all in (recovery re-drives these). */
  get committing(): string[] {
    return [...this.txs].filter(([, s]) => s.phase === "committing").map(([tx]) => tx);
  }

  /** Starts a transaction with `ops` per participant; returns its id and the effects (PREPAREs). */
  begin(plan: ReadonlyMap<NodeId, readonly TwoPcOp[]>): { tx: string; effects: TwoPcEffect[] } {
    assert(this.epoch > 0, "begin after recover");
    if (plan.size === 0 || plan.size > TWO_PC_PARTICIPANTS_MAX)
      throw new ChainDbError(
        ErrorCode.BAD_ARGUMENT,
        `a transaction needs 1..${TWO_PC_PARTICIPANTS_MAX} participants, got ${plan.size}`,
      );
    if (this.txs.size >= this.inFlightMax)
      throw new ChainDbError(ErrorCode.BUSY, `coordinator has ${this.txs.size} transactions in flight`);
    const tx = `${this.self}.${this.epoch}.${++this.seq}`;
    const participants = [...plan.keys()];
    const state: CoordTx = {
      phase: "collecting",
      participants,
      ops: new Map(plan),
      votes: new Set(),
      acks: new Set(),
      retryMs: this.retryMs,
    };
    this.txs.set(tx, state);
    const effects: TwoPcEffect[] = participants.map((p) => ({
      kind: "send",
      to: p,
      message: { type: "prepare", tx, participants, ops: plan.get(p)! },
    }));
    effects.push(
      { kind: "timer", timer: "retry", tx, delayMs: this.retryMs },
      { kind: "timer", timer: "deadline", tx, delayMs: this.voteTimeoutMs },
    );
    return { tx, effects };
  }

  /** Handles one event. Throws `PEER_UNKNOWN` (state untouched) for a message from a non-member. */
  handle(event: TwoPcEvent): TwoPcEffect[] {
    const sizeBefore = this.txs.size;
    const effects =
      event.kind === "timeout"
        ? this.onTimeout(event.timer, event.tx)
        : this.onMessage(event.from, event.message);
    assert(this.txs.size <= sizeBefore, "events never start transactions");
    assert(this.txs.size <= this.inFlightMax, "in-flight bound");
    return effects;
  }

  private onMessage(from: NodeId, message: TwoPcMessage): TwoPcEffect[] {
    if (!this.issued(message.tx))
      throw new ChainDbError(
        ErrorCode.BAD_MESSAGE,
        `2PC: ${message.tx} is not a transaction of ${this.self}`,
      );
    const state = this.txs.get(message.tx);
    if (state !== undefined && !state.participants.includes(from)) {
      throw new ChainDbError(ErrorCode.PEER_UNKNOWN, `2PC: ${from} is not a participant of ${message.tx}`);
    }
    switch (message.type) {
      case "vote":
        if (state === undefined)
          return message.yes ? [{ kind: "send", to: from, message: { type: "abort", tx: message.tx } }] : []; // presumed abort
        if (state.phase !== "collecting") return [];
        if (!message.yes) return this.decideAbort(message.tx, state);
        state.votes.add(from);
        return state.votes.size === state.participants.length ? this.decideCommit(message.tx, state) : [];
      case "ack":
        if (state === undefined || state.phase !== "committing") return [];
        state.acks.add(from);
        if (state.acks.size < state.participants.length) return [];
        this.txs.delete(message.tx);
        return [{ kind: "write", key: COMMIT_PREFIX + message.tx, record: undefined }]; // END, lazily
      case "inquiry":
        if (state === undefined)
          return [{ kind: "send", to: from, message: { type: "abort", tx: message.tx } }];
        return state.phase === "committing"
          ? [{ kind: "send", to: from, message: { type: "commit", tx: message.tx } }]
          : [];
      default:
        return []; // prepare/commit/abort are not for a coordinator: ignored
    }
  }

  // Ids have the form self.epoch.seq: one never issued (a later epoch, a later seq) is bad input.
  private issued(tx: string): boolean {
    const prefix = `${this.self}.`;
    if (!tx.startsWith(prefix)) return false;
    const m = /^(\d{1,15})\.(\d{1,15})$/.exec(tx.slice(prefix.length));
    if (m === null) return false;
    const [epoch, seq] = [Number(m[1]), Number(m[2])];
    return epoch >= 1 && seq >= 1 && (epoch < this.epoch || (epoch === this.epoch && seq <= this.seq));
  }

  private decideCommit(tx: string, state: CoordTx): TwoPcEffect[] {
    assert(state.phase === "collecting", "decide once");
    assert(state.votes.size === state.participants.length, "commit only with every vote yes");
    state.phase = "committing";
    state.retryMs = this.retryMs;
    return [
      { kind: "force", key: COMMIT_PREFIX + tx, record: { participants: state.participants } },
      { kind: "outcome", tx, committed: true },
      ...this.sendAll(state, { type: "commit", tx }),
    ];
  }

  private decideAbort(tx: string, state: CoordTx): TwoPcEffect[] {
    assert(state.phase === "collecting", "abort only undecided transactions");
    this.txs.delete(tx);
    return [{ kind: "outcome", tx, committed: false }, ...this.sendAll(state, { type: "abort", tx })];
  }

  private onTimeout(timer: string, tx: string): TwoPcEffect[] {
    const state = this.txs.get(tx);
    if (state === undefined) return [];
    if (timer === "deadline") return state.phase === "collecting" ? this.decideAbort(tx, state) : [];
    if (timer !== "retry") return [];
    state.retryMs = Math.min(state.retryMs * 2, this.retryMs * 8);
    const effects: TwoPcEffect[] =
      state.phase === "collecting"
        ? state.participants
            .filter((p) => !state.votes.has(p))
            .map((p) => ({
              kind: "send",
              to: p,
              message: { type: "prepare", tx, participants: state.participants, ops: state.ops.get(p)! },
            }))
        : state.participants
            .filter((p) => !state.acks.has(p))
            .map((p) => ({ kind: "send", to: p, message: { type: "commit", tx } }));
    effects.push({ kind: "timer", timer: "retry", tx, delayMs: state.retryMs });
    return effects;
  }

  private sendAll(state: CoordTx, message: TwoPcMessage): TwoPcEffect[] {
    return state.participants.map((p) => ({ kind: "send", to: p, message }));
  }
}
