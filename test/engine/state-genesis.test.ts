/**
 * Bulk genesis (issue 11 part 4): a load onto an empty tree is built in one pass from the sorted
 * keys (assembly/commit.ts, "bulk build"). fast-check drives random record sets, repeated
 * addresses included (the rule: a later record for an address overwrites the earlier one, and the
 * ledger refuses such a genesis with BAD_ARGUMENT), and checks that both engines' bulk builds give
 * the root of inserting one by one (the same records loaded onto a non-empty tree: the wasm walk,
 * the ts engine's insertion per account) and of the naive reference.
 * The sort keys keep 64 path bits (wasm) or up to 32 (ts); test hooks cut them to a few bits so
 * that ties, and the full-path tie breaks behind them, are common. A state whose heap lies past 2 GiB gives every
 * pointer to JS as a negative i32: reads through the `>>> 0` of bindings/engine/state-wasm.ts.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Ledger } from "../../bindings/chain/ledger.ts";
import { encodeProof, verifyProof } from "../../bindings/chain/proof.ts";
import { accountRecord, createLedgerState } from "../../bindings/engine/index.ts";
import type { LedgerState } from "../../bindings/engine/index.ts";
import { setPathSortBitsForTest } from "../../bindings/engine/state-ts.ts";
import { createWasmStateForTest } from "../../bindings/engine/state-wasm.ts";
import { prng } from "../helpers/ledger-fixtures.ts";
import { referenceRoot, splitRecords } from "../helpers/smt-reference.ts";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const sortedRecords = (s: LedgerState) => splitRecords(s.exportAll()).map(hex).sort();

/** `n` addresses from a seeded generator. */
function addresses(n: number, seed: number): Uint8Array[] {
  const rand = prng(seed);
  return Array.from({ length: n }, () => Uint8Array.from({ length: 32 }, () => Math.floor(rand() * 256)));
}

/** Records (address index, balance, nonce) over `pool`, packed. */
function pack(pool: Uint8Array[], recs: Array<[number, number, number]>): Uint8Array {
  return Buffer.concat(recs.map(([a, b, n]) => accountRecord(pool[a % pool.length]!, BigInt(b), BigInt(n))));
}

/** What loading `recs` must leave: the last record of every address, in any order. */
function lastWins(pool: Uint8Array[], recs: Array<[number, number, number]>): string[] {
  const last = new Map<number, [number, number, number]>();
  for (const r of recs) last.set(r[0] % pool.length, r);
  return [...last.values()].map((r) => hex(pack(pool, [r]))).sort();
}

/** wasm bulk, wasm incremental (one record first, then the rest onto the tree) and ts agree. */
async function checkGenesis(
  pool: Uint8Array[],
  recs: Array<[number, number, number]>,
  prefixBits?: number,
): Promise<void> {
  const packed = pack(pool, recs);
  const bulk = await createWasmStateForTest(prefixBits === undefined ? {} : { prefixBits });
  bulk.load(packed);
  const root = bulk.root();
  const incremental = await createLedgerState("wasm");
  incremental.load(packed.subarray(0, 48));
  incremental.root();
  incremental.load(packed.subarray(48));
  const ts = await createLedgerState("ts");
  ts.load(packed);
  const tsIncremental = await createLedgerState("ts");
  tsIncremental.load(packed.subarray(0, 48));
  tsIncremental.root();
  tsIncremental.load(packed.subarray(48));
  const want = lastWins(pool, recs);
  expect(sortedRecords(bulk)).toEqual(want);
  expect(sortedRecords(ts)).toEqual(want);
  expect(bulk.accountCount).toBe(want.length);
  expect(hex(incremental.root())).toBe(hex(root));
  expect(hex(ts.root())).toBe(hex(root));
  expect(hex(tsIncremental.root())).toBe(hex(root));
  expect(hex(referenceRoot(want.map((r) => Buffer.from(r, "hex"))))).toBe(hex(root));
  for (const a of pool.slice(0, 8)) {
    const proof = encodeProof(bulk.proofMaterial(a));
    expect(hex(encodeProof(ts.proofMaterial(a)))).toBe(hex(proof));
    expect(verifyProof(root, a, bulk.account(a), proof)).toBe(true);
  }
}

const recsArb = (poolSize: number, maxLength: number) =>
  fc.array(fc.tuple(fc.nat(poolSize - 1), fc.nat(1_000_000), fc.nat(5)), { minLength: 1, maxLength });

