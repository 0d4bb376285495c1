/**
 * A counting semaphore over three shared Int32 words (Dijkstra's P/V, "Cooperating Sequential
 * Processes", 1965), futex-style as in Drepper's "Futexes Are Tricky": the permit count is the
 * futex word, sleepers wait while it is 0, and a waiter count lets `release` skip
 * `Atomics.notify` when nobody sleeps. Words: [0] permits available, [1] maximum, [2] sleepers.
 *
 * The sleeper count is safe without a lock (a Dekker pair under sequentially consistent
 * atomics): a waiter increments it before it re-reads the count inside `Atomics.wait`, a releaser
 * adds permits before it reads the sleeper count, so at least one of them sees the other.
 * @module
 */
import { ChainDbError, ErrorCode } from "../util/index.ts";
import {
  acount,
  attachRegion,
  deadlineOf,
  sharedRegion,
  timeoutError,
  waitLoop,
  waitLoopAsync,
  type PrimitiveHandle,
  type WaitOptions,
} from "./shared.ts";

const COUNT = 0;
const MAX = 1;
const SLEEPERS = 2;
const LIMIT = 0x7fffffff;
// Compare-exchange retries are bounded: each failure means another thread made progress.
const CAS_ATTEMPTS_MAX = 1 << 20;

/** Takes a permit if one is available. */
function takePermit(region: Int32Array): boolean {
  for (let attempt = 0; attempt < CAS_ATTEMPTS_MAX; attempt++) {
    const c = Atomics.load(region, COUNT);
    if (c === 0) return false;
    if (Atomics.compareExchange(region, COUNT, c, c - 1) === c) return true;
  }
  return false;
}

// One try of a wait: a permit taken, else sleep while the count stays 0 (sleepers are counted,
// so that `release` notifies only when someone sleeps).
const permitOrSleep = (region: Int32Array): true | number => takePermit(region) || 0;

/** Handle of a {@link Semaphore}: post it to a worker, then `Semaphore.from(handle)` there. */
export type SemaphoreHandle = PrimitiveHandle<"chaindb.Semaphore">;

/** Options for a new {@link Semaphore}. */
export interface SemaphoreOptions {
  /** Most permits the semaphore may hold; releasing beyond it throws (default: the initial count). */
  max?: number;
  /** Place the semaphore in these shared words instead of a new SharedArrayBuffer. */
  region?: Int32Array;
}

/** A cross-thread counting semaphore with timeouts and an overflow check. */
export class Semaphore {
  /** Int32 words a Semaphore occupies in a shared region. */
  static readonly WORDS = 3;
  private readonly region: Int32Array;

  /** A semaphore holding `permits` permits (at most `options.max`, default `permits`). */
  constructor(permits: number, options: SemaphoreOptions = {}) {
    acount(permits, 0, LIMIT, "permits");
    const max = acount(options.max ?? permits, 1, LIMIT, "max");
    if (permits > max) throw new RangeError(`"permits" (${permits}) exceeds "max" (${max})`);
    this.region = sharedRegion(options.region, Semaphore.WORDS, "region");
    Atomics.store(this.region, MAX, max);
    Atomics.store(this.region, SLEEPERS, 0);
    Atomics.store(this.region, COUNT, permits);
  }

  /** Reattaches a semaphore from a handle made by {@link Semaphore.handle}. */
  static from(handle: SemaphoreHandle): Semaphore {
    const region = attachRegion(handle, "chaindb.Semaphore", Semaphore.WORDS);
    const sem = Object.create(Semaphore.prototype) as { region: Int32Array };
    sem.region = region;
    return sem as unknown as Semaphore;
  }

  /** A structured-clonable handle sharing this semaphore's memory. */
  handle(): SemaphoreHandle {
    return { kind: "chaindb.Semaphore", region: this.region };
  }

  /** Permits available now (a snapshot). */
  get available(): number {
    return Atomics.load(this.region, COUNT);
  }

  /** The most permits this semaphore may hold. */
  get max(): number {
    return Atomics.load(this.region, MAX);
  }

  /** Takes a permit if one is available; never blocks. */
  tryAcquire(): boolean {
    return takePermit(this.region);
  }

  /** Blocks until a permit is taken; throws `LOCK_TIMEOUT` after `timeoutMs`. */
  acquire(options?: WaitOptions): void {
    const deadline = deadlineOf(options);
    if (!waitLoop(this.region, COUNT, deadline, permitOrSleep, SLEEPERS))
      throw timeoutError("Semaphore.acquire", options);
  }

  /** Takes a permit without blocking the thread; throws `LOCK_TIMEOUT` after `timeoutMs`. */
  async acquireAsync(options?: WaitOptions): Promise<void> {
    const deadline = deadlineOf(options);
    if (!(await waitLoopAsync(this.region, COUNT, deadline, permitOrSleep, SLEEPERS)))
      throw timeoutError("Semaphore.acquireAsync", options);
  }

  /** Returns `count` permits; throws `SEMAPHORE_OVERFLOW` (and changes nothing) beyond the maximum. */
  release(count = 1): void {
    acount(count, 1, LIMIT, "count");
    const max = Atomics.load(this.region, MAX);
    for (let attempt = 0; ; attempt++) {
      if (attempt >= CAS_ATTEMPTS_MAX) throw new Error("chaindb internal error: Semaphore.release livelock");
      const c = Atomics.load(this.region, COUNT);
      if (c + count > max) {
        throw new ChainDbError(
          ErrorCode.SEMAPHORE_OVERFLOW,
          `Semaphore.release(${count}) with ${c} of ${max} permits available`,
        );
      }
      if (Atomics.compareExchange(this.region, COUNT, c, c + count) === c) break;
    }
    if (Atomics.load(this.region, SLEEPERS) > 0) Atomics.notify(this.region, COUNT, count);
  }
}
