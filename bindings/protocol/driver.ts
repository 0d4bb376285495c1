/**
 * The protocol driver: one way to run a deterministic core ("core + effects", as DESIGN.md's
 * consensus, replication and 2PC state machines are written; TigerBeetle's replica and
 * CometBFT's receive routine have the same shape).
 *
 * - A bounded inbox: inputs run one at a time in arrival order. A peer's input beyond
 *   `eventsMax` waiting inputs, beyond `sourceEventsMax` of that source's, or beyond `bytesMax`
 *   waiting bytes is refused and counted ({@link ProtocolDriver.offer} returns false: the network
 *   drops, the peer re-sends). Internal inputs (timers, client requests) have their own bound;
 *   beyond it {@link ProtocolDriver.push} throws `INBOX_FULL` (backpressure to the caller).
 * - Effects in order: each input's effects are applied one after the other; an effect whose
 *   application returns a promise (a persist with fsync) is awaited before the next one starts, so
 *   a persist is durable before any later send. An application may return follow-up effects (the
 *   core's answer to it, e.g. a validity verdict); they run after the effects already waiting.
 * - Synchronous when it can be: effects that return no promise run without yielding, so a seeded
 *   simulation over synchronous effects replays exactly as a plain loop would.
 * - Explicit states: `idle`, `running`, `failed` (a thrown input or effect; {@link
 *   ProtocolDriver.failure} holds the cause, nothing more runs) and `stopped`. More than
 *   `effectsMax` effects for one input is the coded failure `EFFECT_LIMIT`, never a silent stop.
 * - A crash hook before every effect (`beforeEffect(effect, k)`, k counting every effect this
 *   driver started): returning false stops the driver there, as a crash between effects would.
 * @module
 */
import { ChainDbError, ErrorCode, aint, assert } from "../util/index.ts";

/** What a driver is doing. */
export type DriverState = "idle" | "running" | "failed" | "stopped";

/** Bounds of a {@link ProtocolDriver}. */
export interface DriverLimits {
  /** Most peer inputs waiting. */
  readonly eventsMax: number;
  /** Most waiting inputs of one source (a flooding peer cannot crowd out the others). */
  readonly sourceEventsMax: number;
  /** Most bytes of waiting peer inputs. */
  readonly bytesMax: number;
  /** Most internal inputs waiting (timers, requests); beyond it `push` throws `INBOX_FULL`. */
  readonly internalEventsMax: number;
  /** Most effects one input may cause, follow-ups included; beyond it the driver fails (`EFFECT_LIMIT`). */
  readonly effectsMax: number;
}

/** Defaults: 4,096 peer inputs (1,024 per source), 64 MiB, 4,096 internal inputs, 100,000 effects. */
export const DEFAULT_DRIVER_LIMITS: DriverLimits = {
  eventsMax: 4096,
  sourceEventsMax: 1024,
  bytesMax: 64 << 20,
  internalEventsMax: 4096,
  effectsMax: 100_000,
};

/** A result that may arrive later. */
export type MaybePromise<T> = T | Promise<T>;

/** How a {@link ProtocolDriver} runs its core and carries out effects. */
export interface DriverOptions<In, Eff> {
  /** The core: one input to its effects (a thrown `ChainDbError` the caller wants to survive must be caught here). */
  readonly handle: (input: In) => MaybePromise<readonly Eff[]>;
  /** Carries out one effect; returns follow-up effects, if any, to run after those waiting. */
  readonly apply: (effect: Eff) => MaybePromise<readonly Eff[] | void>;
  readonly limits?: Partial<DriverLimits>;
  /**
   * `sync` (default): an input pushed to an idle driver runs before `push` returns (simulations);
   * `microtask`: never inside the caller's stack (a transport callback), from a microtask.
   */
  readonly start?: "sync" | "microtask";
  /** The crash hook, called before effect `k` (counted over the driver's life); false stops the driver. */
  readonly beforeEffect?: (effect: Eff, k: number) => boolean;
  /** Sees every effect once it has been carried out (tests, metrics). */
  readonly afterEffect?: (effect: Eff) => void;
  /** Called once when the driver fails, with the cause. */
  readonly onFailure?: (cause: unknown) => void;
}

