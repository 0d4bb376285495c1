/**
 * Differential suite of the two state engines (sparse Merkle tree): fast-check drives the wasm
 * and ts states through the same random loads and blocks (new accounts, rejected transfers, roots
 * taken in the middle of a block, aborted blocks); after every step statuses, accounts, roots and
 * proof bytes are identical, the root is the naive reference's, and proofs verify (inclusion and
 * absence) and fail when tampered. Durable ledgers reopen to the same root on either engine; an
 * old-format file is STORE_FORMAT; a `treeDepth` option and duplicate packed genesis records are
 * refused; long loads report progress.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { Ledger } from "../../bindings/chain/ledger.ts";
import { verifyProof, encodeProof } from "../../bindings/chain/proof.ts";
import { packTransfer } from "../../bindings/chain/transfer.ts";
import { NODE_VFS_NAME } from "../../bindings/store/index.ts";
import { accountRecord, createLedgerState } from "../../bindings/engine/index.ts";
import type { LedgerState } from "../../bindings/engine/index.ts";
import { loadSqlite } from "../../bindings/store/sqlite.ts";
import { prng } from "../helpers/ledger-fixtures.ts";
import { referenceRoot, splitRecords } from "../helpers/smt-reference.ts";
import { xorAt } from "../helpers/bytes.ts";

const POOL = Array.from({ length: 24 }, (_, i) => {
  const rand = prng(1000 + i);
  return Uint8Array.from({ length: 32 }, () => Math.floor(rand() * 256));
});
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const sortedRecords = (s: LedgerState) => splitRecords(s.exportAll()).map(hex).sort();

type Op =
  | { kind: "load"; recs: Array<[number, number, number]> }
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
      recs: fc.array(fc.tuple(fc.nat(23), fc.nat(1000), fc.nat(3)), { maxLength: 6 }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("block" as const),
      txs: fc.array(fc.tuple(fc.nat(23), fc.nat(23), fc.nat(300), fc.nat(3), fc.boolean()), {
        maxLength: 12,
      }),
      proposer: fc.nat(23),
      midRoot: fc.boolean(),
      abort: fc.boolean(),
    }),
  },
);

/** Packs a block against the current nonces of `state` (a `true` flag sends a stale nonce). */
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
  s.begin();
  const statuses = s.apply(packed!, op.txs.length, POOL[op.proposer]!);
  if (op.midRoot) s.root();
  if (op.abort) s.abort();
  else s.commit();
  return statuses;
}

function checkSame(w: LedgerState, t: LedgerState, rand: () => number): void {
  const root = w.root();
  expect(hex(t.root())).toBe(hex(root));
  const recs = sortedRecords(w);
  expect(sortedRecords(t)).toEqual(recs);
  expect(hex(referenceRoot(recs.map((r) => Buffer.from(r, "hex"))))).toBe(hex(root));
  for (const a of POOL) {
    const proof = encodeProof(w.proofMaterial(a));
    expect(hex(encodeProof(t.proofMaterial(a)))).toBe(hex(proof));
    const account = w.account(a);
    expect(verifyProof(root, a, account, proof)).toBe(true);
    const bad = proof.slice();
    const k = Math.floor(rand() * bad.length);
    xorAt(bad, k, 1 << Math.floor(rand() * 8));
    let ok: boolean;
    try {
      ok = verifyProof(root, a, account, bad);
    } catch (e) {
      expect((e as { code?: string }).code).toBe("BAD_PROOF");
      ok = false;
    }
    expect(ok).toBe(false);
  }
}

describe("state engines, differential (sparse Merkle tree)", () => {
  it("wasm and ts agree on random loads and blocks, with the reference root and verifying proofs", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 8 }), fc.integer(), async (ops, seed) => {
        const w = await createLedgerState("wasm");
        const t = await createLedgerState("ts");
        w.load(Buffer.concat(POOL.slice(0, 8).map((a) => accountRecord(a, 500n, 0n))));
        t.load(Buffer.concat(POOL.slice(0, 8).map((a) => accountRecord(a, 500n, 0n))));
        const rand = prng(seed);
        for (const op of ops) {
          const packed = op.kind === "block" ? packBlock(t, op.txs) : undefined;
          const sw = step(w, op, packed);
          const st = step(t, op, packed);
          expect(sw === undefined ? undefined : Array.from(sw)).toEqual(
            st === undefined ? undefined : Array.from(st),
          );
          checkSame(w, t, rand);
        }
      }),
      { numRuns: 40, seed: 11 },
    );
  }, 120_000);

  it("1000-account blocks with many new accounts and aborts keep the engines equal", async () => {
    const rand = prng(5);
    const addrs = Array.from({ length: 3000 }, () =>
      Uint8Array.from({ length: 32 }, () => Math.floor(rand() * 256)),
    );
    const genesis = Buffer.concat(addrs.slice(0, 1000).map((a) => accountRecord(a, 10_000n, 0n)));
    const states = [await createLedgerState("wasm"), await createLedgerState("ts")];
    for (const s of states) s.load(genesis);
    const nonces = new Map<number, bigint>();
    for (let b = 0; b < 6; b++) {
      const packed = new Uint8Array(88 * 500);
      const pending = new Map(nonces);
      for (let i = 0; i < 500; i++) {
        const from = Math.floor(rand() * 1000);
        const to = Math.floor(rand() * 3000); // two thirds are new (or were, before an abort)
        const n = pending.get(from) ?? 0n;
        pending.set(from, n + 1n);
        packTransfer(packed, i, addrs[from]!, addrs[to === from ? (to + 1) % 3000 : to]!, 3n, 1n, n);
      }
      const abort = b % 3 === 1;
      const roots = states.map((s) => {
        s.begin();
        s.apply(packed, 500, addrs[2999]!);
        const r = s.root();
        if (abort) s.abort();
        else s.commit();
        return hex(r);
      });
      if (!abort) for (const [k, v] of pending) nonces.set(k, v);
      expect(roots[1]).toBe(roots[0]);
      expect(hex(states[1]!.root())).toBe(hex(states[0]!.root()));
      expect(states[0]!.accountCount).toBe(states[1]!.accountCount);
    }
    expect(hex(states[0]!.root())).toBe(hex(referenceRoot(splitRecords(states[0]!.exportAll()))));
  }, 120_000);
});

