// What one hostile message (or a flood of them) can cost a Tendermint engine: cheap checks run
// before costly ones, rounds and heights are windowed, buffers have per-signer and per-peer slots,
// old evidence never reaches a validator set that is no longer kept. Costs are asserted as counts
// (proposer computations, signature checks, buffered entries), never as wall-clock time.
import { describe, expect, it } from "vitest";
import { keyPairFromSeed, type KeyPair } from "../../bindings/chain/index.ts";
import {
  ProposerPriorities,
  ProposerSchedule,
  TendermintEngine,
  ValidatorSet,
  VoteType,
  cachingVerifier,
  makeEvidence,
  signProposal,
  signVote,
  valueIdOf,
  verifyEd25519,
  voteSignBytes,
  type CommitCertificate,
  type Effect,
  type EngineOptions,
  type Message,
  type Proposal,
  type Verifier,
  type Vote,
} from "../../bindings/consensus/index.ts";

const CHAIN = "hostile-chain";
const keys: KeyPair[] = [11, 12, 13, 14].map((i) => keyPairFromSeed(new Uint8Array(32).fill(i)));
const set = new ValidatorSet(keys.map((k) => ({ address: k.publicKey, power: 1 })));
const key = (i: number) => keys.find((k) => set.indexOf(k.publicKey) === i)!;
const value = (s: string) => new TextEncoder().encode(s);

/** Validator 0 of `set`, fed messages from peer 1; validity answered "valid" at once. */
function node(options: Partial<EngineOptions> = {}) {
  const engine = new TendermintEngine({
    chainId: CHAIN,
    validators: set,
    key: key(0),
    buildValue: (h, r) => value(`own ${h}/${r}`),
    ...options,
  });
  const effects: Effect[] = [];
  const apply = (out: Effect[]) => {
    for (let i = 0; i < out.length; i++) {
      const e = out[i]!;
      effects.push(e);
      if (e.kind === "validate")
        out.push(...engine.handle({ kind: "validity", valueId: e.valueId, valid: true }));
    }
    return out;
  };
  apply(engine.start());
  const feed = (...messages: Message[]) =>
    messages.flatMap((message) => apply(engine.handle({ kind: "message", from: 1, message })));
  return { engine, effects, feed, apply };
}

const vote = (i: number, type: VoteType, height: number, round: number, v: Uint8Array | null) =>
  signVote(CHAIN, key(i).secretKey, key(i).publicKey, {
    type,
    height,
    round,
    valueId: v === null ? null : valueIdOf(v),
  });
const proposalBy = (i: number, height: number, round: number, v: Uint8Array) =>
  signProposal(CHAIN, key(i).secretKey, key(i).publicKey, { height, round, validRound: -1, value: v });
/** The signed proposal of (height, round) from its real proposer under the default schedule. */
function proposalOf(engine: TendermintEngine, height: number, round: number, v: Uint8Array): Proposal {
  return proposalBy(engine.proposer(height, round), height, round, v);
}
/** Decides `height` at round 0 with a proposal from its proposer and votes of validators 1..3. */
function decide(n: ReturnType<typeof node>, height: number, v: Uint8Array) {
  n.feed(proposalOf(n.engine, height, 0, v));
  for (const type of [VoteType.Prevote, VoteType.Precommit])
    n.feed(...[1, 2, 3].map((i) => vote(i, type, height, 0, v)));
}
function certificateOf(
  engine: TendermintEngine,
  height: number,
  v: Uint8Array,
  signers = [1, 2, 3],
): CommitCertificate {
  return {
    kind: "commit",
    proposal: proposalOf(engine, height, 0, v),
    precommits: signers.map((i) => vote(i, VoteType.Precommit, height, 0, v)),
  };
}
function countingVerifier(): { verify: Verifier; calls: () => number } {
  let calls = 0;
  return { verify: (k, m, s) => (calls++, verifyEd25519(k, m, s)), calls: () => calls };
}

