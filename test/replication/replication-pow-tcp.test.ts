import { afterAll, describe, expect, it } from "vitest";
import { rmSync } from "node:fs";
import { signTransfer } from "../../bindings/chain/index.ts";
import { toHex } from "../../bindings/util/index.ts";
import { LocalCluster, type NodeStatusLine } from "../../bindings/cli/cluster.ts";
import { DEV_CHAIN_ID, devAccounts } from "../../bindings/cli/node.ts";

// Four `chaindb node --mode pow` processes on loopback (started through tsx from the sources).
const accounts = devAccounts();
const tx = (nonce: number) =>
  toHex(
    signTransfer(accounts[2]!, {
      chainId: DEV_CHAIN_ID,
      to: accounts[3]!.publicKey,
      amount: 1,
      fee: 1,
      nonce,
    }),
  );
let cluster: LocalCluster | undefined;

afterAll(async () => {
  await cluster?.stop();
  if (cluster) rmSync(cluster.dir, { recursive: true, force: true });
});

const live = (s: (NodeStatusLine | undefined)[]) => s.filter((x): x is NodeStatusLine => x !== undefined);
const agree = (s: (NodeStatusLine | undefined)[], count: number) =>
  live(s).length === count && live(s).every((x) => x.tip === live(s)[0]!.tip && x.root === live(s)[0]!.root);

async function nonceAt(c: LocalCluster, i: number): Promise<string> {
  const res = await fetch(
    `http://127.0.0.1:${Number(c.addresses[i]!.split(":")[1]) + 1}/account/${toHex(accounts[2]!.publicKey)}`,
  );
  return ((await res.json()) as { nonce: string }).nonce;
}

describe("multi-primary proof-of-work replication over TCP (4 processes)", () => {
  it("mines transfers submitted to any node into one chain; a SIGKILLed miner restarts from disk and catches up", async () => {
    const c = (cluster = LocalCluster.start({ nodes: 4, mode: "pow" }));
    await c.waitFor(
      (s) => live(s).length === 4 && live(s).every((x) => x.peers.length === 3 && x.height >= 1),
      60_000,
      "4 connected miners with a block",
    );
    for (let n = 0; n < 4; n++) await c.submit(n, tx(n)); // each at a different node
    const h0 = Math.max(...live(c.statuses).map((x) => x.height));
    await c.waitFor((s) => live(s).every((x) => x.height >= h0 + 4), 60_000, "four more blocks");
    await Promise.all([0, 1, 2, 3].map((i) => c.setMining(i, false)));
    await c.waitFor((s) => agree(s, 4), 30_000, "one tip and one root");
    for (let i = 0; i < 4; i++) expect(await nonceAt(c, i)).toBe("4");
    await c.kill(0, "SIGKILL");
    await Promise.all([1, 2, 3].map((i) => c.setMining(i, true)));
    for (let n = 4; n < 8; n++) await c.submit(1 + (n % 3), tx(n));
    const h1 = Math.max(...live(c.statuses).map((x) => x.height));
    await c.waitFor(
      (s) => live(s).length === 3 && live(s).every((x) => x.height >= h1 + 3),
      60_000,
      "three more blocks without n0",
    );
    await Promise.all([1, 2, 3].map((i) => c.setMining(i, false)));
    c.launch(0);
    await c.waitFor((s) => agree(s, 4), 60_000, "the restarted miner to catch up");
    await c.setMining(0, false);
    await c.waitFor((s) => agree(s, 4), 30_000, "one tip after the last miner stopped");
    for (let i = 0; i < 4; i++) expect(await nonceAt(c, i)).toBe("8");
  }, 240_000);
});
