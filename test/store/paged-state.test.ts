/**
 * The paged state (bindings/store/paged-state.ts) on both engines (ts: pages in JS buffers, ts
 * hashing; wasm: pages in the core's memory, 4-lane SIMD hashing) against the in-memory wasm
 * state: fast-check
 * drives both through the same random loads and blocks (new accounts, rejected transfers, roots
 * in the middle of a block, aborted blocks, checkpoints and reopens from the files) with a cache
 * budget of 0 to 2 KB, so nearly every page is evicted to the page log and read back after
 * every operation, and with 1 to 8 page bits (deep subtrees inside a page, and compressed paths
 * above the pages). After every step statuses, accounts, exported records, roots and proof bytes
 * are identical, and the root is the naive reference's.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Ledger } from "../../bindings/chain/ledger.ts";
import { encodeProof, verifyProof } from "../../bindings/chain/proof.ts";
import { packTransfer } from "../../bindings/chain/transfer.ts";
import { accountRecord, createLedgerState } from "../../bindings/engine/index.ts";
import type { LedgerState } from "../../bindings/engine/index.ts";
import { FaultFs } from "../../bindings/store/index.ts";
import {
  PagedState,
  createWasmPagedState,
  type PagedStateOptions,
} from "../../bindings/store/paged-state.ts";
import { prng } from "../helpers/ledger-fixtures.ts";
import { referenceRoot, splitRecords } from "../helpers/smt-reference.ts";

const POOL = Array.from({ length: 40 }, (_, i) => {
  const rand = prng(7000 + i);
  return Uint8Array.from({ length: 32 }, () => Math.floor(rand() * 256));
});
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const sortedRecords = (s: LedgerState) => splitRecords(s.exportAll()).map(hex).sort();

type Op =
  | { kind: "load"; recs: Array<[number, number, number]> }
  | { kind: "reopen" }
  | {
      kind: "block";
      txs: Array<[number, number, number, number, boolean]>;
      proposer: number;
      midRoot: boolean;
      abort: boolean;
    };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("load" as const),
      recs: fc.array(fc.tuple(fc.nat(39), fc.nat(1000), fc.nat(3)), { maxLength: 6 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("reopen" as const) }) },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant("block" as const),
      txs: fc.array(fc.tuple(fc.nat(39), fc.nat(39), fc.nat(300), fc.nat(3), fc.boolean()), {
        maxLength: 14,
      }),
      proposer: fc.nat(39),
      midRoot: fc.boolean(),
      abort: fc.boolean(),
    }),
  },
);

function packBlock(state: LedgerState, txs: Array<[number, number, number, number, boolean]>): Uint8Array {
  const packed = new Uint8Array(88 * txs.length);
  const nonces = new Map<number, bigint>();
  txs.forEach(([from, to, amount, fee, staleNonce], i) => {
    const n = nonces.get(from) ?? state.account(POOL[from]!)?.nonce ?? 0n;
    nonces.set(from, n + 1n);
    packTransfer(packed, i, POOL[from]!, POOL[to]!, BigInt(amount), BigInt(fee), staleNonce ? n + 7n : n);
  });
  return packed;
}

function step(s: LedgerState, op: Op, packed: Uint8Array | undefined): Uint8Array | undefined {
  if (op.kind === "load") {
    s.load(Buffer.concat(op.recs.map(([a, b, n]) => accountRecord(POOL[a]!, BigInt(b), BigInt(n)))));
    return undefined;
  }
  if (op.kind === "reopen") return undefined;
  s.begin();
  const statuses = s.apply(packed!, op.txs.length, POOL[op.proposer]!);
  if (op.midRoot) s.root();
  if (op.abort) s.abort();
  else s.commit();
  return statuses;
}

function checkSame(mem: LedgerState, paged: LedgerState): void {
  const root = mem.root();
  expect(hex(paged.root())).toBe(hex(root));
  expect(paged.accountCount).toBe(mem.accountCount);
  const recs = sortedRecords(mem);
  expect(sortedRecords(paged)).toEqual(recs);
  expect(hex(referenceRoot(recs.map((r) => Buffer.from(r, "hex"))))).toBe(hex(root));
  for (const a of POOL) {
    const proof = encodeProof(mem.proofMaterial(a));
    expect(hex(encodeProof(paged.proofMaterial(a)))).toBe(hex(proof));
    const account = paged.account(a);
    expect(account).toEqual(mem.account(a));
    expect(verifyProof(root, a, account, proof)).toBe(true);
  }
}

type PagedEngine = "ts" | "wasm";

async function newPaged(engine: PagedEngine, options: PagedStateOptions): Promise<PagedState> {
  const s = engine === "wasm" ? await createWasmPagedState(options) : new PagedState(options);
  expect(s.engine).toBe(engine);
  return s;
}

async function openPaged(engine: PagedEngine, fs: FaultFs, cacheBytes: number, pageBits: number) {
  const s = await newPaged(engine, { dir: "/st", cacheBytes, pageBits, port: fs });
  s.open();
  return s;
}

describe.each(["ts", "wasm"] as const)("paged state (%s engine) against the in-memory state", (engine) => {
  it("random loads, blocks, aborts, checkpoints and reopens give identical roots and proofs", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(opArb, { minLength: 1, maxLength: 10 }),
        fc.integer({ min: 0, max: 2048 }),
        fc.integer({ min: 1, max: 8 }),
        async (ops, cacheBytes, pageBits) => {
          const fs = new FaultFs({ seed: 1 });
          fs.mkdir("/st");
          const mem = await createLedgerState("wasm");
          let paged = await openPaged(engine, fs, cacheBytes, pageBits);
          const genesis = Buffer.concat(POOL.slice(0, 10).map((a) => accountRecord(a, 500n, 0n)));
          mem.load(genesis);
          paged.load(genesis);
          let height = 0;
          paged.checkpoint(height);
          for (const op of ops) {
            const packed = op.kind === "block" ? packBlock(mem, op.txs) : undefined;
            const sm = step(mem, op, packed);
            const sp = step(paged, op, packed);
            expect(sp === undefined ? undefined : Array.from(sp)).toEqual(
              sm === undefined ? undefined : Array.from(sm),
            );
            if (op.kind === "reopen") {
              // A checkpoint, more changes the checkpoint does not hold (lost on reopen), reopen.
              paged.checkpoint(++height);
              paged.load(accountRecord(POOL[39]!, 1n, 1n));
              paged.close();
              paged = await openPaged(engine, fs, cacheBytes, 1);
              expect(paged.checkpointHeight).toBe(height);
            }
            checkSame(mem, paged);
          }
          paged.close();
        },
      ),
      { numRuns: 60, seed: 23 },
    );
  }, 120_000);

  it("a bulk load of 20,000 accounts with a 64 KB cache equals the in-memory root, then blocks", async () => {
    const rand = prng(9);
    const addrs = Array.from({ length: 24_000 }, () =>
      Uint8Array.from({ length: 32 }, () => Math.floor(rand() * 256)),
    );
    const genesis = Buffer.concat(
      addrs.slice(0, 20_000).map((a, i) => accountRecord(a, 10_000n + BigInt(i), 0n)),
    );
    const fs = new FaultFs({ seed: 2 });
    fs.mkdir("/st");
    const paged = await newPaged(engine, { dir: "/st", cacheBytes: 64 << 10, port: fs });
    paged.reset(20_000);
    const mem = await createLedgerState("wasm");
    mem.load(genesis);
    paged.load(genesis);
    expect(hex(paged.root())).toBe(hex(mem.root()));
    expect(paged.stats().cachedBytes).toBeLessThanOrEqual(64 << 10);
    expect(paged.stats().pageBits).toBe(11);
    for (let b = 0; b < 4; b++) {
      const packed = new Uint8Array(88 * 300);
      for (let i = 0; i < 300; i++) {
        const from = Math.floor(rand() * 20_000);
        const to = Math.floor(rand() * 24_000);
        packTransfer(
          packed,
          i,
          addrs[from]!,
          addrs[to === from ? (to + 1) % 24_000 : to]!,
          3n,
          1n,
          mem.account(addrs[from]!)!.nonce,
        );
      }
      for (const s of [mem, paged]) {
        s.begin();
        s.apply(packed, 300, addrs[23_999]!);
        if (b === 2) s.abort();
        else s.commit();
      }
      const hashes = paged.hashCount;
      expect(hex(paged.root())).toBe(hex(mem.root()));
      // The wasm engine's root ran through the 4-lane kernels (a leaf per changed account at least;
      // an aborted block's accounts are changed back).
      if (engine === "wasm") expect(paged.hashCount - hashes).toBeGreaterThan(300);
      else expect(paged.hashCount - hashes).toBe(0);
      expect(paged.accountCount).toBe(mem.accountCount);
    }
    expect(paged.stats().pageReads).toBeGreaterThan(0);
    expect(paged.stats().pageWrites).toBeGreaterThan(0);
    paged.close();
  }, 120_000);
});

describe.each(["ts", "wasm"] as const)(
  "paged state (%s engine), pages evicted during a bulk load",
  (engine) => {
    it("a bulk load of two page batches (8192 pages, a 16 KB cache) gives the in-memory root", async () => {
      // The second batch of pages is built in memory the first one's evicted pages left: on the wasm
      // engine those blocks are reused, and no "hash is current" flag of theirs may survive.
      const rand = prng(12);
      const recs = Buffer.concat(
        Array.from({ length: 12_000 }, (_, i) =>
          accountRecord(
            Uint8Array.from({ length: 32 }, () => Math.floor(rand() * 256)),
            BigInt(i + 1),
            0n,
          ),
        ),
      );
      const fs = new FaultFs({ seed: 8 });
      fs.mkdir("/st");
      const paged = await newPaged(engine, { dir: "/st", cacheBytes: 16 << 10, pageBits: 13, port: fs });
      paged.reset(12_000);
      paged.load(recs);
      const mem = await createLedgerState("wasm");
      mem.load(recs);
      expect(hex(paged.root())).toBe(hex(mem.root()));
      expect(paged.stats().pageWrites).toBeGreaterThan(4096); // more than one batch
      paged.close();
    }, 60_000);
  },
);

describe("paged ledger options", () => {
  const genesis = POOL.slice(0, 4).map((address) => ({ address, balance: 10n }));
  const code = async (p: Promise<unknown>) =>
    p.then(
      () => "ok",
      (e: { code?: string }) => e.code,
    );

  it("cacheBytes needs a dir, a size ≥ 0 (≤ 3 GiB on wasm), one thread and no pipelining (BAD_ARGUMENT)", async () => {
    const fs = new FaultFs({ seed: 3 });
    expect(await code(Ledger.open({ chainId: 1, genesis, cacheBytes: 1 << 20 }))).toBe("BAD_ARGUMENT");
    expect(
      await code(
        Ledger.open({ chainId: 1, genesis, dir: "/a", filePort: fs, cacheBytes: 1 << 20, threads: 1 }),
      ),
    ).toBe("BAD_ARGUMENT");
    expect(await code(Ledger.open({ chainId: 1, genesis, dir: "/a", filePort: fs, cacheBytes: -1 }))).toBe(
      "BAD_ARGUMENT",
    );
    // The wasm engine's cache shares one 4 GiB memory with the tree above the pages.
    expect(
      await code(
        Ledger.open({ chainId: 1, genesis, dir: "/a", filePort: fs, cacheBytes: 2 ** 32, engine: "wasm" }),
      ),
    ).toBe("BAD_ARGUMENT");
    // A checkpoint must name a durable block: a pipelined paged ledger could checkpoint ahead of it.
    expect(
      await code(
        Ledger.open({ chainId: 1, genesis, dir: "/a", filePort: fs, cacheBytes: 0, pipelined: true }),
      ),
    ).toBe("BAD_ARGUMENT");
  });

  it.each([undefined, "ts", "wasm"] as const)(
    "a paged ledger on engine %s reports its engine and cache, and reopens to the same root",
    async (engine) => {
      const fs = new FaultFs({ seed: 4 });
      const opts = { chainId: 1, genesis, dir: "/a", filePort: fs, cacheBytes: 0, snapshotEvery: 2, engine };
      const l = await Ledger.open(opts);
      expect(l.engine).toBe(engine ?? "ts");
      const mem = await Ledger.open({ chainId: 1, genesis });
      expect(hex(l.root())).toBe(hex(mem.root()));
      const packed = new Uint8Array(88);
      packTransfer(packed, 0, POOL[0]!, POOL[30]!, 3n, 1n, 0n);
      for (const x of [l, mem]) await x.applyPacked(packed, 1, { proposer: POOL[1]! });
      expect(l.pagedStats()!.cachedBytes).toBe(0);
      await l.close();
      const again = await Ledger.open(opts);
      expect(again.height).toBe(1);
      expect(hex(again.root())).toBe(hex(mem.root()));
      expect(again.account(POOL[30]!)).toEqual({ balance: 3n, nonce: 0n });
      await again.close();
    },
  );
});
