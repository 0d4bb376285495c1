// Proof of stake through the StakingState adapter (over SelectionState): stake → power, unbonding,
// set changes two heights later, slashing once per offence and jailing. Sets are listed by address.
import { describe, expect, it } from "vitest";
import { StakingState } from "../../bindings/selection/index.ts";
import { ChainDbError } from "../../bindings/util/index.ts";

const addr = (b: number) => new Uint8Array(32).fill(b);
const options = { unbondingHeights: 10, slashPpm: 100_000, maxValidators: 3 };
const powers = (set: { address: Uint8Array; power: number }[]) => set.map((v) => [v.address[0], v.power]);

describe("proof of stake", () => {
  it("makes bonded stake the voting power, ties to the smaller address, at most maxValidators", () => {
    const s = new StakingState(
      options,
      [1, 2, 3, 4].map((b) => ({ address: addr(b), balance: 100, bonded: b === 4 ? 10 : 20 })),
    );
    expect(powers(s.validatorsAt(1))).toEqual([
      [1, 20],
      [2, 20],
      [3, 20],
    ]);
  });

  it("applies a stake change from height H+2 after the block H it was in", () => {
    const s = new StakingState(
      options,
      [1, 2, 3, 4].map((b) => ({ address: addr(b), balance: 100, bonded: 20 })),
    );
    s.apply({ kind: "stake", validator: addr(4), amount: 50 }, 5);
    s.endBlock(5);
    expect(powers(s.validatorsAt(6))).toEqual([
      [1, 20],
      [2, 20],
      [3, 20],
    ]);
    expect(powers(s.validatorsAt(7))).toEqual([
      [1, 20],
      [2, 20],
      [4, 70],
    ]);
    expect(s.info(addr(4))).toMatchObject({ balance: 50, bonded: 70 });
  });

  it("returns unbonded stake only after the unbonding period, and refuses what is not there", () => {
    const s = new StakingState(options, [{ address: addr(1), balance: 0, bonded: 30 }]);
    s.apply({ kind: "unbond", validator: addr(1), amount: 10 }, 1);
    s.endBlock(10);
    expect(s.info(addr(1))).toEqual({ balance: 0, bonded: 20, unbonding: 10, jailed: false });
    s.endBlock(11);
    expect(s.info(addr(1))).toEqual({ balance: 10, bonded: 20, unbonding: 0, jailed: false });
    expect(() => s.apply({ kind: "unbond", validator: addr(1), amount: 21 }, 12)).toThrow(ChainDbError);
    expect(() => s.apply({ kind: "stake", validator: addr(1), amount: 11 }, 12)).toThrow(/needs 11, has 10/);
    expect(s.info(addr(1))).toEqual({ balance: 10, bonded: 20, unbonding: 0, jailed: false });
  });

  it("slashes bonded and unbonding stake (burned), jails the offender and drops it from the next set", () => {
    const s = new StakingState(
      options,
      [1, 2, 3, 4].map((b) => ({ address: addr(b), balance: 0, bonded: 100 })),
    );
    s.apply({ kind: "unbond", validator: addr(2), amount: 50 }, 1);
    const burned = s.slash(addr(2));
    expect(burned).toBe(10); // 10% of 50 bonded + 10% of 50 unbonding
    expect(s.info(addr(2))).toEqual({ balance: 0, bonded: 45, unbonding: 45, jailed: true });
    expect(s.burned).toBe(10);
    s.endBlock(3);
    expect(powers(s.validatorsAt(5))).toEqual([
      [1, 100],
      [3, 100],
      [4, 100],
    ]);
    s.apply({ kind: "unjail", validator: addr(2) }, 6);
    s.endBlock(6);
    expect(powers(s.validatorsAt(8))).toEqual([
      [1, 100],
      [3, 100],
      [4, 100],
    ]); // 45 < 100: not in the top 3
    expect(() => s.apply({ kind: "unjail", validator: addr(2) }, 9)).toThrow(/not jailed/);
  });

  it("burns once per offence: a jailed validator loses nothing more, a repeated evidence key is refused", () => {
    const s = new StakingState(
      options,
      [1, 2, 3, 4].map((b) => ({ address: addr(b), balance: 0, bonded: 100 })),
    );
    expect(s.slash(addr(2), { key: "e1", height: 0 })).toBe(10);
    expect(s.slash(addr(2))).toBe(0); // its precommit of the same round: no second burn
    expect(s.slash(addr(2), { key: "e2", height: 0 })).toBe(0);
    expect(() => s.slash(addr(3), { key: "e1", height: 0 })).toThrow(/slashed already/);
    expect(() => s.slash(addr(3), { key: "e3", height: 1 })).toThrow(/out of the window/);
    expect(s.burned).toBe(10);
    expect(s.info(addr(2))).toEqual({ balance: 0, bonded: 90, unbonding: 0, jailed: true });
    expect(s.endBlock(1).map((v) => v.address[0])).toEqual([1, 3, 4]);
  });
});
