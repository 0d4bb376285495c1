// Validator sets that change with the height (proof of stake): messages are judged by the set of
// their height, and a node that leaves the set stops signing.
import { describe, expect, it } from "vitest";
import { keyPairFromSeed } from "../../bindings/chain/index.ts";
import {
  TendermintEngine,
  ValidatorSet,
  VoteType,
  signProposal,
  signVote,
  valueIdOf,
  type Effect,
  type Message,
} from "../../bindings/consensus/index.ts";

const CHAIN = "sets-chain";
const keys = [1, 2, 3, 4, 5].map((i) => keyPairFromSeed(new Uint8Array(32).fill(i)));
const first = new ValidatorSet(keys.slice(0, 4).map((k) => ({ address: k.publicKey, power: 1 })));
const second = new ValidatorSet(keys.slice(1, 5).map((k) => ({ address: k.publicKey, power: 1 }))); // keys[0] leaves, keys[4] joins
const setAt = (h: number) => (h <= 1 ? first : second);
const V = new TextEncoder().encode("v");

function node(key = keys[1]!) {
  const engine = new TendermintEngine({
    chainId: CHAIN,
    validators: first,
    validatorsAt: setAt,
    key,
    buildValue: (h) => new TextEncoder().encode(`own ${h}`),
    proposer: () => 0,
  });
  const out: Effect[] = [];
  const apply = (effects: Effect[]) => {
    for (let i = 0; i < effects.length; i++) {
      const e = effects[i]!;
      out.push(e);
      if (e.kind === "validate")
        effects.push(...engine.handle({ kind: "validity", valueId: e.valueId, valid: true }));
    }
  };
  apply(engine.start());
  return {
    engine,
    out,
    feed: (m: Message) => apply(engine.handle({ kind: "message", from: 0, message: m })),
  };
}

/** Decides height 1 (set `first`, proposer index 0) at `n`. */
function decideHeight1(n: ReturnType<typeof node>) {
  const proposer = first.validators[0]!.address;
  const k = keys.find((x) => Buffer.from(x.publicKey).equals(Buffer.from(proposer)))!;
  n.feed(signProposal(CHAIN, k.secretKey, k.publicKey, { height: 1, round: 0, validRound: -1, value: V }));
  for (const type of [VoteType.Prevote, VoteType.Precommit]) {
    for (const v of first.validators) {
      const signer = keys.find((x) => Buffer.from(x.publicKey).equals(Buffer.from(v.address)))!;
      n.feed(
        signVote(CHAIN, signer.secretKey, signer.publicKey, {
          type,
          height: 1,
          round: 0,
          valueId: valueIdOf(V),
        }),
      );
    }
  }
  expect(n.engine.height).toBe(2);
}

describe("validator sets per height", () => {
  it("drops votes from a validator that left and counts the one that joined", () => {
    const n = node(keys[1]!);
    decideHeight1(n);
    expect(n.engine.validators).toBe(second);
    const before = n.out.length;
    const left = signVote(CHAIN, keys[0]!.secretKey, keys[0]!.publicKey, {
      type: VoteType.Prevote,
      height: 2,
      round: 3,
      valueId: null,
    });
    n.feed(left);
    expect(n.out.length).toBe(before); // not relayed, not persisted: unknown signer at height 2
    const joined = (k: number) =>
      signVote(CHAIN, keys[k]!.secretKey, keys[k]!.publicKey, {
        type: VoteType.Prevote,
        height: 2,
        round: 3,
        valueId: null,
      });
    n.feed(joined(4));
    expect(n.engine.round).toBe(0); // the departed validator's vote did not count toward f+1
    n.feed(joined(2));
    expect(n.engine.round).toBe(3); // f+1 = 2 of the new set's 4: round skip
  });

  it("a validator that left the set stops signing", () => {
    const n = node(keys[0]!);
    decideHeight1(n);
    expect(n.engine.self).toBe(-1);
    const out = n.engine.handle({ kind: "timeout", timeout: { step: 0, height: 2, round: 0 } });
    expect(out.filter((e) => e.kind === "broadcast")).toEqual([]);
  });
});
