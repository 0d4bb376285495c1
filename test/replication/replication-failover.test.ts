import { describe, expect, it } from "vitest";
import { ErrorCode } from "../../bindings/util/index.ts";
import { NotPrimaryError } from "../../bindings/replication/index.ts";
import { SimCluster, keys, transfer } from "../helpers/replication-cluster.ts";

const IDS = ["n0", "n1", "n2"];

describe("single-primary replication (scenarios on the SimNetwork)", () => {
  it("the primary commits; secondaries apply, serve reads and refuse writes naming the primary", async () => {
    const c = await new SimCluster(1, IDS, { mode: "sync" }).start();
    const primary = await c.waitForPrimary();
    const secondary = c.replicas.get(IDS.find((id) => id !== primary.id)!)!;
    expect(await c.net.runUntil(() => secondary.status().primary === primary.id, 1000)).toBe(true); // first heartbeat
    const refused = await c.submit(secondary, transfer(0));
    expect(refused?.ok).toBe(false);
    const error = (refused as { error: unknown }).error as NotPrimaryError;
    expect(error).toBeInstanceOf(NotPrimaryError);
    expect(error.code).toBe(ErrorCode.NOT_PRIMARY);
    expect(error.primary).toBe(primary.id);
    expect(error.message).toContain(primary.id);
    const acked = await c.submit(primary, transfer(0));
    expect(acked).toMatchObject({ ok: true, value: { status: "ok", epoch: primary.status().epoch } });
    await c.net.runUntil(
      () =>
        c.converged() && secondary.status().applied >= (acked as { value: { height: number } }).value.height,
      2000,
    );
    expect(secondary.read(keys[1]!.publicKey)?.balance).toBe(1_000_001n);
    expect(secondary.read(keys[0]!.publicKey)?.nonce).toBe(1n);
  });

  it("fails over when the primary is partitioned away, fences it, and it rejoins as a secondary", async () => {
    const c = await new SimCluster(2, IDS, { mode: "sync" }).start();
    const old = await c.waitForPrimary();
    const oldEpoch = old.status().epoch;
    expect((await c.submit(old, transfer(0)))?.ok).toBe(true);
    c.net.partition([[old.id]]);
    // A write at the isolated primary is never acknowledged: it cannot reach k backups.
    const stranded = await c.submit(old, transfer(1), 2000);
    expect(stranded === undefined || stranded.ok === false).toBe(true);
    const next = await c.waitForPrimary(5000, old.id);
    expect(next.status().epoch).toBeGreaterThan(oldEpoch);
    // The isolated node stepped down on its own (it cannot hear a majority).
    expect(old.status().role).not.toBe("primary");
    expect((await c.submit(next, transfer(1)))?.ok).toBe(true);
    c.net.heal();
    expect(
      await c.net.runUntil(() => c.converged() && old.status().epoch === next.status().epoch, 5000),
    ).toBe(true);
    expect(old.status().role).toBe("secondary");
    expect(old.status().primary).toBe(next.id);
    expect(old.read(keys[0]!.publicKey)?.nonce).toBe(2n);
  });

  it("a crashed secondary restarts from its durable log and catches up", async () => {
    const c = await new SimCluster(3, IDS, { mode: "sync" }).start();
    const primary = await c.waitForPrimary();
    const lagging = IDS.find((id) => id !== primary.id)!;
    for (let n = 0; n < 3; n++) expect((await c.submit(primary, transfer(n)))?.ok).toBe(true);
    await c.net.runUntil(() => c.converged(), 2000);
    c.crash(lagging);
    for (let n = 3; n < 8; n++) expect((await c.submit(primary, transfer(n)))?.ok).toBe(true);
    const restarted = await c.restart(lagging);
    expect(restarted.status().lastHeight).toBeGreaterThanOrEqual(4); // its own disk, before hearing anyone
    expect(await c.net.runUntil(() => c.converged(), 5000)).toBe(true);
    expect(restarted.read(keys[0]!.publicKey)?.nonce).toBe(8n);
    expect(restarted.status().applied).toBe(primary.status().applied);
  });

  it("sync mode with every backup required waits for a down backup; async mode does not", async () => {
    for (const mode of ["sync", "async"] as const) {
      const c = await new SimCluster(4, IDS, { mode, syncBackups: 2 }).start();
      const primary = await c.waitForPrimary();
      const backup = IDS.find((id) => id !== primary.id)!;
      c.crash(backup);
      const result = await c.submit(primary, transfer(0), 1000);
      if (mode === "sync") expect(result).toBeUndefined();
      else expect(result?.ok).toBe(true);
      await c.restart(backup);
      if (mode === "sync") {
        expect(await c.net.runUntil(() => c.converged() && c.primary()?.status().applied === 2, 5000)).toBe(
          true,
        );
      }
    }
  });
});
