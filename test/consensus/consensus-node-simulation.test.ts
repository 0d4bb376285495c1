// The consensus simulation's ConsensusNode configuration (bindings/consensus/node-simulation.ts):
// the shipping node — mempool, block building, block store, block sync — over the seeded
// SimNetwork with lossy links and partitions, every node's files on its own FaultFs, correct nodes
// losing power at seeded points and restarting from their files. Seeds: a few by default, more
// under CHAINDB_SLOW=1; CHAINDB_SEEDS=a..b replays. The checker self-tests plant a bug each and
// fail if the invariants are blind to it.
import { describe, expect, it } from "vitest";
import {
  nodeReplayCommand,
  simulateConsensusNodes,
  type NodeSimulationOptions,
  type NodeSimulationResult,
} from "../../bindings/consensus/index.ts";
import { seedRange } from "../helpers/seeds.ts";

function expectOk(r: NodeSimulationResult, o: NodeSimulationOptions): void {
  expect(r.violation, `${JSON.stringify(r.violation)}; replay: ${nodeReplayCommand(o)}`).toBe(undefined);
  expect(r.ok).toBe(true);
  expect(r.minHeight).toBeGreaterThanOrEqual(3);
  expect(r.submitted).toBeGreaterThan(0);
  expect(r.committed).toBe(r.submitted);
}

describe("consensus simulation running ConsensusNode on FaultFs disks", () => {
  for (const selection of ["tendermint", "pos", "dpos"] as const)
    it.each(seedRange(2, 20).map((s) => [s]))(
      `${selection}, 4 nodes, power losses, seed %i: agreement, durability, no double sign, liveness, funds`,
      async (seed) => {
        const o = { seed, selection };
        expectOk(await simulateConsensusNodes(o), o);
      },
      120_000,
    );

  it("loses power at every kind of point, and the losses damage unsynced writes", async () => {
    const totals = { hook: 0, file: 0, idle: 0, damaged: 0, signatures: 0 };
    for (const seed of [1, 2, 3, 4, 5]) {
      const o = { seed, faultMs: 2500 };
      const r = await simulateConsensusNodes(o);
      expectOk(r, o);
      totals.hook += r.crashes.hook;
      totals.file += r.crashes.file;
      totals.idle += r.crashes.idle;
      totals.damaged += r.damagedWrites;
      totals.signatures += r.signatures;
    }
    expect(totals.hook, JSON.stringify(totals)).toBeGreaterThan(0);
    expect(totals.file, JSON.stringify(totals)).toBeGreaterThan(0);
    expect(totals.idle, JSON.stringify(totals)).toBeGreaterThan(0);
    expect(totals.damaged, JSON.stringify(totals)).toBeGreaterThan(0);
    expect(totals.signatures).toBeGreaterThan(1000);
  }, 240_000);

  it("replays a seed exactly (same heights, messages, crashes, time and fingerprint)", async () => {
    const a = await simulateConsensusNodes({ seed: 3, faultMs: 800 });
    const b = await simulateConsensusNodes({ seed: 3, faultMs: 800 });
    expect(b).toEqual(a);
    expect(a.partitions + a.messages).toBeGreaterThan(0);
  }, 120_000);
});

describe("node simulation checker self-tests: a planted bug is caught", () => {
  /** The first seed of `seeds` whose run violates one of `invariants` (the checker sees the bug). */
  async function caught(
    options: Omit<NodeSimulationOptions, "seed">,
    seeds: readonly number[],
    invariants: readonly string[],
  ): Promise<number | undefined> {
    for (const seed of seeds) {
      const r = await simulateConsensusNodes({ ...options, seed });
      if (r.violation !== undefined && invariants.includes(r.violation.invariant)) return seed;
    }
    return undefined;
  }

  it("a consensus log never fsynced: a restart finds it corrupt (seeds 1..2)", async () => {
    expect(await caught({ selfTest: "wal-no-fsync" }, [1, 2], ["restart"])).toBeDefined();
  }, 120_000);

  it("a node that forgets its last-signed record on restart signs twice (seeds 1..4)", async () => {
    expect(await caught({ selfTest: "forget-wal" }, [1, 2, 3, 4], ["signature", "accusation"])).toBeDefined();
  }, 120_000);
});
