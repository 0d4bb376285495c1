/**
 * A hostile peer for the seeded consensus simulation: a network participant that sends well-formed
 * but wrong messages (CometBFT's byzantine tests and TigerBeetle's VOPR inject the same kind of
 * traffic). It watches what the validators broadcast, holds the keys of the byzantine validators it
 * colludes with (none when there are none) and one outsider key, and each call of
 * {@link HostilePeer.next} draws one attack: messages of old and far-future heights, floods of
 * the next heights' rounds, huge rounds, bad and relabelled signatures, foreign and stale
 * evidence, forged and oversized commit certificates, replays and junk bytes. Everything it signs
 * is signed with a key it holds: it can never speak for a correct validator, only try to.
 * @module
 */
import type { KeyPair } from "../chain/index.ts";
import type { Random } from "../net/index.ts";
import { ChainDbError } from "../util/index.ts";
import {
  CERTIFICATE_VOTES_MAX,
  ROUND_MAX,
  decodeMessage,
  encodeMessage,
  signProposal,
  signVote,
} from "./codec.ts";
import { makeEvidence } from "./evidence.ts";
import { VoteType, type CommitCertificate, type Message, type Proposal, type Vote } from "./types.ts";
import type { ValidatorSet } from "./validators.ts";

/** The attacks a hostile peer draws from. */
export const HOSTILE_ATTACKS = [
  "old-height",
  "far-future",
  "next-heights-flood",
  "huge-round",
  "bad-signature",
  "relabel",
  "foreign-evidence",
  "stale-evidence",
  "certificate",
  "replay",
  "junk",
] as const;
/** One attack. */
export type HostileAttack = (typeof HOSTILE_ATTACKS)[number];

/** What a hostile peer needs. */
export interface HostileOptions {
  readonly chainId: string;
  readonly set: ValidatorSet;
  /** Keys of the byzantine validators it colludes with (possibly none). */
  readonly keys: readonly KeyPair[];
  /** Its own key: not a validator's. */
  readonly outsider: KeyPair;
  readonly rng: Random;
}

/** Messages remembered for replays and mutations. */
const RECENT_MAX = 64;
/** Messages per "next-heights-flood" attack. */
const FLOOD_BURST = 32;

/** A hostile peer: `observe` what it receives, send what `next` returns. */
export class HostilePeer {
  /** The highest height it has seen a validator at. */
  height = 1;
  /** Attacks drawn so far, by kind. */
  readonly counts = new Map<HostileAttack, number>();
  private readonly recent: (Proposal | Vote)[] = [];

  constructor(private readonly o: HostileOptions) {}

  /** Takes in a message it received (malformed ones are ignored). */
  observe(payload: Uint8Array): void {
    let m: Message;
    try {
      m = decodeMessage(payload);
    } catch (error) {
      if (error instanceof ChainDbError) return;
      throw error;
    }
    if (m.kind !== "proposal" && m.kind !== "vote") return;
    if (m.height > this.height) this.height = m.height;
    if (this.recent.length >= RECENT_MAX) this.recent.splice(0, 1);
    this.recent.push(m);
  }

  /**
   * Draws one attack: its payloads, each for one peer (`single`) or all (`broadcast`), in order.
   * Most attacks are one payload; "relabel" sends a freshly signed vote to one peer (whose check
   * of it fills a shared signature cache) and the same signature under another validator's name
   * to everyone else.
   */
  next(): {
    attack: HostileAttack;
    sends: { readonly to: "single" | "broadcast"; readonly payload: Uint8Array }[];
  } {
    const attack = this.o.rng.pick(HOSTILE_ATTACKS);
    this.counts.set(attack, (this.counts.get(attack) ?? 0) + 1);
    if (attack === "relabel") {
      const original = this.vote(
        this.height,
        this.o.rng.int(0, 1),
        this.o.rng.chance(0.5) ? VoteType.Prevote : VoteType.Precommit,
        this.id(this.o.rng.u32()),
      );
      const other = this.o.set.validators[this.o.rng.int(0, this.o.set.size - 1)]!.address;
      return {
        attack,
        sends: [
          { to: "single", payload: encodeMessage(original) },
          { to: "broadcast", payload: encodeMessage({ ...original, validator: other }) },
        ],
      };
    }
    const to = this.o.rng.chance(0.3) ? "broadcast" : "single";
    // A flood is a burst: it must fill the next heights' slots faster than they drain.
    const count = attack === "next-heights-flood" ? FLOOD_BURST : 1;
    return { attack, sends: Array.from({ length: count }, () => ({ to, payload: this.build(attack) })) };
  }

