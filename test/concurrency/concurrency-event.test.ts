import { afterAll, describe, expect, it } from "vitest";
import { Event } from "../../bindings/concurrency/index.ts";
import { TaskPool, waitForWord } from "../helpers/concurrency-harness.ts";

const WAITERS = 3;
const pool = new TaskPool(WAITERS);
afterAll(() => pool.close());

// Shared words: [0] waiters ready, [1] waiters released, [2] sets performed.
function startWaiters(event: Event, shared: Int32Array): Promise<unknown>[] {
  return Array.from(
    { length: WAITERS },
    (_, i) =>
      pool.start(
        i,
        { task: "eventWait", event: event.handle(), shared, timeoutMs: 20_000 },
        { timeoutMs: 60_000 },
      ).done,
  );
}

describe("Event across real workers", () => {
  it("a manual-reset event wakes all its waiters with one set", async () => {
    const event = new Event();
    const shared = new Int32Array(new SharedArrayBuffer(12));
    const done = startWaiters(event, shared);
    await waitForWord(shared, 0, WAITERS, 30_000);
    expect(Atomics.load(shared, 1)).toBe(0); // nobody got through a clear event
    Atomics.store(shared, 2, 1);
    event.set();
    const results = (await Promise.all(done)) as { woke: boolean }[];
    expect(results.map((r) => r.woke)).toEqual([true, true, true]);
    expect(event.isSet).toBe(true); // manual-reset: stays set
  });

  it("an auto-reset event releases one waiter per set", async () => {
    const event = new Event({ autoReset: true });
    const shared = new Int32Array(new SharedArrayBuffer(12));
    const done = startWaiters(event, shared);
    await waitForWord(shared, 0, WAITERS, 30_000);
    for (let k = 1; k <= WAITERS; k++) {
      Atomics.store(shared, 2, k);
      event.set();
      await waitForWord(shared, 1, k, 30_000);
    }
    const results = (await Promise.all(done)) as { woke: boolean; releasedBeyondSets: boolean }[];
    expect(results.every((r) => r.woke)).toBe(true);
    expect(results.some((r) => r.releasedBeyondSets)).toBe(false);
    expect(Atomics.load(shared, 1)).toBe(WAITERS);
    expect(event.isSet).toBe(false); // the last waiter consumed the last set
  });
});

describe("Event on one thread", () => {
  it("wait and waitAsync time out (false) on a clear event", async () => {
    const event = new Event();
    const t0 = performance.now();
    expect(event.wait({ timeoutMs: 20 })).toBe(false);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(19);
    expect(await event.waitAsync({ timeoutMs: 20 })).toBe(false);
  });

  it("manual-reset: set stays set until reset; a set-then-reset pulse still releases a waiter", async () => {
    const event = Event.from(new Event({ initiallySet: true }).handle());
    expect(event.wait({ timeoutMs: 0 })).toBe(true);
    expect(event.wait({ timeoutMs: 0 })).toBe(true);
    event.reset();
    expect(event.wait({ timeoutMs: 0 })).toBe(false);
    const waiting = event.waitAsync({ timeoutMs: 10_000 });
    event.set();
    event.reset();
    expect(await waiting).toBe(true);
  });

  it("auto-reset: each set is consumed by exactly one wait", () => {
    const event = new Event({ autoReset: true });
    event.set();
    event.set(); // setting a set event changes nothing (Win32 semantics)
    expect(event.isSet).toBe(true);
    expect(event.wait({ timeoutMs: 0 })).toBe(true);
    expect(event.isSet).toBe(false);
    expect(event.wait({ timeoutMs: 0 })).toBe(false);
  });
});
