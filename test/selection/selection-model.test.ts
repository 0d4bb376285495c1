// Model test: SelectionState (the state machine ConsensusNode and the simulation run) against a
// naive reference written here: bond, unbond and release, slash once per offence (jailed burns
// nothing, repeated keys and evidence outside the window refused), jail/unjail, DPoS candidates,
// ballots and epoch tallies, the set scheduled at the end of H applying from H + 2, old sets pruned.
// Seeded: CHAINDB_MODEL_SEED=<n> replays a run, CHAINDB_MODEL_RUNS=<n> runs more.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  BURN_ADDRESS,
  EVIDENCE_AGE_MAX,
  STAKE_POOL,
  SelectionState,
  poolGenesisBalance,
  type SelectionParams,
} from "../../bindings/selection/index.ts";
import { TOTAL_POWER_MAX, ValidatorSet } from "../../bindings/consensus/index.ts";
import { ChainDbError } from "../../bindings/util/index.ts";

const SEED = Number(process.env.CHAINDB_MODEL_SEED ?? 20261207);
const RUNS = Number(process.env.CHAINDB_MODEL_RUNS ?? 40);
const ACCOUNTS = 5;
const addr = (i: number) => new Uint8Array(32).fill(i + 1);
const hex = (i: number) => Buffer.from(addr(i)).toString("hex");

type Op =
  | { t: "stake" | "unbond"; a: number; x: bigint }
  | { t: "unjail" | "candidate"; a: number }
  | { t: "vote"; a: number; names: number[] }
  | { t: "slash"; key: number; a: number; back: number }
  | { t: "end" };

// ---------------------------------------------------------------- the naive reference

interface Model {
  p: SelectionParams;
  height: number;
  balance: bigint[];
  bonded: bigint[];
  unbonding: { amount: bigint; release: number }[][];
  jailed: boolean[];
  slashed: Map<string, number>;
  candidates: Set<number>;
  ballots: Map<number, number[]>;
  tally: Map<number, bigint> | null;
  genesisSet: number[];
  /** Every set ever scheduled, by the height it applies from (never pruned). */
  sets: Map<number, [number, number][]>;
  burned: bigint;
}

function modelSet(m: Model): [number, number][] {
  const byAddress = (s: [number, number][]) => s.sort((x, y) => x[0] - y[0]);
  const top = (c: [number, bigint][]) =>
    c.sort((x, y) => (x[1] === y[1] ? x[0] - y[0] : x[1] > y[1] ? -1 : 1)).slice(0, m.p.maxValidators);
  const cap = BigInt(Math.floor(TOTAL_POWER_MAX / m.p.maxValidators));
  if (m.p.mode === "pos") {
    const c: [number, bigint][] = [];
    for (let i = 0; i < ACCOUNTS; i++)
      if (!m.jailed[i] && m.bonded[i]! / m.p.powerUnit > 0n) c.push([i, m.bonded[i]! / m.p.powerUnit]);
    return byAddress(top(c).map(([i, power]) => [i, Number(power > cap ? cap : power)]));
  }
  if (m.tally === null) return m.genesisSet.filter((i) => !m.jailed[i]).map((i) => [i, 1]);
  const c = [...m.tally].filter(([i, v]) => v > 0n && !m.jailed[i] && m.candidates.has(i));
  const power = (v: bigint) =>
    m.p.dposPower !== "weighted"
      ? 1
      : Number(v / m.p.powerUnit < 1n ? 1n : v / m.p.powerUnit > cap ? cap : v / m.p.powerUnit);
  return byAddress(top(c).map(([i, v]) => [i, power(v)]));
}

function modelAt(m: Model, height: number): [number, number][] {
  let best = 0;
  for (const h of m.sets.keys()) if (h <= height && h > best) best = h;
  return m.sets.get(best)!;
}

function modelTally(m: Model, balances: readonly bigint[]): Map<number, bigint> {
  const t = new Map<number, bigint>([...m.candidates].map((k) => [k, 0n]));
  for (const [voter, names] of m.ballots)
    for (const k of names) t.set(k, (t.get(k) ?? 0n) + balances[voter]!);
  return t;
}