describe("hostile input: rounds and proposer computation", () => {
  it("drops an unsigned proposal of round 2^30 before computing any proposer", () => {
    let proposerCalls = 0;
    const n = node({ proposer: (_h, r) => (proposerCalls++, r % 4) });
    const before = proposerCalls;
    const forged: Proposal = {
      ...proposalBy(1, 1, 1, value("x")),
      round: 2 ** 30,
      signature: new Uint8Array(64),
    };
    expect(n.feed(forged)).toEqual([]);
    expect(proposerCalls - before).toBe(0);
  });

  it("drops a signed proposal of a real validator with a huge round: no election runs, no round state is made", () => {
    const n = node();
    const before = n.engine.stats();
    for (const round of [2 ** 30, 0x7fff_ffff, 1000]) {
      const p = signProposal(CHAIN, key(1).secretKey, key(1).publicKey, {
        height: 1,
        round,
        validRound: -1,
        value: value(`huge ${round}`),
      });
      expect(n.feed(p)).toEqual([]);
    }
    expect(n.engine.stats().elections).toBe(before.elections);
    expect(n.engine.stats().rounds).toBe(before.rounds);
    expect(n.engine.round).toBe(0);
  });

  it("takes each validator's votes in one catch-up round beyond the window, enough for the round skip (line 55)", () => {
    const n = node();
    // Validator 1 signs votes in a thousand far rounds: only its first far round is taken.
    for (let r = 100; r < 1100; r++) n.feed(vote(1, VoteType.Prevote, 1, r, null));
    expect(n.engine.stats().rounds).toBeLessThanOrEqual(2);
    expect(n.engine.round).toBe(0);
    // f+1 validators in round 100: the round skip still happens.
    n.feed(vote(2, VoteType.Prevote, 1, 100, null));
    expect(n.engine.round).toBe(100);
    expect(n.engine.stats().elections).toBeLessThanOrEqual(100 + 8); // rounds 1..100 once, window at most
  });

  it("computes round r of a height once, incrementally, with the same answer as advance(r)", () => {
    const powered = new ValidatorSet(keys.map((k, i) => ({ address: k.publicKey, power: [5, 1, 3, 7][i]! })));
    const schedule = new ProposerSchedule(powered);
    const base = ProposerPriorities.initial(powered).advance(3); // height 3
    for (let r = 1; r <= 40; r++) expect(schedule.proposer(3, r)).toBe(base.advance(r).proposer);
    const elections = schedule.elections;
    for (let r = 0; r <= 40; r++) schedule.proposer(3, r);
    expect(schedule.elections).toBe(elections); // cached: asking again costs nothing
  });
});

describe("hostile input: old-height evidence", () => {
  /** A set lookup that, like SelectionState, keeps sets only for the last 104 heights. */
  const keptSets = (engine: () => TendermintEngine | undefined) => (h: number) => {
    if (h < (engine()?.height ?? 0) - 104) throw new Error(`no validator set for height ${h}`);
    return set;
  };

  it("drops unsigned evidence about height 1 once the chain is past 105, and keeps committing", () => {
    let engine: TendermintEngine | undefined;
    const n = node({ height: 120, validatorsAt: keptSets(() => engine) });
    engine = n.engine;
    const a = { ...vote(1, VoteType.Prevote, 1, 0, value("a")), signature: new Uint8Array(64) };
    const b = { ...vote(1, VoteType.Prevote, 1, 0, value("b")), signature: new Uint8Array(64) };
    expect(n.feed({ kind: "evidence", type: "vote", a, b })).toEqual([]);
    // Real double votes of height 1 are just as old: dropped unread.
    expect(
      n.feed(
        makeEvidence(
          vote(1, VoteType.Prevote, 1, 0, value("a")),
          vote(1, VoteType.Prevote, 1, 0, value("b")),
        ),
      ),
    ).toEqual([]);
    for (let h = 120; h < 123; h++) decide(n, h, value(`block ${h}`));
    expect(n.engine.height).toBe(123);
    expect(n.effects.filter((e) => e.kind === "decide")).toHaveLength(3);
  });

  it("still judges evidence within the window against the set of its height", () => {
    const n = node({ height: 50 });
    const e = makeEvidence(
      vote(1, VoteType.Prevote, 40, 3, value("a")),
      vote(1, VoteType.Prevote, 40, 3, value("b")),
    );
    expect(n.feed(e).filter((x) => x.kind === "evidence")).toHaveLength(1);
    expect(n.engine.evidence()).toHaveLength(1);
  });

  it("keeps one validator's offences to its share of the pool", () => {
    const n = node({ height: 50 });
    for (let r = 0; r < 1200; r++)
      n.feed(
        makeEvidence(
          vote(1, VoteType.Prevote, 40, r, value("a")),
          vote(1, VoteType.Prevote, 40, r, value("b")),
        ),
      );
    expect(n.engine.evidence()).toHaveLength(1024); // 4096 / 4 validators
    expect(n.engine.evidenceQuotaReached(key(1).publicKey)).toBe(true);
    n.feed(
      makeEvidence(
        vote(2, VoteType.Precommit, 41, 0, value("a")),
        vote(2, VoteType.Precommit, 41, 0, value("b")),
      ),
    );
    expect(n.engine.evidence()).toHaveLength(1025); // another offender still has room
  });
});

