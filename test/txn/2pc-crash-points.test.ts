// 2PC crash points, systematically: in small seeded runs (3 participants, 2 transactions), the
// coordinator and each participant in turn crash just before each of their effects — before and
// after forcing PREPARED, after the decision before sending, between sends of a broadcast, between
// apply and COMMITTED — and restart from their disks; every run must keep every invariant.
// A broken protocol (COMMIT sent before it is forced) must be caught at some crash point.
import { describe, expect, it } from "vitest";
import {
  simulateTwoPc,
  twoPcReplayCommand,
  type TwoPcSimulationOptions,
} from "../../bindings/txn/two-phase/index.ts";

const EFFECTS_MAX = 200;

async function everyCrashPoint(seed: number, bug?: TwoPcSimulationOptions["bug"]) {
  let points = 0;
  const violations: string[] = [];
  for (const node of ["c", "p0", "p1", "p2"]) {
    for (let effect = 0; effect < EFFECTS_MAX; effect++) {
      const r = await simulateTwoPc({
        seed,
        participants: 3,
        transactions: 2,
        crashAt: { node, effect },
        ...(bug ? { bug } : {}),
      });
      if (r.violation !== undefined)
        violations.push(
          `seed ${seed} crash ${node} before effect ${effect}: ${r.violation.invariant}: ${r.violation.detail} (${twoPcReplayCommand(seed, bug)})`,
        );
      if (!r.crashed) break; // the node never reached this effect: every point of it is covered
      points++;
    }
  }
  return { points, violations };
}

describe("2PC crash at every step", () => {
  it.each([1, 2, 3, 4, 5, 6, 7, 8])(
    "seed %i: every crash point keeps every invariant",
    async (seed) => {
      const { points, violations } = await everyCrashPoint(seed);
      expect(violations).toEqual([]);
      expect(points).toBeGreaterThan(10);
    },
    120_000,
  );

  it("catches COMMIT sent before it is durable at some crash point", async () => {
    let caught = 0;
    for (let seed = 1; seed <= 4 && caught === 0; seed++)
      caught += (await everyCrashPoint(seed, "send-commit-before-force")).violations.length;
    expect(caught).toBeGreaterThan(0);
  }, 120_000);
});
