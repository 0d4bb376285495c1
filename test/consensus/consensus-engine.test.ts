// The paper's cases (Algorithm 1 of "The latest gossip on BFT consensus") on one engine fed
// hand-made signed messages from the other three validators of a 4-validator set (f = 1).
import { describe, expect, it } from "vitest";
import { keyPairFromSeed, type KeyPair } from "../../bindings/chain/index.ts";
import {
  Step,
  TendermintEngine,
  ValidatorSet,
  VoteType,
  isProposalHeader,
  proposalHeader,
  signProposal,
  signVote,
  valueIdOf,
  verifyEvidence,
  type Effect,
  type Message,
  type Proposal,
  type Vote,
} from "../../bindings/consensus/index.ts";

const CHAIN = "test-chain";
const keys: KeyPair[] = [1, 2, 3, 4].map((i) => keyPairFromSeed(new Uint8Array(32).fill(i)));
const set = new ValidatorSet(keys.map((k) => ({ address: k.publicKey, power: 1 })));
// Validator i of the set (sorted by address) and its key.
const key = (i: number) => keys.find((k) => set.indexOf(k.publicKey) === i)!;
const V = new TextEncoder().encode("value v");
const W = new TextEncoder().encode("value w");
const OWN = new TextEncoder().encode("own value");

/** Node 0 with round r's proposer = r mod 4 (so node 0 proposes in rounds 0, 4, …). */
function node(options: { proposerOffset?: number } = {}) {
  const offset = options.proposerOffset ?? 1;
  const engine = new TendermintEngine({
    chainId: CHAIN,
    validators: set,
    key: key(0),
    buildValue: () => OWN,
    proposer: (_h, r) => (r + offset) % 4,
  });
  const effects: Effect[] = [...engine.start()];
  const feed = (...messages: Message[]) => {
    const out: Effect[] = [];
    for (const message of messages)
      out.push(...answerValidity(engine, engine.handle({ kind: "message", from: 1, message })));
    effects.push(...out);
    return out;
  };
  return { engine, effects, feed };
}

/** Answers every validate effect: values starting with "bad" are invalid. */
function answerValidity(engine: TendermintEngine, effects: Effect[]): Effect[] {
  const out = [...effects];
  for (let i = 0; i < out.length; i++) {
    const e = out[i]!;
    if (e.kind === "validate")
      out.push(
        ...engine.handle({
          kind: "validity",
          valueId: e.valueId,
          valid: !new TextDecoder().decode(e.value).startsWith("bad"),
        }),
      );
  }
  return out;
}

const proposal = (round: number, value: Uint8Array, validRound = -1, height = 1) =>
  signProposal(CHAIN, key((round + 1) % 4).secretKey, key((round + 1) % 4).publicKey, {
    height,
    round,
    validRound,
    value,
  });
const vote = (
  i: number,
  type: VoteType,
  round: number,
  value: Uint8Array | null,
  height = 1,
  chain = CHAIN,
) =>
  signVote(chain, key(i).secretKey, key(i).publicKey, {
    type,
    height,
    round,
    valueId: value === null ? null : valueIdOf(value),
  });
const prevotes = (round: number, value: Uint8Array | null, who = [1, 2, 3]) =>
  who.map((i) => vote(i, VoteType.Prevote, round, value));
const precommits = (round: number, value: Uint8Array | null, who = [1, 2, 3]) =>
  who.map((i) => vote(i, VoteType.Precommit, round, value));

function ownVotes(effects: Effect[], type: VoteType): Vote[] {
  return effects.flatMap((e) =>
    e.kind === "broadcast" &&
    e.message.kind === "vote" &&
    e.message.type === type &&
    set.indexOf(e.message.validator) === 0
      ? [e.message]
      : [],
  );
}
const idOf = (v: Vote | undefined) =>
  v?.valueId ? Buffer.from(v.valueId).toString("hex") : v === undefined ? "none" : "nil";
const hex = (value: Uint8Array) => Buffer.from(valueIdOf(value)).toString("hex");
const timeout = (step: Step, round: number, height = 1) => ({
  kind: "timeout" as const,
  timeout: { step, height, round },
});

/** Drives node 0 through round 0 so that it locks on `value` and round 0 ends without a decision. */
function lockedOn(value: Uint8Array) {
  const n = node();
  n.feed(proposal(0, value), ...prevotes(0, value, [1, 2]));
  expect(n.engine.lockedRound).toBe(0);
  n.feed(...precommits(0, null, [1, 2]));
  n.effects.push(...n.engine.handle(timeout(Step.Precommit, 0)));
  expect(n.engine.round).toBe(1);
  return n;
}