interface Item<In, Eff> {
  /** An input for the core, or effects to run as they are (see `pushEffects`). */
  readonly input:
    | { readonly kind: "input"; readonly value: In }
    | { readonly kind: "effects"; readonly value: readonly Eff[] };
  /** Source of a peer input; null for an internal one. */
  readonly source: string | null;
  readonly bytes: number;
}

const isPromise = <T>(x: MaybePromise<T>): x is Promise<T> =>
  typeof (x as { then?: unknown } | null | undefined)?.then === "function";

/** Runs a deterministic core: bounded inbox in, effects out in order (see the module comment). */
export class ProtocolDriver<In, Eff> {
  readonly limits: DriverLimits;
  private items: Item<In, Eff>[] = [];
  private head = 0;
  private readonly perSource = new Map<string, number>();
  private bytes = 0;
  private internal = 0;
  private current: DriverState = "idle";
  /** True while inputs are being run (also after `stop()`, until an awaited effect settles). */
  private pumping = false;
  /** `stop("input")` was called: stop once the running input is done. */
  private stopping = false;
  private idleWaiters: (() => void)[] = [];
  private cause: unknown = undefined;
  /** Peer inputs refused because a bound was hit. */
  dropped = 0;
  /** Effects started over the driver's life (the crash hook's `k`). */
  effects = 0;

  constructor(private readonly options: DriverOptions<In, Eff>) {
    const l = { ...DEFAULT_DRIVER_LIMITS, ...options.limits };
    aint(l.eventsMax, 1, 1 << 24, "eventsMax");
    aint(l.sourceEventsMax, 1, l.eventsMax, "sourceEventsMax");
    aint(l.bytesMax, 1, Number.MAX_SAFE_INTEGER, "bytesMax");
    aint(l.internalEventsMax, 1, 1 << 24, "internalEventsMax");
    aint(l.effectsMax, 1, 1 << 30, "effectsMax");
    this.limits = l;
  }

  /** `idle`, `running`, `failed` or `stopped`. */
  get state(): DriverState {
    return this.current;
  }

  /** Why the driver failed (undefined unless `failed`). */
  get failure(): unknown {
    return this.cause;
  }

  /** Inputs waiting. */
  get size(): number {
    return this.items.length - this.head;
  }

  /**
   * Queues an internal input (never dropped). Throws `INBOX_FULL` beyond `internalEventsMax`
   * waiting; returns false (and queues nothing) once the driver failed or stopped.
   */
  push(input: In): boolean {
    if (this.finished()) return false;
    return this.queueInternal({ kind: "input", value: input });
  }

  private queueInternal(input: Item<In, Eff>["input"]): boolean {
    if (this.internal >= this.limits.internalEventsMax)
      throw new ChainDbError(
        ErrorCode.INBOX_FULL,
        `inbox full: ${this.internal} internal inputs waiting (internalEventsMax ${this.limits.internalEventsMax})`,
      );
    this.internal++;
    this.queue({ input, source: null, bytes: 0 });
    return true;
  }

  /** Queues a peer's input of `bytes` bytes; false (refused, counted in `dropped`) when a bound is hit. */
  offer(input: In, source: string, bytes = 0): boolean {
    if (this.finished()) return false;
    const mine = this.perSource.get(source) ?? 0;
    const { eventsMax, sourceEventsMax, bytesMax } = this.limits;
    const peers = this.size - this.internal;
    if (peers >= eventsMax || mine >= sourceEventsMax || this.bytes + bytes > bytesMax) {
      this.dropped++;
      return false;
    }
    this.perSource.set(source, mine + 1);
    this.bytes += bytes;
    this.queue({ input: { kind: "input", value: input }, source, bytes });
    return true;
  }

  /**
   * Runs `effects` (a core's output not caused by an input: its start or restore) as one input
   * would, after the inputs already waiting. Same bounds and failure rules as {@link push}.
   */
  pushEffects(effects: readonly Eff[]): boolean {
    if (this.finished()) return false;
    return this.queueInternal({ kind: "effects", value: effects });
  }

