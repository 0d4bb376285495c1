// CometBFT's proposer selection (weighted round-robin with priorities): the vector,
// CometBFT's own TestProposerSelection1 vector, ties, fairness, centring and rounds.
import { describe, expect, it } from "vitest";
import { ProposerPriorities, ProposerSchedule, ValidatorSet } from "../../bindings/consensus/index.ts";

/** A 32-byte address starting with `name` (zero padded keeps the byte order of the names). */
function address(name: string): Uint8Array {
  const out = new Uint8Array(32);
  out.set(new TextEncoder().encode(name));
  return out;
}

function setOf(powers: Record<string, number>) {
  const set = new ValidatorSet(
    Object.entries(powers).map(([name, power]) => ({ address: address(name), power })),
  );
  const name = (i: number) => new TextDecoder().decode(set.validators[i]!.address).replace(/\0+$/, "");
  return { set, name };
}

function sequence(powers: Record<string, number>, count: number): string[] {
  const { set, name } = setOf(powers);
  const schedule = new ProposerSchedule(set);
  return Array.from({ length: count }, (_, i) => name(schedule.proposer(i + 1, 0)));
}

describe("proposer selection", () => {
  it("powers {A:1, B:3} give B, A, B, B repeating", () => {
    expect(sequence({ A: 1, B: 3 }, 12)).toEqual([
      "B",
      "A",
      "B",
      "B",
      "B",
      "A",
      "B",
      "B",
      "B",
      "A",
      "B",
      "B",
    ]);
  });

  it("matches CometBFT's TestProposerSelection1 (foo 1000, bar 300, baz 330; 99 elections)", () => {
    const expected =
      "foo baz foo bar foo foo baz foo bar foo foo baz foo foo bar foo baz foo foo bar foo foo baz foo bar foo foo baz foo bar foo foo baz " +
      "foo foo bar foo baz foo foo bar foo baz foo foo bar foo baz foo foo bar foo baz foo foo foo baz bar foo foo foo baz foo bar foo foo baz " +
      "foo bar foo foo baz foo bar foo foo baz foo bar foo foo baz foo foo bar foo baz foo foo bar foo baz foo foo bar foo baz foo foo";
    expect(sequence({ foo: 1000, bar: 300, baz: 330 }, 99).join(" ")).toBe(expected);
  });

  it("breaks ties toward the smaller address", () => {
    expect(sequence({ c: 5, a: 5, b: 5 }, 6)).toEqual(["a", "b", "c", "a", "b", "c"]);
  });

  it("elects each validator in proportion to its power over whole cycles", () => {
    const powers = { p1: 1, p2: 2, p3: 3, p7: 7, p13: 13 };
    const total = 26;
    const counts = new Map<string, number>();
    for (const who of sequence(powers, total * 10)) counts.set(who, (counts.get(who) ?? 0) + 1);
    for (const [name, power] of Object.entries(powers)) expect(counts.get(name)).toBe(power * 10);
  });

  it("keeps priorities centred (sum in [0, n)) and within the window", () => {
    const { set } = setOf({ a: 1, b: 1_000_000, c: 17 });
    let p = ProposerPriorities.initial(set);
    for (let i = 0; i < 500; i++) {
      p = p.advance(1);
      const priorities = p.priorities();
      const sum = priorities.reduce((a, b) => a + b, 0);
      expect(sum).toBeGreaterThanOrEqual(0);
      expect(sum).toBeLessThan(set.size);
      expect(Math.max(...priorities) - Math.min(...priorities)).toBeLessThanOrEqual(3 * set.totalPower);
    }
  });

  it("rescales priorities whose spread exceeds twice the total power, then centres them", () => {
    const { set } = setOf({ a: 1, b: 1 });
    // Spread 20 > 2·2: divided by ceil(20/4) = 5 → [2, -2]; +1 each → [3, -1]; a elected → [1, -1].
    const p = ProposerPriorities.withPriorities(set, [10, -10]).advance(1);
    expect(p.priorities()).toEqual([1, -1]);
    // Centring: [7, 3] has average 5 → [2, -2] → [3, -1] → a → [1, -1].
    expect(ProposerPriorities.withPriorities(set, [7, 3]).advance(1).priorities()).toEqual([1, -1]);
    // Truncating division toward zero, as Go's: [-9, 3] spread 12 → ratio 3 → [-3, 1] → avg floor(-1) → [-2, 2].
    expect(ProposerPriorities.withPriorities(set, [-9, 3]).advance(1).priorities()).toEqual([-1, 1]);
  });

  it("round r of a height advances a copy of that height's priorities r more elections", () => {
    const { set, name } = setOf({ A: 1, B: 3 });
    const schedule = new ProposerSchedule(set);
    // Height 1: B at round 0; rounds 1, 2, 3 continue the sequence A, B, B.
    expect([0, 1, 2, 3].map((r) => name(schedule.proposer(1, r)))).toEqual(["B", "A", "B", "B"]);
    // The height's own priorities are untouched by rounds: height 2 round 0 is still A.
    expect(name(schedule.proposer(2, 0))).toBe("A");
  });
});
