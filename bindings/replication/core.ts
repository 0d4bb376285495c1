/**
 * The single-primary replication core: a deterministic state machine (events in, effects out)
 * after Viewstamped Replication Revisited (Liskov & Cowling 2012) and Raft (Ongaro & Ousterhout
 * 2014, §5): epochs are VR's views / Raft's terms.
 *
 * - The primary orders client transfers into blocks (entries), writes each durably, ships it to
 *   the secondaries and counts their durable acknowledgements. A block is committed when a
 *   majority has it durable and it belongs to the primary's epoch (Raft §5.4.2: earlier entries
 *   commit with it; hence the empty epoch-start block a new primary writes). Only committed blocks
 *   reach the ledger, so the ledger never rolls back; only an uncommitted log tail is ever cut.
 * - Clients: sync mode acknowledges a block once it is committed and `syncBackups` backups have it
 *   durable; async mode once the primary has it durable (such a block may be lost by a failover).
 * - Failover: a secondary that hears no primary for a randomized timeout starts an election in a
 *   higher epoch; a node grants one vote per epoch, only to a candidate whose log is at least as
 *   up to date (last epoch, then height), so the most up-to-date reachable backup wins.
 * - Fencing: every message carries its epoch; anything from an older epoch is refused with the
 *   newer epoch, which makes a deposed primary step down. A primary that cannot hear a majority
 *   within the failover timeout steps down by itself, so it stops accepting writes.
 * @module
 */
import { assert } from "../util/index.ts";
import type { NodeId, Random } from "../net/index.ts";
import type {
  DurableMeta,
  Entry,
  PersistEffect,
  ReplicaEffect,
  ReplicaEvent,
  ReplicaMessage,
  ReplicationConfig,
  ResolvedConfig,
  Role,
  TimerName,
} from "./types.ts";

/** Fills in the defaults of a config and checks it. */
export function resolveConfig(config: ReplicationConfig): ResolvedConfig {
  const n = config.nodes.length;
  assert(n >= 1 && new Set(config.nodes).size === n, "nodes are distinct and not empty");
  const majority = Math.floor(n / 2) + 1;
  const resolved: ResolvedConfig = {
    nodes: [...config.nodes],
    mode: config.mode,
    syncBackups: config.syncBackups ?? majority - 1,
    heartbeatMs: config.heartbeatMs ?? 50,
    electionTimeoutMs: config.electionTimeoutMs ?? 300,
    blockIntervalMs: config.blockIntervalMs ?? 10,
    blockTransfersMax: config.blockTransfersMax ?? 1000,
    pendingMax: config.pendingMax ?? 20_000,
    appendEntriesMax: config.appendEntriesMax ?? 64,
    candidates: [...(config.candidates ?? config.nodes)],
  };
  assert(
    resolved.mode === "sync" || resolved.mode === "async",
    `mode is sync or async, got ${String(resolved.mode)}`,
  );
  assert(resolved.syncBackups >= 0 && resolved.syncBackups <= n - 1, `syncBackups in [0, ${n - 1}]`);
  assert(
    resolved.heartbeatMs * 2 <= resolved.electionTimeoutMs,
    "a failover timeout spans at least two heartbeats",
  );
  return resolved;
}

const TRANSFER_SIZE = 157;

/** What a replica starts from: its durable state and how far its ledger got. */
export interface CoreStart {
  meta: DurableMeta;
  entries: readonly Entry[];
  /** Height of the ledger (blocks already applied; 0 for a fresh in-memory ledger). */
  applied: number;
}

/** One replica's protocol state. */
export class ReplicaCore {
  /** Current role. */
  role: Role = "secondary";
  /** The primary this node follows (itself when primary), if known. */
  primary: NodeId | undefined;
  /** Highest committed height known here. */
  commit: number;
  /** Height handed to the ledger so far. */
  applied: number;
  private epoch: number;
  private votedFor: NodeId;
  private readonly log: Entry[];
  private readonly peers: NodeId[];
  private readonly majority: number;
  // primary state
  private readonly next = new Map<NodeId, number>();
  private readonly match = new Map<NodeId, number>();
  private readonly lastHeard = new Map<NodeId, number>();
  private pending: { requestId: number; transfer: Uint8Array }[] = [];
  private readonly waiting = new Map<number, number[]>();
  // candidate state
  private readonly votes = new Set<NodeId>();
  private out: ReplicaEffect[] = [];