  /**
   * Resolves once nothing is waiting or running, or once the driver failed or stopped and the
   * effect it was awaiting (if any) settled.
   */
  idle(): Promise<void> {
    if (!this.pumping) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Stops: drops waiting inputs and refuses new ones. `after` "effect" (default): an effect being
   * awaited finishes, no later effect starts (a crash between effects). "input": the input
   * running finishes all its effects first (a clean shutdown between inputs).
   */
  stop(after: "effect" | "input" = "effect"): void {
    if (this.finished()) return;
    if (after === "input" && this.current === "running") {
      this.stopping = true;
      this.clear();
      return;
    }
    this.settle("stopped");
  }

  private finished(): boolean {
    return this.current === "failed" || this.current === "stopped" || this.stopping;
  }

  private queue(item: Item<In, Eff>): void {
    this.items.push(item);
    if (this.current !== "idle") return;
    assert(!this.pumping, "an idle driver runs nothing");
    this.current = "running";
    this.pumping = true;
    if (this.options.start === "microtask") queueMicrotask(() => this.pump());
    else this.pump();
  }

  /** Runs inputs until the inbox is empty, synchronously until an effect returns a promise. */
  private pump(): void {
    while (this.current === "running") {
      if (this.stopping) {
        this.settle("stopped");
        break;
      }
      const item = this.shift();
      if (item === undefined) {
        this.current = "idle";
        break;
      }
      let pending: void | Promise<void>;
      try {
        pending = this.runInput(item.input);
      } catch (error) {
        this.fail(error);
        break;
      }
      if (isPromise(pending)) {
        pending.then(
          () => this.pump(),
          (error: unknown) => (this.fail(error), this.pump()),
        );
        return;
      }
    }
    this.pumping = false;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  private runInput(input: Item<In, Eff>["input"]): void | Promise<void> {
    const produced = input.kind === "effects" ? input.value : this.options.handle(input.value);
    if (isPromise(produced)) return produced.then((effects) => this.runEffects(effects.slice(), 0));
    return this.runEffects(produced.slice(), 0);
  }

  /** Carries out `queue[from..]` in order; follow-ups are appended to `queue`. */
  private runEffects(queue: Eff[], from: number): void | Promise<void> {
    for (let k = from; k < queue.length; k++) {
      if (this.current !== "running") return;
      if (k >= this.limits.effectsMax)
        throw new ChainDbError(
          ErrorCode.EFFECT_LIMIT,
          `one input caused more than ${this.limits.effectsMax} effects (effectsMax)`,
        );
      const effect = queue[k]!;
      if (this.options.beforeEffect?.(effect, this.effects) === false) return this.stop();
      if (this.current !== "running") return; // the hook stopped the driver
      this.effects++;
      const done = this.options.apply(effect);
      if (isPromise(done))
        return done.then((more) => {
          if (this.current !== "running") return; // stopped while the effect was awaited
          this.after(effect, more, queue);
          return this.runEffects(queue, k + 1);
        });
      this.after(effect, done, queue);
    }
  }

  private after(effect: Eff, more: readonly Eff[] | void, queue: Eff[]): void {
    if (Array.isArray(more)) for (const m of more as readonly Eff[]) queue.push(m);
    this.options.afterEffect?.(effect);
  }

  private fail(error: unknown): void {
    if (this.current === "failed" || this.current === "stopped") return;
    this.cause = error;
    this.settle("failed");
    this.options.onFailure?.(error);
  }

  /** Ends the driver for good: `failed` or `stopped`, nothing waiting. */
  private settle(state: "failed" | "stopped"): void {
    this.current = state;
    this.stopping = false;
    this.clear();
  }

  private clear(): void {
    this.items = [];
    this.head = 0;
    this.perSource.clear();
    this.bytes = 0;
    this.internal = 0;
  }

  private shift(): Item<In, Eff> | undefined {
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
      return undefined;
    }
    const item = this.items[this.head++]!;
    // Amortised compaction: the array never holds more than twice what is waiting.
    if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    if (item.source === null) this.internal--;
    else {
      const left = this.perSource.get(item.source)! - 1;
      if (left === 0) this.perSource.delete(item.source);
      else this.perSource.set(item.source, left);
      this.bytes -= item.bytes;
      assert(this.bytes >= 0, "inbox bytes never below zero");
    }
    return item;
  }
}
