/**
 * Concurrency benchmark, side by side in one run: the lock manager's uncontended acquire+release
 * (sync `tryAcquire` and awaited `acquire`), an uncontended Mutex lock+unlock, and the cross-
 * thread handoff latency as ping-pong between this thread and a worker over the raw futex
 * (`Atomics.wait/notify`, the floor), two auto-reset Events, and Mutex + ConditionVariable; and
 * lock+unlock throughput while a worker competes for the same Mutex.
 * Handoff cases report round trips per second; the notes give the one-way latency in µs.
 *
 * The lock-manager cases run in a fresh worker (its own V8 heap): in a process whose heap has
 * grown — e.g. after earlier suites kept arrays of 300k latency samples — V8 made Map set/delete
 * churn about 10× slower here (225 → 1 500 ns per set+delete pair, Node 20.20), so in-process
 * figures for the allocation-heavy lock manager measured the heap's history, not the code.
 * This file is that worker's entry too (see the bottom).
 * @module
 */
import { isMainThread } from "node:worker_threads";
import { HandoffProbe, Mutex, type HandoffKind } from "../bindings/concurrency/index.ts";
import { onParentMessage, spawnWorker, workerUrl } from "../bindings/runtime/index.ts";
import { LockManager } from "../bindings/txn/index.ts";
import {
  consume,
  formatTable,
  measure,
  suiteResult,
  type CaseResult,
  type CaseSpec,
  type SuiteOptions,
  type SuiteResult,
} from "./lib.ts";

const LOCK_OPS = 1_000;
const HANDOFF_TRIPS = 200;

/** Runs the suite and returns its results. */
export async function run(options: SuiteOptions): Promise<SuiteResult> {
  const timing: Timing = { rounds: options.quick ? 2 : 5, timeMs: options.quick ? 150 : 800 };
  const progress = options.onProgress ?? (() => {});
  const lockManager = await measureInFreshWorker(timing, (m) =>
    progress(`lock manager (fresh worker): ${m}`),
  );
  const kinds: HandoffKind[] = ["futex", "event", "mutex-condvar", "mutex-contended"];
  const probes = await Promise.all(kinds.map((k) => HandoffProbe.start(k)));
  try {
    const threaded = await measure([mutexCase(), ...probes.map((p, i) => handoffCase(p, kinds[i]!))], {
      ...timing,
      onProgress: (m) => progress(`threads: ${m}`),
    });
    const cases = [...lockManager, ...threaded];
    for (const c of cases) {
      const base = cases.find((b) => b.id === c.baseline);
      if (base && c.ratio === undefined) c.ratio = c.median / base.median;
    }
    return suiteResult(
      "concurrency",
      "Concurrency: lock manager and cross-thread handoff",
      options.quick,
      cases,
      [],
      notes(cases),
    );
  } finally {
    await Promise.all(probes.map((p) => p.close()));
  }
}

interface Timing {
  rounds: number;
  timeMs: number;
}

const WORKER_BOUND_MS = 300_000;

// Runs lockManagerCases() in a new worker (this file) and returns its measurements.
function measureInFreshWorker(timing: Timing, onProgress: (m: string) => void): Promise<CaseResult[]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => finish(() => reject(new Error(`uncontended cases did not finish within ${WORKER_BOUND_MS} ms`))),
      WORKER_BOUND_MS,
    );
    const finish = (f: () => void) => {
      clearTimeout(timer);
      void worker.terminate();
      f();
    };
    const worker = spawnWorker(workerUrl(import.meta.url, "concurrency.bench"), {
      onMessage: (raw) => {
        const m = raw as { progress?: string; cases?: CaseResult[]; error?: string };
        if (m.progress !== undefined) onProgress(m.progress);
        else if (m.cases) finish(() => resolve(m.cases!));
        else finish(() => reject(new Error(`uncontended cases failed: ${m.error}`)));
      },
      onError: (e) => finish(() => reject(e)),
    });
    worker.postMessage(timing);
  });
}

