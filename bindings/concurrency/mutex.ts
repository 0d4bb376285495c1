/**
 * A mutual-exclusion lock over three shared Int32 words, the three-state futex mutex of Ulrich
 * Drepper's "Futexes Are Tricky" (2011, §6 "Mutex, Take 2/3"): state 0 free, 1 locked, 2 locked
 * with (possible) waiters. The uncontended lock is one compare-exchange and the uncontended unlock
 * one atomic subtract, with no `Atomics.notify` unless someone may be sleeping.
 *
 * Words: [0] state, [1] owner registry tag, [2] owner thread id (see thread-id.ts). The owner
 * words are only read to diagnose misuse (unlock by a non-owner, relocking on the same thread),
 * never to decide who gets the lock: mutual exclusion rests on the state word alone. So they are
 * written with plain stores, ordered by the atomic operations on the state word around them: a
 * sequentially consistent `Atomics.store` costs about 10 ns here, and four of them doubled the
 * uncontended lock+unlock (68 → ~30 ns, Node 20, this machine). The owner always reads its own
 * writes; another thread reads its own last write (a clear) or someone else's id, never a false
 * match with itself.
 *
 * Ownership is per thread: async tasks on one thread (`lockAsync`) share that thread's identity.
 * @module
 */
import { ChainDbError, ErrorCode } from "../util/index.ts";
import {
  attachRegion,
  deadlineOf,
  sharedRegion,
  timeoutError,
  waitLoop,
  waitLoopAsync,
  type PrimitiveHandle,
  type WaitOptions,
} from "./shared.ts";
import { adoptRegistry, currentThread, threadRegistry } from "./thread-id.ts";

const STATE = 0;
const OWNER_TAG = 1;
const OWNER_ID = 2;
const FREE = 0;
const LOCKED = 1;
const CONTENDED = 2;

// Drepper's take 3, one try of the slow path: mark the lock contended (so its holder's unlock
// wakes a sleeper) and own it if it was free; otherwise sleep while it stays contended.
const takeContended = (region: Int32Array): true | number =>
  Atomics.exchange(region, STATE, CONTENDED) === FREE || CONTENDED;

/** Handle of a {@link Mutex}: post it to a worker, then `Mutex.from(handle)` there. */
export interface MutexHandle extends PrimitiveHandle<"chaindb.Mutex"> {
  /** The thread-id registry, so the receiving thread draws its id from the same counter. */
  readonly ids: Int32Array;
}

/** A cross-thread mutex (three-state futex) with owner checks, timeouts and an async lock. */
export class Mutex {
  /** Int32 words a Mutex occupies in a shared region. */
  static readonly WORDS = 3;
  private readonly region: Int32Array;

  /** A free mutex in a new SharedArrayBuffer, or in the first {@link Mutex.WORDS} words of `region`. */
  constructor(region?: Int32Array) {
    this.region = sharedRegion(region, Mutex.WORDS, "region");
    if (region !== undefined) this.region.fill(0);
  }

  /** Reattaches a mutex from a handle made by {@link Mutex.handle} (typically in another thread). */
  static from(handle: MutexHandle): Mutex {
    const region = attachRegion(handle, "chaindb.Mutex", Mutex.WORDS);
    adoptRegistry(handle.ids);
    const mutex = Object.create(Mutex.prototype) as { region: Int32Array };
    mutex.region = region;
    return mutex as unknown as Mutex;
  }

  /** A structured-clonable handle sharing this mutex's memory. */
  handle(): MutexHandle {
    return { kind: "chaindb.Mutex", region: this.region, ids: threadRegistry() };
  }

  /** True when some thread holds the lock (a snapshot, for diagnostics). */
  get isLocked(): boolean {
    return Atomics.load(this.region, STATE) !== FREE;
  }

  /** True when this thread holds the lock. */
  get heldByCurrentThread(): boolean {
    const me = currentThread();
    return this.region[OWNER_ID] === me.id && this.region[OWNER_TAG] === me.tag;
  }

  /** Takes the lock if it is free; never blocks. */
  tryLock(): boolean {
    if (Atomics.compareExchange(this.region, STATE, FREE, LOCKED) !== FREE) return false;
    this.setOwner();
    return true;
  }

  /**
   * Blocks until the lock is taken. Throws `LOCK_TIMEOUT` after `timeoutMs`, and
   * `LOCK_RECURSION` if this thread already holds it (waiting would deadlock).
   */
  lock(options?: WaitOptions): void {
    if (Atomics.compareExchange(this.region, STATE, FREE, LOCKED) !== FREE) {
      if (this.heldByCurrentThread) {
        throw new ChainDbError(ErrorCode.LOCK_RECURSION, "Mutex.lock: this thread already holds the mutex");
      }
      if (!waitLoop(this.region, STATE, deadlineOf(options), takeContended))
        throw timeoutError("Mutex.lock", options);
    }
    this.setOwner();
  }

  /**
   * Takes the lock without blocking the thread (Atomics.waitAsync), for threads that must stay
   * responsive such as the main thread. Throws `LOCK_TIMEOUT` after `timeoutMs`. Another async
   * task of this same thread may hold the lock: then this waits for it.
   */
  async lockAsync(options?: WaitOptions): Promise<void> {
    if (Atomics.compareExchange(this.region, STATE, FREE, LOCKED) !== FREE) {
      if (!(await waitLoopAsync(this.region, STATE, deadlineOf(options), takeContended)))
        throw timeoutError("Mutex.lockAsync", options);
    }
    this.setOwner();
  }

  /** Releases the lock; throws `NOT_OWNER` if this thread does not hold it. */
  unlock(): void {
    if (!this.heldByCurrentThread) {
      throw new ChainDbError(ErrorCode.NOT_OWNER, "Mutex.unlock: the calling thread does not hold the mutex");
    }
    this.region[OWNER_ID] = 0;
    this.region[OWNER_TAG] = 0;
    // 1 → 0 means nobody waits; from 2 we must clear the word and wake one sleeper.
    if (Atomics.sub(this.region, STATE, 1) !== LOCKED) {
      Atomics.store(this.region, STATE, FREE);
      Atomics.notify(this.region, STATE, 1);
    }
  }

  /** Runs `fn` holding the lock (blocking acquire), releasing it however `fn` ends. */
  withLock<T>(fn: () => T, options?: WaitOptions): T {
    this.lock(options);
    try {
      return fn();
    } finally {
      this.unlock();
    }
  }

  /** Runs `fn` holding the lock (async acquire), releasing it however `fn` ends. */
  async withLockAsync<T>(fn: () => T | Promise<T>, options?: WaitOptions): Promise<T> {
    await this.lockAsync(options);
    try {
      return await fn();
    } finally {
      this.unlock();
    }
  }

  private setOwner(): void {
    const me = currentThread();
    this.region[OWNER_TAG] = me.tag;
    this.region[OWNER_ID] = me.id;
  }
}