/** Applies one operation to block `h` of the model; returns false where the rules refuse it. */
function modelOp(m: Model, op: Exclude<Op, { t: "end" }>, h: number): boolean {
  if (op.t === "slash") {
    // An evidence key names its offence height, as consensus/evidence.ts's evidenceKey does.
    const offence = h - op.back;
    const key = `k${op.key}/${offence}`;
    if (m.slashed.has(key) || offence < h - EVIDENCE_AGE_MAX || offence >= h) return false;
    m.slashed.set(key, offence);
    if (m.jailed[op.a]) return true;
    const cut = (x: bigint) => (x * BigInt(m.p.slashPpm)) / 1_000_000n;
    m.burned += cut(m.bonded[op.a]!);
    m.bonded[op.a]! -= cut(m.bonded[op.a]!);
    for (const u of m.unbonding[op.a]!) ((m.burned += cut(u.amount)), (u.amount -= cut(u.amount)));
    m.jailed[op.a] = true;
    return true;
  }
  const dpos = m.p.mode === "dpos";
  if (op.t === "stake" && m.balance[op.a]! < op.x) return false;
  if (op.t === "unbond" && (m.bonded[op.a]! < op.x || m.unbonding[op.a]!.length >= 64)) return false;
  if (op.t === "unjail" && !m.jailed[op.a]) return false;
  if (op.t === "candidate" && (!dpos || m.candidates.has(op.a))) return false;
  if (op.t === "vote" && (!dpos || !op.names.every((k) => m.candidates.has(k)))) return false;
  if (op.t === "stake") ((m.balance[op.a]! -= op.x), (m.bonded[op.a]! += op.x));
  if (op.t === "unbond")
    ((m.bonded[op.a]! -= op.x), m.unbonding[op.a]!.push({ amount: op.x, release: h + m.p.unbondingHeights }));
  if (op.t === "unjail") m.jailed[op.a] = false;
  if (op.t === "candidate") m.candidates.add(op.a);
  if (op.t === "vote") m.ballots.set(op.a, [...new Set(op.names)]);
  return true;
}

/** End of block `h`: releases, the epoch tally (on balances before the block), the set for h + 2. */
function modelEnd(m: Model, h: number, before: readonly bigint[]): void {
  for (let i = 0; i < ACCOUNTS; i++) {
    for (const u of m.unbonding[i]!) if (u.release <= h) m.balance[i]! += u.amount;
    m.unbonding[i] = m.unbonding[i]!.filter((u) => u.release > h);
  }
  if (m.p.mode === "dpos" && h % m.p.epochHeights === 0) m.tally = modelTally(m, before);
  const set = modelSet(m);
  if (set.length > 0 && JSON.stringify(set) !== JSON.stringify(modelAt(m, h + 2))) m.sets.set(h + 2, set);
  m.height = h;
}

// ---------------------------------------------------------------- the system under test

type Ledger = Map<string, { balance: bigint; nonce: bigint }>;

function applyMoves(ledger: Ledger, packed: Uint8Array, count: number): void {
  const dv = new DataView(packed.buffer, packed.byteOffset, packed.byteLength);
  const at = (b: Uint8Array) => {
    const k = Buffer.from(b).toString("hex");
    if (!ledger.has(k)) ledger.set(k, { balance: 0n, nonce: 0n });
    return ledger.get(k)!;
  };
  for (let i = 0; i < count; i++) {
    const o = i * 88;
    const from = at(packed.subarray(o, o + 32)),
      to = at(packed.subarray(o + 32, o + 64));
    const amount = dv.getBigUint64(o + 64, true);
    from.balance -= amount;
    from.nonce += 1n;
    to.balance += amount;
  }
}

function stakingTx(
  kind: "stake" | "unbond" | "unjail" | "candidate" | "vote",
  a: number,
  nonce: bigint,
  amount = 0n,
  names: number[] = [],
) {
  const tx = {
    kind,
    chainId: 7,
    from: addr(a),
    amount,
    fee: 0n,
    nonce,
    candidates: names.map(addr),
    signature: new Uint8Array(64),
  };
  return { type: "staking" as const, tx, bytes: new Uint8Array(0) };
}

// ---------------------------------------------------------------- the scenario

