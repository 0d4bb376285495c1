/**
 * Shared fixtures for the ledger tests: deterministic keys, a seeded PRNG, a naive reference
 * ledger (plain Map, BigInt, the rules written as directly as possible) and supply sums.
 */
import { keyPairFromSeed } from "../../bindings/chain/keys.ts";
import type { KeyPair } from "../../bindings/chain/keys.ts";

/** Deterministic key pair number `i`. */
export function testKey(i: number): KeyPair {
  const seed = new Uint8Array(32);
  new DataView(seed.buffer).setUint32(0, i + 1, true);
  seed[31] = 0x5a;
  return keyPairFromSeed(seed);
}

/** A seeded PRNG (mulberry32). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const U64_MAX = (1n << 64n) - 1n;
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

/** One transfer as the reference takes it. */
export interface RefTransfer {
  from: Uint8Array;
  to: Uint8Array;
  amount: bigint;
  fee: bigint;
  nonce: bigint;
}

/** The naive reference ledger. */
export class ReferenceLedger {
  readonly accounts = new Map<string, { balance: bigint; nonce: bigint }>();
  constructor(genesis: Array<{ address: Uint8Array; balance: bigint }>) {
    for (const g of genesis) this.accounts.set(hex(g.address), { balance: g.balance, nonce: 0n });
  }
  /** Applies a block; returns the statuses. */
  applyBlock(txs: RefTransfer[], proposer: Uint8Array): string[] {
    return txs.map((t) => this.applyOne(t, hex(proposer)));
  }
  private applyOne(t: RefTransfer, proposer: string): string {
    const from = hex(t.from);
    const to = hex(t.to);
    if (from === to) return "SELF_TRANSFER";
    if (t.amount + t.fee > U64_MAX) return "OVERFLOW";
    const f = this.accounts.get(from) ?? { balance: 0n, nonce: 0n };
    if (t.nonce !== f.nonce) return "BAD_NONCE";
    if (f.balance < t.amount + t.fee) return "INSUFFICIENT_FUNDS";
    if (f.nonce === U64_MAX) return "OVERFLOW";
    // Compute every new balance first, then check all of them.
    const next = new Map<string, { balance: bigint; nonce: bigint }>();
    const get = (k: string) => next.get(k) ?? { ...(this.accounts.get(k) ?? { balance: 0n, nonce: 0n }) };
    const fa = get(from);
    fa.balance -= t.amount + t.fee;
    fa.nonce += 1n;
    next.set(from, fa);
    const ta = get(to);
    ta.balance += t.amount;
    next.set(to, ta);
    if (t.fee !== 0n) {
      const pa = get(proposer);
      pa.balance += t.fee;
      next.set(proposer, pa);
    }
    for (const a of next.values()) if (a.balance > U64_MAX) return "OVERFLOW";
    for (const [k, a] of next) this.accounts.set(k, a);
    return "ok";
  }
  /** Sum of all balances. */
  supply(): bigint {
    let s = 0n;
    for (const a of this.accounts.values()) s += a.balance;
    return s;
  }
}