describe("tendermint engine: Algorithm 1", () => {
  it("decides a valid proposal with 2f+1 prevotes then 2f+1 precommits, and moves to the next height", () => {
    const n = node();
    n.feed(proposal(0, V));
    expect(ownVotes(n.effects, VoteType.Prevote).map(idOf)).toEqual([hex(V)]);
    n.feed(...prevotes(0, V, [1, 2]));
    expect(ownVotes(n.effects, VoteType.Precommit).map(idOf)).toEqual([hex(V)]);
    const out = n.feed(...precommits(0, V, [1, 2]));
    const decided = out.filter((e) => e.kind === "decide");
    expect(decided).toHaveLength(1);
    expect(decided[0]!.kind === "decide" && Buffer.from(decided[0]!.value).toString()).toBe("value v");
    expect(n.engine.height).toBe(2);
    expect(n.engine.round).toBe(0);
    expect(n.engine.lockedRound).toBe(-1);
    // The decision is durable before it is reported.
    const persistAt = out.findIndex((e) => e.kind === "persist" && e.record.type === "decide");
    expect(persistAt).toBeGreaterThanOrEqual(0);
    expect(persistAt).toBeLessThan(out.findIndex((e) => e.kind === "decide"));
  });

  it("prevotes nil for an invalid value and on timeoutPropose; the timeouts grow with the round", () => {
    const n = node();
    n.feed(proposal(0, new TextEncoder().encode("bad value")));
    expect(ownVotes(n.effects, VoteType.Prevote).map(idOf)).toEqual(["nil"]);
    const m = node();
    const scheduled = m.effects.filter((e) => e.kind === "schedule");
    expect(scheduled).toEqual([
      { kind: "schedule", timeout: { step: Step.Propose, height: 1, round: 0 }, delayMs: 300 },
    ]);
    m.effects.push(...m.engine.handle(timeout(Step.Propose, 0)));
    expect(ownVotes(m.effects, VoteType.Prevote).map(idOf)).toEqual(["nil"]);
    m.feed(...prevotes(0, null, [1, 2]));
    expect(ownVotes(m.effects, VoteType.Precommit).map(idOf)).toEqual(["nil"]);
    m.feed(...precommits(0, null, [1, 2]));
    const round1 = m.engine.handle(timeout(Step.Precommit, 0));
    expect(round1).toContainEqual({
      kind: "schedule",
      timeout: { step: Step.Propose, height: 1, round: 1 },
      delayMs: 400,
    });
  });

  it("locks on a polka and then prevotes nil for a fresh different value (line 22)", () => {
    const n = lockedOn(V);
    expect(n.engine.lockedValue?.value).toEqual(V);
    n.feed(proposal(1, W));
    expect(ownVotes(n.effects, VoteType.Prevote).map(idOf)).toEqual([hex(V), "nil"]);
    expect(n.engine.lockedRound).toBe(0); // no unlocking on its own
  });

  it("prevotes its locked value when it is proposed again", () => {
    const n = lockedOn(V);
    n.feed(proposal(1, V));
    expect(ownVotes(n.effects, VoteType.Prevote).map(idOf)).toEqual([hex(V), hex(V)]);
  });

  it("unlocks only through a proposal whose validRound ≥ lockedRound carries a polka (line 28)", () => {
    // Locked on V in round 0; round 1 saw a polka for W (we missed it); round 2 re-proposes W with vr = 1.
    const n = lockedOn(V);
    n.effects.push(...n.engine.handle(timeout(Step.Propose, 1)));
    n.feed(...prevotes(1, W, [1, 2, 3]));
    n.feed(...precommits(1, null, [1, 2]));
    n.effects.push(...n.engine.handle(timeout(Step.Precommit, 1)));
    expect(n.engine.round).toBe(2);
    n.feed(proposal(2, W, 1));
    expect(ownVotes(n.effects, VoteType.Prevote).slice(-1).map(idOf)).toEqual([hex(W)]);
  });

  it("stays locked when the re-proposal's validRound is below lockedRound, or its polka is missing", () => {
    // Polka for W in round 0 seen only after precommitting nil (so no lock), lock on V in round 1.
    const n = node();
    n.effects.push(...n.engine.handle(timeout(Step.Propose, 0)));
    n.effects.push(...n.engine.handle(timeout(Step.Prevote, 0)));
    n.feed(proposal(0, W), ...prevotes(0, W, [1, 2, 3]));
    expect(n.engine.lockedRound).toBe(-1);
    expect(n.engine.validRound).toBe(0);
    n.feed(...precommits(0, null, [1, 2]));
    n.effects.push(...n.engine.handle(timeout(Step.Precommit, 0)));
    n.feed(proposal(1, V), ...prevotes(1, V, [1, 2]));
    expect(n.engine.lockedRound).toBe(1);
    n.feed(...precommits(1, null, [1, 2]));
    n.effects.push(...n.engine.handle(timeout(Step.Precommit, 1)));
    n.feed(proposal(2, W, 0)); // vr = 0 < lockedRound = 1
    expect(ownVotes(n.effects, VoteType.Prevote).slice(-1).map(idOf)).toEqual(["nil"]);

    const m = lockedOn(V); // vr = 0 = lockedRound but no polka for W in round 0: wait, then timeout
    const before = ownVotes(m.effects, VoteType.Prevote).length;
    m.feed(proposal(1, W, 0));
    expect(ownVotes(m.effects, VoteType.Prevote)).toHaveLength(before);
    m.effects.push(...m.engine.handle(timeout(Step.Propose, 1)));
    expect(ownVotes(m.effects, VoteType.Prevote).slice(-1).map(idOf)).toEqual(["nil"]);
  });

  it("re-proposes validValue with its validRound when it becomes the proposer", () => {
    // Node 0 proposes in round 3 (offset 1: proposer(r) = (r+1) mod 4). Polka for V in round 2.
    const n = node();
    for (const r of [0, 1]) {
      n.effects.push(...n.engine.handle(timeout(Step.Propose, r)));
      n.feed(...prevotes(r, null, [1, 2]), ...precommits(r, null, [1, 2]));
      n.effects.push(...n.engine.handle(timeout(Step.Precommit, r)));
    }
    n.feed(proposal(2, V), ...prevotes(2, V, [1, 2]));
    expect(n.engine.validRound).toBe(2);
    n.feed(...precommits(2, null, [1, 2]));
    const out = n.engine.handle(timeout(Step.Precommit, 2));
    const sent = out.flatMap((e) =>
      e.kind === "broadcast" && e.message.kind === "proposal" ? [e.message] : [],
    );
    expect(sent).toHaveLength(1);
    expect(sent[0]!.round).toBe(3);
    expect(sent[0]!.validRound).toBe(2);
    expect(sent[0]!.value).toEqual(V);
  });

  it("skips to a higher round on f+1 messages from it, not on f (line 55)", () => {
    const n = node();
    n.feed(vote(1, VoteType.Prevote, 5, null));
    expect(n.engine.round).toBe(0);
    n.feed(vote(2, VoteType.Precommit, 5, W));
    expect(n.engine.round).toBe(5);
    expect(n.engine.step).toBe(Step.Propose);
  });

  it("decides on a proposal with 2f+1 precommits from an earlier round (line 49)", () => {
    const n = node();
    n.feed(...prevotes(2, null, [1, 2])); // round skip to 2
    expect(n.engine.round).toBe(2);
    expect(n.feed(proposal(1, W), ...precommits(1, W, [1, 2])).some((e) => e.kind === "decide")).toBe(false);
    const out = n.feed(vote(3, VoteType.Precommit, 1, W));
    const decided = out.flatMap((e) => (e.kind === "decide" ? [e] : []));
    expect(decided.map((d) => d.height)).toEqual([1]);
    expect(decided[0]!.value).toEqual(W);
    expect(decided[0]!.certificate.precommits).toHaveLength(3);
    expect(n.engine.height).toBe(2);
  });

  it("decides on a commit certificate whose equivocator's slots are full of other precommits", () => {
    // Validator 1 (its keys in hostile hands) fills its precommit slots of round 0 with other
    // values; the certificate's precommit of validator 1 then finds no slot in the tally, but the
    // certificate still proves the decision (seed 458 of the hostile simulation stalled on this).
    const n = node();
    const junk = [1, 2, 3, 4].map((k) =>
      vote(1, VoteType.Precommit, 0, new TextEncoder().encode(`junk ${k}`)),
    );
    n.feed(...junk);
    const certificate = { kind: "commit" as const, proposal: proposal(0, V), precommits: precommits(0, V) };
    const forged = { ...certificate, precommits: certificate.precommits.slice() };
    const last = forged.precommits[2]!;
    forged.precommits[2] = { ...last, signature: last.signature.map((b, i) => (i === 0 ? b ^ 1 : b)) };
    expect(n.feed(forged).some((e) => e.kind === "decide")).toBe(false);
    expect(n.engine.height).toBe(1);
    const decided = n.feed(certificate).flatMap((e) => (e.kind === "decide" ? [e] : []));
    expect(decided.map((d) => d.height)).toEqual([1]);
    expect(decided[0]!.value).toEqual(V);
    expect(decided[0]!.certificate.precommits).toHaveLength(3);
    expect(n.engine.height).toBe(2);
  });

  it("drops bad signatures, other chains' votes, non-validators and the wrong proposer", () => {
    const n = node();
    const good = vote(1, VoteType.Prevote, 0, V);
    const forged: Vote = { ...good, signature: good.signature.map((b, i) => (i === 0 ? b ^ 1 : b)) };
    const outsider = keyPairFromSeed(new Uint8Array(32).fill(99));
    const stranger = signVote(CHAIN, outsider.secretKey, outsider.publicKey, {
      type: VoteType.Prevote,
      height: 1,
      round: 7,
      valueId: null,
    });
    const strangers = [
      stranger,
      { ...stranger, validator: key(2).publicKey },
      vote(3, VoteType.Prevote, 7, null, 1, "other-chain"),
    ];
    expect(n.feed(forged, ...strangers)).toEqual([]);
    const wrong = signProposal(CHAIN, key(2).secretKey, key(2).publicKey, {
      height: 1,
      round: 0,
      validRound: -1,
      value: V,
    });
    const tampered: Proposal = { ...proposal(0, V), value: W };
    expect(n.feed(wrong, tampered)).toEqual([]);
    expect(n.engine.round).toBe(0);
    expect(n.engine.step).toBe(Step.Propose);
  });

  it("turns a duplicate vote into verifiable evidence (counting each message, as the paper does)", () => {
    const n = node();
    n.feed(proposal(0, V), vote(1, VoteType.Prevote, 0, V));
    const out = n.feed(vote(1, VoteType.Prevote, 0, W), vote(2, VoteType.Prevote, 0, W));
    const evidence = out.flatMap((e) => (e.kind === "evidence" ? [e.evidence] : []));
    expect(evidence).toHaveLength(1);
    expect(verifyEvidence(CHAIN, set, evidence[0]!)).toBe(true);
    expect(set.indexOf((evidence[0]!.a as Vote).validator)).toBe(1);
    expect(n.engine.step).toBe(Step.Prevote); // V: self + 1, W: 1 + 2 — no polka, 3 voters in all
    expect(out).toContainEqual({
      kind: "schedule",
      timeout: { step: Step.Prevote, height: 1, round: 0 },
      delayMs: 100,
    });
    n.feed(vote(3, VoteType.Prevote, 0, W)); // W: 1, 2, 3 (the equivocator counts for both) but W was not proposed
    expect(ownVotes(n.effects, VoteType.Precommit)).toEqual([]);
    expect(n.engine.lockedRound).toBe(-1);
    expect(out.some((e) => e.kind === "broadcast" && e.message.kind === "evidence")).toBe(true);
  });

  it("relays a proposal's header once and makes evidence from a header that conflicts with the proposal held", () => {
    const n = node();
    const p = proposal(0, V);
    const out = n.feed(p);
    const headers = out.flatMap((e) =>
      e.kind === "broadcast" && e.message.kind === "proposal" ? [e.message] : [],
    );
    expect(headers).toHaveLength(1);
    expect(headers[0]!.value).toHaveLength(0); // the signed fields without the block
    expect(isProposalHeader(headers[0]!)).toBe(true);
    expect(n.feed(p).some((e) => e.kind === "broadcast")).toBe(false); // once
    // Another validator relays the header of the proposer's other value: evidence, without its block.
    const other = proposalHeader(proposal(0, W));
    const evidence = n.feed(other).flatMap((e) => (e.kind === "evidence" ? [e.evidence] : []));
    expect(evidence).toHaveLength(1);
    expect(evidence[0]!.type).toBe("proposal");
    expect([(evidence[0]!.a as Proposal).value.length, (evidence[0]!.b as Proposal).value.length]).toEqual([
      0, 0,
    ]);
    expect(verifyEvidence(CHAIN, set, evidence[0]!)).toBe(true);
    expect(
      verifyEvidence(CHAIN, set, {
        ...evidence[0]!,
        b: { ...evidence[0]!.b, signature: evidence[0]!.a.signature },
      }),
    ).toBe(false);
    expect(n.engine.step).toBe(Step.Prevote); // a header is not a proposal: the round still runs on V
    // A forged header (wrong proposer key) is dropped.
    const forged = { ...proposalHeader(proposal(0, OWN)), signature: new Uint8Array(64) };
    expect(n.feed(forged).some((e) => e.kind === "evidence")).toBe(false);
  });

  it("ignores stale timeouts and messages of finished heights except to send the certificate", () => {
    const n = node();
    n.feed(proposal(0, V), ...prevotes(0, V, [1, 2]), ...precommits(0, V, [1, 2]));
    expect(n.engine.height).toBe(2);
    expect(n.engine.handle(timeout(Step.Propose, 0, 1)).filter((e) => e.kind === "broadcast")).toEqual([]);
    const reply = n.engine.handle({ kind: "message", from: 3, message: vote(3, VoteType.Prevote, 0, null) });
    expect(reply.filter((e) => e.kind === "send").map((e) => e.kind === "send" && e.to)).toEqual([3]);
  });
});
