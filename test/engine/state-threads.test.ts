/**
 * Parallel execution inside the core (assembly/parallel.ts, build/threads.wasm) against serial
 * execution (build/release.wasm): a fast-check property over random blocks of every shape
 * (test/helpers/parallel-blocks.ts) on 1 and 2 threads; then the option checks and the workers'
 * lifecycle.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLedgerState, type LedgerState } from "../../bindings/engine/index.ts";
import { ErrorCode } from "../../bindings/util/index.ts";
import { blockCaseArb, runCase, sameAccounts } from "../helpers/parallel-blocks.ts";

describe("parallel execution in the threaded core", () => {
  let states: LedgerState[] = [];
  beforeAll(async () => {
    states = [
      await createLedgerState("wasm"),
      await createLedgerState("wasm", { threads: 1 }),
      await createLedgerState("wasm", { threads: 2 }),
    ];
  });
  afterAll(async () => {
    for (const s of states) await s.close?.();
  });

  it("gives serial execution's statuses, touched accounts, roots and accounts on every block", () => {
    expect(states.map((s) => s.threads ?? 0)).toEqual([0, 1, 2]);
    fc.assert(
      fc.property(blockCaseArb, (c) => runCase(states, c)),
      { seed: 0x12c0de, numRuns: 120 },
    );
    expect(sameAccounts(states)).toBe(true);
  }, 120_000);
});

describe("the threads option", () => {
  it("refuses a thread count out of range and the ts engine", async () => {
    for (const threads of [-1, 17]) {
      await expect(createLedgerState("wasm", { threads })).rejects.toThrow(
        expect.objectContaining({ code: ErrorCode.BAD_RANGE }),
      );
    }
    await expect(createLedgerState("wasm", { threads: 1.5 })).rejects.toThrow(
      expect.objectContaining({ code: ErrorCode.BAD_ARGUMENT }),
    );
    await expect(createLedgerState("ts", { threads: 2 })).rejects.toThrow(
      expect.objectContaining({ code: ErrorCode.BAD_ARGUMENT }),
    );
  });
});
