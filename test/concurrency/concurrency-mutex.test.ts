import { afterAll, describe, expect, it } from "vitest";
import { Mutex, currentThread, type ThreadIdentity } from "../../bindings/concurrency/index.ts";
import { ChainDbError } from "../../bindings/util/index.ts";
import { slow, TaskPool, waitForWord, WorkerTaskError } from "../helpers/concurrency-harness.ts";

const pool = new TaskPool(slow ? 8 : 4);
afterAll(() => pool.close());

describe("Mutex across real workers", () => {
  it("loses no update of a counter incremented under the lock", async () => {
    const workers = slow ? 8 : 4;
    const iterations = slow ? 100_000 : 25_000;
    const mutex = new Mutex();
    const shared = new Int32Array(new SharedArrayBuffer(12)); // inside, violations, counter
    const results = await pool.run(
      Array.from({ length: workers }, () => ({
        task: "mutexCounter" as const,
        mutex: mutex.handle(),
        shared,
        iterations,
      })),
      slow ? 600_000 : 60_000,
    );
    expect(results).toEqual(Array(workers).fill(iterations));
    expect(shared[2]).toBe(workers * iterations);
    expect(shared[1]).toBe(0); // no two critical sections overlapped
    expect(mutex.isLocked).toBe(false);
  });

  it("lets the main thread compete through lockAsync with workers blocking in lock", async () => {
    const iterations = slow ? 400_000 : 100_000;
    const mutex = new Mutex();
    const shared = new Int32Array(new SharedArrayBuffer(12)); // inside, violations, counter
    const workers = pool.run(
      [0, 1].map(() => ({ task: "mutexCounter" as const, mutex: mutex.handle(), shared, iterations })),
      slow ? 300_000 : 60_000,
    );
    let mainIncrements = 0;
    let workerIncrements = 0;
    // Until both workers are through (seen in shared memory: an uncontended lockAsync never yields
    // to the event loop, so no message could tell us) and at least mainRoundsMin rounds, bounded.
    // Each round takes the lock from the main thread, through the waitAsync path whenever a worker
    // holds it (rare on 2 busy cores; the deterministic contended case is the lockAsync test below).
    const mainRoundsMin = slow ? 50_000 : 5_000;
    for (
      let round = 0;
      round < 10_000_000 && (workerIncrements < 2 * iterations || round < mainRoundsMin);
      round++
    ) {
      await mutex.lockAsync({ timeoutMs: 30_000 });
      if (Atomics.add(shared, 0, 1) !== 0) Atomics.add(shared, 1, 1);
      shared[2] = shared[2]! + 1;
      mainIncrements++;
      workerIncrements = shared[2]! - mainIncrements;
      Atomics.sub(shared, 0, 1);
      mutex.unlock();
    }
    await workers;
    expect(mainIncrements).toBeGreaterThanOrEqual(mainRoundsMin);
    expect(shared[2]).toBe(2 * iterations + mainIncrements);
    expect(shared[1]).toBe(0);
  });

  it("gives every thread its own id from the shared registry that travels with a Mutex handle", async () => {
    const handle = new Mutex().handle();
    const ids = (await pool.run(
      [0, 1, 2].map(() => ({ task: "identity" as const, mutex: handle })),
      30_000,
    )) as ThreadIdentity[];
    const me = currentThread();
    expect(ids.every((id) => id.tag === me.tag)).toBe(true);
    expect(new Set([me.id, ...ids.map((id) => id.id)]).size).toBe(4);
  });

  it("times out a blocking lock held by another thread with LOCK_TIMEOUT", async () => {
    const mutex = new Mutex();
    await mutex.lockAsync();
    const t0 = performance.now();
    const done = pool.start(
      0,
      { task: "lockWithTimeout", mutex: mutex.handle(), timeoutMs: 100 },
      { timeoutMs: 30_000 },
    );
    await expect(done.done).rejects.toMatchObject({ code: "LOCK_TIMEOUT" });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(100);
    mutex.unlock();
  });

  it("times out lockAsync while a worker holds the lock, then gets it once released", async () => {
    const mutex = new Mutex();
    const gate = new Int32Array(new SharedArrayBuffer(8));
    const holder = pool.start(0, { task: "holdMutex", mutex: mutex.handle(), gate }, { timeoutMs: 30_000 });
    await waitForWord(gate, 0, 1, 30_000);
    await expect(mutex.lockAsync({ timeoutMs: 50 })).rejects.toMatchObject({ code: "LOCK_TIMEOUT" });
    expect(mutex.tryLock()).toBe(false);
    const acquired = mutex.lockAsync({ timeoutMs: 30_000 });
    Atomics.store(gate, 1, 1);
    Atomics.notify(gate, 1);
    await acquired;
    expect(mutex.heldByCurrentThread).toBe(true);
    expect(await holder.done).toBe("released");
    mutex.unlock();
  });

  it("rejects unlock by a thread that does not own the lock (NOT_OWNER)", async () => {
    const mutex = new Mutex();
    mutex.lock();
    const error = await pool
      .start(0, { task: "unlockForeign", mutex: mutex.handle() }, { timeoutMs: 30_000 })
      .done.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WorkerTaskError);
    expect((error as WorkerTaskError).code).toBe("NOT_OWNER");
    expect(mutex.heldByCurrentThread).toBe(true); // the failed unlock changed nothing
    mutex.unlock();
    expect(() => mutex.unlock()).toThrow(expect.objectContaining({ code: "NOT_OWNER" }));
  });
});

describe("Mutex on one thread", () => {
  it("tryLock succeeds only when free, and lock after unlock works", () => {
    const mutex = new Mutex();
    expect(mutex.tryLock()).toBe(true);
    expect(mutex.tryLock()).toBe(false);
    expect(mutex.isLocked).toBe(true);
    mutex.unlock();
    expect(mutex.isLocked).toBe(false);
    expect(mutex.withLock(() => 7)).toBe(7);
    expect(mutex.isLocked).toBe(false);
  });

  it("throws LOCK_RECURSION instead of deadlocking when the owner locks again", () => {
    const mutex = new Mutex();
    mutex.lock();
    let error: unknown;
    try {
      mutex.lock({ timeoutMs: 10_000 });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ChainDbError);
    expect((error as ChainDbError).code).toBe("LOCK_RECURSION");
    mutex.unlock();
  });

  it("reattaches from a handle to the same memory, and rejects foreign handles", () => {
    const region = new Int32Array(new SharedArrayBuffer(4 * 8));
    const a = new Mutex(region.subarray(4));
    const b = Mutex.from(a.handle());
    a.lock();
    expect(b.isLocked).toBe(true);
    expect(region[4]).toBe(1);
    b.unlock(); // same thread, same memory: allowed
    expect(a.isLocked).toBe(false);
    expect(() => Mutex.from({ kind: "chaindb.Semaphore", region } as never)).toThrow(TypeError);
    expect(() => new Mutex(new Int32Array(3))).toThrow(TypeError);
    expect(() => new Mutex(new Int32Array(new SharedArrayBuffer(8)))).toThrow(RangeError);
  });

  it("rejects a negative timeout on the waiting path", async () => {
    const mutex = new Mutex();
    mutex.lock();
    await expect(mutex.lockAsync({ timeoutMs: -1 })).rejects.toThrow(RangeError);
    expect(() => mutex.unlock()).not.toThrow();
  });
});