  /** A core for node `self`. */
  constructor(
    /** This node. */
    readonly self: NodeId,
    /** 32-byte address credited with the fees of blocks this node creates. */
    private readonly proposer: Uint8Array,
    /** The cluster settings. */
    readonly config: ResolvedConfig,
    start: CoreStart,
    private readonly random: Random,
    private readonly now: () => number,
  ) {
    assert(config.nodes.includes(self), "self is a cluster node");
    assert(proposer.length === 32, "proposer is 32 bytes");
    this.peers = config.nodes.filter((id) => id !== self);
    this.majority = Math.floor(config.nodes.length / 2) + 1;
    this.epoch = start.meta.epoch;
    this.votedFor = start.meta.votedFor;
    this.log = [...start.entries];
    this.applied = start.applied;
    assert(this.applied <= this.log.length, "the ledger is not ahead of the log");
    this.commit = Math.min(this.log.length, Math.max(start.meta.commit, start.applied));
  }

  /** Current epoch. */
  get currentEpoch(): number {
    return this.epoch;
  }

  /** Height of the last log entry. */
  get lastHeight(): number {
    return this.log.length;
  }

  /** The entry at `height` (1-based), if present. */
  entry(height: number): Entry | undefined {
    return this.log[height - 1];
  }

  /** Takes one event and returns the effects to execute, in order. */
  handle(event: ReplicaEvent): ReplicaEffect[] {
    assert(this.out.length === 0, "handle is not re-entered");
    this.checkInvariants();
    switch (event.kind) {
      case "start":
        this.applyCommitted();
        this.setTimer("election", this.electionDelay());
        break;
      case "message":
        this.onMessage(event.from, event.message);
        break;
      case "timer":
        this.onTimer(event.name);
        break;
      case "submit":
        this.onSubmit(event.requestId, event.transfer);
        break;
      case "peerUp":
        if (this.role === "primary" && this.peers.includes(event.peer)) this.sendAppend(event.peer);
        break;
    }
    this.checkInvariants();
    const effects = this.out;
    this.out = [];
    return effects;
  }

  private onMessage(from: NodeId, m: ReplicaMessage): void {
    if (!this.peers.includes(from)) return; // not a member: ignore
    if (m.epoch > this.epoch) this.stepDown(m.epoch);
    switch (m.t) {
      case "append":
        return this.onAppend(from, m);
      case "appendReply":
        return this.onAppendReply(from, m);
      case "vote":
        return this.onVote(from, m);
      case "voteReply":
        return this.onVoteReply(from, m);
    }
  }

  private onTimer(name: TimerName): void {
    if (name === "election" && !this.config.candidates.includes(this.self))
      return this.setTimer("election", this.electionDelay());
    if (name === "election" && this.role !== "primary") return this.startElection();
    if (name === "block" && this.role === "primary") return this.cutBlock();
    if (name === "heartbeat" && this.role === "primary") {
      const heard = this.peers.filter(
        (p) => this.now() - (this.lastHeard.get(p) ?? -Infinity) <= this.config.electionTimeoutMs,
      ).length;
      if (heard + 1 < this.majority) return this.stepDown(this.epoch); // cut off from a majority
      for (const p of this.peers) this.sendAppend(p);
      this.setTimer("heartbeat", this.config.heartbeatMs);
    }
  }

  private onSubmit(requestId: number, transfer: Uint8Array): void {
    if (this.role !== "primary") {
      return this.reject([requestId], "NOT_PRIMARY", "this node is not the primary");
    }
    assert(transfer.length === TRANSFER_SIZE, "the driver checked the transfer's size");
    if (this.pending.length >= this.config.pendingMax)
      return this.reject([requestId], "BUSY", "too many transfers waiting for a block");
    this.pending.push({ requestId, transfer });
    if (this.pending.length >= this.config.blockTransfersMax) this.cutBlock();
    else if (this.pending.length === 1) this.setTimer("block", this.config.blockIntervalMs);
  }

  private cutBlock(): void {
    assert(this.role === "primary", "only a primary cuts blocks");
    const batch = this.pending.splice(0, this.config.blockTransfersMax);
    if (batch.length === 0) return;
    const transfers = new Uint8Array(batch.length * TRANSFER_SIZE);
    batch.forEach((b, i) => transfers.set(b.transfer, i * TRANSFER_SIZE));
    this.appendOwn(
      { epoch: this.epoch, proposer: this.proposer, transfers },
      batch.map((b) => b.requestId),
    );
    if (this.pending.length > 0) this.setTimer("block", this.config.blockIntervalMs);
  }

  private appendOwn(entry: Entry, requestIds: number[]): void {
    this.log.push(entry);
    const height = this.log.length;
    this.persist({ append: { from: height, entries: [entry] } });
    if (this.config.mode === "async" && requestIds.length > 0) {
      // Durable on the primary once the persist effect above has run, which precedes this ack.
      this.out.push({ kind: "ack", requestIds, height, epoch: this.epoch });
    } else if (requestIds.length > 0) {
      this.waiting.set(height, requestIds);
    }
    for (const p of this.peers) if ((this.next.get(p) ?? 1) === height) this.sendAppend(p);
    this.advanceCommit();
  }

