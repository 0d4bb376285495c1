import { afterAll, describe, expect, it } from "vitest";
import { rmSync } from "node:fs";
import { signTransfer } from "../../bindings/chain/index.ts";
import { toHex } from "../../bindings/util/index.ts";
import { LocalCluster } from "../../bindings/cli/cluster.ts";
import { DEV_CHAIN_ID, devAccounts } from "../../bindings/cli/node.ts";

// Four `chaindb node` processes on loopback (started through tsx from the sources).
const accounts = devAccounts();
const tx = (nonce: number) =>
  toHex(
    signTransfer(accounts[0]!, {
      chainId: DEV_CHAIN_ID,
      to: accounts[1]!.publicKey,
      amount: 1,
      fee: 0,
      nonce,
    }),
  );
let cluster: LocalCluster | undefined;

afterAll(async () => {
  await cluster?.stop();
  if (cluster) rmSync(cluster.dir, { recursive: true, force: true });
});

describe("single-primary replication over TCP (4 processes)", () => {
  it("commits transfers submitted to any node, survives SIGKILL of the primary, and the killed node catches up", async () => {
    const c = (cluster = LocalCluster.start({ nodes: 4 }));
    await c.waitFor(
      (s) => c.primaryIndex() !== undefined && s.every((x) => x !== undefined && x.applied >= 1),
      60_000,
      "a primary and every node at height 1",
    );
    // any node: secondaries answer NOT_PRIMARY with the primary's id and the client follows it
    for (let n = 0; n < 4; n++) {
      const r = await c.submit(n, tx(n));
      expect(r.status).toBe("ok");
    }
    const first = c.primaryIndex()!;
    const epoch = c.statuses[first]!.epoch;
    await c.kill(first, "SIGKILL");
    await c.waitFor(
      (s) => s.some((x, i) => i !== first && x?.role === "primary" && x.epoch > epoch),
      30_000,
      "a new primary",
    );
    const next = c.primaryIndex()!;
    expect(next).not.toBe(first);
    for (let n = 4; n < 8; n++) expect((await c.submit((first + 1) % 4, tx(n))).status).toBe("ok");
    const target = c.statuses[next]!.commit;
    c.launch(first);
    await c.waitFor(
      (s) => s.every((x) => x !== undefined && x.applied >= target),
      60_000,
      "the restarted node to catch up",
    );
    await c.waitFor(
      (s) => s.every((x) => x!.applied === s[next]!.applied && x!.root === s[next]!.root),
      30_000,
      "one height and one root",
    );
    const res = await fetch(
      `http://127.0.0.1:${Number(c.addresses[first]!.split(":")[1]) + 1}/account/${toHex(accounts[0]!.publicKey)}`,
    );
    expect(await res.json()).toMatchObject({ nonce: "8" });
  }, 180_000);
});