const tmp = fs.mkdtempSync(path.join(process.cwd(), ".chaindb-tmp-smt-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe("durable ledgers on the sparse Merkle tree", () => {
  const genesis = POOL.slice(0, 12).map((address) => ({ address, balance: 1000n }));

  it("reopen gives the same root on either engine, after snapshots and new accounts", async () => {
    const dir = path.join(tmp, "reopen");
    const l = await Ledger.open({ dir, engine: "wasm", chainId: 9, genesis, snapshotEvery: 3 });
    const rand = prng(3);
    for (let b = 0; b < 7; b++) {
      const txs = Array.from(
        { length: 5 },
        () =>
          [Math.floor(rand() * 12), Math.floor(rand() * 24), 5, 1, false] as [
            number,
            number,
            number,
            number,
            boolean,
          ],
      );
      const state = await createLedgerState("ts");
      state.load(l.exportAccounts());
      await l.applyPacked(packBlock(state, txs), txs.length, { proposer: POOL[23]! });
    }
    const root = l.root();
    expect(l.accountCount).toBeGreaterThan(12);
    expect(hex(root)).toBe(hex(referenceRoot(splitRecords(l.exportAccounts()))));
    await l.close();
    for (const engine of ["ts", "wasm"] as const) {
      const again = await Ledger.open({ dir, engine, chainId: 9, genesis });
      expect(again.height).toBe(7);
      expect(hex(again.root())).toBe(hex(root));
      await again.close();
    }
  });

  it("a file of the bucket-tree format (1) is STORE_FORMAT, not a replay", async () => {
    const dir = path.join(tmp, "format");
    const l = await Ledger.open({ dir, chainId: 9, genesis });
    await l.close();
    const sqlite3 = await loadSqlite();
    const db = new sqlite3.oo1.DB({
      filename: path.join(dir, "ledger.sqlite"),
      flags: "w",
      vfs: NODE_VFS_NAME,
    });
    db.exec(
      "PRAGMA locking_mode=EXCLUSIVE; PRAGMA journal_mode=WAL; UPDATE meta SET value = '1' WHERE key = 'format'",
    );
    db.close();
    await expect(Ledger.open({ dir, chainId: 9, genesis })).rejects.toMatchObject({ code: "STORE_FORMAT" });
    expect(fs.existsSync(path.join(dir, "LOCK"))).toBe(false);
  });

  it("refuses treeDepth and duplicate packed genesis records; reports load progress", async () => {
    await expect(Ledger.open({ chainId: 9, genesis, treeDepth: 16 } as never)).rejects.toMatchObject({
      code: "BAD_ARGUMENT",
    });
    const recs = Buffer.concat([
      accountRecord(POOL[0]!, 1n, 0n),
      accountRecord(POOL[1]!, 2n, 0n),
      accountRecord(POOL[0]!, 3n, 0n),
    ]);
    await expect(Ledger.open({ chainId: 9, genesis: [], genesisRecords: recs })).rejects.toMatchObject({
      code: "BAD_ARGUMENT",
    });
    await expect(
      Ledger.open({ dir: path.join(tmp, "dup"), chainId: 9, genesis: [], genesisRecords: recs }),
    ).rejects.toMatchObject({ code: "BAD_ARGUMENT" });
    await expect(
      Ledger.open({ chainId: 9, genesis: [], genesisRecords: recs.subarray(1) }),
    ).rejects.toMatchObject({ code: "BAD_LENGTH" });
    // 300k packed records: the wasm engine loads them in chunks and reports each, then builds the
    // tree in chunks and reports each.
    const n = 300_000;
    const big = new Uint8Array(n * 48);
    const rand = prng(8);
    for (let i = 0; i < big.length; i += 4)
      new DataView(big.buffer).setUint32(i, Math.floor(rand() * 2 ** 32));
    for (let i = 0; i < n; i++) big.fill(0, i * 48 + 32, i * 48 + 48);
    const seen: string[] = [];
    const l = await Ledger.open({
      chainId: 9,
      genesis: [],
      genesisRecords: big,
      onProgress: (phase, done, total) => seen.push(`${phase}:${done}/${total}`),
    });
    expect(l.accountCount).toBe(n);
    expect(seen).toEqual([
      `accounts:262144/${n}`,
      `accounts:${n}/${n}`,
      `tree:0/${n}`,
      `tree:262144/${n}`,
      `tree:${n}/${n}`,
    ]);
    const probe = big.subarray(48 * 1234, 48 * 1234 + 32);
    expect(verifyProof(l.root(), probe, { balance: 0n, nonce: 0n }, l.prove(probe))).toBe(true);
  }, 60_000);
});
