/**
 * Parallel execution inside the core (assembly/parallel.ts, build/threads.wasm) against serial
 * execution (build/release.wasm): a fast-check property over random blocks of every shape
 * (test/helpers/parallel-blocks.ts) on 1 and 2 threads; the same for the ts engine's twin
 * (bindings/engine/state-ts-par.ts) against serial ts and wasm, with a check that its blocks ran
 * on the schedule; then the option checks and the workers' lifecycle on both engines.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLedgerState, type LedgerState } from "../../bindings/engine/index.ts";
import { Ledger } from "../../bindings/chain/index.ts";
import { createThreadedWasmState } from "../../bindings/engine/state-threads.ts";
import { ErrorCode } from "../../bindings/util/index.ts";
import { createThreadedTsStateForTest } from "../../bindings/engine/state-ts-threads.ts";
import {
  blockCaseArb,
  checkApplyThreads,
  checkRootThreads,
  runCase,
  sameAccounts,
} from "../helpers/parallel-blocks.ts";

/** These tests check that the threads did the work: no backing off to serial on a loaded machine. */
const NO_BACKOFF = { slowSpins: 2 ** 32 - 1 };

describe("parallel execution in the threaded core", () => {
  let states: LedgerState[] = [];
  beforeAll(async () => {
    states = [
      await createLedgerState("wasm"),
      await createLedgerState("wasm", { threads: 1 }),
      await createThreadedWasmState(2, NO_BACKOFF),
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
    // The roots above were hashed on both threads (not serially after all).
    expect(() => checkRootThreads(states, 100)).not.toThrow();
  }, 120_000);
});

describe("parallel execution of the ts engine over SharedArrayBuffers", () => {
  let states: LedgerState[] = [];
  beforeAll(async () => {
    states = [
      await createLedgerState("ts"),
      await createLedgerState("ts", { threads: 1 }),
      await createLedgerState("ts", { threads: 2 }),
      // Every block on the schedule, however deep: hot accounts and chains run on the threads too.
      await createThreadedTsStateForTest(2, { minPerLevel: 1 }),
      await createLedgerState("wasm"),
    ];
  });
  afterAll(async () => {
    for (const s of states) await s.close?.();
  });

  it("gives serial execution's statuses, touched accounts, roots and accounts on every block", () => {
    expect(states.map((s) => s.threads ?? 0)).toEqual([0, 1, 2, 2, 0]);
    fc.assert(
      fc.property(blockCaseArb, (c) => runCase(states, c)),
      { seed: 0x12c0de, numRuns: 30 },
    );
    expect(sameAccounts(states)).toBe(true);
    // The blocks above ran on the schedule (not serially after all), the roots on both threads.
    expect(states.map((s) => s.applyJobs ?? 0)).toEqual([0, 3, 3, 30, 0]);
    expect(() => checkApplyThreads(states, 2)).not.toThrow();
    expect(() => checkRootThreads(states.slice(0, 4), 20)).not.toThrow();
  }, 120_000);
});

describe("the ts engine on three threads", () => {
  it("credits the fees of every thread, whichever workers joined a block", async () => {
    // With 3 threads, worker 2 may join a block that worker 1 misses: the first version summed
    // the fees of the joined count's first slots (threads 0 and 1) and lost worker 2's.
    const states = [await createLedgerState("ts"), await createThreadedTsStateForTest(3, { minPerLevel: 1 })];
    try {
      fc.assert(
        fc.property(blockCaseArb, (c) => runCase(states, c)),
        { seed: 7, numRuns: 15, endOnFailure: true },
      );
      expect(sameAccounts(states)).toBe(true);
      expect(states[1]!.applyJobs).toBeGreaterThan(5);
    } finally {
      for (const s of states) await s.close?.();
    }
  }, 60_000);
});

describe("the root's work on every build", () => {
  // Blocks of 500 transfers over 5,000 accounts, 1% to new accounts (nonces from 0, so a sender
  // of an earlier block fails with BAD_NONCE), the second block aborted; a root after every block.
  const block = (addrs: Uint8Array[], b: number): Uint8Array => {
    const count = 500;
    const nonces = new Map<number, bigint>();
    const packed = new Uint8Array(count * 88);
    const dv = new DataView(packed.buffer);
    for (let i = 0; i < count; i++) {
      const from = (b * 7919 + i * 613) % addrs.length;
      const to = (from + 1 + ((i * 31 + b) % 997)) % addrs.length;
      packed.set(addrs[from]!, i * 88);
      if (i % 100 === 7)
        packed.fill(0xa0 + b, i * 88 + 32, i * 88 + 64).fill(i & 0xff, i * 88 + 32, i * 88 + 34);
      else packed.set(addrs[to]!, i * 88 + 32);
      dv.setBigUint64(i * 88 + 64, 3n, true);
      dv.setBigUint64(i * 88 + 72, 1n, true);
      const n = nonces.get(from) ?? 0n;
      dv.setBigUint64(i * 88 + 80, n, true);
      nonces.set(from, n + 1n);
    }
    return packed;
  };

  it("hashes the same SHA-256 compressions and makes the same nodes on 0, 1 and 2 threads", async () => {
    const states = [
      await createLedgerState("wasm"),
      await createLedgerState("wasm", { threads: 1 }),
      await createThreadedWasmState(2, NO_BACKOFF),
    ];
    try {
      const addrs = Array.from({ length: 5000 }, (_, i) =>
        Uint8Array.from({ length: 32 }, (_, j) => (i * 131 + j * 17 + (i >> 8) * j) & 0xff),
      );
      const records = new Uint8Array(addrs.length * 48);
      addrs.forEach((a, i) => (records.set(a, i * 48), (records[i * 48 + 32] = 200)));
      for (const s of states) (s.load(records), s.root());
      const proposer = new Uint8Array(32).fill(0xfe);
      for (let b = 0; b < 4; b++) {
        const packed = block(addrs, b);
        const work = states.map((s) => {
          const [h, n, j] = [s.hashCount!, s.nodeCount, s.rootJobs!];
          s.begin();
          s.apply(packed, 500, proposer);
          if (b === 1) s.abort();
          else s.commit();
          const root = Buffer.from(s.root()).toString("hex");
          return { root, hashes: s.hashCount! - h, nodes: s.nodeCount - n, jobs: s.rootJobs! - j };
        });
        expect(work[1]).toEqual({ ...work[0], jobs: 0 });
        // On 2 threads the same work, in two jobs: the paths, then the subtrees.
        expect(work[2]).toEqual({ ...work[0], jobs: 2 });
        // One compression per path and per leaf, two per node: at least four per changed account.
        expect(work[0]!.hashes).toBeGreaterThan(4 * 900);
      }
    } finally {
      for (const s of states) await s.close?.();
    }
  }, 60_000);
});

describe("threads that are slow (another process on the cores)", () => {
  it("back off to the serial path, with serial execution's results", async () => {
    // Every wait counts as slow: after each job on the threads the next 1, 2, 4 … run serially.
    const states = [await createLedgerState("wasm"), await createThreadedWasmState(2, { slowSpins: 0 })];
    try {
      fc.assert(
        fc.property(blockCaseArb, (c) => runCase(states, c)),
        { seed: 0x5105, numRuns: 40 },
      );
      expect(sameAccounts(states)).toBe(true);
      const slow = states[1]!;
      expect(slow.serialJobs).toBeGreaterThan(slow.rootJobs! + 10);
      expect(slow.rootJobs).toBeGreaterThan(0);
    } finally {
      for (const s of states) await s.close?.();
    }
  }, 60_000);
});

describe("the threads option", () => {
  it("refuses a thread count out of range on both engines", async () => {
    for (const engine of ["wasm", "ts"] as const) {
      for (const threads of [-1, 17]) {
        await expect(createLedgerState(engine, { threads })).rejects.toThrow(
          expect.objectContaining({ code: ErrorCode.BAD_RANGE }),
        );
      }
      await expect(createLedgerState(engine, { threads: 1.5 })).rejects.toThrow(
        expect.objectContaining({ code: ErrorCode.BAD_ARGUMENT }),
      );
    }
  });

  it("turns a ts worker that cannot start into WORKER_FAILED", async () => {
    const workerUrl = new URL("./no-such-state-worker.ts", import.meta.url);
    await expect(createThreadedTsStateForTest(2, { workerUrl })).rejects.toThrow(
      expect.objectContaining({ code: ErrorCode.WORKER_FAILED }),
    );
  });

  it("closes a threaded ts state once: then it refuses blocks with CLOSED", async () => {
    const s = await createLedgerState("ts", { threads: 2 });
    await s.close?.();
    await s.close?.();
    expect(() => s.begin()).toThrow(expect.objectContaining({ code: ErrorCode.CLOSED }));
    expect(() => s.root()).toThrow(expect.objectContaining({ code: ErrorCode.CLOSED }));
  });
});

describe.each(["wasm", "ts"] as const)("a ledger on the %s engine with threads", (engine) => {
  it("applies packed blocks as the serial ledger does, and its close stops the workers", async () => {
    const genesis = Array.from({ length: 3000 }, (_, i) => ({
      address: Uint8Array.from({ length: 32 }, (_, j) =>
        j < 2 ? (i >> (8 * j)) & 0xff : (i * 7 + j * 13) & 0xff,
      ),
      balance: 1000n,
    }));
    const serial = await Ledger.open({ chainId: 5, genesis, engine });
    const threaded = await Ledger.open({ chainId: 5, genesis, engine, threads: 2 });
    try {
      const nonces = new Map<number, bigint>();
      for (let b = 0; b < 4; b++) {
        const count = 400;
        const packed = new Uint8Array(count * 88);
        const dv = new DataView(packed.buffer);
        for (let i = 0; i < count; i++) {
          const from = (b * 977 + i * 31) % genesis.length;
          const to = (from + 1 + ((i * 17) % 50)) % genesis.length;
          packed.set(genesis[from]!.address, i * 88);
          packed.set(genesis[to]!.address, i * 88 + 32);
          dv.setBigUint64(i * 88 + 64, BigInt(1 + (i % 9)), true);
          dv.setBigUint64(i * 88 + 72, 1n, true);
          const n = nonces.get(from) ?? 0n;
          dv.setBigUint64(i * 88 + 80, n, true);
          nonces.set(from, n + 1n);
        }
        const proposer = genesis[b]!.address;
        const [a, t] = [
          await serial.applyPacked(packed, count, { proposer }),
          await threaded.applyPacked(packed, count, { proposer }),
        ];
        expect(t.statuses).toEqual(a.statuses);
        expect(Buffer.from(t.root).toString("hex")).toBe(Buffer.from(a.root).toString("hex"));
      }
    } finally {
      await serial.close();
      await threaded.close();
    }
    await expect(
      threaded.applyPacked(new Uint8Array(0), 0, { proposer: new Uint8Array(32) }),
    ).rejects.toThrow(expect.objectContaining({ code: ErrorCode.CLOSED }));
  });
});
