// Staking transactions: the strict codec, and the state transitions a block runs (PoS stake,
// unbond, release, slash, unjail; DPoS candidates, ballots and epoch elections; the fixed set of
// plain Tendermint refusing them). Accounts are a plain Map standing in for the ledger.
import { describe, expect, it } from "vitest";
import { keyPairFromSeed, signTransfer } from "../../bindings/chain/index.ts";
import {
  BURN_ADDRESS,
  DEFAULT_SELECTION_PARAMS,
  STAKE_POOL,
  SelectionState,
  decodeBlockTxs,
  decodeChainTx,
  decodeStakingTx,
  encodeBlockTxs,
  signStakingTx,
  verifyStakingTxSignature,
  type SelectionMode,
  type SelectionParams,
} from "../../bindings/selection/index.ts";
import { ChainDbError, toHex } from "../../bindings/util/index.ts";

const CHAIN = 9;
const alice = keyPairFromSeed(new Uint8Array(32).fill(1));
const bob = keyPairFromSeed(new Uint8Array(32).fill(2));
const carol = keyPairFromSeed(new Uint8Array(32).fill(3));
const code = (f: () => unknown) => {
  try {
    f();
  } catch (error) {
    if (error instanceof ChainDbError) return error.code;
    throw error;
  }
  return "ok";
};

