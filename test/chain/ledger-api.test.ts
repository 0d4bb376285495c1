/**
 * The public surface from the package root: the names the issue promises, used end to end.
 */
import { describe, expect, it } from "vitest";
import {
  generateKeyPair,
  keyPairFromSeed,
  signTransfer,
  decodeTransfer,
  Ledger,
  verifyProof,
  createKvStore,
} from "../../bindings/index.ts";

describe("package root: ledger API", () => {
  it("keys, a signed transfer, a block, a proof", async () => {
    const alice = keyPairFromSeed(new Uint8Array(32).fill(9));
    const bob = generateKeyPair();
    const tx = signTransfer(alice, { chainId: 3, to: bob.publicKey, amount: 25, fee: 1, nonce: 0 });
    expect(decodeTransfer(tx).amount).toBe(25n);
    const ledger = await Ledger.open({ chainId: 3, genesis: [{ address: alice.publicKey, balance: 100 }] });
    const { height, root, statuses } = await ledger.applyBlock([tx], { proposer: bob.publicKey });
    expect({ height, statuses }).toEqual({ height: 1, statuses: ["ok"] });
    expect(ledger.height).toBe(1);
    expect(ledger.account(bob.publicKey)).toEqual({ balance: 26n, nonce: 0n });
    expect(verifyProof(root, bob.publicKey, { balance: 26n, nonce: 0n }, ledger.prove(bob.publicKey))).toBe(
      true,
    );
    const stranger = generateKeyPair().publicKey;
    expect(verifyProof(root, stranger, undefined, ledger.prove(stranger))).toBe(true);
    await ledger.close();
    const kv = await createKvStore();
    kv.put(new Uint8Array([1]), new Uint8Array([2]));
    expect(kv.get(new Uint8Array([1]))).toEqual(new Uint8Array([2]));
  });
});
