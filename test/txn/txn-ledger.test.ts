import { afterEach, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { transactional } from "../../bindings/txn/index.ts";
import { toHex } from "../../bindings/util/index.ts";
import { Ledger } from "../../bindings/chain/index.ts";
import { lastRecoveryStats } from "../../bindings/store/index.ts";
import { ALICE, BANK_GENESIS, BOB, CAROL, TXN_CHAIN, balances, openBank } from "../helpers/txn-fixtures.ts";

// The seed's scenario: Alice ($20) sends $10 to Bob ($5) while, at the same moment, Alice sends
// $15 to Carol. Exactly one succeeds and the balances still add up to $25.

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const codeOf = (r: PromiseSettledResult<unknown>) =>
  r.status === "rejected" ? (r.reason as { code?: string }).code : "ok";

describe("ledger transactions: Alice pays Bob and Carol at the same moment", () => {
  for (const engine of ["wasm", "ts"] as const) {
    it(`${engine}: transfers with exclusive locks — the second waits, then fails its invariant`, async () => {
      const ledger = await openBank(undefined, engine);
      const db = transactional(ledger);
      const results = await Promise.allSettled([
        db.transaction((tx) => tx.transfer(ALICE, BOB, 10n)),
        db.transaction((tx) => tx.transfer(ALICE, CAROL, 15n)),
      ]);
      expect(results.map(codeOf)).toEqual(["ok", "TX_INVARIANT"]);
      expect(balances(ledger)).toEqual([10, 15, 0]);
      expect(db.locks.stats.waited).toBe(1);
    });
  }

  it("read-then-write transactions deadlock on the upgrade; the youngest is the victim, the other commits", async () => {
    const ledger = await openBank();
    const db = transactional(ledger);
    const pay = (to: Uint8Array, amount: bigint) =>
      db.transaction(
        async (tx) => {
          const a = await tx.get(ALICE); // shared lock: both hold it before either writes
          const b = await tx.get(to);
          await tx.put(ALICE, { balance: a!.balance - amount, nonce: a!.nonce }); // S -> X upgrade
          await tx.put(to, { balance: b!.balance + amount, nonce: b!.nonce });
        },
        { retries: 0 },
      );
    const results = await Promise.allSettled([pay(BOB, 10n), pay(CAROL, 15n)]);
    expect(results.map(codeOf)).toEqual(["ok", "TX_DEADLOCK"]);
    expect(db.locks.stats.deadlocks).toBe(1);
    expect(balances(ledger)).toEqual([10, 15, 0]);
  });

  it("with retries, the deadlock victim runs again and is refused by the no-negative-balance invariant", async () => {
    const ledger = await openBank();
    const db = transactional(ledger);
    const pay = (to: Uint8Array, amount: bigint) =>
      db.transaction(
        async (tx) => {
          const a = await tx.get(ALICE);
          await tx.put(ALICE, { balance: a!.balance - amount, nonce: a!.nonce });
          await tx.put(to, { balance: (await tx.get(to))!.balance + amount, nonce: 0n });
        },
        { retries: 2 },
      );
    const results = await Promise.allSettled([pay(BOB, 10n), pay(CAROL, 15n)]);
    expect(results.map(codeOf)).toEqual(["ok", "TX_INVARIANT"]);
    const [a, b, c] = balances(ledger);
    expect(a + b + c).toBe(25);
    expect([a, b, c]).toEqual([10, 15, 0]);
  });

  it("is durable: a committed transfer survives a reopen, and the height counts commits", async () => {
    const dir = mkdtempSync(join(tmpdir(), "chaindb-txn-"));
    dirs.push(dir);
    const ledger = await openBank(dir);
    const db = transactional(ledger);
    await db.transaction((tx) => tx.transfer(ALICE, BOB, 10n));
    await expect(db.transaction((tx) => tx.transfer(ALICE, CAROL, 15n))).rejects.toMatchObject({
      code: "TX_INVARIANT",
    });
    const root = toHex(ledger.root());
    expect(ledger.height).toBe(1);
    await ledger.close();
    const reopened = await openBank(dir);
    expect(balances(reopened)).toEqual([10, 15, 0]);
    expect(toHex(reopened.root())).toBe(root);
    expect(reopened.height).toBe(1);
    await reopened.close();
  });
});

describe("ledger transactions: snapshots", () => {
  it("commits write snapshots every snapshotEvery heights, and recovery from them matches", async () => {
    const dir = mkdtempSync(join(tmpdir(), "chaindb-txn-snap-"));
    dirs.push(dir);
    const open = () => Ledger.open({ dir, chainId: TXN_CHAIN, genesis: BANK_GENESIS, snapshotEvery: 2 });
    const ledger = await open();
    const db = transactional(ledger);
    for (let i = 0; i < 5; i++) await db.transaction((tx) => tx.transfer(i % 2 ? BOB : ALICE, CAROL, 1n));
    const root = toHex(ledger.root());
    await ledger.close();
    const reopened = await open();
    expect(lastRecoveryStats()).toMatchObject({ snapshotHeight: 4, blocksReplayed: 1 });
    expect(toHex(reopened.root())).toBe(root);
    expect(balances(reopened)).toEqual([17, 3, 5]);
    await reopened.close();
  });
});

describe("ledger transactions: rollback, savepoints, invariants", () => {
  it("a rolled-back transaction leaves no trace (balances, root, height)", async () => {
    const ledger = await openBank();
    const db = transactional(ledger);
    const root = toHex(ledger.root());
    const tx = db.begin();
    await tx.transfer(ALICE, BOB, 7n);
    expect(await tx.balance(ALICE)).toBe(13n); // own writes are visible inside
    expect(balances(ledger)).toEqual([20, 5, 0]); // and to nobody else
    tx.rollback();
    expect(balances(ledger)).toEqual([20, 5, 0]);
    expect(toHex(ledger.root())).toBe(root);
    expect(ledger.height).toBe(0);
    expect(db.locks.holders(toHex(ALICE)).size).toBe(0);
    await expect(tx.get(ALICE)).rejects.toMatchObject({ code: "TX_ABORTED" });
  });

  it("rollbackTo undoes only the writes after the savepoint", async () => {
    const ledger = await openBank();
    const db = transactional(ledger);
    const tx = db.begin();
    await tx.transfer(ALICE, BOB, 5n);
    const sp = tx.savepoint();
    await tx.transfer(ALICE, CAROL, 15n);
    expect(await tx.balance(ALICE)).toBe(0n);
    tx.rollbackTo(sp);
    expect(await tx.balance(ALICE)).toBe(15n);
    expect(await tx.balance(CAROL)).toBe(0n);
    await tx.commit();
    expect(balances(ledger)).toEqual([15, 10, 0]);
    expect(() => tx.rollbackTo(sp)).toThrow(expect.objectContaining({ code: "TX_ABORTED" }));
  });

  it("refuses money made from nothing, and runs registered invariants", async () => {
    const ledger = await openBank();
    const db = transactional(ledger);
    const mint = db.begin();
    await mint.setBalance(CAROL, 1_000n);
    await expect(mint.commit()).rejects.toMatchObject({
      code: "TX_INVARIANT",
      message: expect.stringContaining("total supply"),
    });
    expect(mint.active).toBe(false);
    db.registerInvariant(
      "Bob keeps at least $5",
      (changes) =>
        changes.every((c) => toHex(c.key) !== toHex(BOB) || (c.after?.balance ?? 0n) >= 5n) ||
        "Bob would drop below $5",
    );
    await expect(db.transaction((tx) => tx.transfer(BOB, CAROL, 1n))).rejects.toMatchObject({
      code: "TX_INVARIANT",
      message: expect.stringContaining("Bob"),
    });
    await db.transaction((tx) => tx.transfer(ALICE, CAROL, 1n));
    expect(balances(ledger)).toEqual([19, 5, 1]);
  });
});
