/**
 * A per-peer budget: two token buckets (messages per second and bytes per second, each holding at
 * most one second's worth, or one largest frame for bytes) refilled from an injected clock. A
 * frame over budget is dropped; a peer that goes on sending after `dropsBeforeDisconnect` drops
 * within one second is disconnected ("a misbehaving peer loses its budget, then its connection",
 * DESIGN.md). Application-level limits (sync requests) sit above this, in the node.
 * @module
 */
import { aint } from "../util/index.ts";

/** Limits of {@link PeerBudget}. */
export interface PeerBudgetOptions {
  /** Messages a peer may send per second (default 20,000). */
  messagesPerSecond?: number;
  /** Bytes a peer may send per second (default 128 MiB: about 800 blocks of 1,000 transfers). */
  bytesPerSecond?: number;
  /** Dropped messages within one second that make the peer lose its connection (default 1,000). */
  dropsBeforeDisconnect?: number;
}

/** The verdict on one incoming frame. */
export const BudgetVerdict = { Accept: 0, Drop: 1, Disconnect: 2 } as const;
/** One of {@link BudgetVerdict}. */
export type BudgetVerdict = (typeof BudgetVerdict)[keyof typeof BudgetVerdict];

/** Resolved limits. */
export interface PeerBudgetLimits {
  readonly messagesPerSecond: number;
  readonly bytesPerSecond: number;
  readonly dropsBeforeDisconnect: number;
}

/** Checks and fills in budget options. */
export function budgetLimits(options: PeerBudgetOptions = {}): PeerBudgetLimits {
  return {
    messagesPerSecond: aint(options.messagesPerSecond ?? 20_000, 1, 2 ** 31, "messagesPerSecond"),
    bytesPerSecond: aint(options.bytesPerSecond ?? 128 * 1024 * 1024, 1, 2 ** 40, "bytesPerSecond"),
    dropsBeforeDisconnect: aint(options.dropsBeforeDisconnect ?? 1000, 1, 2 ** 31, "dropsBeforeDisconnect"),
  };
}

/** A token bucket's level after `elapsedMs` of refill at `perSecond`, capped at `capacity`. */
function refilled(tokens: number, capacity: number, perSecond: number, elapsedMs: number): number {
  return Math.min(capacity, tokens + (Math.max(0, elapsedMs) / 1000) * perSecond);
}

/** One peer's budget. */
export class PeerBudget {
  private messages: number;
  private bytes: number;
  private readonly bytesCapacity: number;
  private refilledAt: number;
  private dropWindowStart: number;
  private dropsInWindow = 0;
  /** Frames dropped so far. */
  dropped = 0;

  /** A full budget at time `now` (ms); one frame of `frameMax` bytes always fits a full bucket. */
  constructor(
    private readonly limits: PeerBudgetLimits,
    frameMax: number,
    now: number,
  ) {
    this.bytesCapacity = Math.max(limits.bytesPerSecond, frameMax);
    this.messages = limits.messagesPerSecond;
    this.bytes = this.bytesCapacity;
    this.refilledAt = now;
    this.dropWindowStart = now;
  }

  /** Charges one frame of `size` bytes arriving at `now`. */
  charge(size: number, now: number): BudgetVerdict {
    const elapsed = now - this.refilledAt;
    this.refilledAt = Math.max(this.refilledAt, now);
    const { messagesPerSecond, bytesPerSecond } = this.limits;
    this.messages = refilled(this.messages, messagesPerSecond, messagesPerSecond, elapsed);
    this.bytes = refilled(this.bytes, this.bytesCapacity, bytesPerSecond, elapsed);
    if (this.messages >= 1 && this.bytes >= size) {
      this.messages -= 1;
      this.bytes -= size;
      return BudgetVerdict.Accept;
    }
    this.dropped++;
    if (now - this.dropWindowStart >= 1000) {
      this.dropWindowStart = now;
      this.dropsInWindow = 0;
    }
    this.dropsInWindow++;
    return this.dropsInWindow > this.limits.dropsBeforeDisconnect
      ? BudgetVerdict.Disconnect
      : BudgetVerdict.Drop;
  }
}

/** Remote addresses whose connect rate is tracked at once; the least recently seen goes first. */
export const CONNECT_RATE_ADDRESSES_MAX = 4096;

/**
 * New inbound connections per remote address: a token bucket of `perSecond` (holding at most one
 * second's worth) refilled from an injected clock. Each accepted connection costs the node an
 * X25519 key exchange and an ed25519 signature before it knows who is calling; this bounds that
 * work per address (the pending-handshake bound caps it per moment, not per second). At most
 * {@link CONNECT_RATE_ADDRESSES_MAX} addresses are tracked: an attacker with more addresses only
 * resets buckets, it never grows the map.
 */
export class ConnectRate {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(private readonly perSecond: number) {}

  /** True if a connection from `address` at `now` (ms) may start its handshake. */
  allow(address: string, now: number): boolean {
    const b = this.buckets.get(address) ?? { tokens: this.perSecond, at: now };
    this.buckets.delete(address); // re-inserted last: the map's order is least recently seen first
    b.tokens = refilled(b.tokens, this.perSecond, this.perSecond, now - b.at);
    b.at = Math.max(b.at, now);
    const ok = b.tokens >= 1;
    if (ok) b.tokens -= 1;
    if (this.buckets.size >= CONNECT_RATE_ADDRESSES_MAX)
      this.buckets.delete(this.buckets.keys().next().value!);
    this.buckets.set(address, b);
    return ok;
  }

  /** Addresses tracked. */
  get size(): number {
    return this.buckets.size;
  }
}
