/**
 * The ledger state machine on both engines: transfer rules and statuses, fees, supply
 * conservation, the atomic mode, rejection of bad input with state untouched, and a seeded
 * differential run (wasm vs ts vs a naive reference) with identical statuses and roots.
 */
import { describe, expect, it } from "vitest";
import { Ledger } from "../../bindings/chain/ledger.ts";
import { signTransfer, signTransferUnchecked } from "../../bindings/chain/transfer.ts";
import { PACKED_TRANSFER_SIZE, packTransfer } from "../../bindings/engine/index.ts";
import { ReferenceLedger, prng, testKey } from "../helpers/ledger-fixtures.ts";
import type { RefTransfer } from "../helpers/ledger-fixtures.ts";
import { xorAt } from "../helpers/bytes.ts";

const CHAIN = 7;
const U64_MAX = (1n << 64n) - 1n;
const alice = testKey(0);
const bob = testKey(1);
const carol = testKey(2); // proposer
const dave = testKey(3); // not in genesis

function supply(ledger: Ledger): bigint {
  const recs = ledger.exportAccounts();
  const dv = new DataView(recs.buffer, recs.byteOffset, recs.length);
  let s = 0n;
  for (let o = 0; o < recs.length; o += 48) s += dv.getBigUint64(o + 32, true);
  return s;
}

async function openLedger(engine: "wasm" | "ts") {
  return Ledger.open({
    engine,
    chainId: CHAIN,
    genesis: [
      { address: alice.publicKey, balance: 1000n },
      { address: bob.publicKey, balance: 50n },
      { address: carol.publicKey, balance: 0n },
    ],
  });
}

