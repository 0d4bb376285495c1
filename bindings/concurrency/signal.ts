/**
 * A cross-thread interrupt flag: one thread raises it, a running worker notices it at a cheap
 * point of its loop (one `Atomics.load`) and stops. This is the cooperative cancellation of
 * Java's `Thread.interrupt` / the DOM's `AbortSignal`, over shared memory so it reaches a worker
 * that is busy computing and not reading messages (e.g. a miner told a new block arrived).
 * Words: [0] raised (0 or 1), [1] reason (an application-defined integer).
 * @module
 */
import { ChainDbError, ErrorCode } from "../util/index.ts";
import {
  acount,
  attachRegion,
  deadlineOf,
  sharedRegion,
  waitLoop,
  waitLoopAsync,
  type PrimitiveHandle,
  type WaitOptions,
} from "./shared.ts";

const RAISED = 0;
const REASON = 1;

// One try of a wait: done once raised, else sleep while the word stays 0.
const raisedOrSleep = (region: Int32Array): true | number => Atomics.load(region, RAISED) !== 0 || 0;

/** Handle of a {@link Signal}: post it to a worker, then `Signal.from(handle)` there. */
export type SignalHandle = PrimitiveHandle<"chaindb.Signal">;

/** A cross-thread interrupt: `raise` in one thread, check `raised` in another's loop. */
export class Signal {
  /** Int32 words a Signal occupies in a shared region. */
  static readonly WORDS = 2;
  private readonly region: Int32Array;

  /** A clear signal, in a new SharedArrayBuffer or in the given shared words. */
  constructor(region?: Int32Array) {
    this.region = sharedRegion(region, Signal.WORDS, "region");
    if (region !== undefined) this.region.fill(0);
  }

  /** Reattaches a signal from a handle made by {@link Signal.handle}. */
  static from(handle: SignalHandle): Signal {
    const region = attachRegion(handle, "chaindb.Signal", Signal.WORDS);
    const signal = Object.create(Signal.prototype) as { region: Int32Array };
    signal.region = region;
    return signal as unknown as Signal;
  }

  /** A structured-clonable handle sharing this signal's memory. */
  handle(): SignalHandle {
    return { kind: "chaindb.Signal", region: this.region };
  }

  /** True once raised (one atomic load: cheap enough for every iteration of a hot loop). */
  get raised(): boolean {
    return Atomics.load(this.region, RAISED) !== 0;
  }

  /** The reason given to {@link Signal.raise} (0 while clear). */
  get reason(): number {
    return Atomics.load(this.region, REASON);
  }

  /** Raises the signal with an optional non-negative integer `reason`, waking every waiter. */
  raise(reason = 1): void {
    acount(reason, 0, 0x7fffffff, "reason");
    Atomics.store(this.region, REASON, reason);
    Atomics.store(this.region, RAISED, 1);
    Atomics.notify(this.region, RAISED, Infinity);
  }

  /** Clears the signal so it can be raised again. */
  clear(): void {
    Atomics.store(this.region, RAISED, 0);
    Atomics.store(this.region, REASON, 0);
  }

  /** Throws `ABORTED` if the signal is raised. */
  throwIfRaised(): void {
    if (this.raised)
      throw new ChainDbError(ErrorCode.ABORTED, `interrupted by a signal (reason ${this.reason})`);
  }

  /** Blocks until raised; returns false if `timeoutMs` expired first. */
  wait(options?: WaitOptions): boolean {
    return waitLoop(this.region, RAISED, deadlineOf(options), raisedOrSleep);
  }

  /** Like {@link Signal.wait} without blocking the thread. */
  waitAsync(options?: WaitOptions): Promise<boolean> {
    return waitLoopAsync(this.region, RAISED, deadlineOf(options), raisedOrSleep);
  }
}
