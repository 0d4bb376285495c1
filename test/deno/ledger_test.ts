// Deno smoke suite for the ledger: a durable ledger (sqlite-wasm over the node:fs VFS) takes a
// signed block, and reopening it — with the other engine — restores the same state and root.
import { Ledger, keyPairFromSeed, signTransfer, verifyProof, toHex } from "chaindb";

function assertEquals(actual: unknown, expected: unknown, what: string): void {
  const a = JSON.stringify(actual, (_k, v) => (typeof v === "bigint" ? `${v}n` : v));
  const e = JSON.stringify(expected, (_k, v) => (typeof v === "bigint" ? `${v}n` : v));
  if (a !== e) throw new Error(`${what}: expected ${e}, got ${a}`);
}

Deno.test(
  "durable ledger: commit a signed block, reopen with the ts engine, same root and proofs",
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "chaindb-ledger-" });
    const alice = keyPairFromSeed(new Uint8Array(32).fill(1));
    const bob = keyPairFromSeed(new Uint8Array(32).fill(2));
    const genesis = [
      { address: alice.publicKey, balance: 20n },
      { address: bob.publicKey, balance: 5n },
    ];
    try {
      const ledger = await Ledger.open({ dir, chainId: 7, engine: "wasm", genesis });
      const tx = signTransfer(alice, { chainId: 7, to: bob.publicKey, amount: 10n, fee: 1n, nonce: 0n });
      const result = await ledger.applyBlock([tx], { proposer: bob.publicKey });
      assertEquals(result.statuses, ["ok"], "statuses");
      await ledger.close();

      const reopened = await Ledger.open({ dir, chainId: 7, engine: "ts", genesis });
      try {
        assertEquals(reopened.height, 1, "height");
        assertEquals(toHex(reopened.root()), toHex(result.root), "root");
        const bobAccount = reopened.account(bob.publicKey);
        assertEquals(bobAccount, { balance: 16n, nonce: 0n }, "bob");
        assertEquals(
          verifyProof(reopened.root(), bob.publicKey, bobAccount, reopened.prove(bob.publicKey)),
          true,
          "proof",
        );
      } finally {
        await reopened.close();
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);