for (const engine of ["wasm", "ts"] as const) {
  describe(`ledger rules (${engine})`, () => {
    it("applies transfers, pays fees to the proposer and reports a status per transfer", async () => {
      const l = await openLedger(engine);
      const before = supply(l);
      const txs = [
        signTransfer(alice, { chainId: CHAIN, to: bob.publicKey, amount: 100n, fee: 5n, nonce: 0n }),
        signTransfer(alice, { chainId: CHAIN, to: bob.publicKey, amount: 1n, fee: 0n, nonce: 0n }), // replay
        signTransfer(bob, { chainId: CHAIN, to: dave.publicKey, amount: 149n, fee: 1n, nonce: 0n }), // all of it
        signTransfer(bob, { chainId: CHAIN, to: dave.publicKey, amount: 1n, fee: 0n, nonce: 1n }), // broke now
        signTransfer(alice, { chainId: CHAIN, to: alice.publicKey, amount: 1n, fee: 0n, nonce: 1n }),
        signTransferUnchecked(alice, {
          chainId: CHAIN,
          to: bob.publicKey,
          amount: U64_MAX,
          fee: 1n,
          nonce: 1n,
        }),
        signTransfer(alice, { chainId: CHAIN, to: dave.publicKey, amount: 0n, fee: 0n, nonce: 1n }),
      ];
      const r = await l.applyBlock(txs, { proposer: carol.publicKey });
      expect(r.statuses).toEqual([
        "ok",
        "BAD_NONCE",
        "ok",
        "INSUFFICIENT_FUNDS",
        "SELF_TRANSFER",
        "OVERFLOW",
        "ok",
      ]);
      expect(r.height).toBe(1);
      expect(l.height).toBe(1);
      expect(l.account(alice.publicKey)).toEqual({ balance: 895n, nonce: 2n });
      expect(l.account(bob.publicKey)).toEqual({ balance: 0n, nonce: 1n });
      expect(l.account(dave.publicKey)).toEqual({ balance: 149n, nonce: 0n });
      expect(l.account(carol.publicKey)).toEqual({ balance: 6n, nonce: 0n });
      expect(supply(l)).toBe(before);
      expect(r.root).toEqual(l.root());
    });

    it("rejects balance overflow of the recipient and of the proposer", async () => {
      const l = await Ledger.open({
        engine,
        chainId: CHAIN,
        genesis: [
          { address: alice.publicKey, balance: 10n },
          { address: bob.publicKey, balance: U64_MAX - 5n },
          { address: carol.publicKey, balance: U64_MAX },
        ],
      });
      const root = l.root();
      const r = await l.applyBlock(
        [
          signTransfer(alice, { chainId: CHAIN, to: bob.publicKey, amount: 6n, fee: 0n, nonce: 0n }),
          signTransfer(alice, { chainId: CHAIN, to: dave.publicKey, amount: 1n, fee: 1n, nonce: 0n }),
        ],
        { proposer: carol.publicKey },
      );
      expect(r.statuses).toEqual(["OVERFLOW", "OVERFLOW"]);
      expect(r.root).toEqual(root);
      expect(l.account(dave.publicKey)).toBeUndefined();
    });

    it("proposer as sender or recipient is paid exactly once", async () => {
      const l = await openLedger(engine);
      const r = await l.applyBlock(
        [
          signTransfer(alice, { chainId: CHAIN, to: bob.publicKey, amount: 10n, fee: 3n, nonce: 0n }),
          signTransfer(bob, { chainId: CHAIN, to: alice.publicKey, amount: 10n, fee: 2n, nonce: 0n }),
        ],
        { proposer: alice.publicKey },
      );
      expect(r.statuses).toEqual(["ok", "ok"]);
      expect(l.account(alice.publicKey)).toEqual({ balance: 1000n - 10n + 10n + 2n, nonce: 1n });
      expect(l.account(bob.publicKey)).toEqual({ balance: 50n + 10n - 12n, nonce: 1n });
    });

    it("atomic mode: one rejected transfer rejects the block and leaves no trace", async () => {
      const l = await openLedger(engine);
      const root = l.root();
      const txs = [
        signTransfer(alice, { chainId: CHAIN, to: dave.publicKey, amount: 10n, fee: 1n, nonce: 0n }),
        signTransfer(bob, { chainId: CHAIN, to: dave.publicKey, amount: 51n, fee: 0n, nonce: 0n }),
      ];
      await expect(l.applyBlock(txs, { proposer: carol.publicKey, atomic: true })).rejects.toMatchObject({
        code: "INSUFFICIENT_FUNDS",
      });
      expect(l.height).toBe(0);
      expect(l.root()).toEqual(root);
      expect(l.account(dave.publicKey)).toBeUndefined();
      expect(l.account(alice.publicKey)).toEqual({ balance: 1000n, nonce: 0n });
      const ok = await l.applyBlock(txs.slice(0, 1), { proposer: carol.publicKey, atomic: true });
      expect(ok.statuses).toEqual(["ok"]);
      expect(l.account(dave.publicKey)).toEqual({ balance: 10n, nonce: 0n });
    });

    it("bad input throws typed errors and changes nothing", async () => {
      const l = await openLedger(engine);
      const root = l.root();
      const good = signTransfer(alice, { chainId: CHAIN, to: bob.publicKey, amount: 1n, fee: 0n, nonce: 0n });
      const forged = good.slice();
      xorAt(forged, 70, 1); // amount changed after signing
      const otherChain = signTransfer(alice, {
        chainId: CHAIN + 1,
        to: bob.publicKey,
        amount: 1n,
        fee: 0n,
        nonce: 0n,
      });
      const p = { proposer: carol.publicKey };
      await expect(l.applyBlock([good, forged], p)).rejects.toMatchObject({ code: "BAD_SIGNATURE" });
      await expect(l.applyBlock([good, otherChain], p)).rejects.toMatchObject({ code: "WRONG_CHAIN" });
      await expect(l.applyBlock([good, good.subarray(1)], p)).rejects.toMatchObject({ code: "BAD_LENGTH" });
      await expect(l.applyBlock([good], { proposer: new Uint8Array(31) })).rejects.toMatchObject({
        code: "BAD_LENGTH",
      });
      expect(() =>
        signTransfer(alice, { chainId: CHAIN, to: bob.publicKey, amount: U64_MAX, fee: 1n, nonce: 0n }),
      ).toThrow(expect.objectContaining({ code: "OVERFLOW" }));
      expect(l.height).toBe(0);
      expect(l.root()).toEqual(root);
      expect(l.account(alice.publicKey)).toEqual({ balance: 1000n, nonce: 0n });
      await l.close();
      expect(() => l.root()).toThrow(expect.objectContaining({ code: "CLOSED" }));
    });
  });
}

