/**
 * The two-phase-commit participant as a deterministic state machine (Gray & Reuter 1993, §10.3;
 * presumed abort after Mohan, Lindsay & Obermarck, R*, TODS 1986).
 *
 * On PREPARE it takes the locks and validates through its {@link TwoPcResource} without waiting
 * (no-wait locking: a busy lock is a NO vote, so no distributed deadlock can form), computes the
 * after-images, force-writes PREPARED with them, and only then votes YES. A participant that votes
 * NO aborts alone at once (it has not voted YES, so it may). A prepared participant is in doubt:
 * it never decides alone, it asks the coordinator — and, cooperatively, the other participants —
 * until it learns the outcome. COMMIT applies the after-images, forces COMMITTED, releases the
 * locks and acks; ABORT writes ABORTED lazily (presumed abort) and releases. Recovery re-takes the
 * locks of every PREPARED transaction before anything else runs, then asks again.
 * @module
 */
import { ChainDbError, ErrorCode, assert } from "../../util/index.ts";
import type { MessageValue, NodeId } from "../../net/index.ts";
import {
  writesFromRecord,
  writesToRecord,
  type TwoPcEffect,
  type TwoPcEvent,
  type TwoPcMessage,
  type TwoPcOp,
  type TwoPcWrite,
} from "./types.ts";

/** What a participant prepares against: a bank's accounts under its locks. */
export interface TwoPcResource {
  /**
   * Takes exclusive locks on the ops' accounts without waiting and validates the result; on
   * success returns the after-images (locks held), else a reason (no lock left held).
   */
  tryPrepare(
    tx: string,
    ops: readonly TwoPcOp[],
  ): { ok: true; writes: TwoPcWrite[] } | { ok: false; reason: string };
  /** Re-takes the locks of a transaction found prepared at recovery (nothing else runs yet). */
  restore(tx: string, writes: readonly TwoPcWrite[]): void;
  /** Applies the after-images (idempotent); durable by the time the following forced log write is. */
  apply(tx: string, writes: readonly TwoPcWrite[]): void | Promise<void>;
  /** Releases the transaction's locks. */
  release(tx: string): void;
  /** Number of locks held (tests check it drops to zero). */
  readonly locksHeld: number;
}

/** Options of a {@link Participant}. */
export interface ParticipantOptions {
  /** Nodes allowed to coordinate transactions here. */
  coordinators: readonly NodeId[];
  /** First interval between inquiries of an in-doubt transaction; doubles up to 8× (default 200 ms). */
  inquireMs?: number;
  /** Also ask the other participants (cooperative termination; default true). */
  cooperative?: boolean;
  /** Decided transactions remembered in memory to answer duplicates (default 10 000; the log keeps all). */
  decidedMax?: number;
}

interface Prepared {
  coordinator: NodeId;
  participants: NodeId[];
  writes: TwoPcWrite[];
  inquireMs: number;
}

/** Log key prefix of a participant's transaction records. */
export const PARTICIPANT_PREFIX = "2pc/p/";

/** The participant core. */
export class Participant {
  private readonly prepared = new Map<string, Prepared>();
  private readonly decided = new Map<string, { committed: boolean; participants: readonly NodeId[] }>(); // insertion-ordered, bounded
  private readonly coordinators: ReadonlySet<NodeId>;
  private readonly inquireMs: number;
  private readonly cooperative: boolean;
  private readonly decidedMax: number;

  /** A participant named `self` over `resource`; call {@link recover} first. */
  constructor(
    /** This node's id. */
    readonly self: NodeId,
    private readonly resource: TwoPcResource,
    options: ParticipantOptions,
  ) {
    this.coordinators = new Set(options.coordinators);
    this.inquireMs = options.inquireMs ?? 200;
    this.cooperative = options.cooperative ?? true;
    this.decidedMax = options.decidedMax ?? 10_000;
  }

  /** Rebuilds from the log: re-takes the locks of prepared transactions and asks about them. */
  recover(records: ReadonlyMap<string, MessageValue>): TwoPcEffect[] {
    assert(this.prepared.size === 0, "recover once, on a fresh core");
    const effects: TwoPcEffect[] = [];
    for (const [key, value] of records) {
      if (!key.startsWith(PARTICIPANT_PREFIX)) continue;
      const tx = key.slice(PARTICIPANT_PREFIX.length);
      const r = value as Record<string, MessageValue>;
      if ((r?.state === "committed" || r?.state === "aborted") && Array.isArray(r.participants))
        this.remember(tx, r.state === "committed", r.participants as NodeId[]);
      else if (
        r?.state === "prepared" &&
        typeof r.coordinator === "string" &&
        Array.isArray(r.participants)
      ) {
        const p: Prepared = {
          coordinator: r.coordinator,
          participants: r.participants as NodeId[],
          writes: writesFromRecord(r.writes),
          inquireMs: this.inquireMs,
        };
        this.prepared.set(tx, p);
        effects.push(
          { kind: "restore", tx, writes: p.writes },
          { kind: "timer", timer: "inquire", tx, delayMs: 0 },
        );
      } else throw new ChainDbError(ErrorCode.STORE_CORRUPT, `2PC log: bad participant record ${key}`);
    }
    return effects;
  }

  /** Ids of transactions prepared here and not yet decided (in doubt). */
  get inDoubt(): string[] {
    return [...this.prepared.keys()];
  }

  /** The outcome known here for `tx`: true committed, false aborted, undefined unknown or in doubt. */
  outcome(tx: string): boolean | undefined {
    return this.decided.get(tx)?.committed;
  }

