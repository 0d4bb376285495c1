// Deno suite for parallel execution inside the core (assembly/parallel.ts): the threaded build
// runs its workers as Deno Web Workers over one shared memory, and random blocks of every shape
// (test/helpers/parallel-blocks.ts) give serial execution's statuses, touched accounts and roots
// (the roots hashed on both threads); the ts engine's twin (bindings/engine/state-ts-par.ts) on
// Web Workers over SharedArrayBuffers against serial ts and wasm.
import fc from "fast-check";
import { createLedgerState, type LedgerState } from "chaindb";
import { createThreadedTsStateForTest } from "../../bindings/engine/state-ts-threads.ts";
import { createThreadedWasmState } from "../../bindings/engine/state-threads.ts";
import {
  blockCaseArb,
  checkApplyThreads,
  checkRootThreads,
  runCase,
  sameAccounts,
} from "../helpers/parallel-blocks.ts";

Deno.test("parallel execution on Web Workers equals serial execution on random blocks", async () => {
  const states: LedgerState[] = [
    await createLedgerState("wasm"),
    await createLedgerState("wasm", { threads: 1 }),
    // No backing off to serial on a loaded machine: the test checks the threads did the work.
    await createThreadedWasmState(2, { slowSpins: 2 ** 32 - 1 }),
  ];
  try {
    if (states.map((s) => s.threads ?? 0).join() !== "0,1,2") throw new Error("thread counts");
    fc.assert(
      fc.property(blockCaseArb, (c) => runCase(states, c)),
      { seed: 0x12c0de, numRuns: 40 },
    );
    if (!sameAccounts(states)) throw new Error("accounts differ at the end");
    checkRootThreads(states, 20);
  } finally {
    for (const s of states) await s.close?.();
  }
});

Deno.test("the ts engine's parallel execution on Web Workers equals serial ts and wasm", async () => {
  const states: LedgerState[] = [
    await createLedgerState("ts"),
    await createLedgerState("ts", { threads: 2 }),
    await createThreadedTsStateForTest(2, { minPerLevel: 1 }),
    await createLedgerState("wasm"),
  ];
  try {
    fc.assert(
      fc.property(blockCaseArb, (c) => runCase(states, c)),
      { seed: 0x12c0de, numRuns: 20 },
    );
    if (!sameAccounts(states)) throw new Error("accounts differ at the end");
    // Blocks ran on the schedule and roots on both threads (not serially after all).
    checkApplyThreads(states, 0);
    if ((states[2]!.applyJobs ?? 0) < 15) throw new Error(`deep schedule: ${states[2]!.applyJobs} blocks`);
    checkRootThreads(states.slice(0, 3), 10);
  } finally {
    for (const s of states) await s.close?.();
  }
});
