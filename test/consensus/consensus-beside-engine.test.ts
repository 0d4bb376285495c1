// The modules beside the Tendermint engine, each on its own: the evidence pool (detector, quota
// per accused, cap), catch-up (certificates kept, one answer per peer per tick, structural checks)
// and relay (what is relayed, when a tick counts as stuck, what a stuck tick re-sends).
import { describe, expect, it } from "vitest";
import { keyPairFromSeed, type KeyPair } from "../../bindings/chain/index.ts";
import { verifyEd25519 } from "../../bindings/consensus/codec.ts";
import { CatchUp, CERTIFICATES_MAX, wellFormedCertificate } from "../../bindings/consensus/catch-up.ts";
import { EVIDENCE_MAX, EvidencePool } from "../../bindings/consensus/evidence-pool.ts";
import { relayAdmitted, resendWhenStuck, StuckDetector } from "../../bindings/consensus/relay.ts";
import {
  honest,
  isProposalHeader,
  signProposal,
  signVote,
  ValidatorSet,
  VoteType,
  type CommitCertificate,
  type Proposal,
  type Vote,
} from "../../bindings/consensus/index.ts";
import { RoundState } from "../../bindings/consensus/votes.ts";

const CHAIN = "beside";
const keys: KeyPair[] = [1, 2, 3, 4].map((i) => keyPairFromSeed(new Uint8Array(32).fill(i)));
const set = new ValidatorSet(keys.map((k) => ({ address: k.publicKey, power: 1 })));
const id = (n: number) => new Uint8Array(32).fill(n);

function vote(
  k: KeyPair,
  height: number,
  round: number,
  valueId: Uint8Array | null,
  type = VoteType.Prevote,
): Vote {
  return signVote(CHAIN, k.secretKey, k.publicKey, { type, height, round, valueId });
}

function proposal(k: KeyPair, height: number, round: number, text: string): Proposal {
  const value = new TextEncoder().encode(text);
  return signProposal(CHAIN, k.secretKey, k.publicKey, { height, round, validRound: -1, value });
}

function certificate(height: number, round = 0): CommitCertificate {
  const p = proposal(keys[0]!, height, round, `block ${height}`);
  const precommits = keys.slice(0, 3).map((k) => vote(k, height, round, p.valueId, VoteType.Precommit));
  return { kind: "commit", proposal: p, precommits };
}

describe("evidence pool", () => {
  const pool = () => new EvidencePool({ chainId: CHAIN, verify: verifyEd25519, setAt: () => set });

  it("turns a second value in one slot into evidence, and nothing else", () => {
    const p = pool();
    const k = keys[1]!;
    expect(p.detect(vote(k, 5, 0, id(1)))).toBeNull();
    expect(p.detect(vote(k, 5, 0, id(1)))).toBeNull(); // the same value again
    expect(p.detect(vote(k, 5, 1, id(2)))).toBeNull(); // another round: another slot
    expect(p.detect(vote(k, 5, 0, id(1), VoteType.Precommit))).toBeNull(); // another type
    const e = p.detect(vote(k, 5, 0, null));
    expect(e?.type).toBe("vote");
    expect(p.detectorSize).toBe(3);
    p.prune(6);
    expect(p.detectorSize).toBe(0);
  });

  it("holds at most an even share of EVIDENCE_MAX per accused validator", () => {
    const p = pool();
    const share = EVIDENCE_MAX / set.size;
    const offences = (k: KeyPair, n: number) =>
      Array.from({ length: n }, (_, r) => {
        const e = p.detect(vote(k, 1, r, id(1))) ?? p.detect(vote(k, 1, r, id(2)));
        return e!;
      });
    const byOne = offences(keys[1]!, share + 3);
    expect(byOne.filter((e) => p.add(e, set.size)).length).toBe(share);
    expect(p.quotaReached(keys[1]!.publicKey, set.size)).toBe(true);
    // Another validator's offence still gets in.
    expect(p.add(offences(keys[2]!, 1)[0]!, set.size)).toBe(true);
    expect(p.add(byOne[0]!, set.size)).toBe(false); // held already
    expect(p.size).toBe(share + 1);
  });

  it("judges gossiped evidence by height window and signature", () => {
    const p = pool();
    const k = keys[3]!;
    p.detect(vote(k, 10, 0, id(1)));
    const e = p.detect(vote(k, 10, 0, id(2)))!;
    expect(p.judge(e, 1, 11, set.size)).toBe(true);
    expect(p.judge(e, 11, 12, set.size)).toBe(false); // too old
    expect(p.judge(e, 1, 9, set.size)).toBe(false); // too new
    const forged = { ...e, b: { ...e.b, signature: new Uint8Array(64) } } as typeof e;
    expect(p.judge(forged, 1, 11, set.size)).toBe(false);
  });
});