describe("staking transaction codec", () => {
  it("round-trips every kind and verifies its signature", () => {
    for (const kind of ["stake", "unbond", "unjail", "candidate", "vote"] as const) {
      const amount = kind === "stake" || kind === "unbond" ? 500n : 0n;
      const candidates = kind === "vote" ? [bob.publicKey, carol.publicKey] : [];
      const bytes = signStakingTx(alice, { kind, chainId: CHAIN, amount, fee: 2, nonce: 7, candidates });
      expect(bytes.length).toBe(127 + 32 * candidates.length);
      const tx = decodeStakingTx(bytes);
      expect(tx.kind).toBe(kind);
      expect([tx.chainId, tx.amount, tx.fee, tx.nonce]).toEqual([CHAIN, amount, 2n, 7n]);
      expect(toHex(tx.from)).toBe(toHex(alice.publicKey));
      expect(tx.candidates.map(toHex)).toEqual(candidates.map(toHex));
      expect(verifyStakingTxSignature(bytes)).toBe(true);
      expect(decodeChainTx(bytes, CHAIN).type).toBe("staking");
    }
  });

  it("a changed byte breaks the signature; another chain is WRONG_CHAIN", () => {
    const bytes = signStakingTx(alice, { kind: "stake", chainId: CHAIN, amount: 5, fee: 0, nonce: 0 });
    for (const at of [1, 3, 10, 40, 50, 60, 100]) {
      const bad = bytes.slice();
      bad[at]! ^= 1;
      if (code(() => decodeStakingTx(bad)) === "ok") expect(verifyStakingTxSignature(bad)).toBe(false);
    }
    expect(code(() => decodeChainTx(bytes, CHAIN + 1))).toBe("WRONG_CHAIN");
    const tampered = bytes.slice();
    tampered[45]! ^= 1;
    expect(code(() => decodeChainTx(tampered, CHAIN))).toBe("BAD_SIGNATURE");
    expect(
      decodeChainTx(
        signTransfer(alice, { chainId: CHAIN, to: bob.publicKey, amount: 1, fee: 0, nonce: 0 }),
        CHAIN,
      ).type,
    ).toBe("transfer");
  });

  it("refuses bad lengths, versions, kinds, amounts and ballots with typed errors", () => {
    const stake = signStakingTx(alice, { kind: "stake", chainId: CHAIN, amount: 5, fee: 0, nonce: 0 });
    expect(code(() => decodeStakingTx(stake.subarray(0, 126)))).toBe("BAD_LENGTH");
    expect(code(() => decodeStakingTx(new Uint8Array([...stake, 0])))).toBe("BAD_LENGTH");
    const patch = (at: number, value: number) => {
      const b = stake.slice();
      b[at] = value;
      return b;
    };
    expect(code(() => decodeStakingTx(patch(0, 3)))).toBe("BAD_TRANSFER");
    expect(code(() => decodeStakingTx(patch(1, 0)))).toBe("BAD_TRANSFER");
    expect(code(() => decodeStakingTx(patch(1, 6)))).toBe("BAD_TRANSFER");
    expect(code(() => decodeStakingTx(patch(1, 3)))).toBe("BAD_TRANSFER"); // unjail with an amount
    expect(code(() => decodeStakingTx(patch(62, 1)))).toBe("BAD_LENGTH"); // count without candidates
    const zero = stake.slice();
    zero.fill(0, 38, 46);
    expect(code(() => decodeStakingTx(zero))).toBe("BAD_TRANSFER"); // stake of 0
    expect(
      code(() => signStakingTx(alice, { kind: "vote", chainId: CHAIN, fee: 0, nonce: 0, candidates: [] })),
    ).toBe("BAD_TRANSFER");
    expect(
      code(() =>
        signStakingTx(alice, {
          kind: "vote",
          chainId: CHAIN,
          fee: 0,
          nonce: 0,
          candidates: Array(9).fill(bob.publicKey),
        }),
      ),
    ).toBe("BAD_TRANSFER");
    expect(
      code(() =>
        signStakingTx(alice, {
          kind: "vote",
          chainId: CHAIN,
          fee: 0,
          nonce: 0,
          candidates: [bob.publicKey, bob.publicKey],
        }),
      ),
    ).toBe("BAD_TRANSFER");
    expect(
      code(() => signStakingTx(alice, { kind: "stake", chainId: CHAIN, amount: -1, fee: 0, nonce: 0 })),
    ).toBe("BAD_RANGE");
    expect(
      code(() =>
        signStakingTx(alice, { kind: "stake", chainId: CHAIN, amount: 1n << 64n, fee: 0, nonce: 0 }),
      ),
    ).toBe("BAD_RANGE");
    expect(
      code(() =>
        signStakingTx(alice, { kind: "stake", chainId: CHAIN, amount: (1n << 64n) - 1n, fee: 1, nonce: 0 }),
      ),
    ).toBe("OVERFLOW");
    expect(code(() => decodeChainTx(new Uint8Array([7, 1, 2]), CHAIN))).toBe("BAD_TRANSFER");
  });

  it("block transaction lists round-trip and refuse truncation, trailing bytes and empty entries", () => {
    const txs = [
      signTransfer(alice, { chainId: CHAIN, to: bob.publicKey, amount: 1, fee: 0, nonce: 0 }),
      signStakingTx(bob, { kind: "stake", chainId: CHAIN, amount: 3, fee: 0, nonce: 0 }),
    ];
    const bytes = encodeBlockTxs({ feeRecipient: carol.publicKey, txs });
    const back = decodeBlockTxs(bytes);
    expect(toHex(back.feeRecipient)).toBe(toHex(carol.publicKey));
    expect(back.txs.map(toHex)).toEqual(txs.map(toHex));
    expect(code(() => decodeBlockTxs(bytes.subarray(0, bytes.length - 1)))).toBe("BAD_LENGTH");
    expect(code(() => decodeBlockTxs(new Uint8Array([...bytes, 0])))).toBe("BAD_LENGTH");
    expect(code(() => decodeBlockTxs(bytes.subarray(0, 36)))).toBe("BAD_LENGTH");
    const many = bytes.slice();
    new DataView(many.buffer).setUint32(33, 0xffffffff, true);
    expect(code(() => decodeBlockTxs(many))).toBe("BAD_RANGE");
    const empty = encodeBlockTxs({ feeRecipient: carol.publicKey, txs: [] });
    expect(code(() => decodeBlockTxs(new Uint8Array([...empty.subarray(0, 33), 1, 0, 0, 0, 0, 0])))).toBe(
      "BAD_LENGTH",
    );
    const version = bytes.slice();
    version[0] = 2;
    expect(code(() => decodeBlockTxs(version))).toBe("BAD_MESSAGE");
  });
});

