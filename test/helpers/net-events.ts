/**
 * Test helpers: record what a transport reports (or anything else) and let a test wait, with a
 * bound, for an entry that matches — no sleeping.
 */
import type { NodeId, Transport } from "../../bindings/net/index.ts";

/** A list that can be awaited. */
export class Waitable<T> {
  readonly items: T[] = [];
  private waiters: { done: () => boolean; resolve: () => void }[] = [];

  push(item: T): void {
    this.items.push(item);
    this.waiters = this.waiters.filter((w) => (w.done() ? (w.resolve(), false) : true));
  }

  /** Resolves once `done()` holds (checked now and after each push); rejects after `timeoutMs`. */
  until(done: () => boolean, timeoutMs = 5000, what = "condition"): Promise<void> {
    if (done()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)),
        timeoutMs,
      );
      this.waiters.push({ done, resolve: () => (clearTimeout(timer), resolve()) });
    });
  }

  /** Resolves with the first item matching `match`. */
  async wait(match: (item: T) => boolean, timeoutMs = 5000, what = "item"): Promise<T> {
    await this.until(() => this.items.some(match), timeoutMs, what);
    return this.items.find(match)!;
  }

  /** Resolves when `count` items match. */
  async count(match: (item: T) => boolean, count: number, timeoutMs = 5000): Promise<void> {
    await this.until(() => this.items.filter(match).length >= count, timeoutMs, `${count} matching items`);
  }
}

export type NetEvent =
  { kind: "msg"; from: NodeId; text: string; bytes: Uint8Array } | { kind: "up" | "down"; peer: NodeId };

/** The events a transport reports. */
export class EventLog extends Waitable<NetEvent> {
  constructor(transport: Transport) {
    super();
    transport.setHandler({
      onMessage: (from, bytes) =>
        this.push({ kind: "msg", from, text: new TextDecoder().decode(bytes.slice(0, 64)), bytes }),
      onPeerUp: (peer) => this.push({ kind: "up", peer }),
      onPeerDown: (peer) => this.push({ kind: "down", peer }),
    });
  }

  get events(): NetEvent[] {
    return this.items;
  }
}