  private build(attack: HostileAttack): Uint8Array {
    const rng = this.o.rng;
    const h = this.height;
    switch (attack) {
      case "old-height":
        return encodeMessage(this.signed(rng.int(1, Math.max(1, h - 5)), rng.int(0, 3)));
      case "far-future":
        return encodeMessage(
          this.signed(rng.chance(0.2) ? 2 ** 40 : h + rng.int(3, 1_000_000), rng.int(0, 3)),
        );
      case "next-heights-flood":
        return encodeMessage(this.signed(h + rng.int(1, 2), rng.int(0, 10)));
      case "huge-round": {
        const round = rng.pick([2 ** 30, ROUND_MAX, rng.int(9, 5000)]);
        const m = this.signed(h, round);
        return encodeMessage(rng.chance(0.5) ? m : { ...m, signature: new Uint8Array(64) });
      }
      case "bad-signature": {
        const m = this.pickRecent();
        if (m === null) return encodeMessage(this.signed(h, 0));
        const signature = m.signature.slice();
        signature[rng.int(0, 63)]! ^= 1 << rng.int(0, 7);
        return encodeMessage({ ...m, signature });
      }
      case "relabel": {
        // A seen signature under another validator's name (the cache-key bug of issue 14).
        const m = this.pickRecent();
        const other = this.o.set.validators[rng.int(0, this.o.set.size - 1)]!.address;
        if (m === null) return encodeMessage(this.signed(h, 0));
        return encodeMessage(m.kind === "vote" ? { ...m, validator: other } : { ...m, proposer: other });
      }
      case "foreign-evidence": {
        const key = this.key();
        const chain = rng.chance(0.5) ? "another-chain" : this.o.chainId;
        const vote = (id: number) =>
          signVote(chain, key.secretKey, key.publicKey, {
            type: VoteType.Prevote,
            height: h,
            round: 0,
            valueId: this.id(id),
          });
        return encodeMessage(makeEvidence(vote(1), vote(2)));
      }
      case "stale-evidence": {
        const key = this.key();
        const height = rng.chance(0.5) ? 1 : Math.max(1, h - rng.int(1, 300));
        const vote = (id: number) =>
          signVote(this.o.chainId, key.secretKey, key.publicKey, {
            type: VoteType.Precommit,
            height,
            round: rng.int(0, 2),
            valueId: this.id(id),
          });
        return encodeMessage(makeEvidence(vote(rng.u32()), vote(rng.u32())));
      }
      case "certificate":
        return encodeMessage(this.certificate(h));
      case "replay":
        return encodeMessage(this.pickRecent() ?? this.signed(h, 0));
      case "junk": {
        const base = this.pickRecent();
        if (base !== null && rng.chance(0.5)) {
          const bytes = encodeMessage(base);
          const cut = bytes.subarray(0, rng.int(0, bytes.length));
          return cut.map((b) => (rng.chance(0.05) ? rng.int(0, 255) : b));
        }
        return Uint8Array.from({ length: rng.int(0, 200) }, () => rng.int(0, 255));
      }
    }
  }

  /** A commit certificate of a near or far height: forged, short, or with a precommit repeated. */
  private certificate(h: number): CommitCertificate {
    const rng = this.o.rng;
    const height = rng.chance(0.7) ? h + rng.int(0, 2) : h + rng.int(3, 10_000);
    const proposal = this.proposal(height, 0);
    const precommit = this.vote(height, 0, VoteType.Precommit, proposal.valueId);
    const copies = rng.chance(0.5) ? CERTIFICATE_VOTES_MAX : rng.int(1, this.o.set.size);
    return { kind: "commit", proposal, precommits: Array.from({ length: copies }, () => precommit) };
  }

  /** A proposal or vote of (height, round), signed by a held key, for a random value. */
  private signed(height: number, round: number): Proposal | Vote {
    const rng = this.o.rng;
    if (rng.chance(0.3)) return this.proposal(height, round);
    return this.vote(
      height,
      round,
      rng.chance(0.5) ? VoteType.Prevote : VoteType.Precommit,
      rng.chance(0.2) ? null : this.id(rng.u32()),
    );
  }

  private proposal(height: number, round: number): Proposal {
    const key = this.key();
    const value = Uint8Array.from({ length: this.o.rng.int(1, 64) }, () => this.o.rng.int(0, 255));
    return signProposal(this.o.chainId, key.secretKey, key.publicKey, {
      height,
      round,
      validRound: -1,
      value,
    });
  }

  private vote(height: number, round: number, type: VoteType, valueId: Uint8Array | null): Vote {
    const key = this.key();
    return signVote(this.o.chainId, key.secretKey, key.publicKey, { type, height, round, valueId });
  }

  /** A colluding validator's key most of the time, else the outsider's. */
  private key(): KeyPair {
    const keys = this.o.keys;
    return keys.length > 0 && this.o.rng.chance(0.8) ? this.o.rng.pick(keys) : this.o.outsider;
  }

  private id(n: number): Uint8Array {
    const id = new Uint8Array(32);
    new DataView(id.buffer).setUint32(0, n >>> 0, true);
    id[31] = 0xee;
    return id;
  }

  private pickRecent(): Proposal | Vote | null {
    return this.recent.length === 0 ? null : this.o.rng.pick(this.recent);
  }
}
