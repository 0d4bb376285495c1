// Delegated proof of stake through the DelegateElection adapter (over SelectionState): ballots
// weighted by balance, replacement, limits, top K per epoch applied two heights later.
import { describe, expect, it } from "vitest";
import { DelegateElection } from "../../bindings/selection/index.ts";

const addr = (b: number) => new Uint8Array(32).fill(b);

function election(power: "equal" | "weighted" = "weighted") {
  const e = new DelegateElection({ delegates: 2, votesPerVoter: 2, epochHeights: 10, power });
  for (const c of [1, 2, 3]) e.register(addr(c));
  return e;
}
const view = (set: { address: Uint8Array; power: number }[]) => set.map((v) => [v.address[0], v.power]);

describe("delegated proof of stake", () => {
  it("elects the top K by balance-weighted votes", () => {
    const e = election();
    e.setBalance(addr(100), 50);
    e.setBalance(addr(101), 30);
    e.vote(addr(100), [addr(1), addr(2)]);
    e.vote(addr(101), [addr(3)]);
    expect(view(e.elect())).toEqual([
      [1, 50],
      [2, 50],
    ]);
    expect(view(election("equal").elect())).toEqual([]);
  });

  it("a new ballot replaces the old one, and ties go to the smaller address", () => {
    const e = election("equal");
    e.setBalance(addr(100), 50);
    e.vote(addr(100), [addr(3), addr(2)]);
    e.setBalance(addr(101), 50);
    e.vote(addr(101), [addr(1)]);
    expect(view(e.elect())).toEqual([
      [1, 1],
      [2, 1],
    ]); // 1, 2, 3 all at 50: smaller addresses win
    e.vote(addr(101), [addr(3)]);
    expect(view(e.elect())).toEqual([
      [2, 1],
      [3, 1],
    ]);
  });

  it("refuses too many or unknown candidates", () => {
    const e = election();
    expect(() => e.vote(addr(100), [addr(1), addr(2), addr(3)])).toThrow(/at most 2/);
    expect(() => e.vote(addr(100), [addr(9)])).toThrow(/not a candidate/);
  });

  it("changes the set only at epoch boundaries, from two heights after the tally", () => {
    const e = election();
    e.setBalance(addr(100), 10);
    e.vote(addr(100), [addr(1), addr(2)]);
    expect(view(e.validatorsAt(1))).toEqual([
      [1, 10],
      [2, 10],
    ]);
    e.setBalance(addr(101), 20);
    e.vote(addr(101), [addr(3)]);
    expect(e.endBlock(9)).toBeNull();
    expect(view(e.validatorsAt(10))).toEqual([
      [1, 10],
      [2, 10],
    ]);
    expect(view(e.endBlock(10)!)).toEqual([
      [1, 10],
      [3, 20],
    ]);
    expect(view(e.validatorsAt(11))).toEqual([
      [1, 10],
      [2, 10],
    ]);
    expect(view(e.validatorsAt(12))).toEqual([
      [1, 10],
      [3, 20],
    ]);
    expect(view(e.validatorsAt(5))).toEqual([
      [1, 10],
      [2, 10],
    ]);
  });
});
