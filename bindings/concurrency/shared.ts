/**
 * Shared plumbing for the synchronization primitives: shared Int32Array regions, structured-
 * clonable handles, deadlines, and blocking/async waits on Atomics (ECMAScript 2024 §25.4,
 * `Atomics.wait` / `Atomics.waitAsync` / `Atomics.notify`, the futex of JavaScript).
 * @module
 */
import { ChainDbError, ErrorCode } from "../util/index.ts";

/** Options accepted by every blocking operation. */
export interface WaitOptions {
  /** Give up after this many milliseconds (default: wait forever). `0` means "only try". */
  timeoutMs?: number;
}

/** A structured-clonable description of a primitive: post it to a worker and reattach there. */
export interface PrimitiveHandle<K extends string> {
  /** Which primitive this is, checked when reattaching. */
  readonly kind: K;
  /** The primitive's words, a view over a SharedArrayBuffer (shared, not copied, by postMessage). */
  readonly region: Int32Array;
}

/** Result of one futex wait, as `Atomics.wait` reports it. */
export type WaitResult = "ok" | "not-equal" | "timed-out";

type WaitAsyncResult = { async: false; value: WaitResult } | { async: true; value: Promise<WaitResult> };
// ES2024's Atomics.waitAsync: present in Node 20 and Deno, missing from the ES2022 lib we compile with.
const atomicsWaitAsync = (
  Atomics as unknown as {
    waitAsync: (a: Int32Array, index: number, value: number, timeoutMs?: number) => WaitAsyncResult;
  }
).waitAsync;

/** Allocates a zeroed shared region of `words` Int32 words, or checks and narrows a given one. */
export function sharedRegion(region: Int32Array | undefined, words: number, name: string): Int32Array {
  if (region === undefined) return new Int32Array(new SharedArrayBuffer(words * 4));
  if (!(region instanceof Int32Array)) throw new TypeError(`"${name}" expected an Int32Array region`);
  if (!(region.buffer instanceof SharedArrayBuffer)) {
    throw new TypeError(`"${name}" expected an Int32Array over a SharedArrayBuffer`);
  }
  if (region.length < words) throw new RangeError(`"${name}" expected ${words} words, got ${region.length}`);
  return region.subarray(0, words);
}

/** Checks a handle received from another thread and returns its region. */
export function attachRegion(handle: unknown, kind: string, words: number): Int32Array {
  const h = handle as Partial<PrimitiveHandle<string>> | null;
  if (h === null || typeof h !== "object" || h.kind !== kind) {
    throw new TypeError(
      `expected a ${kind} handle, got ${h === null ? "null" : typeof h === "object" ? String(h.kind) : typeof h}`,
    );
  }
  return sharedRegion(h.region, words, `${kind}.region`);
}

/** Validates a `timeoutMs` option and turns it into an absolute deadline (`performance.now()` ms). */
export function deadlineOf(options: WaitOptions | undefined): number {
  const timeoutMs = options?.timeoutMs;
  if (timeoutMs === undefined || timeoutMs === Infinity) return Infinity;
  if (typeof timeoutMs !== "number" || Number.isNaN(timeoutMs) || timeoutMs < 0) {
    throw new RangeError(`"timeoutMs" expected a number >= 0, got ${String(timeoutMs)}`);
  }
  return performance.now() + timeoutMs;
}

/** Milliseconds left before `deadline` (never negative; `Infinity` for no deadline). */
export function remainingMs(deadline: number): number {
  return deadline === Infinity ? Infinity : Math.max(0, deadline - performance.now());
}

/** Blocks this thread while `region[index] === value`, at most until `deadline`. */
export function waitSync(region: Int32Array, index: number, value: number, deadline: number): WaitResult {
  return Atomics.wait(region, index, value, remainingMs(deadline));
}

// A single ref'd timer per waiting call keeps the event loop alive: Atomics.waitAsync alone does
// not (checked on Node 20.20 and Deno 2.9: a process whose only work is a waitAsync exits early).
const KEEPALIVE_MS = 2 ** 30;

/** Waits without blocking the thread while `region[index] === value`, at most until `deadline`. */
export async function waitAsyncUntil(
  region: Int32Array,
  index: number,
  value: number,
  deadline: number,
): Promise<WaitResult> {
  const remaining = remainingMs(deadline);
  const result = atomicsWaitAsync(region, index, value, remaining);
  if (!result.async) return result.value;
  const keepAlive = setTimeout(() => {}, Math.min(remaining + 1, KEEPALIVE_MS));
  try {
    return await result.value;
  } finally {
    clearTimeout(keepAlive);
  }
}

/**
 * One try of a wait loop on `region`: `true` once the wait is over (the lock taken, the flag
 * seen …), else the value of the futex word to sleep on (the sleep returns at once if the word no
 * longer holds it). Given the region so that a module-level function serves: a closure over `this`
 * would make V8 allocate a context on every call of the primitive, its fast path included.
 */
export type WaitAttempt = (region: Int32Array) => true | number;

/**
 * The wait-with-timeout loop of the primitives: try; while the try fails and `deadline` has not
 * passed, sleep on `region[index]`, then try again. A wakeup is only a hint (it may be spurious,
 * or another thread won the race), so every wakeup re-tries. Returns false when the deadline
 * passed first. With `sleepersIndex`, the word there counts the threads asleep, so that notifiers
 * can skip `Atomics.notify` when it is 0 (it is raised before the sleep re-reads the word).
 */
export function waitLoop(
  region: Int32Array,
  index: number,
  deadline: number,
  attempt: WaitAttempt,
  sleepersIndex?: number,
): boolean {
  for (;;) {
    const expected = attempt(region);
    if (expected === true) return true;
    if (remainingMs(deadline) <= 0) return false;
    if (sleepersIndex !== undefined) Atomics.add(region, sleepersIndex, 1);
    try {
      waitSync(region, index, expected, deadline);
    } finally {
      if (sleepersIndex !== undefined) Atomics.sub(region, sleepersIndex, 1);
    }
  }
}

/** {@link waitLoop} without blocking the thread (sleeps with `Atomics.waitAsync`). */
export async function waitLoopAsync(
  region: Int32Array,
  index: number,
  deadline: number,
  attempt: WaitAttempt,
  sleepersIndex?: number,
): Promise<boolean> {
  for (;;) {
    const expected = attempt(region);
    if (expected === true) return true;
    if (remainingMs(deadline) <= 0) return false;
    if (sleepersIndex !== undefined) Atomics.add(region, sleepersIndex, 1);
    try {
      await waitAsyncUntil(region, index, expected, deadline);
    } finally {
      if (sleepersIndex !== undefined) Atomics.sub(region, sleepersIndex, 1);
    }
  }
}

/** The typed error every primitive throws when a timeout expires. */
export function timeoutError(what: string, options: WaitOptions | undefined): ChainDbError {
  return new ChainDbError(ErrorCode.LOCK_TIMEOUT, `${what} timed out after ${options?.timeoutMs} ms`);
}

/** Checks a count argument (permits, initial values). */
export function acount(value: unknown, min: number, max: number, name: string): number {
  if (typeof value !== "number" || !Number.isInteger(value))
    throw new TypeError(`"${name}" expected an integer, got ${typeof value}`);
  if (value < min || value > max)
    throw new RangeError(`"${name}" expected an integer in [${min}, ${max}], got ${value}`);
  return value;
}