describe("hostile input: far-future messages", () => {
  it("buffers nothing unsigned, nothing beyond the height window, and a signer only in its own slots", () => {
    const n = node();
    const junk = { ...vote(1, VoteType.Prevote, 2, 0, value("j")), signature: new Uint8Array(64) };
    n.feed(junk);
    for (const h of [4, 5, 1000, 2 ** 40])
      n.feed(vote(1, VoteType.Prevote, h, 0, value("far")), vote(2, VoteType.Precommit, h, 0, null));
    expect(n.engine.stats().futureMessages).toBe(0);
    // Validator 1 floods heights 2 and 3 with votes of every round and many values.
    for (let h = 2; h <= 3; h++)
      for (let r = 0; r < 40; r++)
        for (let k = 0; k < 6; k++)
          for (const t of [VoteType.Prevote, VoteType.Precommit])
            n.feed(vote(1, t, h, r, value(`flood ${k}`)));
    // 2 heights × 9 rounds (window) × 2 types × 4 values per round and type.
    expect(n.engine.stats().futureMessages).toBe(2 * 9 * 2 * 4);
    // Others' future messages still find room, and are taken once the height comes.
    const legit = [1, 2, 3].map((i) => vote(i, VoteType.Prevote, 2, 0, value("block 2")));
    n.feed(...legit.slice(1));
    expect(n.engine.stats().futureMessages).toBe(2 * 9 * 2 * 4 + 2);
  });

  it("keeps one certificate per peer and height, checks its structure first, and does not re-buffer it at every height", () => {
    const n = node();
    const cert3 = certificateOf(n.engine, 3, value("block 3"));
    for (let i = 0; i < 50; i++)
      n.engine.handle({
        kind: "message",
        from: 2,
        message: { ...cert3, proposal: { ...cert3.proposal, signature: new Uint8Array(64).fill(i) } },
      });
    n.engine.handle({ kind: "message", from: 2, message: certificateOf(n.engine, 5, value("too far")) });
    expect(n.engine.stats().futureCertificates).toBe(1);
    // Duplicated or foreign precommits: refused before buffering.
    const dup: CommitCertificate = { ...cert3, precommits: [...cert3.precommits, ...cert3.precommits] };
    n.engine.handle({ kind: "message", from: 3, message: dup });
    expect(n.engine.stats().futureCertificates).toBe(1);
    decide(n, 1, value("block 1"));
    expect(n.engine.height).toBe(2);
    expect(n.engine.stats().futureCertificates).toBe(1); // still the one of height 3, not re-added
    n.engine.handle({ kind: "message", from: 2, message: cert3 }); // the real one replaces peer 2's
    decide(n, 2, value("block 2"));
    expect(n.engine.height).toBe(4); // height 3 decided from the buffered certificate on arrival
    expect(n.engine.stats().futureCertificates).toBe(0);
  });

  it("verifies at most a set's worth of precommits per certificate, and none when it has extras", () => {
    const counting = countingVerifier();
    const n = node({ verifier: counting.verify });
    const good = certificateOf(n.engine, 1, value("block 1"));
    const extras: CommitCertificate = {
      ...good,
      precommits: Array.from({ length: 1024 }, () => good.precommits[0]!),
    };
    let before = counting.calls();
    n.feed(extras);
    expect(counting.calls() - before).toBe(0);
    before = counting.calls();
    n.feed(good);
    expect(counting.calls() - before).toBeLessThanOrEqual(1 + set.size);
    expect(n.engine.height).toBe(2);
  });

  it("never lets a full buffer push out the next height's messages while it waits for round 0", () => {
    const n = node({ newHeightDelayMs: 100 });
    // A byzantine validator fills everything it can at heights 2 and 3.
    for (let h = 2; h <= 3; h++)
      for (let r = 0; r < 2100; r++) n.feed(vote(3, VoteType.Prevote, h, r, value(`junk ${r}`)));
    decide(n, 1, value("block 1"));
    expect(n.engine.height).toBe(2);
    // Height 2 arrives while the node waits (newHeightDelayMs): recorded, then used at round 0.
    const v = value("block 2");
    n.feed(
      proposalOf(n.engine, 2, 0, v),
      ...[1, 2].map((i) => vote(i, VoteType.Prevote, 2, 0, v)),
      ...[1, 2].map((i) => vote(i, VoteType.Precommit, 2, 0, v)),
    );
    expect(n.engine.height).toBe(2);
    n.apply(n.engine.handle({ kind: "timeout", timeout: { step: 0, height: 2, round: -1 } }));
    expect(n.engine.height).toBe(3);
  });
});

describe("hostile input: signature cache", () => {
  it("does not accept a vote signed by A relabelled as C's from the cache", () => {
    const verify = cachingVerifier();
    const a = vote(1, VoteType.Prevote, 1, 0, value("v"));
    const message = voteSignBytes(CHAIN, a);
    expect(verify(a.validator, message, a.signature)).toBe(true);
    const relabelled: Vote = { ...a, validator: key(3).publicKey };
    expect(verify(relabelled.validator, voteSignBytes(CHAIN, relabelled), relabelled.signature)).toBe(false);
    expect(verify(a.validator, message, a.signature)).toBe(true);
  });
});
