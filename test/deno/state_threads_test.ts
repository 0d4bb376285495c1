// Deno suite for parallel execution inside the core (assembly/parallel.ts): the threaded build
// runs its workers as Deno Web Workers over one shared memory, and random blocks of every shape
// (test/helpers/parallel-blocks.ts) give serial execution's statuses, touched accounts and roots
// (the roots hashed on both threads).
import fc from "fast-check";
import { createLedgerState, type LedgerState } from "chaindb";
import { createThreadedWasmState } from "../../bindings/engine/state-threads.ts";
import { blockCaseArb, checkRootThreads, runCase, sameAccounts } from "../helpers/parallel-blocks.ts";

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
