// Deno smoke test for the synchronization primitives with real Deno Web Workers (the same fixture
// worker the Node suite uses): a Mutex counter loses no update, a ConditionVariable queue moves
// every item once, misuse throws, and the lock manager breaks a deadlock.
import { spawnWorker } from "../../bindings/runtime/index.ts";
import { Mutex, Semaphore } from "../../bindings/concurrency/index.ts";
import { LockManager } from "../../bindings/txn/index.ts";
import { createQueue } from "../helpers/concurrency-queue.ts";

const WORKER = new URL("../helpers/concurrency-worker.ts", import.meta.url);

function runTask(task: Record<string, unknown>, timeoutMs: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void worker.terminate();
      reject(new Error(`${String(task.task)} did not finish within ${timeoutMs} ms`));
    }, timeoutMs);
    const finish = (f: () => void) => {
      clearTimeout(timer);
      void worker.terminate();
      f();
    };
    const worker = spawnWorker(WORKER, {
      onMessage: (raw) => {
        const m = raw as { type: string; result?: unknown; error?: { code?: string; message: string } };
        if (m.type === "done") finish(() => resolve(m.result));
        else if (m.type === "failed")
          finish(() => reject(Object.assign(new Error(m.error?.message), { code: m.error?.code })));
      },
      onError: (error) => finish(() => reject(error)),
    });
    worker.postMessage(task);
  });
}

function assertEquals(actual: unknown, expected: unknown, what: string): void {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new Error(`${what}: expected ${e}, got ${a}`);
}

Deno.test("Mutex: 2 Deno workers x 20k increments lose no update", async () => {
  const mutex = new Mutex();
  const shared = new Int32Array(new SharedArrayBuffer(12)); // inside, violations, counter
  const iterations = 20_000;
  const results = await Promise.all(
    [0, 1].map(() => runTask({ task: "mutexCounter", mutex: mutex.handle(), shared, iterations }, 60_000)),
  );
  assertEquals(results, [iterations, iterations], "worker results");
  assertEquals(shared[2], 2 * iterations, "counter");
  assertEquals(shared[1], 0, "overlapping critical sections");
});

Deno.test("Mutex: unlock from another Deno worker throws NOT_OWNER", async () => {
  const mutex = new Mutex();
  mutex.lock();
  const error = await runTask({ task: "unlockForeign", mutex: mutex.handle() }, 60_000).catch((e) => e);
  assertEquals((error as { code?: string }).code, "NOT_OWNER", "error code");
  mutex.unlock();
});

Deno.test("Semaphore: release beyond the maximum throws SEMAPHORE_OVERFLOW", () => {
  const s = new Semaphore(1);
  let code: string | undefined;
  try {
    s.release();
  } catch (e) {
    code = (e as { code?: string }).code;
  }
  assertEquals(code, "SEMAPHORE_OVERFLOW", "error code");
});

Deno.test("LockManager: a 2-cycle deadlock aborts the younger transaction with TX_DEADLOCK", async () => {
  const lm = new LockManager();
  await lm.acquire("old", "a", "X");
  await lm.acquire("young", "b", "X");
  const old = lm.acquire("old", "b", "X").then(
    () => "granted",
    (e) => e.code,
  );
  const young = lm.acquire("young", "a", "X").then(
    () => "granted",
    (e) => e.code,
  );
  assertEquals(await young, "TX_DEADLOCK", "victim");
  lm.releaseAll("young");
  assertEquals(await old, "granted", "survivor");
});

Deno.test(
  "ConditionVariable: bounded queue, 2 producers and 2 consumers, 20k items, none lost or repeated",
  async () => {
    const total = 20_000;
    const queue = createQueue(total);
    const results = await Promise.all([
      runTask({ task: "producer", queue, first: 0, count: total / 2, timeoutMs: 20_000 }, 60_000),
      runTask({ task: "producer", queue, first: total / 2, count: total / 2, timeoutMs: 20_000 }, 60_000),
      runTask({ task: "consumer", queue, total, timeoutMs: 20_000 }, 60_000),
      runTask({ task: "consumer", queue, total, timeoutMs: 20_000 }, 60_000),
    ]);
    assertEquals((results[2] as number) + (results[3] as number), total, "items consumed");
    assertEquals(
      queue.seen.every((n) => n === 1),
      true,
      "every item seen exactly once",
    );
  },
);