describe("catch-up", () => {
  it("answers a lagging peer once per tick with the certificate of its height", () => {
    const c = new CatchUp();
    c.keep(3, certificate(3));
    const old = vote(keys[1]!, 3, 0, id(1));
    expect(c.answer(2, old)).toMatchObject({ kind: "send", to: 2, message: { kind: "commit" } });
    expect(c.answer(2, old)).toBeNull();
    expect(c.answer(-1, old)).toBeNull(); // an unknown sender
    expect(c.answer(1, vote(keys[1]!, 4, 0, id(1)))).toBeNull(); // a height not kept
    c.tick();
    expect(c.answer(2, old)).not.toBeNull();
  });

  it("keeps at most CERTIFICATES_MAX, forgetting the oldest", () => {
    const c = new CatchUp();
    const one = certificate(1);
    for (let h = 1; h <= CERTIFICATES_MAX + 2; h++) c.keep(h, one);
    expect(c.size).toBe(CERTIFICATES_MAX);
    expect(c.certificate(2)).toBeUndefined();
    expect(c.certificate(3)).toBe(one);
  });

  it("checks a certificate's structure before any signature", () => {
    const good = certificate(7);
    expect(wellFormedCertificate(good, set)).toBe(true);
    const twice = { ...good, precommits: [...good.precommits, good.precommits[0]!] };
    expect(wellFormedCertificate(twice, set)).toBe(false);
    const prevote = vote(keys[3]!, 7, 0, good.proposal.valueId);
    expect(wellFormedCertificate({ ...good, precommits: [...good.precommits, prevote] }, set)).toBe(false);
    const nil = vote(keys[3]!, 7, 0, null, VoteType.Precommit);
    expect(wellFormedCertificate({ ...good, precommits: [...good.precommits, nil] }, set)).toBe(false);
    const stranger = keyPairFromSeed(new Uint8Array(32).fill(9));
    const foreign = vote(stranger, 7, 0, good.proposal.valueId, VoteType.Precommit);
    expect(wellFormedCertificate({ ...good, precommits: [foreign] }, set)).toBe(false);
  });
});

describe("relay", () => {
  it("relays a proposal as its header and a vote unless vote relaying is off", () => {
    const p = proposal(keys[0]!, 2, 0, "v");
    const relayed = relayAdmitted(p, false);
    expect(relayed?.kind === "broadcast" && isProposalHeader(relayed.message as Proposal)).toBe(true);
    const v = vote(keys[1]!, 2, 0, id(1));
    expect(relayAdmitted(v, true)).toEqual({ kind: "broadcast", message: v });
    expect(relayAdmitted(v, false)).toBeNull();
  });

  it("counts a tick as stuck only at the position of the tick before", () => {
    const s = new StuckDetector();
    expect(s.stuck(1, 0, 0)).toBe(false);
    expect(s.stuck(1, 0, 0)).toBe(true);
    expect(s.stuck(1, 0, 1)).toBe(false);
    s.mark(2, 0, 0);
    expect(s.stuck(2, 0, 0)).toBe(true);
  });

  it("re-sends own messages, held proposals, the proofs of lock and the last certificate", () => {
    const own = vote(keys[0]!, 5, 1, id(1));
    const held = proposal(keys[1]!, 5, 1, "held");
    const rounds = new Map<number, RoundState>();
    const r0 = new RoundState();
    const pol = keys.slice(1, 4).map((k) => vote(k, 5, 0, held.valueId));
    pol.forEach((v, i) => r0.prevotes.add(i + 1, 1, v));
    rounds.set(0, r0);
    const r1 = new RoundState();
    r1.addProposal(held);
    rounds.set(1, r1);
    const last = certificate(4);
    const effects = resendWhenStuck({
      signed: new Map([["1/1", own]]),
      rounds,
      round: 1,
      validValue: held,
      validRound: 0,
      lastCertificate: last,
      behavior: honest,
      context: () => ({ self: 0, peers: 4 }) as never,
    });
    const sent = effects.map((e) => (e.kind === "broadcast" ? e.message : null));
    expect(sent[0]).toBe(own);
    expect(sent).toContain(held);
    for (const v of pol) expect(sent).toContain(v);
    expect(sent.at(-1)).toBe(last);
  });
});