function mutexCase(): CaseSpec {
  const mutex = new Mutex();
  return {
    id: "mutex-uncontended",
    label: "Mutex lock+unlock, uncontended",
    group: "uncontended",
    unit: " ops/s",
    units: LOCK_OPS,
    run: () => {
      for (let i = 0; i < LOCK_OPS; i++) {
        mutex.lock();
        mutex.unlock();
      }
      consume(LOCK_OPS);
    },
  };
}

// Few samples per round (a call takes ~0.5 ms), so the worker's own heap stays small.
function lockManagerCases(): CaseSpec[] {
  const lm = new LockManager();
  const keys = Array.from({ length: LOCK_OPS }, (_, i) => `account:${i}`);
  let tx = 0;
  return [
    {
      id: "lm-try",
      label: "LockManager tryAcquire X + releaseAll",
      group: "uncontended",
      unit: " ops/s",
      units: LOCK_OPS,
      run: () => {
        let granted = 0;
        for (let i = 0; i < LOCK_OPS; i++) {
          const id = tx++;
          if (lm.tryAcquire(id, keys[i]!, "X")) granted++;
          lm.releaseAll(id);
        }
        consume(granted);
      },
    },
    {
      id: "lm-await",
      label: "LockManager await acquire X + releaseAll",
      group: "uncontended",
      unit: " ops/s",
      units: LOCK_OPS,
      baseline: "lm-try",
      run: async () => {
        for (let i = 0; i < LOCK_OPS; i++) {
          const id = tx++;
          await lm.acquire(id, keys[i]!, "X");
          lm.releaseAll(id);
        }
        consume(LOCK_OPS);
      },
    },
  ];
}

function handoffCase(probe: HandoffProbe, kind: HandoffKind): CaseSpec {
  const labels: Record<HandoffKind, string> = {
    futex: "ping-pong, raw Atomics.wait/notify",
    event: "ping-pong, two auto-reset Events",
    "mutex-condvar": "ping-pong, Mutex + ConditionVariable",
    "mutex-contended": "Mutex lock+unlock, contended by a worker",
  };
  if (kind === "mutex-contended") {
    return {
      id: "mutex-contended",
      label: labels[kind],
      group: "contended",
      unit: " ops/s",
      units: LOCK_OPS,
      run: () => consume(probe.roundTrips(LOCK_OPS)),
      baseline: "mutex-uncontended",
    };
  }
  return {
    id: `handoff-${kind}`,
    label: labels[kind],
    group: "handoff (round trips)",
    unit: " trips/s",
    units: HANDOFF_TRIPS,
    run: () => consume(probe.roundTrips(HANDOFF_TRIPS)),
    ...(kind === "futex" ? {} : { baseline: "handoff-futex" }),
  };
}

function notes(cases: CaseResult[]): string[] {
  const ns = (id: string) => 1e9 / cases.find((c) => c.id === id)!.median;
  return [
    `uncontended: Mutex ${ns("mutex-uncontended").toFixed(0)} ns (contended by a worker: ${ns("mutex-contended").toFixed(0)} ns), LockManager tryAcquire+releaseAll ${ns("lm-try").toFixed(0)} ns, await acquire+releaseAll ${ns("lm-await").toFixed(0)} ns per pair`,
    `one-way handoff (half a round trip): futex ${(ns("handoff-futex") / 2000).toFixed(1)} µs, Event ${(ns("handoff-event") / 2000).toFixed(1)} µs, Mutex+ConditionVariable ${(ns("handoff-mutex-condvar") / 2000).toFixed(1)} µs`,
    "The ping side is this (main) thread, blocking in Atomics.wait; the pong side is one worker per mechanism.",
  ];
}

if (!isMainThread) {
  // The fresh worker of measureInFreshWorker: listener attached at top level, before any await.
  const channel = onParentMessage((message) => {
    const timing = message as Timing;
    measure(lockManagerCases(), {
      ...timing,
      onProgress: (progress) => channel.postMessage({ progress }),
    }).then(
      (cases) => channel.postMessage({ cases }),
      (error: unknown) => channel.postMessage({ error: String(error) }),
    );
  });
} else if (import.meta.url === `file://${process.argv[1]}`) {
  // Run directly (`npx tsx bench/concurrency.bench.ts [--quick]`): print the table.
  const result = await run({ quick: process.argv.includes("--quick") });
  console.log(formatTable(result));
}
