/**
 * Runs a two-phase-commit core over any {@link Transport}, {@link Clock} and durable log, under
 * the protocol driver (bindings/protocol/): decodes messages (malformed ones and non-members are
 * counted and dropped, the core untouched), feeds events one at a time, and executes each batch of
 * effects strictly in order — a forced record is synced before the next effect, so nothing is sent
 * ahead of the record that backs it. Simulations inject crashes between any two effects through
 * `beforeEffect` (the driver's crash hook).
 * @module
 */
import { ChainDbError, assert } from "../../util/index.ts";
import {
  decodeMessage,
  encodeMessage,
  type Clock,
  type MessageValue,
  type NodeId,
  type Transport,
} from "../../net/index.ts";
import { ProtocolDriver } from "../../protocol/index.ts";
import { Coordinator } from "./coordinator.ts";
import type { TwoPcResource } from "./participant.ts";
import {
  decodeTwoPcMessage,
  encodeTwoPcMessage,
  type TwoPcEffect,
  type TwoPcEvent,
  type TwoPcOp,
  type TwoPcTimer,
} from "./types.ts";

/** The durable log a runner writes: a key-value store whose writes are durable after `sync` (SimStorage fits). */
export interface TwoPcLog {
  /** The value at `key` (buffered writes included). */
  get(key: string): Uint8Array | undefined;
  /** Buffers a write. */
  put(key: string, value: Uint8Array): void;
  /** Buffers a delete. */
  delete(key: string): void;
  /** Keys starting with `prefix`, sorted. */
  keys(prefix?: string): string[];
  /** Makes every buffered write durable (fsync). */
  sync(): void | Promise<void>;
}

/** A core the runner can drive. */
export interface TwoPcCore {
  /** The node's id. */
  readonly self: NodeId;
  /** Rebuilds from the log's records; returns the effects of recovery. */
  recover(records: ReadonlyMap<string, MessageValue>): TwoPcEffect[];
  /** Handles one event; throws a ChainDbError (state untouched) for bad input. */
  handle(event: TwoPcEvent): TwoPcEffect[];
}

/** Options of a {@link TwoPcRunner}. */
export interface TwoPcRunnerOptions {
  transport: Transport;
  clock: Clock;
  log: TwoPcLog;
  core: TwoPcCore;
  /** The participant's resource (required for a participant core). */
  resource?: TwoPcResource;
  /** Sees every effect once it has been executed (tests, metrics). */
  observer?: (node: NodeId, effect: TwoPcEffect) => void;
  /** Returns false to crash the node just before `effect` (simulations); `onCrash` is then called. */
  beforeEffect?: (node: NodeId, effect: TwoPcEffect) => boolean;
  /** Called once when `beforeEffect` crashed the node. */
  onCrash?: () => void;
}

/** Most pending events (a bound; beyond it, messages are dropped like a lossy network would). */
const QUEUE_MAX = 100_000;

/** Drives one core: transport in, effects out. */
export class TwoPcRunner {
  /** Messages rejected as malformed or from non-members, with the last reason. */
  readonly rejected = { count: 0, last: "" };
  private readonly timers = new Map<string, () => void>();
  private readonly waiters = new Map<string, (committed: boolean) => void>();
  private readonly driver: ProtocolDriver<TwoPcEvent, TwoPcEffect>;

  /** A runner; call {@link start} to recover from the log and begin handling messages. */
  constructor(private readonly options: TwoPcRunnerOptions) {
    this.driver = new ProtocolDriver<TwoPcEvent, TwoPcEffect>({
      handle: (event) => {
        try {
          return this.options.core.handle(event);
        } catch (error) {
          this.reject(error);
          return [];
        }
      },
      apply: (effect) => this.execute(effect),
      start: "microtask",
      limits: { eventsMax: QUEUE_MAX, sourceEventsMax: QUEUE_MAX, internalEventsMax: QUEUE_MAX },
      beforeEffect: (effect) => {
        if (options.beforeEffect === undefined || options.beforeEffect(this.self, effect)) return true;
        this.kill();
        this.options.onCrash?.();
        return false;
      },
      afterEffect: (effect) => options.observer?.(this.self, effect),
    });
  }

  /** The core's node id. */
  get self(): NodeId {
    return this.options.core.self;
  }

  /** Recovers from the log, then installs the transport handler. */
  async start(): Promise<void> {
    const { log, core, transport } = this.options;
    const records = new Map<string, MessageValue>();
    for (const key of log.keys("2pc/")) records.set(key, decodeMessage(log.get(key)!));
    this.driver.pushEffects(core.recover(records));
    await this.idle();
    transport.setHandler({ onMessage: (from, payload) => this.onMessage(from, payload) });
  }

  /** Stops handling anything (the crash as this runner sees it; timers are cancelled). */
  kill(): void {
    this.driver.stop();
    for (const cancel of this.timers.values()) cancel();
    this.timers.clear();
  }

  /** True while events wait or run. */
  get busy(): boolean {
    return this.driver.state === "running";
  }

  /** Resolves when all queued events have been handled; rejects if an effect failed (a bug). */
  async idle(): Promise<void> {
    await this.driver.idle();
    if (this.driver.state === "failed") throw this.driver.failure as Error;
  }

  /** Coordinator only: starts a transaction; `outcome` resolves with true for commit. */
  begin(plan: ReadonlyMap<NodeId, readonly TwoPcOp[]>): { tx: string; outcome: Promise<boolean> } {
    const core = this.options.core;
    assert(core instanceof Coordinator, "begin on a coordinator");
    const { tx, effects } = core.begin(plan);
    const outcome = new Promise<boolean>((resolve) => this.waiters.set(tx, resolve));
    this.driver.pushEffects(effects);
    return { tx, outcome };
  }

  private onMessage(from: NodeId, payload: Uint8Array): void {
    if (this.driver.state === "stopped") return;
    let event: TwoPcEvent;
    try {
      event = { kind: "message", from, message: decodeTwoPcMessage(payload) };
    } catch (error) {
      return this.reject(error);
    }
    if (!this.driver.offer(event, from)) this.rejected.count++;
  }

  private reject(error: unknown): void {
    if (!(error instanceof ChainDbError)) throw error;
    this.rejected.count++;
    this.rejected.last = `${error.code}: ${error.message}`;
  }

  private execute(e: TwoPcEffect): void | Promise<void> {
    const { log, transport, resource } = this.options;
    switch (e.kind) {
      case "send":
        transport.send(e.to, encodeTwoPcMessage(e.message));
        return;
      case "force":
        log.put(e.key, encodeMessage(e.record));
        return log.sync();
      case "write":
        if (e.record === undefined) log.delete(e.key);
        else log.put(e.key, encodeMessage(e.record));
        return;
      case "timer":
        return this.arm(e.timer, e.tx, e.delayMs);
      case "apply":
        return resource!.apply(e.tx, e.writes);
      case "restore":
        return resource!.restore(e.tx, e.writes);
      case "release":
        return resource!.release(e.tx);
      case "outcome":
        this.waiters.get(e.tx)?.(e.committed);
        this.waiters.delete(e.tx);
        return;
    }
  }

  private arm(timer: TwoPcTimer, tx: string, delayMs: number): void {
    const key = `${timer}/${tx}`;
    this.timers.get(key)?.();
    const cancel = this.options.clock.setTimer(delayMs, () => {
      this.timers.delete(key);
      this.driver.push({ kind: "timeout", timer, tx });
    });
    this.timers.set(key, cancel);
  }
}
