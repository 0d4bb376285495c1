/**
 * State root and proofs: inclusion and absence proofs verify against the root on both engines,
 * tampering makes them fail, the root is independent of insertion order, and it matches a root
 * computed from scratch by the TypeScript definitions in bindings/chain/proof.ts.
 */
import { describe, expect, it } from "vitest";
import { Ledger } from "../bindings/chain/ledger.ts";
import { verifyProof, bucketHash, bucketOf, nodeHash, accountRecord } from "../bindings/chain/proof.ts";
import { createLedgerState } from "../bindings/engine/index.ts";
import { packTransfer } from "../bindings/chain/transfer.ts";
import { prng } from "./helpers/ledger-fixtures.ts";

function randomAddresses(seed: number, n: number, sharedPrefix = 0): Uint8Array[] {
  const rand = prng(seed);
  return Array.from({ length: n }, (_, i) => {
    const a = new Uint8Array(32);
    for (let j = 0; j < 32; j++) a[j] = Math.floor(rand() * 256);
    if (i < sharedPrefix) a.set([9, 9, 9]); // a crowded bucket
    return a;
  });
}

/** The root by definition: every bucket hashed from its sorted members, then every level. */
function rootFromScratch(records: Uint8Array[], depth: number): Uint8Array {
  const buckets = new Map<number, Uint8Array[]>();
  for (const r of records) {
    const b = bucketOf(r, depth);
    buckets.set(b, [...(buckets.get(b) ?? []), r]);
  }
  let level: Uint8Array[] = [];
  for (let b = 0; b < 2 ** depth; b++) {
    const members = (buckets.get(b) ?? []).sort((x, y) => Buffer.compare(x.subarray(0, 32), y.subarray(0, 32)));
    level.push(bucketHash(members));
  }
  while (level.length > 1) level = level.flatMap((_, i) => (i % 2 === 0 ? [nodeHash(level[i]!, level[i + 1]!)] : []));
  return level[0]!;
}

for (const engine of ["wasm", "ts"] as const) {
  describe(`state proofs (${engine})`, () => {
    it("proves inclusion and absence; tampered proofs and wrong accounts fail", async () => {
      const addrs = randomAddresses(11, 60, 12);
      const genesis = addrs.slice(0, 50).map((address, i) => ({ address, balance: BigInt(1000 + i) }));
      const l = await Ledger.open({ engine, chainId: 1, genesis, treeDepth: 8 });
      const root = l.root();
      for (const [i, a] of addrs.entries()) {
        const proof = l.prove(a);
        const account = l.account(a);
        expect(account === undefined).toBe(i >= 50);
        expect(verifyProof(root, a, account, proof)).toBe(true);
        if (account) {
          expect(verifyProof(root, a, { ...account, balance: account.balance + 1n }, proof)).toBe(false);
          expect(verifyProof(root, a, undefined, proof)).toBe(false);
        } else {
          expect(verifyProof(root, a, { balance: 0n, nonce: 0n }, proof)).toBe(false);
        }
        const bad = proof.slice();
        bad[bad.length - 1 - (i % 32)] ^= 1; // flip a bit of a sibling
        expect(verifyProof(root, a, account, bad)).toBe(false);
      }
      // Dropping a member of a crowded bucket must not yield an absence proof.
      const crowded = addrs[0]!;
      const proof = l.prove(crowded);
      const count = new DataView(proof.buffer).getUint32(2, true);
      expect(count).toBeGreaterThan(5);
      const without = new Uint8Array(proof.length - 48);
      without.set(proof.subarray(0, 6));
      new DataView(without.buffer).setUint32(2, count - 1, true);
      const idx = [...Array(count).keys()].find((k) => Buffer.compare(proof.subarray(6 + 48 * k, 6 + 48 * k + 32), crowded) === 0)!;
      without.set(proof.subarray(6, 6 + 48 * idx), 6);
      without.set(proof.subarray(6 + 48 * (idx + 1)), 6 + 48 * idx);
      expect(verifyProof(root, crowded, undefined, without)).toBe(false);
    });

    it("root matches the from-scratch definition and does not depend on insertion order", async () => {
      const addrs = randomAddresses(12, 300, 20);
      const recs = addrs.map((a, i) => accountRecord(a, BigInt(i * 3 + 1), BigInt(i % 4)));
      const forward = await createLedgerState(engine, 7);
      for (const r of recs) forward.load(r);
      const backward = await createLedgerState(engine, 7);
      for (const r of [...recs].reverse()) backward.load(r);
      const expected = rootFromScratch(recs, 7);
      expect(forward.root()).toEqual(expected);
      expect(backward.root()).toEqual(expected);
    });

    it("after a block the updated root equals a from-scratch root, and old proofs fail", async () => {
      const addrs = randomAddresses(13, 200);
      const genesis = addrs.map((address) => ({ address, balance: 500n }));
      const l = await Ledger.open({ engine, chainId: 1, genesis, treeDepth: 5 });
      const oldRoot = l.root();
      const oldProof = l.prove(addrs[0]!);
      const packed = new Uint8Array(88 * 100);
      for (let i = 0; i < 100; i++) packTransfer(packed, i, addrs[i]!, addrs[199 - i]!, 7n, 1n, 0n);
      await l.applyPacked(packed, 100, { proposer: addrs[150]! });
      const recs: Uint8Array[] = [];
      const all = l.exportAccounts();
      for (let o = 0; o < all.length; o += 48) recs.push(all.slice(o, o + 48));
      expect(l.root()).toEqual(rootFromScratch(recs, 5));
      expect(verifyProof(l.root(), addrs[0]!, l.account(addrs[0]!), oldProof)).toBe(false);
      expect(verifyProof(oldRoot, addrs[0]!, { balance: 500n, nonce: 0n }, oldProof)).toBe(true);
    });
  });
}
