// The consensus simulation's ConsensusNode configuration (bindings/consensus/node-simulation.ts):
// the shipping node — mempool, block building, block store, block sync — over the seeded
// SimNetwork with lossy links and partitions. Seeds: 1..3 by default, 1..20 under CHAINDB_SLOW=1.
import { describe, expect, it } from "vitest";
import { nodeReplayCommand, simulateConsensusNodes } from "../../bindings/consensus/index.ts";
import { seedRange } from "../helpers/seeds.ts";

describe("consensus simulation running ConsensusNode", () => {
  for (const selection of ["tendermint", "pos", "dpos"] as const)
    it.each(seedRange(selection === "tendermint" ? 3 : 1, 20).map((s) => [s]))(
      `${selection}, 4 nodes, seed %i: agreement, no halt, liveness after the heal, every accepted transfer committed`,
      async (seed) => {
        const r = await simulateConsensusNodes({ seed, selection });
        expect(r.violation, `${JSON.stringify(r.violation)}; replay: ${nodeReplayCommand({ seed })}`).toBe(
          undefined,
        );
        expect(r.ok).toBe(true);
        expect(r.minHeight).toBeGreaterThanOrEqual(3);
        expect(r.submitted).toBeGreaterThan(0);
        expect(r.committed).toBe(r.submitted);
      },
      120_000,
    );

  it("replays a seed exactly (same heights, messages, time and fingerprint)", async () => {
    const a = await simulateConsensusNodes({ seed: 5, faultMs: 800 });
    const b = await simulateConsensusNodes({ seed: 5, faultMs: 800 });
    expect(b).toEqual(a);
    expect(a.partitions + a.messages).toBeGreaterThan(0);
  }, 120_000);
});
