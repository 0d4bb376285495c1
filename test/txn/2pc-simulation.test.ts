// Seeded simulation of two-phase commit on the SimNetwork: 3–5 participant banks and a coordinator,
// crashes before any effect of any step, loss, duplication, reordering, partitions, then healing.
// Each run checks atomicity, validity, termination (no one in doubt, no lock held) and conservation
// of money (see bindings/txn/two-phase/simulate.ts). CHAINDB_SLOW=1 runs 5000 seeds;
// CHAINDB_SEEDS=<from>..<to> picks the range.
import { describe, expect, it } from "vitest";
import { simulateTwoPc, twoPcReplayCommand, type TwoPcBug } from "../../bindings/txn/two-phase/index.ts";

const slow = process.env.CHAINDB_SLOW === "1";
const range = process.env.CHAINDB_SEEDS?.match(/^(\d+)\.\.(\d+)$/);

function seeds(count: number): number[] {
  const [from, to] = range ? [Number(range[1]), Number(range[2])] : [1, count];
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

describe("2PC simulation", () => {
  it(`keeps every invariant: ${slow ? 5000 : 500} seeds`, async () => {
    const totals = { committed: 0, aborted: 0, crashes: 0, sizes: new Set<number>() };
    for (const seed of seeds(slow ? 5000 : 500)) {
      const r = await simulateTwoPc({ seed });
      if (r.violation !== undefined) {
        const message = `seed ${seed}: ${r.violation.invariant} violated: ${r.violation.detail}\nreplay: ${twoPcReplayCommand(seed)}`;
        console.error(message);
        expect.fail(message);
      }
      totals.committed += r.committed;
      totals.aborted += r.aborted;
      totals.crashes += r.crashes;
      totals.sizes.add(r.participants);
    }
    // The runs exercised what they claim to: commits, aborts, crashes, 3 to 5 participants.
    if (range === undefined) {
      expect(totals.committed).toBeGreaterThan(100);
      expect(totals.aborted).toBeGreaterThan(100);
      expect(totals.crashes).toBeGreaterThan(100);
      expect([...totals.sizes].sort()).toEqual([3, 4, 5]);
    }
  }, 600_000);

  // The checks must be able to fail: each broken protocol is caught within a few seeds.
  it.each<[TwoPcBug, string]>([
    ["send-commit-before-force", "atomicity"],
    ["in-doubt-commits-alone", "validity"],
    ["no-locks", "conservation"],
  ])(
    "catches a broken protocol: %s (%s)",
    async (bug, invariant) => {
      let caught: string | undefined;
      for (let seed = 1; seed <= 200 && caught === undefined; seed++)
        caught = (await simulateTwoPc({ seed, bug })).violation?.invariant;
      expect(caught).toBeDefined();
      expect(caught!.startsWith(invariant)).toBe(true);
    },
    120_000,
  );

  // The logs live on a fault-injecting file system: a protocol that skips fsync loses what it
  // "forced" at a crash, and the invariants catch it (on the old in-memory disk, a log without
  // fsync could not even be expressed).
  it("catches a log that never fsyncs (no-fsync): the crashes lose its forced records", async () => {
    const caught: string[] = [];
    for (let seed = 1; seed <= 20; seed++) {
      const v = (await simulateTwoPc({ seed, bug: "no-fsync" })).violation;
      if (v !== undefined) caught.push(v.invariant.split(":")[0]!);
    }
    expect(caught.length).toBeGreaterThan(10);
    expect(new Set(caught).size).toBeGreaterThan(1);
    for (const invariant of caught) expect(["atomicity", "conservation", "termination"]).toContain(invariant);
  }, 120_000);

  // Group commit moves each log's fsync into the background (AppendLog.commit), so a forced
  // record is durable only when its promise resolves and crashes land while it runs.
  it("keeps every invariant with group commit on every log, and still catches no-fsync", async () => {
    let differs = 0;
    let midFsync = 0;
    for (let seed = 1; seed <= 150; seed++) {
      const r = await simulateTwoPc({ seed, groupCommit: true });
      midFsync += r.crashesMidFsync!;
      if (r.violation !== undefined)
        expect.fail(
          `seed ${seed}: ${r.violation.invariant}: ${r.violation.detail}\nreplay: ${twoPcReplayCommand(seed, undefined, true)}`,
        );
      // The background fsync reorders the run: the same seed must not simply replay the ungrouped run.
      const plain = await simulateTwoPc({ seed });
      if (plain.committed !== r.committed || plain.aborted !== r.aborted || plain.virtualMs !== r.virtualMs)
        differs++;
    }
    expect(differs).toBeGreaterThan(10);
    expect(midFsync).toBeGreaterThan(10); // crashes really landed inside a group commit's fsync
    let caught = 0;
    for (let seed = 1; seed <= 20; seed++)
      if ((await simulateTwoPc({ seed, bug: "no-fsync", groupCommit: true })).violation !== undefined)
        caught++;
    expect(caught).toBeGreaterThan(10);
  }, 300_000);

  it("replays a seed exactly", async () => {
    const a = await simulateTwoPc({ seed: 4242 });
    const b = await simulateTwoPc({ seed: 4242 });
    expect(b).toEqual(a);
    expect(a.transactions).toBeGreaterThan(0);
  });
});