/** A chain of selection state over a Map of accounts, applying each block's moves like the ledger. */
class Chain {
  readonly accounts = new Map<string, { balance: bigint; nonce: bigint }>();
  state: SelectionState;
  constructor(
    mode: SelectionMode,
    stakes: bigint[],
    maxValidators = 2,
    extra: Partial<SelectionParams> = {},
  ) {
    const validators = [alice, bob, carol]
      .slice(0, stakes.length)
      .map((k, i) => ({ address: k.publicKey, stake: stakes[i]! }));
    this.state = SelectionState.genesis(
      {
        ...DEFAULT_SELECTION_PARAMS,
        mode,
        unbondingHeights: 2,
        slashPpm: 100_000,
        maxValidators,
        epochHeights: 3,
        ...extra,
      },
      validators,
    );
    for (const k of [alice, bob, carol])
      this.accounts.set(toHex(k.publicKey), { balance: 10_000n, nonce: 0n });
    this.accounts.set(toHex(STAKE_POOL), {
      balance: mode === "pos" ? stakes.reduce((a, b) => a + b, 0n) : 0n,
      nonce: 0n,
    });
  }
  account = (a: Uint8Array) => this.accounts.get(toHex(a));
  balance = (a: Uint8Array) => this.account(a)?.balance ?? 0n;
  nonce = (k: typeof alice) => Number(this.account(k.publicKey)!.nonce);
  /** Runs a block of `txs` (and slashings); throws and keeps the state on a refused one. */
  block(txs: Uint8Array[], slash: { key: string; offender: Uint8Array; height: number }[] = []): void {
    const next = this.state.clone();
    const run = next.begin(this.state.height + 1, carol.publicKey, { account: this.account });
    for (const s of slash) run.slash(s.key, s.offender, s.height);
    for (const t of txs) run.tx(decodeChainTx(t, CHAIN));
    const { packed, count } = run.finish();
    const dv = new DataView(packed.buffer);
    for (let i = 0; i < count; i++) {
      const o = i * 88;
      const from = this.account(packed.subarray(o, o + 32))!;
      const to = toHex(packed.subarray(o + 32, o + 64));
      const amount = dv.getBigUint64(o + 64, true),
        fee = dv.getBigUint64(o + 72, true);
      expect(dv.getBigUint64(o + 80, true)).toBe(from.nonce);
      from.balance -= amount + fee;
      from.nonce++;
      if (!this.accounts.has(to)) this.accounts.set(to, { balance: 0n, nonce: 0n });
      this.accounts.get(to)!.balance += amount;
      this.accounts.get(toHex(carol.publicKey))!.balance += fee;
    }
    this.state = next;
  }
  setAt = (h: number) => this.state.validatorsAt(h).map((v) => `${toHex(v.address).slice(0, 4)}:${v.power}`);
}
const short = (k: typeof alice, power: number) => `${toHex(k.publicKey).slice(0, 4)}:${power}`;

