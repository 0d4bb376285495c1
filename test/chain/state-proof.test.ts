/**
 * State root and proofs (sparse Merkle tree): both engines give the root of a naive recursive
 * reference written here over node:crypto; inclusion and absence proofs (empty subtree and
 * other-leaf kinds) verify, and fail when tampered or asked about the wrong account; the root does
 * not depend on insertion order; aborted blocks (with new accounts) restore the root exactly.
 */
import { describe, expect, it } from "vitest";
import { Ledger } from "../../bindings/chain/ledger.ts";
import { verifyProof, decodeProof, accountRecord } from "../../bindings/chain/proof.ts";
import { createLedgerState } from "../../bindings/engine/index.ts";
import { packTransfer } from "../../bindings/chain/transfer.ts";
import { prng } from "../helpers/ledger-fixtures.ts";
import { referenceRoot, sha, splitRecords } from "../helpers/smt-reference.ts";
import { xorAt } from "../helpers/bytes.ts";

function randomAddresses(seed: number, n: number): Uint8Array[] {
  const rand = prng(seed);
  return Array.from({ length: n }, () => Uint8Array.from({ length: 32 }, () => Math.floor(rand() * 256)));
}

const exported = (l: Ledger): Uint8Array[] => splitRecords(l.exportAccounts());

describe("reference sparse Merkle tree", () => {
  it("pins known answers: empty, one account, three accounts", () => {
    const a = (b: number) => new Uint8Array(32).fill(b);
    expect(Buffer.from(referenceRoot([])).toString("hex")).toBe("0".repeat(64));
    const one = accountRecord(a(1), 5n, 0n);
    expect(referenceRoot([one])).toEqual(sha(new Uint8Array([0]), one));
    const three = [
      accountRecord(a(1), 5n, 0n),
      accountRecord(a(2), 7n, 1n),
      accountRecord(a(3), 1n << 63n, 9n),
    ];
    expect(Buffer.from(referenceRoot(three)).toString("hex")).toBe(THREE_ROOT);
  });
});

const THREE_ROOT = "43f70f756dc0f9b4311108e4b8e18feb6ec4dd861c89fd12909d980b45319fff";

