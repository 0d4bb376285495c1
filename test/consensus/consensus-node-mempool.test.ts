// ConsensusNode's mempool under a clog: 3,000 validly signed transfers behind nonce gaps no longer
// cost block building anything (counted as transaction executions tried, not wall clock), and at
// the cap a funded user's transfer with a higher fee gets in and is committed.
import { afterEach, describe, expect, it, vi } from "vitest";
import { keyPairFromSeed, signTransfer, type KeyPair } from "../../bindings/chain/index.ts";
import { ConsensusNode, type ChainGenesis } from "../../bindings/consensus/index.ts";
import { SimNetwork } from "../../bindings/net/index.ts";
import { BlockRun } from "../../bindings/selection/index.ts";
import { ChainDbError } from "../../bindings/util/index.ts";

const CHAIN = 9;
const TIMEOUTS = {
  proposeMs: 300,
  proposeDeltaMs: 100,
  prevoteMs: 150,
  prevoteDeltaMs: 50,
  precommitMs: 150,
  precommitDeltaMs: 50,
};
const validator = keyPairFromSeed(new Uint8Array(32).fill(1));
const user = keyPairFromSeed(new Uint8Array(32).fill(2));
const sink = keyPairFromSeed(new Uint8Array(32).fill(3));
const spammers = Array.from({ length: 60 }, (_, i) => keyPairFromSeed(new Uint8Array(32).fill(i + 10)));
const GAPPED_PER_SENDER = 50; // nonces 1..50 while each account's next nonce is 0: none can run

const genesis: ChainGenesis = {
  accounts: [validator, user, ...spammers].map((k) => ({ address: k.publicKey, balance: 1_000_000n })),
  validators: [{ address: validator.publicKey, stake: 1000n }],
};
const pay = (from: KeyPair, nonce: number, fee = 1) =>
  signTransfer(from, { chainId: CHAIN, to: sink.publicKey, amount: 5, fee, nonce });
// Signed once for both tests (3,000 ed25519 signatures).
const gapped = spammers.flatMap((k) => Array.from({ length: GAPPED_PER_SENDER }, (_, n) => pay(k, n + 1)));

async function lone(mempool?: { capacity: number }) {
  const net = new SimNetwork({ seed: 3 });
  const sim = net.addNode("v0");
  const node = await ConsensusNode.open({
    chainId: CHAIN,
    genesis,
    key: validator,
    transport: sim.transport,
    clock: sim.clock,
    timeouts: TIMEOUTS,
    newHeightDelayMs: 20,
    tickMs: 100,
    ...(mempool ? { mempool } : {}),
  });
  return { net, node };
}

afterEach(() => vi.restoreAllMocks());

describe("ConsensusNode mempool under a clog", () => {
  it("3,000 gapped transfers are not tried in every block (executions counted)", async () => {
    const { net, node } = await lone();
    for (const tx of gapped) expect(node.submit(tx).accepted).toBe(true);
    expect(node.status().mempool).toBe(3000);
    const tried = vi.spyOn(BlockRun.prototype, "tx");
    const from = node.height;
    for (let n = 0; n < 4; n++) node.submit(pay(user, n));
    expect(
      await net.runUntil(() => node.height >= from + 5, 20_000),
      `height ${node.height} failure ${String(node.failure)}`,
    ).toBe(true);
    await node.idle();
    expect(node.accounts.account(user.publicKey)!.nonce).toBe(4n);
    // Before: every block tried each of the 3,000 and caught the refusal (>= 15,000 here).
    // Now: one try per transfer a block takes.
    expect(tried.mock.calls.length).toBe(4);
    expect(node.status().mempool).toBe(3000);
    await node.close();
  }, 30_000);

  it("at the cap, a funded user's higher-fee transfer gets in and is committed; an equal fee is refused with MEMPOOL_FULL", async () => {
    const { net, node } = await lone({ capacity: 3000 });
    for (const tx of gapped) node.submit(tx);
    expect(node.status().mempool).toBe(3000);
    let refusal: unknown;
    try {
      node.submit(pay(user, 0, 1));
    } catch (error) {
      refusal = error;
    }
    expect(refusal).toBeInstanceOf(ChainDbError);
    expect((refusal as ChainDbError).code).toBe("MEMPOOL_FULL");
    expect(node.submit(pay(user, 0, 2)).accepted).toBe(true);
    expect(node.status().mempool).toBeLessThanOrEqual(3000);
    const from = node.height;
    expect(
      await net.runUntil(() => node.accounts.account(user.publicKey)?.nonce === 1n, 20_000),
      `height ${node.height} from ${from}`,
    ).toBe(true);
    await node.close();
  }, 30_000);

  it("refuses a transfer far ahead of the account's nonce with NONCE_GAP", async () => {
    const { node } = await lone();
    expect(() => node.submit(pay(user, 64))).toThrow(expect.objectContaining({ code: "NONCE_GAP" }));
    expect(node.submit(pay(user, 63)).accepted).toBe(true);
    await node.close();
  });
});
