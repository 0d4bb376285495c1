import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Ledger } from "../../bindings/chain/index.ts";
import { ParallelExecutor, SerialExecutor } from "../../bindings/concurrency/index.ts";
import {
  PACKED_AMOUNT,
  PACKED_FEE,
  PACKED_NONCE,
  PACKED_TO,
  PACKED_TRANSFER_SIZE as TX,
} from "../../bindings/engine/index.ts";
import { toHex } from "../../bindings/util/index.ts";

// Parallel execution must equal serial execution, always: random blocks at every contention level
// (2 accounts — fully serial — up to 500, and a hot set), with bad nonces, overdrafts, overflows,
// self-transfers, absent accounts and a proposer that trades or could overflow (those fall back).
// Compared: every status, every account, the root, over two consecutive blocks, on both engines.
// Replay: CHAINDB_SEED=<seed> npx vitest run test/concurrency/executor-property.test.ts

const U64_MAX = (1n << 64n) - 1n;
const CHAIN = 7;

function xorshift(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2 ** 32;
  };
}

interface Scenario {
  accounts: number;
  hot: boolean;
  count: number;
  proposer: "outsider" | "participant" | "rich";
  engine: "wasm" | "ts";
  hugeFees: boolean;
  seed: number;
}

function build(sc: Scenario) {
  const rand = xorshift(sc.seed);
  const pick = (n: number) => Math.floor(rand() * n);
  const address = (i: number) => {
    const a = new Uint8Array(32);
    new DataView(a.buffer).setUint32(0, i + 1);
    a[31] = 0x5a;
    return a;
  };
  const genesis: { address: Uint8Array; balance: bigint }[] = [];
  for (let i = 0; i < sc.accounts; i++) {
    const r = rand();
    if (r < 0.1) continue; // absent until credited
    genesis.push({
      address: address(i),
      balance: r < 0.15 ? U64_MAX - BigInt(pick(50)) : BigInt(pick(2000)),
    });
  }
  const outsider = address(1_000_000);
  if (sc.proposer === "rich") genesis.push({ address: outsider, balance: U64_MAX - 3n });
  const proposer = sc.proposer === "participant" ? address(pick(sc.accounts)) : outsider;
  const nonces = new Map<number, bigint>();
  const hotSize = Math.max(2, Math.floor(sc.accounts / 100));
  const who = () => (sc.hot && rand() < 0.9 ? pick(hotSize) : pick(sc.accounts));
  const blocks = [0, 1].map(() => {
    const packed = new Uint8Array(sc.count * TX);
    const dv = new DataView(packed.buffer);
    for (let i = 0; i < sc.count; i++) {
      const f = who();
      const t = rand() < 0.03 ? f : who();
      const expected = nonces.get(f) ?? 0n;
      const nonce = rand() < 0.85 ? expected : BigInt(pick(4));
      if (nonce === expected) nonces.set(f, expected + 1n);
      const huge = rand() < 0.03;
      packed.set(address(f), i * TX);
      packed.set(address(t), i * TX + PACKED_TO);
      dv.setBigUint64(i * TX + PACKED_AMOUNT, huge ? U64_MAX - BigInt(pick(3)) : BigInt(pick(400)), true);
      dv.setBigUint64(i * TX + PACKED_FEE, sc.hugeFees && rand() < 0.05 ? U64_MAX : BigInt(pick(4)), true);
      dv.setBigUint64(i * TX + PACKED_NONCE, nonce, true);
    }
    return packed;
  });
  return { genesis, proposer, blocks };
}

const sortedRecords = (ledger: Ledger) => {
  const all = ledger.exportAccounts();
  const out: string[] = [];
  for (let o = 0; o < all.length; o += 48) out.push(toHex(all.subarray(o, o + 48)));
  return out.sort();
};

let parallel: ParallelExecutor;
const serial = new SerialExecutor();
let onWorkers = 0;
let runs = 0;

async function check(sc: Scenario): Promise<void> {
  const { genesis, proposer, blocks } = build(sc);
  const open = (engine: "wasm" | "ts") => Ledger.open({ chainId: CHAIN, genesis, engine });
  const a = await open(sc.engine);
  const b = await open("wasm");
  for (const packed of blocks) {
    const want = await serial.executePacked(a, packed, sc.count, { proposer });
    const got = await parallel.executePacked(b, packed, sc.count, { proposer });
    if (parallel.lastReport.path === "workers") onWorkers++;
    runs++;
    expect(got.statuses).toEqual(want.statuses);
    expect(toHex(got.root)).toBe(toHex(want.root));
    expect(got.height).toBe(want.height);
  }
  expect(sortedRecords(b)).toEqual(sortedRecords(a));
}

const scenarioArb: fc.Arbitrary<Scenario> = fc.record({
  accounts: fc.constantFrom(2, 3, 8, 64, 500),
  hot: fc.boolean(),
  // At least one transfer: an empty block on the wasm engine fails with OUT_OF_MEMORY (reported).
  count: fc.oneof(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 9, max: 300 })),
  proposer: fc.constantFrom<Scenario["proposer"]>("outsider", "outsider", "outsider", "participant", "rich"),
  engine: fc.constantFrom<Scenario["engine"]>("wasm", "ts"),
  hugeFees: fc.boolean(),
  seed: fc.integer({ min: 1, max: 2 ** 31 - 1 }),
});

describe("parallel executor = serial executor", () => {
  beforeAll(async () => {
    parallel = await ParallelExecutor.start({ workers: 2, parallelExecution: true });
  }, 30_000);
  afterAll(async () => parallel?.close());

  it("on random blocks at every contention level (statuses, root, every account)", async () => {
    const seed = process.env.CHAINDB_SEED ? Number(process.env.CHAINDB_SEED) : 20_261_126;
    const numRuns = process.env.CHAINDB_SLOW ? 1_500 : 120;
    try {
      await fc.assert(fc.asyncProperty(scenarioArb, check), { seed, numRuns });
    } catch (error) {
      console.error(
        `failing seed ${seed}; replay: CHAINDB_SEED=${seed} npx vitest run test/concurrency/executor-property.test.ts`,
      );
      throw error;
    }
    // The parallel path really ran (the rest fell back: a trading or overflowing proposer).
    expect(onWorkers).toBeGreaterThan(runs / 2);
  }, 120_000);

  it("the two-account block: every transfer in one group, identical result", async () => {
    await check({
      accounts: 2,
      hot: false,
      count: 200,
      proposer: "outsider",
      engine: "wasm",
      hugeFees: false,
      seed: 99,
    });
    expect(parallel.lastReport).toMatchObject({ path: "workers", groups: 1 });
  });
});
