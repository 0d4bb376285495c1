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

Deno.test("pipelined durable ledger: blocks in flight resolve once durable and reopen exactly", async () => {
  const dir = await Deno.makeTempDir({ prefix: "chaindb-ledger-pipelined-" });
  const alice = keyPairFromSeed(new Uint8Array(32).fill(1));
  const bob = keyPairFromSeed(new Uint8Array(32).fill(2));
  const genesis = [
    { address: alice.publicKey, balance: 100n },
    { address: bob.publicKey, balance: 5n },
  ];
  try {
    const ledger = await Ledger.open({ dir, chainId: 7, genesis, pipelined: true });
    // Three blocks issued before any resolves: each executes at once, its fsync runs in the background.
    const blocks = [0n, 1n, 2n].map((nonce) =>
      ledger.applyBlock(
        [signTransfer(alice, { chainId: 7, to: bob.publicKey, amount: 10n, fee: 1n, nonce })],
        {
          proposer: bob.publicKey,
        },
      ),
    );
    assertEquals(ledger.height, 3, "applied height");
    const results = await Promise.all(blocks);
    assertEquals(
      results.map((r) => r.height),
      [1, 2, 3],
      "heights in order",
    );
    assertEquals(ledger.durableHeight, 3, "durable height");
    await ledger.close();
    const reopened = await Ledger.open({ dir, chainId: 7, genesis });
    try {
      assertEquals(reopened.height, 3, "reopened height");
      assertEquals(toHex(reopened.root()), toHex(results[2]!.root), "root");
    } finally {
      await reopened.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
