import { describe, expect, it } from "vitest";
import { Ledger, keyPairFromSeed, signTransfer } from "../../bindings/chain/index.ts";
import { transactional } from "../../bindings/txn/index.ts";

// A block applied through the transactional ledger takes exclusive locks on its accounts, so it
// waits for an open transaction on those accounts and runs on the state that transaction committed.

const alice = keyPairFromSeed(new Uint8Array(32).fill(1));
const bob = new Uint8Array(32).fill(2);
const carol = new Uint8Array(32).fill(3);
const proposer = new Uint8Array(32).fill(9);

describe("blocks and transactions serialize", () => {
  it("a block touching a locked account waits for the transaction's commit", async () => {
    const ledger = await Ledger.open({
      chainId: 5,
      genesis: [
        { address: alice.publicKey, balance: 100n },
        { address: bob, balance: 0n },
      ],
    });
    const db = transactional(ledger);
    const tx = db.begin();
    await tx.transfer(alice.publicKey, carol, 60n);
    const block = [signTransfer(alice, { chainId: 5, to: bob, amount: 50, fee: 0, nonce: 0 })];
    let applied = false;
    const pending = db.applyBlock(block, { proposer }).then((r) => ((applied = true), r));
    await new Promise((resolve) => setImmediate(resolve));
    expect(applied).toBe(false); // waiting for Alice's lock
    expect(db.locks.waiters(Buffer.from(alice.publicKey).toString("hex")).length).toBe(1);
    await tx.commit();
    const result = await pending;
    // The block ran after the transaction: Alice had 40 left, so her 50 transfer is refused.
    expect(result.statuses).toEqual(["INSUFFICIENT_FUNDS"]);
    expect(ledger.account(alice.publicKey)!.balance).toBe(40n);
    expect(ledger.account(carol)!.balance).toBe(60n);
    expect(ledger.height).toBe(2);
    expect(db.locks.holders(Buffer.from(alice.publicKey).toString("hex")).size).toBe(0);
  });
});
