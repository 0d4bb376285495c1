/**
 * The network boundary every distributed protocol of chaindb talks through ("deterministic
 * cores, injected world", DESIGN.md): a {@link Transport} moves opaque byte messages between
 * known nodes and reports peers coming and going; a {@link Clock} arms timers. The same protocol
 * code runs on the in-process `SimNetwork` (seeded faults, virtual time) and on `TcpTransport`.
 *
 * Delivery contract (the weakest of both implementations, which protocols must tolerate):
 * messages may be lost, duplicated, reordered or delayed; a message is delivered whole or not at
 * all; `send` never blocks and never throws for a peer that is down — it returns false.
 * @module
 */

/** A node's name within a cluster (e.g. "n0"); stable across restarts. */
export type NodeId = string;

/** What a transport reports to its owner. Called synchronously, one call at a time. */
export interface TransportHandler {
  /** A whole message from `from`. `payload` is owned by the receiver. */
  onMessage(from: NodeId, payload: Uint8Array): void;
  /** `peer` became reachable (connected and authenticated). */
  onPeerUp?(peer: NodeId): void;
  /** `peer` became unreachable; messages queued for it were dropped. */
  onPeerDown?(peer: NodeId): void;
}

/** Sends and receives messages between the nodes of a known set. */
export interface Transport {
  /** This node's id. */
  readonly self: NodeId;
  /** Every other node of the configured set, reachable or not, in a fixed order. */
  readonly peerIds: readonly NodeId[];
  /** True when `peer` is currently reachable. */
  isConnected(peer: NodeId): boolean;
  /**
   * Queues `payload` for `to`. Returns false (and drops it) when the peer is unreachable, this
   * transport is closed, or the peer's bounded send queue is full (backpressure).
   */
  send(to: NodeId, payload: Uint8Array): boolean;
  /** Sends `payload` to every reachable peer; returns how many accepted it. */
  broadcast(payload: Uint8Array): number;
  /** Installs the handler (replacing any previous one). Messages before this are dropped. */
  setHandler(handler: TransportHandler): void;
  /** Stops: closes connections, drops queues; further sends return false. */
  close(): Promise<void>;
}

/** One-shot timers and a monotonic time, injected so simulations run in virtual time. */
export interface Clock {
  /** Current time in milliseconds (any fixed origin). */
  now(): number;
  /** Calls `fn` once after `delayMs`; returns a function that cancels the timer. */
  setTimer(delayMs: number, fn: () => void): () => void;
}

/** Real time: `performance.now()` and `setTimeout`. */
export const systemClock: Clock = {
  now: () => performance.now(),
  setTimer(delayMs, fn) {
    const timer = setTimeout(fn, Math.max(0, delayMs));
    return () => clearTimeout(timer);
  },
};