describe("selection state transitions", () => {
  it("pos: stake bonds balance into the pool; the set changes two heights later", () => {
    const c = new Chain("pos", [100n, 50n]);
    expect(c.setAt(1).sort()).toEqual([short(alice, 100), short(bob, 50)].sort());
    c.block([signStakingTx(bob, { kind: "stake", chainId: CHAIN, amount: 100, fee: 1, nonce: 0 })]);
    expect(c.balance(bob.publicKey)).toBe(10_000n - 101n);
    expect(c.balance(STAKE_POOL)).toBe(250n);
    expect(c.state.bondOf(bob.publicKey).bonded).toBe(150n);
    expect(c.setAt(2)).toEqual(c.setAt(1));
    expect(c.setAt(3).sort()).toEqual([short(alice, 100), short(bob, 150)].sort());
  });

  it("pos: unbond locks stake for unbondingHeights, then returns it; too much is refused and changes nothing", () => {
    const c = new Chain("pos", [100n, 50n]);
    const before = toHex(c.state.hash());
    expect(
      code(() =>
        c.block([signStakingTx(alice, { kind: "unbond", chainId: CHAIN, amount: 101, fee: 0, nonce: 0 })]),
      ),
    ).toBe("INSUFFICIENT_FUNDS");
    expect(toHex(c.state.hash())).toBe(before);
    c.block([signStakingTx(alice, { kind: "unbond", chainId: CHAIN, amount: 40, fee: 0, nonce: 0 })]); // height 1, releases at 3
    expect(c.state.bondOf(alice.publicKey)).toEqual({ bonded: 60n, unbonding: 40n, jailed: false });
    c.block([]);
    expect(c.balance(alice.publicKey)).toBe(10_000n);
    c.block([]);
    expect(c.balance(alice.publicKey)).toBe(10_040n);
    expect(c.state.bondOf(alice.publicKey).unbonding).toBe(0n);
    expect(c.balance(STAKE_POOL)).toBe(110n);
    expect(
      code(() =>
        c.block([signStakingTx(alice, { kind: "unbond", chainId: CHAIN, amount: 1, fee: 0, nonce: 0 })]),
      ),
    ).toBe("BAD_NONCE");
  });

  it("pos: slashing burns 10% of bonded and unbonding stake, jails, drops from the set at H+2; unjail restores", () => {
    const c = new Chain("pos", [100n, 50n, 50n], 3);
    c.block([signStakingTx(bob, { kind: "unbond", chainId: CHAIN, amount: 20, fee: 0, nonce: 0 })]);
    // Height 2: its prevote and precommit equivocations; one offence, so one burn (bob is jailed after the first).
    c.block(
      [],
      [
        { key: "bob/1/0/1", offender: bob.publicKey, height: 1 },
        { key: "bob/1/0/2", offender: bob.publicKey, height: 1 },
      ],
    );
    expect(c.state.bondOf(bob.publicKey)).toEqual({ bonded: 27n, unbonding: 18n, jailed: true });
    expect(c.balance(BURN_ADDRESS)).toBe(5n);
    expect(c.balance(STAKE_POOL)).toBe(100n + 45n + 50n);
    expect(c.setAt(3)).toContain(short(bob, 30));
    expect(c.setAt(4).sort()).toEqual([short(alice, 100), short(carol, 50)].sort());
    expect(code(() => c.block([], [{ key: "bob/1/0/1", offender: bob.publicKey, height: 1 }]))).toBe(
      "BAD_ARGUMENT",
    ); // the same offence again
    c.block([signStakingTx(bob, { kind: "unjail", chainId: CHAIN, fee: 0, nonce: 1 })]); // height 3
    expect(c.state.bondOf(bob.publicKey).jailed).toBe(false);
    expect(c.setAt(5)).toContain(short(bob, 27));
    expect(
      code(() => c.block([signStakingTx(bob, { kind: "unjail", chainId: CHAIN, fee: 0, nonce: 2 })])),
    ).toBe("BAD_ARGUMENT");
    const supply = [...c.accounts.values()].reduce((s, a) => s + a.balance, 0n);
    expect(supply).toBe(3n * 10_000n + 200n); // nothing created or lost: the burn is an account
  });

  it("dpos: candidates and ballots elect the top K at the epoch end, applied two heights later", () => {
    const c = new Chain("dpos", [0n, 0n]); // genesis delegates alice and bob
    expect(c.setAt(1).sort()).toEqual([short(alice, 1), short(bob, 1)].sort());
    expect(
      code(() =>
        c.block([
          signStakingTx(alice, {
            kind: "vote",
            chainId: CHAIN,
            fee: 0,
            nonce: 0,
            candidates: [carol.publicKey],
          }),
        ]),
      ),
    ).toBe("BAD_ARGUMENT");
    c.block([signStakingTx(carol, { kind: "candidate", chainId: CHAIN, fee: 0, nonce: 0 })]);
    c.block([
      signStakingTx(alice, {
        kind: "vote",
        chainId: CHAIN,
        fee: 0,
        nonce: 0,
        candidates: [carol.publicKey, alice.publicKey],
      }),
      signStakingTx(bob, { kind: "vote", chainId: CHAIN, fee: 0, nonce: 0, candidates: [carol.publicKey] }),
    ]);
    expect(c.setAt(4)).toEqual(c.setAt(1)); // no tally before the epoch ends
    c.block([]); // height 3: epoch end, tally carol 20000, alice 10000
    expect(c.setAt(5).sort()).toEqual([short(alice, 1), short(carol, 1)].sort());
    expect(
      code(() =>
        c.block([signStakingTx(alice, { kind: "stake", chainId: CHAIN, amount: 0n + 1n, fee: 0, nonce: 1 })]),
      ),
    ).toBe("ok");
  });

  it("dpos, weighted: an elected delegate's power is its votes (per powerUnit)", () => {
    const c = new Chain("dpos", [0n, 0n], 2, { dposPower: "weighted" });
    c.block([signStakingTx(carol, { kind: "candidate", chainId: CHAIN, fee: 0, nonce: 0 })]);
    c.block([
      signStakingTx(alice, {
        kind: "vote",
        chainId: CHAIN,
        fee: 0,
        nonce: 0,
        candidates: [carol.publicKey, alice.publicKey],
      }),
      signStakingTx(bob, { kind: "vote", chainId: CHAIN, fee: 0, nonce: 0, candidates: [carol.publicKey] }),
    ]);
    c.block([]); // height 3: epoch end
    expect(c.setAt(5).sort()).toEqual([short(alice, 10_000), short(carol, 20_000)].sort());
    expect(() =>
      SelectionState.genesis({ ...DEFAULT_SELECTION_PARAMS, mode: "dpos", dposPower: "most" as "equal" }, []),
    ).toThrow(/dposPower/);
  });

  it("tendermint: staking transactions are refused, the set never changes", () => {
    const c = new Chain("tendermint", [0n, 0n, 0n]);
    expect(
      code(() =>
        c.block([signStakingTx(alice, { kind: "stake", chainId: CHAIN, amount: 1, fee: 0, nonce: 0 })]),
      ),
    ).toBe("BAD_ARGUMENT");
    c.block([]);
    c.block([]);
    expect(c.setAt(10)).toEqual(c.setAt(1));
  });
});
