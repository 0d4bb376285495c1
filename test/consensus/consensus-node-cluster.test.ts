// Real clusters of `chaindb node --consensus pos|dpos` processes over TCP on loopback, each with
// its own WAL, block store and durable ledger. Node 3 (PoS) or 1 (DPoS) runs with
// `--byzantine double-vote`: its evidence is committed in a block, it is slashed and jailed, and it
// is in the validator set of the next height but not of the one after (H + 2); the chain goes on
// and every node ends at the same height, tip and state root. The PoS run also SIGKILLs an honest
// validator after the slashing and restarts it: it recovers from its files and catches up.
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { LocalCluster, type NodeStatusLine, type SlashLine } from "../../bindings/cli/cluster.ts";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "chaindb-bft-cluster-"));
  dirs.push(d);
  return d;
}

/** Checks what both selections must show: one chain, the offender slashed and out from H + 2. */
function expectSlashedAndAgreed(
  final: (NodeStatusLine | undefined)[],
  slashes: SlashLine[],
  offender: string,
  height: number,
): void {
  const heights = final.map((s) => s?.applied);
  expect(heights).toEqual(Array(final.length).fill(height));
  expect(new Set(final.map((s) => s!.tip)).size).toBe(1);
  expect(new Set(final.map((s) => s!.root)).size).toBe(1);
  const mine = slashes.filter((x) => x.offender === offender);
  expect(mine.length).toBeGreaterThan(0);
  // Every node slashed it in the same first block; it stays in the set of H + 1, leaves at H + 2.
  const first = Math.min(...mine.map((x) => x.height));
  expect(new Set(mine.filter((x) => x.height === first).map((x) => x.node)).size).toBe(final.length);
  for (const x of mine.filter((x) => x.height === first))
    expect([x.inSetNext, x.inSetAfterNext]).toEqual([true, false]);
  expect(first + 2).toBeLessThanOrEqual(height);
  for (const s of final) expect(s!.validators).not.toContain(offender);
}

describe("consensus node clusters (processes, TCP)", () => {
  it("pos: a double voter is slashed and leaves the set at H + 2; a SIGKILLed validator recovers; all nodes agree", async () => {
    const halt = 14;
    const cluster = LocalCluster.start({
      nodes: 4,
      consensus: "pos",
      byzantine: [3],
      haltHeight: halt,
      dir: tempDir(),
    });
    try {
      const offender = cluster.validatorKeys[3]!;
      await cluster.waitFor((s) => s.every((x) => x !== undefined && x.applied >= 1), 40_000, "first block");
      const genesisSet = cluster.statuses[0]!.validators!;
      expect(genesisSet).toContain(offender);
      // Wait for the slashing to take effect, then kill an honest validator hard.
      await cluster.waitFor(
        () =>
          cluster.slashes.some(
            (x) => x.offender === offender && x.node === 0 && cluster.statuses[0]!.applied >= x.height + 2,
          ),
        40_000,
        "the slashing",
      );
      expect(halt).toBeGreaterThan(cluster.statuses[0]!.applied + 2);
      const atKill = cluster.statuses[1]!.applied;
      await cluster.kill(1, "SIGKILL");
      cluster.launch(1);
      // Its first status line comes after recovery: it resumed from its own files, not from genesis.
      await cluster.waitFor((s) => s[1] !== undefined, 30_000, "the restarted node");
      expect(cluster.statuses[1]!.applied).toBeGreaterThanOrEqual(atKill);
      await cluster.waitFor(
        (s) => s.every((x) => x !== undefined && x.applied === halt),
        50_000,
        `every node at height ${halt}`,
      );
      expectSlashedAndAgreed([...cluster.statuses], cluster.slashes, offender, halt);
      expect(cluster.statuses.every((s) => s!.failure === null)).toBe(true);
    } finally {
      await cluster.stop();
    }
  }, 120_000);

  it("dpos via `chaindb cluster --consensus dpos --blocks N --json`: votes, slashing, one chain", async () => {
    const blocks = 10;
    const out = await new Promise<string>((resolve, reject) => {
      const args = [
        "--import",
        "tsx",
        "bindings/cli/bin.ts",
        "cluster",
        "--nodes",
        "4",
        "--consensus",
        "dpos",
        "--blocks",
        String(blocks),
        "--json",
        "--byzantine",
        "1",
        "--dir",
        tempDir(),
      ];
      execFile(process.execPath, args, { encoding: "utf8", timeout: 100_000 }, (error, stdout, stderr) =>
        error ? reject(new Error(`${error.message}\n${stderr.slice(-2000)}`)) : resolve(stdout),
      );
    });
    const result = JSON.parse(out) as {
      nodes: { height: number; tip: string; root: string; validators: string[] }[];
      validatorKeys: string[];
      slashes: SlashLine[];
      transfers: number;
    };
    const final = result.nodes.map(
      (n) => ({ applied: n.height, tip: n.tip, root: n.root, validators: n.validators }) as NodeStatusLine,
    );
    expectSlashedAndAgreed(final, result.slashes, result.validatorKeys[1]!, blocks);
    expect(result.transfers, "transactions accepted").toBeGreaterThan(0);
  }, 120_000);
});
