/**
 * A cross-thread event, manual-reset or auto-reset, with the semantics of Win32 event objects
 * (`SetEvent`/`ResetEvent`/`WaitForSingleObject`): a manual-reset event releases every waiter and
 * stays set until reset; an auto-reset event releases one waiter and clears itself.
 *
 * Words: [0] state (0 clear, 1 set), [1] mode (0 manual, 1 auto), [2] generation. Waiters sleep on
 * the generation word, which every `set` bumps: a waiter that read the generation before a `set`
 * is released even if `reset` runs before it wakes (no lost pulse, unlike sleeping on the state).
 * @module
 */
import {
  attachRegion,
  deadlineOf,
  sharedRegion,
  waitLoop,
  waitLoopAsync,
  type PrimitiveHandle,
  type WaitOptions,
} from "./shared.ts";

const STATE = 0;
const MODE = 1;
const GENERATION = 2;
const MODE_AUTO = 1;

/** Handle of an {@link Event}: post it to a worker, then `Event.from(handle)` there. */
export type EventHandle = PrimitiveHandle<"chaindb.Event">;

/** Options for a new {@link Event}. */
export interface EventOptions {
  /** Auto-reset: each `set` releases one waiter and clears (default: manual-reset). */
  autoReset?: boolean;
  /** Start in the set state (default: clear). */
  initiallySet?: boolean;
  /** Place the event in these shared words instead of a new SharedArrayBuffer. */
  region?: Int32Array;
}

/** A cross-thread manual-reset or auto-reset event. */
export class Event {
  /** Int32 words an Event occupies in a shared region. */
  static readonly WORDS = 3;
  private readonly region: Int32Array;

  /** A new event (manual-reset and clear unless `options` say otherwise). */
  constructor(options: EventOptions = {}) {
    this.region = sharedRegion(options.region, Event.WORDS, "region");
    Atomics.store(this.region, MODE, options.autoReset ? MODE_AUTO : 0);
    Atomics.store(this.region, GENERATION, 0);
    Atomics.store(this.region, STATE, options.initiallySet ? 1 : 0);
  }

  /** Reattaches an event from a handle made by {@link Event.handle}. */
  static from(handle: EventHandle): Event {
    const region = attachRegion(handle, "chaindb.Event", Event.WORDS);
    const event = Object.create(Event.prototype) as { region: Int32Array };
    event.region = region;
    return event as unknown as Event;
  }

  /** A structured-clonable handle sharing this event's memory. */
  handle(): EventHandle {
    return { kind: "chaindb.Event", region: this.region };
  }

  /** True for an auto-reset event. */
  get autoReset(): boolean {
    return Atomics.load(this.region, MODE) === MODE_AUTO;
  }

  /** True while the event is set (a snapshot). */
  get isSet(): boolean {
    return Atomics.load(this.region, STATE) === 1;
  }

  /** Sets the event: wakes every waiter (manual-reset) or one (auto-reset). */
  set(): void {
    Atomics.store(this.region, STATE, 1);
    Atomics.add(this.region, GENERATION, 1);
    Atomics.notify(this.region, GENERATION, this.autoReset ? 1 : Infinity);
  }

  /** Clears the event. */
  reset(): void {
    Atomics.store(this.region, STATE, 0);
  }

  /**
   * Blocks until the event is set (consuming it if auto-reset). Returns false if `timeoutMs`
   * expired first; with `timeoutMs: 0` it only polls.
   */
  wait(options?: WaitOptions): boolean {
    const deadline = deadlineOf(options);
    const start = Atomics.load(this.region, GENERATION);
    return waitLoop(this.region, GENERATION, deadline, () => this.attempt(start));
  }

  /** Like {@link Event.wait} without blocking the thread. */
  waitAsync(options?: WaitOptions): Promise<boolean> {
    const deadline = deadlineOf(options);
    const start = Atomics.load(this.region, GENERATION);
    return waitLoopAsync(this.region, GENERATION, deadline, () => this.attempt(start));
  }

  // One try of a wait that began at generation `start`: true when released, else the generation
  // to sleep on (read before the check, so a `set` after it ends the sleep at once).
  private attempt(start: number): true | number {
    const generation = Atomics.load(this.region, GENERATION);
    return this.released(start, generation) || generation;
  }

  // Auto-reset: whoever clears the state takes the event. Manual-reset: released while set, or
  // once any `set` happened since the wait began, even if a `reset` already cleared the state.
  private released(start: number, generation: number): boolean {
    if (this.autoReset) return Atomics.compareExchange(this.region, STATE, 1, 0) === 1;
    return generation !== start || Atomics.load(this.region, STATE) === 1;
  }
}
