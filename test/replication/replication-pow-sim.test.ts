import { describe, expect, it } from "vitest";
import { simulatePow } from "../../bindings/replication/index.ts";

// CHAINDB_SEED=<n> replays one seed; CHAINDB_SLOW=1 runs many more.
const ONE = process.env.CHAINDB_SEED;
const FIRST = ONE !== undefined ? Number(ONE) : 1;
const LAST = ONE !== undefined ? Number(ONE) : process.env.CHAINDB_SLOW ? 200 : 12;

describe("multi-primary proof-of-work replication under seeded partitions and crashes", () => {
  it(`converges to one tip and one state root with no transfer applied twice, seeds ${FIRST}..${LAST}`, async () => {
    let reorgs = 0;
    let transfers = 0;
    for (let seed = FIRST; seed <= LAST; seed++) {
      const r = await simulatePow({ seed });
      if (r.violation !== undefined) {
        throw new Error(
          `seed ${seed} (${r.nodes} miners): ${r.violation.invariant}: ${r.violation.detail}\nreplay: CHAINDB_SEED=${seed} npx vitest run test/replication/replication-pow-sim.test.ts`,
        );
      }
      reorgs += r.reorgs ?? 0;
      transfers += r.transfers ?? 0;
    }
    // The runs exercised forks and carried transfers: not a vacuous pass.
    expect(reorgs).toBeGreaterThan(0);
    expect(transfers).toBeGreaterThan(LAST - FIRST + 1);
  }, 600_000);

  it("replays a seed exactly (same report twice)", async () => {
    const a = await simulatePow({ seed: 5 });
    expect(await simulatePow({ seed: 5 })).toEqual(a);
  }, 120_000);
});