describe("differential: wasm vs ts vs naive reference, seeded random blocks", () => {
  it("identical statuses, balances and roots; supply conserved every block", async () => {
    const seed = 20261126;
    const rand = prng(seed);
    const n = 40;
    const addrs = Array.from({ length: n }, (_, i) => {
      const a = new Uint8Array(32);
      for (let j = 0; j < 32; j++) a[j] = Math.floor(rand() * 256);
      if (i % 7 === 0) a.set([0, 0, 0, 0]); // share a bucket: exercises the bucket chain
      return a;
    });
    const genesis = addrs.slice(0, 30).map((address, i) => ({
      address,
      balance: i === 3 ? U64_MAX - 100n : BigInt(Math.floor(rand() * 1000)),
    }));
    const opts = { chainId: CHAIN, genesis };
    const wasm = await Ledger.open({ ...opts, engine: "wasm" });
    const ts = await Ledger.open({ ...opts, engine: "ts" });
    const ref = new ReferenceLedger(genesis);
    expect(wasm.root()).toEqual(ts.root());
    const big = (max: number) => BigInt(Math.floor(rand() * max));
    for (let b = 0; b < 60; b++) {
      const count = Math.floor(rand() * 50);
      const txs: RefTransfer[] = [];
      for (let i = 0; i < count; i++) {
        const from = addrs[Math.floor(rand() * n)]!;
        const k = Buffer.from(from).toString("hex");
        const nonce = ref.accounts.get(k)?.nonce ?? 0n;
        const r = rand();
        txs.push({
          from,
          to: r < 0.05 ? from : addrs[Math.floor(rand() * n)]!,
          amount: r < 0.08 ? U64_MAX - big(3) : big(300),
          fee: r > 0.97 ? U64_MAX : big(5),
          nonce: r > 0.1 && r < 0.15 ? nonce + 1n : nonce,
        });
      }
      const packed = new Uint8Array(count * PACKED_TRANSFER_SIZE);
      txs.forEach((t, i) => packTransfer(packed, i, t.from, t.to, t.amount, t.fee, t.nonce));
      const proposer = addrs[Math.floor(rand() * n)]!;
      const expected = ref.applyBlock(txs, proposer);
      const atomic = b % 10 === 9;
      const results = await Promise.allSettled(
        [wasm, ts].map((l) => l.applyPacked(packed, count, { proposer, atomic })),
      );
      if (atomic && expected.some((s) => s !== "ok")) {
        for (const r of results) expect(r.status, `seed ${seed} block ${b}`).toBe("rejected");
        // undo the reference: rebuild from the wasm ledger, which must be unchanged (checked below)
        ref.accounts.clear();
        const recs = wasm.exportAccounts();
        const dv = new DataView(recs.buffer);
        for (let o = 0; o < recs.length; o += 48) {
          ref.accounts.set(Buffer.from(recs.subarray(o, o + 32)).toString("hex"), {
            balance: dv.getBigUint64(o + 32, true),
            nonce: dv.getBigUint64(o + 40, true),
          });
        }
      } else {
        for (const r of results) {
          expect(r.status).toBe("fulfilled");
          if (r.status === "fulfilled") expect(r.value.statuses, `seed ${seed} block ${b}`).toEqual(expected);
        }
      }
      expect(wasm.root(), `seed ${seed} block ${b}`).toEqual(ts.root());
      expect(supply(wasm)).toBe(ref.supply());
      expect(supply(ts)).toBe(ref.supply());
      for (const [k, a] of ref.accounts) {
        const addr = Buffer.from(k, "hex");
        expect(wasm.account(addr)).toEqual(a);
        expect(ts.account(addr)).toEqual(a);
      }
      expect(wasm.accountCount).toBe(ref.accounts.size);
    }
    expect(wasm.height).toBe(ts.height);
  });
});
