/**
 * A consensus node's inbox: every event (a peer's message, a timer, the gossip tick) runs one at a
 * time in arrival order, each awaited before the next, so the effects of one event are applied
 * before the next event is looked at (CometBFT's receive routine feeding a single state machine).
 *
 * Bounded, with a policy when full: a peer's message beyond `eventsMax` waiting events, beyond
 * `peerEventsMax` of that peer's, or beyond `bytesMax` waiting bytes is dropped and counted in
 * {@link Inbox.dropped}. Consensus tolerates lost messages (the tick re-sends votes and asks for
 * missing blocks). Internal events are never dropped: their number is bounded by the engine's
 * timers, and the tick is coalesced to one waiting at a time by the node.
 * @module
 */
import { aint, assert } from "../util/index.ts";
import type { NodeId } from "../net/index.ts";

/** Bounds of an {@link Inbox}. */
export interface InboxLimits {
  /** Most events waiting. */
  readonly eventsMax: number;
  /** Most waiting messages of one peer (a flooding peer cannot crowd out the others). */
  readonly peerEventsMax: number;
  /** Most bytes of waiting messages. */
  readonly bytesMax: number;
}

/** Defaults: 4,096 events, 1,024 per peer, 64 MiB. */
export const DEFAULT_INBOX_LIMITS: InboxLimits = { eventsMax: 4096, peerEventsMax: 1024, bytesMax: 64 << 20 };

interface Item {
  readonly from: NodeId | null;
  readonly bytes: number;
  readonly step: () => void | Promise<void>;
}

/** Runs queued steps one at a time, in order, after the caller's stack unwinds. */
export class Inbox {
  readonly limits: InboxLimits;
  private items: Item[] = [];
  private head = 0;
  private readonly perPeer = new Map<NodeId, number>();
  private bytes = 0;
  private running: Promise<void> | null = null;
  /** Peer messages dropped because the inbox was full. */
  dropped = 0;

  /**
   * `onError` gets a step's exception (the node records it and stops); `stopped()` true skips the
   * remaining steps (closed or failed).
   */
  constructor(
    limits: Partial<InboxLimits>,
    private readonly onError: (error: unknown) => void,
    private readonly stopped: () => boolean,
  ) {
    const l = { ...DEFAULT_INBOX_LIMITS, ...limits };
    aint(l.eventsMax, 1, 1 << 24, "eventsMax");
    aint(l.peerEventsMax, 1, l.eventsMax, "peerEventsMax");
    aint(l.bytesMax, 1, Number.MAX_SAFE_INTEGER, "bytesMax");
    this.limits = l;
  }

  /** Events waiting. */
  get size(): number {
    return this.items.length - this.head;
  }

  /** Queues an internal event (never dropped). */
  push(step: () => void | Promise<void>): void {
    this.queue({ from: null, bytes: 0, step });
  }

  /** Queues a message of `from` of `bytes` bytes; false (dropped, counted) when a bound is hit. */
  offer(from: NodeId, bytes: number, step: () => void | Promise<void>): boolean {
    const mine = this.perPeer.get(from) ?? 0;
    const { eventsMax, peerEventsMax, bytesMax } = this.limits;
    if (this.size >= eventsMax || mine >= peerEventsMax || this.bytes + bytes > bytesMax) {
      this.dropped++;
      return false;
    }
    this.perPeer.set(from, mine + 1);
    this.bytes += bytes;
    this.queue({ from, bytes, step });
    return true;
  }

  /** Resolves once nothing is waiting or running. */
  idle(): Promise<void> {
    return this.running ?? Promise.resolve();
  }

  private queue(item: Item): void {
    this.items.push(item);
    this.running ??= this.drain();
  }

  private async drain(): Promise<void> {
    await Promise.resolve(); // never run a step inside the caller's stack (a transport callback)
    for (let item = this.shift(); item !== undefined; item = this.shift()) {
      if (this.stopped()) continue;
      try {
        await item.step();
      } catch (error) {
        this.onError(error);
      }
    }
    this.running = null;
  }

  private shift(): Item | undefined {
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
      return undefined;
    }
    const item = this.items[this.head++]!;
    if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    if (item.from !== null) {
      const left = this.perPeer.get(item.from)! - 1;
      if (left === 0) this.perPeer.delete(item.from);
      else this.perPeer.set(item.from, left);
      this.bytes -= item.bytes;
      assert(this.bytes >= 0, "inbox bytes never below zero");
    }
    return item;
  }
}
