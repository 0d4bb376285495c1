/**
 * Messages of heights above the engine's own, kept until it gets there (CometBFT keeps them in its
 * peer state and re-gossips; the paper's gossip layer delivers them eventually). Every entry sits
 * in a slot named by what it is — one proposal per (height, round), one vote per (height, round,
 * type, signer), one certificate per (height, peer) — so a signer or peer can fill only its own
 * slots and never push out another's; the caller checks height and round windows, size and signer
 * (and signatures of proposals and votes) before an entry gets here. A height's entries are taken
 * once, when the engine reaches it; nothing is re-buffered.
 * @module
 */
import type { CommitCertificate, Proposal, Vote } from "./types.ts";

/** A message of a higher height, with its signer's index once admitted (-1 for a certificate). */
export interface Buffered {
  readonly message: Proposal | Vote | CommitCertificate;
  readonly index: number;
}

/** Slots of all heights together: a safety net above the structural bound (slots × heights). */
export const FUTURE_SLOTS_MAX = 1 << 16;
/** Certificate slots per height (peers that may each hold one). */
export const FUTURE_CERTIFICATE_PEERS_MAX = 64;

/** Buffered messages by height and slot. */
export class FutureBuffer {
  private readonly byHeight = new Map<number, Map<string, Buffered>>();
  private count = 0;
  private certificateSlots = new Map<number, number>();

  /** Entries held, all heights. */
  get size(): number {
    return this.count;
  }

  /** Certificates held, all heights. */
  get certificates(): number {
    let n = 0;
    for (const c of this.certificateSlots.values()) n += c;
    return n;
  }

  /** Keeps a proposal or vote in its slot; false if the slot is taken (first one wins) or all are full. */
  add(height: number, slot: string, entry: Buffered): boolean {
    const slots = this.slotsOf(height);
    if (slots.has(slot) || this.count >= FUTURE_SLOTS_MAX) return false;
    slots.set(slot, entry);
    this.count++;
    return true;
  }

  /** Keeps a certificate in `peer`'s slot of `height`, replacing that peer's previous one. */
  addCertificate(height: number, peer: number, certificate: CommitCertificate): boolean {
    const slots = this.slotsOf(height);
    const slot = `c/${peer}`;
    if (slots.has(slot)) return (slots.set(slot, { message: certificate, index: -1 }), true);
    const used = this.certificateSlots.get(height) ?? 0;
    if (used >= FUTURE_CERTIFICATE_PEERS_MAX || this.count >= FUTURE_SLOTS_MAX) return false;
    slots.set(slot, { message: certificate, index: -1 });
    this.certificateSlots.set(height, used + 1);
    this.count++;
    return true;
  }

  /** Removes and returns the entries of `height` (certificates first); forgets all lower heights. */
  take(height: number): Buffered[] {
    const out: Buffered[] = [];
    for (const [h, slots] of this.byHeight) {
      if (h > height) continue;
      if (h === height)
        for (const e of slots.values()) e.message.kind === "commit" ? out.unshift(e) : out.push(e);
      this.count -= slots.size;
      this.byHeight.delete(h);
      this.certificateSlots.delete(h);
    }
    return out;
  }

  private slotsOf(height: number): Map<string, Buffered> {
    let slots = this.byHeight.get(height);
    if (slots === undefined) this.byHeight.set(height, (slots = new Map<string, Buffered>()));
    return slots;
  }
}