  private sendAppend(peer: NodeId): void {
    const next = Math.max(1, Math.min(this.next.get(peer) ?? 1, this.log.length + 1));
    const prevHeight = next - 1;
    const entries = this.log.slice(prevHeight, prevHeight + this.config.appendEntriesMax);
    const prevEpoch = prevHeight === 0 ? 0 : this.log[prevHeight - 1]!.epoch;
    this.send(peer, { t: "append", epoch: this.epoch, prevHeight, prevEpoch, entries, commit: this.commit });
    // Optimistic: later sends continue after these; a gap is reported back and resent.
    this.next.set(peer, next + entries.length);
  }

  private onAppend(from: NodeId, m: Extract<ReplicaMessage, { t: "append" }>): void {
    if (m.epoch < this.epoch) {
      return this.send(from, { t: "appendReply", epoch: this.epoch, ok: false, height: this.log.length }); // fenced
    }
    assert(this.role !== "primary", `two primaries in epoch ${this.epoch}: ${this.self} and ${from}`);
    if (this.role === "candidate") this.stepDown(m.epoch);
    this.primary = from;
    this.setTimer("election", this.electionDelay());
    const prevOk =
      m.prevHeight <= this.log.length &&
      (m.prevHeight === 0 || this.log[m.prevHeight - 1]!.epoch === m.prevEpoch);
    if (!prevOk) {
      return this.send(from, {
        t: "appendReply",
        epoch: this.epoch,
        ok: false,
        height: Math.min(this.log.length, m.prevHeight - 1),
      });
    }
    let truncateFrom: number | undefined;
    let appendFrom: number | undefined;
    m.entries.forEach((entry, i) => {
      const height = m.prevHeight + 1 + i;
      if (appendFrom === undefined && height <= this.log.length) {
        if (this.log[height - 1]!.epoch === entry.epoch) return; // have it (log matching)
        assert(height > this.commit, `a committed block (height ${height}) is never replaced`);
        truncateFrom = height;
        this.log.length = height - 1;
      }
      appendFrom ??= height;
      this.log.push(entry);
    });
    if (appendFrom !== undefined || truncateFrom !== undefined) {
      this.persist({
        ...(truncateFrom !== undefined ? { truncateFrom } : {}),
        ...(appendFrom !== undefined
          ? { append: { from: appendFrom, entries: this.log.slice(appendFrom - 1) } }
          : {}),
      });
    }
    const matched = m.prevHeight + m.entries.length;
    const commit = Math.min(m.commit, matched);
    if (commit > this.commit) {
      this.commit = commit;
      this.applyCommitted();
    }
    this.send(from, { t: "appendReply", epoch: this.epoch, ok: true, height: matched });
  }

  private onAppendReply(from: NodeId, m: Extract<ReplicaMessage, { t: "appendReply" }>): void {
    if (this.role !== "primary" || m.epoch < this.epoch) return;
    assert(m.epoch === this.epoch, "newer epochs were handled on entry");
    this.lastHeard.set(from, this.now());
    const match = this.match.get(from) ?? 0;
    if (m.ok) {
      assert(m.height <= this.log.length, "a secondary never matches beyond the primary's log");
      this.match.set(from, Math.max(match, m.height));
      this.next.set(from, Math.max(this.next.get(from) ?? 1, m.height + 1));
      this.advanceCommit();
      if ((this.next.get(from) ?? 1) <= this.log.length) this.sendAppend(from);
    } else {
      this.next.set(from, Math.max(match + 1, Math.min((this.next.get(from) ?? 1) - 1, m.height + 1)));
      this.sendAppend(from);
    }
  }

  private advanceCommit(): void {
    assert(this.role === "primary", "only a primary counts acknowledgements");
    for (let h = this.log.length; h > this.commit; h--) {
      if (this.log[h - 1]!.epoch !== this.epoch) break; // Raft §5.4.2: count only own-epoch blocks
      const copies = 1 + this.peers.filter((p) => (this.match.get(p) ?? 0) >= h).length;
      if (copies < this.majority) continue;
      this.commit = h;
      this.out.push({ kind: "committed", height: h, epoch: this.epoch, primary: this.self });
      this.applyCommitted();
      break;
    }
    this.ackCommitted();
  }

  private ackCommitted(): void {
    if (this.config.mode !== "sync") return;
    for (const [height, requestIds] of this.waiting) {
      const backups = this.peers.filter((p) => (this.match.get(p) ?? 0) >= height).length;
      if (height > this.commit || backups < this.config.syncBackups) continue;
      this.waiting.delete(height);
      this.out.push({ kind: "ack", requestIds, height, epoch: this.epoch });
    }
  }

