// Seeded simulations with a hostile peer (bindings/consensus/hostile.ts) on top of the usual
// faults and byzantine validators: it sends old and far-future heights, floods of the next
// heights, huge rounds, bad and relabelled signatures, foreign and stale evidence, forged
// certificates, replays and junk bytes. Every run checks agreement, validity, evidence,
// accusation, liveness after the heal, halt (no correct node throws) and memory (buffers within
// their bounds at every tick). CHAINDB_SLOW=1 runs ten times the seeds; CHAINDB_SEEDS=<a>..<b>
// picks the range (the failing seed's replay line names it).
import { describe, expect, it } from "vitest";
import {
  HOSTILE_ATTACKS,
  replayCommand,
  simulateConsensus,
  type SimulationOptions,
  type SimulationResult,
} from "../../bindings/consensus/index.ts";

const slow = process.env.CHAINDB_SLOW === "1";
const range = process.env.CHAINDB_SEEDS?.match(/^(\d+)\.\.(\d+)$/);

function seeds(count: number, first = 1): number[] {
  const [from, to] = range ? [Number(range[1]), Number(range[2])] : [first, first + count - 1];
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

/** Short runs (1 s of faults, 2 heights after the heal) so that hundreds of seeds fit in CI. */
function options(
  seed: number,
  validators: number,
  byzantine: number,
  selection: SimulationOptions["selection"] = "tendermint",
): SimulationOptions {
  return { seed, validators, byzantine, selection, hostile: true, faultMs: 1000, heights: 2 };
}

async function runSeeds(
  make: (seed: number) => SimulationOptions,
  list: number[],
): Promise<SimulationResult[]> {
  const results: SimulationResult[] = [];
  for (const seed of list) {
    const o = make(seed);
    const result = await simulateConsensus(o);
    if (!result.ok) {
      const message = `seed ${seed}: ${result.violation!.invariant} violated: ${result.violation!.detail}\nreplay: ${replayCommand(o)}`;
      console.error(message);
      expect.fail(message);
    }
    expect(result.minHeight).toBeGreaterThanOrEqual(2);
    results.push(result);
  }
  return results;
}

describe("consensus simulation with a hostile peer", () => {
  it(`4 validators (0 or 1 byzantine, whose keys the hostile peer holds): ${slow ? 600 : 160} seeds`, async () => {
    const results = await runSeeds(
      (seed) => options(seed, 4, seed % 4 === 0 ? 0 : 1),
      // CI's slow pass keeps to 600 (about 5 minutes); seeds 1..2000 passed in a wide sweep
      // (2026-12-07), which `node scripts/sweep-seeds.mjs --configs hostile-4-1` repeats.
      seeds(slow ? 600 : 160),
    );
    expect(results.reduce((n, r) => n + r.hostileMessages, 0)).toBeGreaterThan(results.length * 100);
    expect(Math.max(...results.map((r) => r.peakFutureMessages))).toBeGreaterThan(0); // the floods reached the buffers
  }, 1_800_000);

  it("4 validators, 1 byzantine: seed 458 (a lagging node counts a certificate the equivocator's slots hid)", async () => {
    await runSeeds((seed) => options(seed, 4, 1), [458]);
  }, 60_000);

  it("4 validators, 1 byzantine: seed 1270 (halves signed in the fault phase, re-sent in the heal's tick)", async () => {
    // The checker dated the equivocation by the re-send at the heal, before the links came back,
    // and so demanded evidence for a half that was lost; it now counts halves signed after the heal.
    await runSeeds((seed) => options(seed, 4, 1), [1270]);
  }, 60_000);

  it(`7 validators, 2 byzantine: ${slow ? 200 : 8} seeds`, async () => {
    await runSeeds((seed) => options(seed, 7, 2), seeds(slow ? 200 : 8, 1001));
  }, 1_800_000);

  it(`4 validators, 1 byzantine, proof of stake (hostile evidence slashes only the byzantine): ${slow ? 200 : 12} seeds`, async () => {
    await runSeeds((seed) => options(seed, 4, 1, "pos"), seeds(slow ? 200 : 12, 2001));
  }, 1_800_000);
});

describe("hostile simulation checker", () => {
  const selfTest = async (test: SimulationOptions["selfTest"]) => {
    const found: string[] = [];
    for (let seed = 1; seed <= 8 && found.length === 0; seed++) {
      const result = await simulateConsensus({ ...options(seed, 4, 1), selfTest: test });
      if (!result.ok) found.push(`${result.violation!.invariant}: ${result.violation!.detail}`);
    }
    return found;
  };

  it("catches relabelled signatures believed through a cache keyed without the public key (accusation)", async () => {
    expect((await selfTest("stale-cache"))[0]).toMatch(
      /^accusation: correct validator n\d holds evidence against correct validator/,
    );
  });

  it("catches a node stopped by old evidence reaching a set lookup that asserts (halt)", async () => {
    expect((await selfTest("old-evidence"))[0]).toMatch(
      /^halt: correct validator n\d stopped .*no validator set for height/,
    );
  });

  it("catches buffers above their bound (memory), with the bound scaled down", async () => {
    expect((await selfTest("memory-bound"))[0]).toMatch(/^memory: n\d buffers \d+ future messages/);
  });

  it("draws every attack, and replays a seed exactly", async () => {
    const o = options(7, 4, 1);
    const first = await simulateConsensus(o);
    expect(first.ok).toBe(true);
    expect(await simulateConsensus(o)).toEqual(first);
    expect(first.hostileMessages).toBeGreaterThan(HOSTILE_ATTACKS.length * 10);
    expect(replayCommand(o)).toBe(
      "CHAINDB_SEEDS=7..7 npx vitest run test/consensus/consensus-hostile-simulation.test.ts",
    );
  });
});