for (const engine of ["wasm", "ts"] as const) {
  describe(`state proofs (${engine})`, () => {
    it("the empty state has root 0^32 and proves any absence with depth 0", async () => {
      const l = await Ledger.open({ engine, chainId: 1, genesis: [] });
      expect(l.root()).toEqual(new Uint8Array(32));
      const a = new Uint8Array(32).fill(7);
      const proof = l.prove(a);
      expect(proof.length).toBe(4);
      expect(verifyProof(l.root(), a, undefined, proof)).toBe(true);
      expect(verifyProof(l.root(), a, { balance: 0n, nonce: 0n }, proof)).toBe(false);
    });

    it("a single account is the root's leaf", async () => {
      const a = new Uint8Array(32).fill(1);
      const l = await Ledger.open({ engine, chainId: 1, genesis: [{ address: a, balance: 5n }] });
      expect(l.root()).toEqual(sha(new Uint8Array([0]), accountRecord(a, 5n, 0n)));
      expect(Buffer.from(l.root()).toString("hex")).not.toBe("0".repeat(64));
      const three = [1, 2, 3].map((b) => new Uint8Array(32).fill(b));
      const l3 = await Ledger.open({ engine, chainId: 1, genesis: [] });
      await l3.commitAccounts(
        Buffer.concat([
          accountRecord(three[0]!, 5n, 0n),
          accountRecord(three[1]!, 7n, 1n),
          accountRecord(three[2]!, 1n << 63n, 9n),
        ]),
      );
      expect(Buffer.from(l3.root()).toString("hex")).toBe(THREE_ROOT);
    });

    it("proves inclusion and absence; tampered proofs and wrong accounts fail", async () => {
      const addrs = randomAddresses(11, 300);
      const genesis = addrs.slice(0, 200).map((address, i) => ({ address, balance: BigInt(1000 + i) }));
      const l = await Ledger.open({ engine, chainId: 1, genesis });
      const root = l.root();
      expect(root).toEqual(referenceRoot(exported(l)));
      const kinds = new Set<string>();
      for (const [i, a] of addrs.entries()) {
        const proof = l.prove(a);
        const account = l.account(a);
        expect(account === undefined).toBe(i >= 200);
        expect(verifyProof(root, a, account, proof)).toBe(true);
        const d = decodeProof(proof);
        kinds.add(account ? "inclusion" : d.leaf === undefined ? "absent-empty" : "absent-leaf");
        if (account) {
          expect(verifyProof(root, a, { ...account, balance: account.balance + 1n }, proof)).toBe(false);
          expect(verifyProof(root, a, undefined, proof)).toBe(false);
          // Another account's proof does not prove this one.
          expect(verifyProof(root, addrs[(i + 1) % 200]!, account, proof)).toBe(false);
        } else {
          expect(verifyProof(root, a, { balance: 0n, nonce: 0n }, proof)).toBe(false);
        }
        // Flip each byte position of a few proofs: a malformed proof throws BAD_PROOF, any other fails.
        if (i % 37 === 0) {
          for (let k = 0; k < proof.length; k++) {
            const bad = proof.slice();
            xorAt(bad, k, 1 << (k % 8));
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
      }
      expect([...kinds].sort()).toEqual(["absent-empty", "absent-leaf", "inclusion"]);
      // log-size proofs: 200 accounts, depth about 8 + 1.3.
      const sizes = addrs.map((a) => l.prove(a).length);
      expect(Math.max(...sizes)).toBeLessThan(4 + 48 + 3 + 20 * 32);
    });

    it("an absence proof cannot hide a present account behind its neighbour", async () => {
      const addrs = randomAddresses(14, 64);
      const l = await Ledger.open({
        engine,
        chainId: 1,
        genesis: addrs.map((address) => ({ address, balance: 9n })),
      });
      const root = l.root();
      for (const [i, a] of addrs.entries()) {
        // Every other account's proof, offered as an absence proof of `a`, fails.
        const other = l.prove(addrs[(i + 1) % addrs.length]!);
        expect(verifyProof(root, a, undefined, other)).toBe(false);
      }
    });

    it("root matches the reference and does not depend on insertion order", async () => {
      const addrs = randomAddresses(12, 300);
      const recs = addrs.map((a, i) => accountRecord(a, BigInt(i * 3 + 1), BigInt(i % 4)));
      const forward = await createLedgerState(engine);
      for (const r of recs) forward.load(r);
      const backward = await createLedgerState(engine);
      backward.load(Buffer.concat([...recs].reverse()));
      const halves = await createLedgerState(engine);
      halves.load(Buffer.concat(recs.slice(0, 150)));
      halves.root();
      halves.load(Buffer.concat(recs.slice(150)));
      const expected = referenceRoot(recs);
      expect(forward.root()).toEqual(expected);
      expect(backward.root()).toEqual(expected);
      expect(halves.root()).toEqual(expected);
    });

    it("after a block the root equals the reference, and old proofs fail", async () => {
      const addrs = randomAddresses(13, 300);
      const genesis = addrs.slice(0, 200).map((address) => ({ address, balance: 500n }));
      const l = await Ledger.open({ engine, chainId: 1, genesis });
      const oldRoot = l.root();
      const oldProof = l.prove(addrs[0]!);
      const packed = new Uint8Array(88 * 100);
      // Every recipient is a new account.
      for (let i = 0; i < 100; i++) packTransfer(packed, i, addrs[i]!, addrs[299 - i]!, 7n, 1n, 0n);
      await l.applyPacked(packed, 100, { proposer: addrs[150]! });
      expect(l.accountCount).toBe(300);
      expect(l.root()).toEqual(referenceRoot(exported(l)));
      expect(verifyProof(l.root(), addrs[0]!, l.account(addrs[0]!), oldProof)).toBe(false);
      expect(verifyProof(oldRoot, addrs[0]!, { balance: 500n, nonce: 0n }, oldProof)).toBe(true);
    });

    it("a previewed (aborted) block with new accounts restores the root and the tree", async () => {
      const addrs = randomAddresses(15, 400);
      const l = await Ledger.open({
        engine,
        chainId: 1,
        genesis: addrs.slice(0, 100).map((address) => ({ address, balance: 50n })),
      });
      const before = l.root();
      const packed = new Uint8Array(88 * 100);
      for (let i = 0; i < 100; i++) packTransfer(packed, i, addrs[i]!, addrs[100 + i]!, 3n, 1n, 0n);
      const preview = l.preview(packed, 100, addrs[399]!);
      expect(preview.root).not.toEqual(before);
      expect(l.root()).toEqual(before);
      expect(l.accountCount).toBe(100);
      for (const a of addrs.slice(100, 120)) expect(verifyProof(before, a, undefined, l.prove(a))).toBe(true);
      // The same block applied for real gives the previewed root.
      const r = await l.applyPacked(packed, 100, { proposer: addrs[399]! });
      expect(r.root).toEqual(preview.root);
      expect(r.root).toEqual(referenceRoot(exported(l)));
    });
  });
}
