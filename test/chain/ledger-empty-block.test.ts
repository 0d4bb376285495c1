// An empty block is a valid transition (replication's new primaries write one): it raises the
// height and leaves every account and the root as they were, on both engines.
import { describe, expect, it } from "vitest";
import { Ledger, keyPairFromSeed } from "../../bindings/index.ts";

describe.each(["wasm", "ts"] as const)("empty blocks (%s engine)", (engine) => {
  it("raise the height and change no account and not the root", async () => {
    const alice = keyPairFromSeed(new Uint8Array(32).fill(1));
    const ledger = await Ledger.open({
      chainId: 1,
      engine,
      genesis: [{ address: alice.publicKey, balance: 5n }],
    });
    try {
      const before = ledger.root();
      const first = await ledger.applyBlock([], { proposer: alice.publicKey });
      const second = await ledger.applyBlock([], { proposer: new Uint8Array(32).fill(9) });
      expect([first.height, second.height]).toEqual([1, 2]);
      expect(second.statuses).toEqual([]);
      expect(second.root).toEqual(before);
      expect(ledger.account(alice.publicKey)).toEqual({ balance: 5n, nonce: 0n });
      expect(ledger.account(new Uint8Array(32).fill(9))).toBeUndefined();
    } finally {
      await ledger.close();
    }
  });
});
