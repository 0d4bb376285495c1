import { afterAll, describe, expect, it } from "vitest";
import { Signal } from "../../bindings/concurrency/index.ts";
import { ChainDbError } from "../../bindings/util/index.ts";
import { TaskPool, waitForWord } from "../helpers/concurrency-harness.ts";

const pool = new TaskPool(1);
afterAll(() => pool.close());

describe("Signal", () => {
  it("stops a busy worker loop within a bound after raise", async () => {
    const signal = new Signal();
    const shared = new Int32Array(new SharedArrayBuffer(8)); // [0] iterations, [1] stopped
    const running = pool.start(
      0,
      { task: "signalLoop", signal: signal.handle(), shared },
      { timeoutMs: 60_000 },
    );
    await waitForWord(shared, 0, 1, 30_000); // the loop is running
    const t0 = performance.now();
    signal.raise(7);
    await waitForWord(shared, 1, 1, 5_000);
    const stopMs = performance.now() - t0;
    const { iterations } = (await running.done) as { iterations: number };
    expect(iterations).toBeGreaterThan(0);
    expect(stopMs).toBeLessThan(1_000); // one iteration is ~1 µs of work; 1 s leaves room for a busy machine
    expect(signal.reason).toBe(7);
  });

  it("raise, clear, reason and throwIfRaised", () => {
    const signal = Signal.from(new Signal().handle());
    expect(signal.raised).toBe(false);
    expect(() => signal.throwIfRaised()).not.toThrow();
    signal.raise(3);
    expect(signal.raised).toBe(true);
    expect(signal.reason).toBe(3);
    let error: unknown;
    try {
      signal.throwIfRaised();
    } catch (e) {
      error = e;
    }
    expect((error as ChainDbError).code).toBe("ABORTED");
    signal.clear();
    expect(signal.raised).toBe(false);
    expect(signal.reason).toBe(0);
    expect(() => signal.raise(-1)).toThrow(RangeError);
  });

  it("wait times out (false) while clear; waitAsync resolves on raise", async () => {
    const signal = new Signal();
    expect(signal.wait({ timeoutMs: 20 })).toBe(false);
    const waiting = signal.waitAsync({ timeoutMs: 10_000 });
    signal.raise();
    expect(await waiting).toBe(true);
    expect(signal.wait({ timeoutMs: 0 })).toBe(true);
  });
});