  private applyCommitted(): void {
    // Bounded by the log length; each block reaches the ledger once, in order.
    while (this.applied < this.commit) {
      this.applied++;
      this.out.push({ kind: "apply", height: this.applied, entry: this.log[this.applied - 1]! });
    }
  }

  private onVote(from: NodeId, m: Extract<ReplicaMessage, { t: "vote" }>): void {
    const lastEpoch = this.log.at(-1)?.epoch ?? 0;
    const upToDate =
      m.lastEpoch > lastEpoch || (m.lastEpoch === lastEpoch && m.lastHeight >= this.log.length);
    const granted = m.epoch === this.epoch && (this.votedFor === "" || this.votedFor === from) && upToDate;
    if (granted && this.votedFor !== from) {
      this.votedFor = from;
      this.persistMeta();
    }
    if (granted) this.setTimer("election", this.electionDelay());
    this.send(from, { t: "voteReply", epoch: this.epoch, granted });
  }

  private onVoteReply(from: NodeId, m: Extract<ReplicaMessage, { t: "voteReply" }>): void {
    if (this.role !== "candidate" || m.epoch !== this.epoch || !m.granted) return;
    this.votes.add(from);
    if (this.votes.size >= this.majority) this.becomePrimary();
  }

  private startElection(): void {
    this.stepDown(this.epoch + 1);
    this.role = "candidate";
    this.votedFor = this.self;
    this.votes.clear();
    this.votes.add(this.self);
    this.persistMeta();
    const lastEpoch = this.log.at(-1)?.epoch ?? 0;
    for (const p of this.peers)
      this.send(p, { t: "vote", epoch: this.epoch, lastHeight: this.log.length, lastEpoch });
    this.setTimer("election", this.electionDelay());
    if (this.votes.size >= this.majority) this.becomePrimary();
  }

  private becomePrimary(): void {
    assert(this.role === "candidate", "only a candidate is promoted");
    assert(this.votedFor === this.self, "a primary voted for itself");
    this.role = "primary";
    this.primary = this.self;
    for (const p of this.peers) {
      this.next.set(p, this.log.length + 1);
      this.match.set(p, 0);
      this.lastHeard.set(p, this.now()); // a grace period before the quorum check
    }
    this.out.push({ kind: "cancelTimer", name: "election" });
    this.appendOwn({ epoch: this.epoch, proposer: this.proposer, transfers: new Uint8Array(0) }, []);
    this.setTimer("heartbeat", this.config.heartbeatMs);
  }

  /** Moves to `epoch` (if newer) as a secondary, giving up any primary or candidate role. */
  private stepDown(epoch: number): void {
    assert(epoch >= this.epoch, "epochs never go back");
    if (epoch > this.epoch) {
      this.epoch = epoch;
      this.votedFor = "";
      this.primary = undefined;
      this.persistMeta();
    }
    if (this.role === "primary") {
      const unacked = [...this.waiting.values()].flat().concat(this.pending.map((p) => p.requestId));
      this.waiting.clear();
      this.pending = [];
      if (unacked.length > 0)
        this.reject(
          unacked,
          "NOT_PRIMARY",
          "lost the primary role before the commit was acknowledged; the outcome is unknown",
        );
      this.out.push({ kind: "cancelTimer", name: "heartbeat" }, { kind: "cancelTimer", name: "block" });
      this.primary = undefined;
    }
    if (this.role !== "secondary") this.setTimer("election", this.electionDelay());
    this.role = "secondary";
  }

  private reject(requestIds: number[], code: "NOT_PRIMARY" | "BUSY", message: string): void {
    this.out.push({
      kind: "reject",
      requestIds,
      code,
      primary: this.role === "primary" ? undefined : this.primary,
      message,
    });
  }

  private send(to: NodeId, message: ReplicaMessage): void {
    this.out.push({ kind: "send", to, message });
  }

  private setTimer(name: TimerName, ms: number): void {
    this.out.push({ kind: "setTimer", name, ms });
  }

  private persistMeta(): void {
    this.persist({});
  }

  private persist(change: Omit<PersistEffect, "kind" | "meta">): void {
    this.out.push({
      kind: "persist",
      meta: { epoch: this.epoch, votedFor: this.votedFor, commit: this.commit },
      ...change,
    });
  }

  private electionDelay(): number {
    return this.config.electionTimeoutMs * (1 + this.random.float());
  }

  private checkInvariants(): void {
    assert(this.applied <= this.commit, "the ledger never runs ahead of the commit");
    assert(this.commit <= this.log.length, "commit within the log");
    assert(this.role !== "primary" || this.primary === this.self, "a primary knows it is primary");
    assert(
      this.role === "secondary" || this.votedFor === this.self,
      "a candidate or primary voted for itself",
    );
    assert((this.log.at(-1)?.epoch ?? 0) <= this.epoch, "no entry from a future epoch");
  }
}
