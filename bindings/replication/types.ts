/**
 * Types of single-primary replication: log entries, wire messages, the events the core takes and
 * the effects it returns (DESIGN.md "Deterministic cores, injected world").
 * @module
 */
import type { NodeId } from "../net/index.ts";

/** A replicated block: the epoch it was created in, who gets its fees, its signed transfers. */
export interface Entry {
  /** Epoch of the primary that created the entry. */
  readonly epoch: number;
  /** 32-byte address credited with the block's fees. */
  readonly proposer: Uint8Array;
  /** Concatenated encoded transfers (157 bytes each); empty for an epoch-start block. */
  readonly transfers: Uint8Array;
}

/** What a node keeps on disk besides the entries. */
export interface DurableMeta {
  /** Highest epoch this node has seen. */
  epoch: number;
  /** Whom this node voted for in `epoch` ("" for nobody). */
  votedFor: NodeId;
  /** A lower bound of the committed height (written lazily; a hint after restart). */
  commit: number;
}

/** Synchronous (k backups durable before the client's ack) or asynchronous (primary durable). */
export type ReplicationMode = "sync" | "async";

/** Settings of one replica; every node of a cluster uses the same values. */
export interface ReplicationConfig {
  /** Every node of the cluster (this one included), in a fixed order. */
  nodes: readonly NodeId[];
  /** Acknowledgement mode. */
  mode: ReplicationMode;
  /** Sync mode: backups that must have a block durable before it is acknowledged (default: a majority with the primary). */
  syncBackups?: number;
  /** Primary heartbeat period (default 50 ms). */
  heartbeatMs?: number;
  /** Base failover timeout; each wait is drawn from [t, 2t) (default 300 ms). */
  electionTimeoutMs?: number;
  /** Time a primary collects transfers into one block (default 10 ms). */
  blockIntervalMs?: number;
  /** Most transfers in one block (default 1000). */
  blockTransfersMax?: number;
  /** Most transfers waiting for a block (default 20,000); beyond it submissions fail with BUSY. */
  pendingMax?: number;
  /** Most entries in one append message (default 64). */
  appendEntriesMax?: number;
  /** Nodes that may become primary (default: all); the others only vote and keep copies. */
  candidates?: readonly NodeId[];
}

/** The config with every default filled in. */
export type ResolvedConfig = Required<ReplicationConfig>;

/** Wire messages between replicas. */
export type ReplicaMessage =
  | { t: "append"; epoch: number; prevHeight: number; prevEpoch: number; entries: Entry[]; commit: number }
  | { t: "appendReply"; epoch: number; ok: boolean; height: number }
  | { t: "vote"; epoch: number; lastHeight: number; lastEpoch: number }
  | { t: "voteReply"; epoch: number; granted: boolean };

/** Role of a replica. */
export type Role = "primary" | "secondary" | "candidate";

/** Events the core takes. */
export type ReplicaEvent =
  | { kind: "start" }
  | { kind: "message"; from: NodeId; message: ReplicaMessage }
  | { kind: "timer"; name: TimerName }
  | { kind: "submit"; requestId: number; transfer: Uint8Array }
  | { kind: "peerUp"; peer: NodeId };

/** Timers the core arms. */
export type TimerName = "heartbeat" | "election" | "block";

/** A change to durable state; the driver makes it durable (fsync) before any later effect. */
export interface PersistEffect {
  kind: "persist";
  meta?: DurableMeta;
  /** Remove entries from this height on (never a committed one). */
  truncateFrom?: number;
  /** Entries to write, at consecutive heights from `from`. */
  append?: { from: number; entries: Entry[] };
}

/** Effects the core returns, executed in order by the driver. */
export type ReplicaEffect =
  | PersistEffect
  | { kind: "send"; to: NodeId; message: ReplicaMessage }
  | { kind: "setTimer"; name: TimerName; ms: number }
  | { kind: "cancelTimer"; name: TimerName }
  | { kind: "apply"; height: number; entry: Entry }
  | { kind: "ack"; requestIds: number[]; height: number; epoch: number }
  | {
      kind: "reject";
      requestIds: number[];
      code: "NOT_PRIMARY" | "BUSY";
      primary: NodeId | undefined;
      message: string;
    }
  | { kind: "committed"; height: number; epoch: number; primary: NodeId };
