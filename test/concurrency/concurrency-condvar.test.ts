import { afterAll, describe, expect, it } from "vitest";
import { ConditionVariable, Mutex } from "../../bindings/concurrency/index.ts";
import { slow, TaskPool } from "../helpers/concurrency-harness.ts";
import { createQueue } from "../helpers/concurrency-queue.ts";

const pool = new TaskPool(4);
afterAll(() => pool.close());

describe("ConditionVariable across real workers", () => {
  it("moves every item through a bounded producer/consumer queue exactly once, without deadlock", async () => {
    const total = slow ? 1_000_000 : 100_000;
    const queue = createQueue(total);
    const half = total / 2;
    const stuckMs = 20_000; // any single wait this long is reported as a deadlock
    const results = await pool.run(
      [
        { task: "producer", queue, first: 0, count: half, timeoutMs: stuckMs },
        { task: "producer", queue, first: half, count: total - half, timeoutMs: stuckMs },
        { task: "consumer", queue, total, timeoutMs: stuckMs },
        { task: "consumer", queue, total, timeoutMs: stuckMs },
      ],
      slow ? 600_000 : 120_000,
    );
    expect(results[0]).toBe(half);
    expect(results[1]).toBe(total - half);
    expect((results[2] as number) + (results[3] as number)).toBe(total);
    let lost = 0;
    let duplicated = 0;
    for (let i = 0; i < total; i++) {
      if (queue.seen[i] === 0) lost++;
      else if (queue.seen[i]! > 1) duplicated++;
    }
    expect({ lost, duplicated }).toEqual({ lost: 0, duplicated: 0 });
  });

  // The worker holds the mutex, calls wait, and is held (by the onUnlocked hook) in the window
  // after the unlock and before the sleep while this thread notifies: the wakeup must not be lost.
  async function lostWakeupCase(
    naive: boolean,
    timeoutMs: number,
  ): Promise<{ notified: boolean; ms: number }> {
    const mutex = new Mutex();
    const cv = new ConditionVariable();
    const gate = new Int32Array(new SharedArrayBuffer(4));
    let reachedWindow!: () => void;
    const inWindow = new Promise<void>((resolve) => (reachedWindow = resolve));
    const t0 = performance.now();
    const running = pool.start(
      0,
      { task: "lostWakeup", mutex: mutex.handle(), cv: cv.handle(), gate, naive, timeoutMs },
      {
        timeoutMs: 30_000,
        onProgress: (m) => m.stage === "unlocked" && reachedWindow(),
      },
    );
    await inWindow;
    await mutex.withLockAsync(() => cv.notifyOne());
    Atomics.store(gate, 0, 1);
    Atomics.notify(gate, 0);
    const { notified } = (await running.done) as { notified: boolean };
    return { notified, ms: performance.now() - t0 };
  }

  it("never loses a notify that lands between the waiter's unlock and its sleep", async () => {
    const result = await lostWakeupCase(false, 10_000);
    expect(result.notified).toBe(true);
    expect(result.ms).toBeLessThan(10_000);
  });

  it("(control) the same schedule loses the wakeup in a condvar that reads its sequence after unlocking", async () => {
    const result = await lostWakeupCase(true, 200);
    expect(result.notified).toBe(false);
  });
});

describe("ConditionVariable on one thread", () => {
  it("wait times out (false) and still re-takes the mutex", () => {
    const mutex = new Mutex();
    const cv = new ConditionVariable();
    mutex.lock();
    expect(cv.wait(mutex, { timeoutMs: 20 })).toBe(false);
    expect(mutex.heldByCurrentThread).toBe(true);
    mutex.unlock();
  });

  it("waitAsync is woken by notifyAll, and wait without holding the mutex throws NOT_OWNER", async () => {
    const mutex = new Mutex();
    const cv = ConditionVariable.from(new ConditionVariable().handle());
    await mutex.lockAsync();
    const waiting = cv.waitAsync(mutex, { timeoutMs: 10_000 });
    await mutex.withLockAsync(() => cv.notifyAll()); // the waiter released the mutex: we can take it
    expect(await waiting).toBe(true);
    expect(mutex.heldByCurrentThread).toBe(true);
    mutex.unlock();
    expect(() => cv.wait(mutex)).toThrow(expect.objectContaining({ code: "NOT_OWNER" }));
  });
});