const paramsArb = fc.record({
  mode: fc.constantFrom("pos" as const, "dpos" as const),
  unbondingHeights: fc.integer({ min: 0, max: 6 }),
  slashPpm: fc.constantFrom(0, 50_000, 333_333, 1_000_000),
  maxValidators: fc.integer({ min: 1, max: 4 }),
  epochHeights: fc.integer({ min: 1, max: 5 }),
  powerUnit: fc.constantFrom(1n, 3n),
  dposPower: fc.constantFrom("equal" as const, "weighted" as const),
});
const amountArb = fc.oneof(fc.bigInt({ min: 1n, max: 40n }), fc.bigInt({ min: 1n, max: 1n << 52n }));
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ t: fc.constant("end" as const) }) },
  {
    weight: 3,
    arbitrary: fc.record({
      t: fc.constantFrom("stake" as const, "unbond" as const),
      a: fc.nat(ACCOUNTS - 1),
      x: amountArb,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      t: fc.constantFrom("unjail" as const, "candidate" as const),
      a: fc.nat(ACCOUNTS - 1),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      t: fc.constant("vote" as const),
      a: fc.nat(ACCOUNTS - 1),
      names: fc.uniqueArray(fc.nat(ACCOUNTS - 1), { maxLength: 3 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      t: fc.constant("slash" as const),
      key: fc.nat(6),
      a: fc.nat(ACCOUNTS - 1),
      back: fc.integer({ min: -1, max: 3 }),
    }),
  },
);
const scenarioArb = fc.record({
  params: paramsArb,
  balances: fc.array(fc.oneof(fc.bigInt({ min: 0n, max: 100n }), fc.bigInt({ min: 0n, max: 1n << 56n })), {
    minLength: ACCOUNTS,
    maxLength: ACCOUNTS,
  }),
  stakes: fc
    .array(fc.bigInt({ min: 0n, max: 60n }), { minLength: 3, maxLength: 3 })
    .filter((s) => s.some((x) => x >= 3n)),
  genesisBallots: fc.array(
    fc.record({ a: fc.nat(ACCOUNTS - 1), names: fc.uniqueArray(fc.nat(2), { minLength: 1, maxLength: 2 }) }),
    { maxLength: 3 },
  ),
  ops: fc.array(opArb, { maxLength: 120 }),
  // Long quiet stretches so old sets and old offences are pruned while the run goes on.
  gaps: fc.array(fc.integer({ min: 0, max: 60 }), { minLength: 2, maxLength: 2 }),
});

type Scenario = typeof scenarioArb extends fc.Arbitrary<infer T> ? T : never;

function check({ params, balances, stakes, genesisBallots, ops, gaps }: Scenario): void {
  const p: SelectionParams = { ...params, powerUnit: params.powerUnit };
  const dpos = p.mode === "dpos";
  const validators = stakes.map((stake, i) => ({ address: addr(i), stake }));
  const ledger: Ledger = new Map(balances.map((b, i) => [hex(i), { balance: b, nonce: 0n }]));
  ledger.set(Buffer.from(STAKE_POOL).toString("hex"), {
    balance: poolGenesisBalance(p, validators),
    nonce: 0n,
  });
  const view = { account: (a: Uint8Array) => ledger.get(Buffer.from(a).toString("hex")) };
  const ballots = dpos
    ? genesisBallots.map((b) => ({ voter: addr(b.a), candidates: b.names.map(addr) }))
    : undefined;
  const state = SelectionState.genesis(
    p,
    validators,
    ballots === undefined ? undefined : { ballots, accounts: view },
  );

  const m: Model = {
    p,
    height: 0,
    balance: [...balances],
    bonded: Array.from({ length: ACCOUNTS }, (_, i) => (p.mode === "pos" ? (stakes[i] ?? 0n) : 0n)),
    unbonding: Array.from({ length: ACCOUNTS }, () => []),
    jailed: Array(ACCOUNTS).fill(false),
    slashed: new Map(),
    candidates: new Set(dpos ? [0, 1, 2] : []),
    ballots: new Map(),
    tally: null,
    genesisSet: [0, 1, 2],
    sets: new Map(),
    burned: 0n,
  };
  if (dpos) for (const b of genesisBallots) m.ballots.set(b.a, b.names);
  if (dpos && genesisBallots.length > 0) {
    m.tally = modelTally(m, balances);
    if (modelSet(m).length === 0) m.tally = null;
  }
  m.sets.set(1, modelSet(m));

  const script: Op[] = [
    ...ops.slice(0, 40),
    ...Array<Op>(gaps[0]!).fill({ t: "end" }),
    ...ops.slice(40),
    ...Array<Op>(gaps[1]!).fill({ t: "end" }),
    { t: "end" },
  ];
  let run = state.begin(1, new Uint8Array(32), view);
  let before = [...m.balance];
  for (const op of script) {
    const h = run.height;
    if (op.t === "end") {
      const { packed, count } = run.finish();
      applyMoves(ledger, packed, count);
      modelEnd(m, h, before);
      compare(state, m, ledger);
      run = state.begin(h + 1, new Uint8Array(32), view);
      before = [...m.balance];
      continue;
    }
    const expected = modelOp(m, op, h);
    let ok = true;
    try {
      if (op.t === "slash") run.slash(`k${op.key}/${h - op.back}`, addr(op.a), h - op.back);
      else
        run.tx(
          stakingTx(
            op.t,
            op.a,
            run.accountOf(addr(op.a)).nonce,
            op.t === "stake" || op.t === "unbond" ? op.x : 0n,
            op.t === "vote" ? op.names : [],
          ),
        );
    } catch (error) {
      if (!(error instanceof ChainDbError)) throw error;
      ok = false;
    }
    expect(ok, `${JSON.stringify(op, (_, v) => (typeof v === "bigint" ? `${v}n` : v))} at height ${h}`).toBe(
      expected,
    );
  }
}

function compare(state: SelectionState, m: Model, ledger: Ledger): void {
  const h = m.height;
  expect(state.height).toBe(h);
  for (let i = 0; i < ACCOUNTS; i++) {
    const unbonding = m.unbonding[i]!.reduce((s, u) => s + u.amount, 0n);
    expect(state.bondOf(addr(i)), `account ${i} at ${h}`).toEqual({
      bonded: m.bonded[i],
      unbonding,
      jailed: m.jailed[i],
    });
    expect(ledger.get(hex(i))?.balance ?? 0n, `balance ${i} at ${h}`).toBe(m.balance[i]);
  }
  expect(ledger.get(Buffer.from(BURN_ADDRESS).toString("hex"))?.balance ?? 0n).toBe(m.burned);
  // Every height the chain can still be asked about: from the pruning horizon to H + 2.
  for (let at = Math.max(1, h - EVIDENCE_AGE_MAX - 4); at <= h + 3; at++) {
    const got = state.validatorsAt(at).map((v) => [v.address[0]! - 1, v.power]);
    expect(got, `set at ${at} after block ${h}`).toEqual(modelAt(m, at));
    expect(new ValidatorSet(state.validatorsAt(at)).size).toBe(got.length); // the node can run every set
  }
  expect(state.toJSON().sets.length).toBeLessThanOrEqual(EVIDENCE_AGE_MAX + 4 + 3);
  for (const [key, offence] of m.slashed)
    if (offence >= h - EVIDENCE_AGE_MAX) expect(state.wasSlashed(key)).toBe(true);
}

describe("selection state machine against a naive model", () => {
  it(`agrees on bonds, balances, jail, burns, ballots and every set (${RUNS} runs, seed ${SEED})`, () => {
    fc.assert(fc.property(scenarioArb, check), { seed: SEED, numRuns: RUNS });
  });

  it("pruning keeps the state bounded over a long quiet chain", () => {
    const p: SelectionParams = {
      mode: "pos",
      unbondingHeights: 1,
      slashPpm: 0,
      maxValidators: 2,
      epochHeights: 1,
      powerUnit: 1n,
    };
    const ledger: Ledger = new Map([
      [Buffer.from(STAKE_POOL).toString("hex"), { balance: 3n, nonce: 0n }],
      [hex(0), { balance: 1000n, nonce: 0n }],
    ]);
    const view = { account: (a: Uint8Array) => ledger.get(Buffer.from(a).toString("hex")) };
    const state = SelectionState.genesis(p, [
      { address: addr(1), stake: 1n },
      { address: addr(2), stake: 2n },
    ]);
    for (let h = 1; h <= 400; h++) {
      const run = state.begin(h, new Uint8Array(32), view);
      // A set change every block: stake 1 more each time.
      run.tx(stakingTx("stake", 0, run.accountOf(addr(0)).nonce, 1n));
      const { packed, count } = run.finish();
      applyMoves(ledger, packed, count);
    }
    expect(state.toJSON().sets.length).toBeLessThanOrEqual(EVIDENCE_AGE_MAX + 4 + 3);
    expect(state.validatorsAt(402).map((v) => v.power)).toEqual([400, 2]);
    expect(() => state.validatorsAt(400 - EVIDENCE_AGE_MAX - 5)).toThrow();
  });
});