describe("bulk genesis onto an empty tree", () => {
  it("gives the root of one-by-one insertion, for random record sets with repeated addresses", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 400 }),
        fc.nat(),
        recsArb(400, 300),
        async (n, seed, recs) => {
          await checkGenesis(addresses(n, seed), recs);
        },
      ),
      { numRuns: 60, seed: 11 },
    );
  }, 60_000);

  it("keeps that root when sort keys tie (a few path bits kept: the full-path tie breaks)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 12 }),
        fc.nat(),
        recsArb(600, 700),
        async (bits, seed, recs) => {
          setPathSortBitsForTest(bits);
          try {
            await checkGenesis(addresses(600, seed), recs, bits);
          } finally {
            setPathSortBitsForTest(32);
          }
        },
      ),
      { numRuns: 25, seed: 12 },
    );
  }, 60_000);

  it("blocks after a bulk genesis keep both engines equal (nodes carry on in the last chunk)", async () => {
    const pool = addresses(20_000, 5);
    const packed = pack(
      pool,
      pool.map((_, i) => [i, 1000, 0]),
    );
    const w = await createLedgerState("wasm");
    const t = await createLedgerState("ts");
    for (const s of [w, t]) s.load(packed);
    expect(hex(t.root())).toBe(hex(w.root()));
    const rand = prng(6);
    for (let b = 0; b < 5; b++) {
      // New accounts and existing ones, so the tree grows past the bulk-built nodes.
      const fresh = addresses(300, 100 + b);
      const more = Buffer.concat(fresh.map((a) => accountRecord(a, BigInt(b), 0n)));
      const touched = Buffer.concat(
        Array.from({ length: 300 }, () =>
          accountRecord(pool[Math.floor(rand() * pool.length)]!, BigInt(b + 7), 1n),
        ),
      );
      for (const s of [w, t]) {
        s.load(more);
        s.load(touched);
      }
      expect(hex(t.root())).toBe(hex(w.root()));
    }
    expect(w.nodeCount).toBe(t.nodeCount);
  }, 60_000);

  it("the ledger refuses repeated genesis addresses with BAD_ARGUMENT on either engine", async () => {
    const pool = addresses(3, 9);
    const recs = pack(pool, [
      [0, 1, 0],
      [1, 2, 0],
      [2, 3, 0],
      [1, 4, 0],
    ]);
    for (const engine of ["wasm", "ts"] as const) {
      await expect(
        Ledger.open({ chainId: 1, engine, genesis: [], genesisRecords: recs }),
      ).rejects.toMatchObject({
        code: "BAD_ARGUMENT",
      });
    }
  });
});

describe("progress of a long genesis", () => {
  it("the ts engine reports the load and the tree build in chunks, as the wasm engine does", async () => {
    const n = 270_000;
    const records = new Uint8Array(n * 48);
    const rand = prng(31);
    for (let i = 0; i < n; i++) for (let j = 0; j < 32; j++) records[i * 48 + j] = Math.floor(rand() * 256);
    const seen: string[] = [];
    const ledger = await Ledger.open({
      chainId: 1,
      engine: "ts",
      genesis: [],
      genesisRecords: records,
      onProgress: (phase, done, total) => {
        if (phase === "tree" || done === total) seen.push(`${phase}:${done}/${total}`);
      },
    });
    expect(seen).toEqual([`accounts:${n}/${n}`, `tree:0/${n}`, `tree:262144/${n}`, `tree:${n}/${n}`]);
    expect(ledger.accountCount).toBe(n);
  }, 60_000);
});

describe("a wasm state past 2 GiB", () => {
  it("reads accounts, records, roots and proofs at addresses JS sees as negative i32", async () => {
    const high = await createWasmStateForTest({ skipHeapBytes: 2 ** 31 + 2 ** 20 });
    const low = await createLedgerState("wasm");
    const pool = addresses(500, 21);
    const packed = pack(
      pool,
      pool.map((_, i) => [i, 10 * i + 1, i % 3]),
    );
    for (const s of [high, low]) s.load(packed);
    expect(hex(high.root())).toBe(hex(low.root()));
    expect(high.account(pool[7]!)).toEqual({ balance: 71n, nonce: 1n });
    expect(sortedRecords(high)).toEqual(sortedRecords(low));
    expect(hex(encodeProof(high.proofMaterial(pool[9]!)))).toBe(
      hex(encodeProof(low.proofMaterial(pool[9]!))),
    );
    const tx = new Uint8Array(88);
    tx.set(pool[1]!, 0);
    tx.set(pool[2]!, 32);
    new DataView(tx.buffer).setBigUint64(64, 5n, true);
    new DataView(tx.buffer).setBigUint64(80, 1n, true);
    for (const s of [high, low]) {
      s.begin();
      expect([...s.apply(tx, 1, pool[3]!)]).toEqual([0]);
      s.commit();
    }
    expect(hex(high.changes())).toBe(hex(low.changes()));
    expect(hex(high.root())).toBe(hex(low.root()));
  }, 30_000);
});
