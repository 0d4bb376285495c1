import { afterAll, describe, expect, it } from "vitest";
import { Semaphore } from "../../bindings/concurrency/index.ts";
import { ChainDbError } from "../../bindings/util/index.ts";
import { slow, TaskPool } from "../helpers/concurrency-harness.ts";

const pool = new TaskPool(4);
afterAll(() => pool.close());

describe("Semaphore across real workers", () => {
  it("Semaphore(3) never admits a fourth holder", async () => {
    const semaphore = new Semaphore(3);
    const shared = new Int32Array(new SharedArrayBuffer(8)); // holders now, most holders seen
    const iterations = slow ? 50_000 : 5_000;
    const results = await pool.run(
      Array.from({ length: 4 }, () => ({
        task: "semaphore" as const,
        semaphore: semaphore.handle(),
        shared,
        iterations,
      })),
      slow ? 300_000 : 60_000,
    );
    expect(results).toEqual([iterations, iterations, iterations, iterations]);
    expect(shared[1]).toBeLessThanOrEqual(3);
    expect(shared[1]).toBeGreaterThanOrEqual(1);
    expect(shared[0]).toBe(0);
    expect(semaphore.available).toBe(3);
  });
});

describe("Semaphore on one thread", () => {
  it("counts permits: acquire, tryAcquire, release", () => {
    const s = new Semaphore(2);
    expect(s.max).toBe(2);
    s.acquire();
    expect(s.tryAcquire()).toBe(true);
    expect(s.available).toBe(0);
    expect(s.tryAcquire()).toBe(false);
    s.release(2);
    expect(s.available).toBe(2);
  });

  it("throws SEMAPHORE_OVERFLOW on release beyond the maximum and changes nothing", () => {
    const s = new Semaphore(1, { max: 2 });
    s.release();
    let error: unknown;
    try {
      s.release();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ChainDbError);
    expect((error as ChainDbError).code).toBe("SEMAPHORE_OVERFLOW");
    expect(s.available).toBe(2);
    expect(() => new Semaphore(3, { max: 2 })).toThrow(RangeError);
  });

  it("times out acquire and acquireAsync with LOCK_TIMEOUT", async () => {
    const s = new Semaphore(0, { max: 1 });
    const t0 = performance.now();
    expect(() => s.acquire({ timeoutMs: 30 })).toThrow(expect.objectContaining({ code: "LOCK_TIMEOUT" }));
    expect(performance.now() - t0).toBeGreaterThanOrEqual(29);
    await expect(s.acquireAsync({ timeoutMs: 30 })).rejects.toMatchObject({ code: "LOCK_TIMEOUT" });
  });

  it("wakes an async waiter on release and reattaches from a handle", async () => {
    const s = new Semaphore(0, { max: 1 });
    const other = Semaphore.from(s.handle());
    const waiting = s.acquireAsync({ timeoutMs: 10_000 });
    other.release();
    await waiting;
    expect(s.available).toBe(0);
  });
});