  /** Handles one event. Throws `PEER_UNKNOWN` / `BAD_MESSAGE` (state untouched) for bad input. */
  handle(event: TwoPcEvent): TwoPcEffect[] {
    if (event.kind === "timeout") return event.timer === "inquire" ? this.inquire(event.tx) : [];
    const { from, message } = event;
    const p = this.prepared.get(message.tx);
    const knownPeer = this.coordinators.has(from) || (p !== undefined && p.participants.includes(from));
    switch (message.type) {
      case "prepare":
        if (!this.coordinators.has(from))
          throw new ChainDbError(ErrorCode.PEER_UNKNOWN, `2PC: ${from} may not coordinate here`);
        if (!message.participants.includes(this.self))
          throw new ChainDbError(
            ErrorCode.BAD_MESSAGE,
            `2PC: ${this.self} is not a participant of ${message.tx}`,
          );
        return this.onPrepare(from, message);
      case "commit":
      case "abort":
        if (!knownPeer)
          throw new ChainDbError(ErrorCode.PEER_UNKNOWN, `2PC: ${from} may not decide ${message.tx}`);
        return this.onDecision(from, message.tx, message.type === "commit");
      case "inquiry": {
        // Cooperative termination: answer only with a decision we know; "don't know" is silence.
        const known = this.decided.get(message.tx);
        if (known === undefined) return [];
        if (!known.participants.includes(from) && !this.coordinators.has(from))
          throw new ChainDbError(ErrorCode.PEER_UNKNOWN, `2PC: ${from} is not a member of ${message.tx}`);
        return [
          { kind: "send", to: from, message: { type: known.committed ? "commit" : "abort", tx: message.tx } },
        ];
      }
      default:
        return [];
    }
  }

  private onPrepare(from: NodeId, m: Extract<TwoPcMessage, { type: "prepare" }>): TwoPcEffect[] {
    const { tx } = m;
    if (this.prepared.has(tx)) return [{ kind: "send", to: from, message: { type: "vote", tx, yes: true } }];
    const known = this.decided.get(tx)?.committed;
    if (known !== undefined)
      return known ? [] : [{ kind: "send", to: from, message: { type: "vote", tx, yes: false } }];
    const verdict = this.resource.tryPrepare(tx, m.ops);
    if (!verdict.ok) {
      // Unilateral abort (we never voted yes), forced: we may tell in-doubt peers "abort", so a
      // duplicate PREPARE after a crash must not find us willing to vote yes.
      this.remember(tx, false, m.participants);
      return [
        {
          kind: "force",
          key: PARTICIPANT_PREFIX + tx,
          record: { state: "aborted", participants: m.participants },
        },
        { kind: "outcome", tx, committed: false },
        { kind: "send", to: from, message: { type: "vote", tx, yes: false } },
      ];
    }
    const p: Prepared = {
      coordinator: from,
      participants: [...m.participants],
      writes: verdict.writes,
      inquireMs: this.inquireMs,
    };
    this.prepared.set(tx, p);
    return [
      {
        kind: "force",
        key: PARTICIPANT_PREFIX + tx,
        record: {
          state: "prepared",
          coordinator: from,
          participants: p.participants,
          writes: writesToRecord(p.writes),
        },
      },
      { kind: "send", to: from, message: { type: "vote", tx, yes: true } },
      { kind: "timer", timer: "inquire", tx, delayMs: this.inquireMs * 4 },
    ];
  }

  private onDecision(from: NodeId, tx: string, commit: boolean): TwoPcEffect[] {
    const p = this.prepared.get(tx);
    if (p === undefined) {
      const known = this.decided.get(tx)?.committed;
      if (known !== undefined && known !== commit)
        throw new ChainDbError(
          ErrorCode.BAD_MESSAGE,
          `2PC: ${from} says ${commit ? "commit" : "abort"} for ${tx}, decided otherwise here`,
        );
      // Committed and forgotten, or never prepared: an ack costs nothing and ends the re-sends.
      return commit ? [{ kind: "send", to: from, message: { type: "ack", tx } }] : [];
    }
    this.prepared.delete(tx);
    this.remember(tx, commit, p.participants);
    if (!commit) {
      return [
        {
          kind: "write",
          key: PARTICIPANT_PREFIX + tx,
          record: { state: "aborted", participants: p.participants },
        },
        { kind: "release", tx },
        { kind: "outcome", tx, committed: false },
      ];
    }
    // Locks stay held until COMMITTED is durable: a crash before it replays the same after-images.
    return [
      { kind: "apply", tx, writes: p.writes },
      {
        kind: "force",
        key: PARTICIPANT_PREFIX + tx,
        record: { state: "committed", participants: p.participants },
      },
      { kind: "release", tx },
      { kind: "outcome", tx, committed: true },
      { kind: "send", to: p.coordinator, message: { type: "ack", tx } },
    ];
  }

  private inquire(tx: string): TwoPcEffect[] {
    const p = this.prepared.get(tx);
    if (p === undefined) return [];
    const targets = this.cooperative
      ? [p.coordinator, ...p.participants.filter((q) => q !== this.self && q !== p.coordinator)]
      : [p.coordinator];
    p.inquireMs = Math.min(p.inquireMs * 2, this.inquireMs * 8);
    return [
      ...targets.map((to): TwoPcEffect => ({ kind: "send", to, message: { type: "inquiry", tx } })),
      { kind: "timer", timer: "inquire", tx, delayMs: p.inquireMs },
    ];
  }

  private remember(tx: string, committed: boolean, participants: readonly NodeId[]): void {
    this.decided.delete(tx);
    this.decided.set(tx, { committed, participants });
    if (this.decided.size > this.decidedMax) this.decided.delete(this.decided.keys().next().value!);
    assert(this.decided.size <= this.decidedMax, "decided bound");
  }
}
