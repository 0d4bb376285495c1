/**
 * A condition variable over two shared Int32 words, built like the sequence-counter condvars of
 * Drepper's "Futexes Are Tricky" and of early NPTL: [0] a sequence number every notify bumps,
 * [1] the number of sleepers (lets notify skip `Atomics.notify` when nobody sleeps).
 *
 * Why a sequence counter: a waiter reads the sequence BEFORE it unlocks the mutex and sleeps only
 * while the sequence still has that value. A notify that lands between the unlock and the sleep
 * changes the sequence, so the sleep returns at once: the wakeup is never lost. (Condvars that
 * sleep on a plain flag, or count waiters after unlocking, lose exactly this wakeup.) The counter
 * wraps at 2^32; a waiter could only miss a wakeup if exactly 2^32 notifies ran between its read
 * and its sleep.
 *
 * Like POSIX condvars, wakeups may be spurious: always wait in a loop that re-checks the predicate.
 * @module
 */
import type { Mutex } from "./mutex.ts";
import {
  attachRegion,
  deadlineOf,
  sharedRegion,
  waitAsyncUntil,
  waitSync,
  type PrimitiveHandle,
  type WaitOptions,
} from "./shared.ts";

const SEQUENCE = 0;
const SLEEPERS = 1;

/** Handle of a {@link ConditionVariable}: post it to a worker, then `ConditionVariable.from(handle)`. */
export type ConditionVariableHandle = PrimitiveHandle<"chaindb.ConditionVariable">;

/** Options for {@link ConditionVariable.wait}. */
export interface ConditionWaitOptions extends WaitOptions {
  /**
   * Called after the mutex is released and before the thread sleeps: a hook for tests and
   * tracing, used to force the "notify between unlock and wait" interleaving deterministically.
   */
  onUnlocked?: () => void;
}

/** A cross-thread condition variable (wait / notifyOne / notifyAll) used with a {@link Mutex}. */
export class ConditionVariable {
  /** Int32 words a ConditionVariable occupies in a shared region. */
  static readonly WORDS = 2;
  private readonly region: Int32Array;

  /** A new condition variable, in a new SharedArrayBuffer or in the given shared words. */
  constructor(region?: Int32Array) {
    this.region = sharedRegion(region, ConditionVariable.WORDS, "region");
    if (region !== undefined) this.region.fill(0);
  }

  /** Reattaches a condition variable from a handle made by {@link ConditionVariable.handle}. */
  static from(handle: ConditionVariableHandle): ConditionVariable {
    const region = attachRegion(handle, "chaindb.ConditionVariable", ConditionVariable.WORDS);
    const cv = Object.create(ConditionVariable.prototype) as { region: Int32Array };
    cv.region = region;
    return cv as unknown as ConditionVariable;
  }

  /** A structured-clonable handle sharing this condition variable's memory. */
  handle(): ConditionVariableHandle {
    return { kind: "chaindb.ConditionVariable", region: this.region };
  }

  /**
   * Atomically releases `mutex` (which this thread must hold) and sleeps until notified, then
   * re-takes `mutex`. Returns false if `timeoutMs` expired (the mutex is re-taken either way).
   */
  wait(mutex: Mutex, options?: ConditionWaitOptions): boolean {
    const deadline = deadlineOf(options);
    const sequence = Atomics.load(this.region, SEQUENCE);
    mutex.unlock();
    // Counted after the unlock (so a NOT_OWNER misuse leaves no trace): a notifier that misses
    // this count has already bumped the sequence, and the sleep below then returns at once.
    Atomics.add(this.region, SLEEPERS, 1);
    let result: string;
    try {
      options?.onUnlocked?.();
      result = waitSync(this.region, SEQUENCE, sequence, deadline);
    } finally {
      Atomics.sub(this.region, SLEEPERS, 1);
      mutex.lock();
    }
    return result !== "timed-out";
  }

  /** Like {@link ConditionVariable.wait} without blocking the thread (re-takes via `lockAsync`). */
  async waitAsync(mutex: Mutex, options?: ConditionWaitOptions): Promise<boolean> {
    const deadline = deadlineOf(options);
    const sequence = Atomics.load(this.region, SEQUENCE);
    mutex.unlock();
    // Counted after the unlock (so a NOT_OWNER misuse leaves no trace): a notifier that misses
    // this count has already bumped the sequence, and the sleep below then returns at once.
    Atomics.add(this.region, SLEEPERS, 1);
    let result: string;
    try {
      options?.onUnlocked?.();
      result = await waitAsyncUntil(this.region, SEQUENCE, sequence, deadline);
    } finally {
      Atomics.sub(this.region, SLEEPERS, 1);
      await mutex.lockAsync();
    }
    return result !== "timed-out";
  }

  /** Wakes one waiter (if any). Need not hold the mutex, but usually should. */
  notifyOne(): void {
    Atomics.add(this.region, SEQUENCE, 1);
    if (Atomics.load(this.region, SLEEPERS) > 0) Atomics.notify(this.region, SEQUENCE, 1);
  }

  /** Wakes every waiter. */
  notifyAll(): void {
    Atomics.add(this.region, SEQUENCE, 1);
    if (Atomics.load(this.region, SLEEPERS) > 0) Atomics.notify(this.region, SEQUENCE, Infinity);
  }
}
