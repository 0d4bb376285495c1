// The mempool on its own: nonce-gap, per-sender, funds, capacity with eviction by fee, replacement,
// expiry by height and by the injected clock, and block reads that skip senders behind a gap;
// then a fast-check model test against a naive reference that recomputes everything from a list.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Mempool, costOf, type MempoolLimits, type SenderAccount } from "../../bindings/consensus/index.ts";
import type { ChainTx } from "../../bindings/selection/index.ts";
import { ChainDbError, toHex } from "../../bindings/util/index.ts";

const address = (i: number) => new Uint8Array(32).fill(i + 1);
const TO = new Uint8Array(32).fill(0xee);

/** A transfer as the mempool sees it (it never reads the signature: the node checked it). */
function transfer(sender: number, nonce: number, fee: number, amount = 10): { tx: ChainTx; key: string } {
  const tx: ChainTx = {
    type: "transfer",
    tx: {
      chainId: 1,
      from: address(sender),
      to: TO,
      amount: BigInt(amount),
      fee: BigInt(fee),
      nonce: BigInt(nonce),
      signature: new Uint8Array(64),
    },
    bytes: new Uint8Array(0),
  };
  return { tx, key: `${sender}/${nonce}/${fee}/${amount}` };
}

function codeOf(f: () => unknown): string {
  try {
    return String(f());
  } catch (error) {
    if (error instanceof ChainDbError) return error.code;
    throw error;
  }
}

const rich: SenderAccount = { balance: 1_000_000n, nonce: 0n };

describe("Mempool admission", () => {
  it("refuses a spent nonce and a nonce too far ahead, with codes; takes one just inside the window", () => {
    const pool = new Mempool({ nonceGapMax: 4 });
    const at = (nonce: number) =>
      codeOf(() =>
        pool.add(transfer(0, nonce, 1).tx, transfer(0, nonce, 1).key, { balance: 1000n, nonce: 5n }, 0, 0),
      );
    expect(at(4)).toBe("BAD_NONCE");
    expect(at(9)).toBe("NONCE_GAP");
    expect(at(8)).toBe("true");
    expect(at(8)).toBe("false"); // the same bytes again: a duplicate, not an error
    expect(pool.size).toBe(1);
  });

  it("limits each sender and its balance: what waits must be covered", () => {
    const pool = new Mempool({ perSenderMax: 3 });
    const add = (s: number, n: number, account: SenderAccount, amount = 10) =>
      codeOf(() => pool.add(transfer(s, n, 1, amount).tx, transfer(s, n, 1, amount).key, account, 0, 0));
    for (let n = 0; n < 3; n++) expect(add(0, n, rich)).toBe("true");
    expect(add(0, 3, rich)).toBe("MEMPOOL_SENDER_LIMIT");
    const poor = { balance: 25n, nonce: 0n };
    expect(add(1, 0, poor)).toBe("true"); // 11 of 25
    expect(add(1, 1, poor)).toBe("true"); // 22 of 25
    expect(add(1, 2, poor)).toBe("INSUFFICIENT_FUNDS");
    expect(add(2, 0, undefined as unknown as SenderAccount)).toBe("INSUFFICIENT_FUNDS"); // no account at all
    expect([pool.countOf(toHex(address(0))), pool.countOf(toHex(address(1))), pool.size]).toEqual([3, 2, 5]);
  });

  it("refuses a transfer to itself, and drops a refused transaction with its sender's later nonces", () => {
    const pool = new Mempool();
    const self: ChainTx = {
      ...transfer(0, 0, 1).tx,
      tx: { ...(transfer(0, 0, 1).tx.tx as Extract<ChainTx, { type: "transfer" }>["tx"]), to: address(0) },
    } as ChainTx;
    expect(codeOf(() => pool.add(self, "self", rich, 0, 0))).toBe("SELF_TRANSFER");
    for (let n = 0; n < 3; n++) pool.add(transfer(0, n, 1).tx, `n${n}`, rich, 0, 0);
    pool.add(transfer(1, 0, 1).tx, "other", rich, 0, 0);
    pool.drop("n1");
    expect(["n0", "n1", "n2", "other"].map((k) => pool.has(k))).toEqual([true, false, false, true]);
    expect(pool.dropped).toBe(2);
  });

  it("replaces a waiting nonce only for a higher fee", () => {
    const pool = new Mempool();
    expect(pool.add(transfer(0, 0, 5).tx, "a", rich, 0, 0)).toBe(true);
    expect(codeOf(() => pool.add(transfer(0, 0, 5).tx, "b", rich, 0, 0))).toBe("FEE_TOO_LOW");
    expect(pool.add(transfer(0, 0, 6).tx, "c", rich, 0, 0)).toBe(true);
    expect([pool.has("a"), pool.has("c"), pool.size]).toEqual([false, true, 1]);
  });

  it("full: a funded user's higher-fee transfer gets in, the cheapest (oldest among equals) goes", () => {
    const pool = new Mempool({ capacity: 100, perSenderMax: 10, nonceGapMax: 20 });
    // 100 gapped fee-1 transfers from 10 senders (nonces 1..10: none can run).
    for (let s = 0; s < 10; s++)
      for (let n = 1; n <= 10; n++) pool.add(transfer(s, n, 1).tx, transfer(s, n, 1).key, rich, 0, 0);
    expect(pool.size).toBe(100);
    const user = 50;
    expect(codeOf(() => pool.add(transfer(user, 0, 1).tx, "same fee", rich, 0, 0))).toBe("MEMPOOL_FULL");
    expect(pool.add(transfer(user, 0, 2).tx, "higher fee", rich, 0, 0)).toBe(true);
    // The oldest fee-1 transfer was sender 0's nonce 1: it goes, with its later nonces (they cannot run).
    expect(pool.has(transfer(0, 1, 1).key)).toBe(false);
    expect(pool.countOf(toHex(address(0)))).toBe(0);
    expect(pool.size).toBe(91);
    expect(pool.dropped).toBe(10);
    // The user's transfer is what a block reads; the gapped ones are not even looked at.
    const scannedBefore = pool.scanned;
    expect(pool.ready(() => 0n, 1000).map((e) => e.key)).toEqual(["higher fee"]);
    expect(pool.scanned - scannedBefore).toBe(2); // one candidate sender, one entry
  });

  it("3,000 gapped transfers cost a block read nothing", () => {
    const pool = new Mempool({ perSenderMax: 64, nonceGapMax: 64 });
    for (let s = 0; s < 60; s++)
      for (let n = 1; n <= 50; n++) pool.add(transfer(s, n, 1).tx, transfer(s, n, 1).key, rich, 0, 0);
    expect(pool.size).toBe(3000);
    pool.add(transfer(99, 0, 1).tx, "ready", rich, 0, 0);
    pool.add(transfer(99, 1, 1).tx, "ready next", rich, 0, 0);
    expect(pool.ready(() => 0n, 1000).map((e) => e.key)).toEqual(["ready", "ready next"]);
    expect(pool.scanned).toBe(3); // the ready sender and its two transfers, not 3,002 entries
  });

  it("expires by committed height and by the injected clock, oldest first", () => {
    const pool = new Mempool({ expiryHeights: 5, expiryMs: 1000 });
    pool.add(transfer(0, 0, 1).tx, "h0", rich, 0, 0);
    pool.add(transfer(1, 0, 1).tx, "h3", rich, 3, 100);
    pool.add(transfer(2, 0, 1).tx, "late", rich, 4, 900);
    pool.committed([], () => 0n, 4, 500);
    expect(pool.size).toBe(3);
    pool.committed([], () => 0n, 5, 500); // h0 waited 5 heights
    expect([pool.has("h0"), pool.has("h3"), pool.size]).toEqual([false, true, 2]);
    pool.committed([], () => 0n, 6, 1100); // h3 waited 1000 ms
    expect([pool.has("h3"), pool.has("late")]).toEqual([false, true]);
  });

  it("after a commit, spent nonces leave and the sender's next run is ready", () => {
    const pool = new Mempool();
    for (let n = 0; n < 4; n++) pool.add(transfer(0, n, 1).tx, `n${n}`, rich, 0, 0);
    let next = 0n;
    expect(pool.ready(() => next, 2).map((e) => e.key)).toEqual(["n0", "n1"]);
    next = 2n;
    pool.committed([address(0)], () => next, 1, 0);
    expect(pool.ready(() => next, 10).map((e) => e.key)).toEqual(["n2", "n3"]);
    expect(pool.size).toBe(2);
  });

  it("refuses bad limits with coded errors", () => {
    expect(codeOf(() => new Mempool({ capacity: 0 }))).toBe("BAD_RANGE");
    expect(codeOf(() => new Mempool({ capacity: 10, perSenderMax: 11 }))).toBe("BAD_RANGE");
    expect(codeOf(() => new Mempool({ expiryMs: 1.5 }))).toBe("BAD_ARGUMENT");
  });
});

// ---------------------------------------------------------------- model test

interface ModelEntry {
  key: string;
  sender: string;
  nonce: bigint;
  fee: bigint;
  cost: bigint;
  height: number;
  atMs: number;
  seq: number;
}

/** The policy written as plainly as possible: a list, recomputed on every question. */
class NaiveMempool {
  entries: ModelEntry[] = [];
  private seq = 0;
  constructor(readonly limits: MempoolLimits) {}

  add(tx: ChainTx, key: string, account: SenderAccount, height: number, nowMs: number): string {
    if (this.entries.some((e) => e.key === key)) return "false";
    this.expire(height, nowMs);
    const sender = toHex(tx.tx.from);
    const { nonce, fee } = tx.tx;
    if (nonce < account.nonce) return "BAD_NONCE";
    if (nonce >= account.nonce + BigInt(this.limits.nonceGapMax)) return "NONCE_GAP";
    const mine = this.entries.filter((e) => e.sender === sender);
    const same = mine.find((e) => e.nonce === nonce);
    if (same && fee <= same.fee) return "FEE_TOO_LOW";
    if (!same && mine.length >= this.limits.perSenderMax) return "MEMPOOL_SENDER_LIMIT";
    const spending = mine.reduce((s, e) => s + e.cost, 0n) - (same?.cost ?? 0n) + costOf(tx);
    if (spending > account.balance) return "INSUFFICIENT_FUNDS";
    if (!same && this.entries.length >= this.limits.capacity) {
      const cheapest = [...this.entries].sort((a, b) =>
        a.fee === b.fee ? a.seq - b.seq : a.fee < b.fee ? -1 : 1,
      )[0]!;
      if (fee <= cheapest.fee || cheapest.sender === sender) return "MEMPOOL_FULL";
      this.dropFrom(cheapest);
    }
    if (same) this.entries = this.entries.filter((e) => e !== same);
    this.entries.push({ key, sender, nonce, fee, cost: costOf(tx), height, atMs: nowMs, seq: this.seq++ });
    return "true";
  }

  expire(height: number, nowMs: number): void {
    for (;;) {
      const oldest = [...this.entries].sort((a, b) => a.seq - b.seq)[0];
      if (oldest === undefined) return;
      const old =
        height - oldest.height >= this.limits.expiryHeights ||
        (this.limits.expiryMs !== undefined && nowMs - oldest.atMs >= this.limits.expiryMs);
      if (!old) return;
      this.dropFrom(oldest);
    }
  }

  ready(nonceOf: (sender: string) => bigint, max: number): string[] {
    const heads = [...new Set(this.entries.map((e) => e.sender))]
      .map((s) => this.entries.find((e) => e.sender === s && e.nonce === nonceOf(s)))
      .filter((e): e is ModelEntry => e !== undefined)
      .sort((a, b) => (a.fee === b.fee ? a.seq - b.seq : a.fee > b.fee ? -1 : 1));
    const out: string[] = [];
    for (const head of heads) {
      for (let e: ModelEntry | undefined = head; e !== undefined && out.length < max;) {
        out.push(e.key);
        const n: bigint = e.nonce + 1n;
        e = this.entries.find((x) => x.sender === head.sender && x.nonce === n);
      }
    }
    return out;
  }

  committed(senders: string[], nonceOf: (sender: string) => bigint, height: number, nowMs: number): void {
    this.entries = this.entries.filter((e) => !senders.includes(e.sender) || e.nonce >= nonceOf(e.sender));
    this.expire(height, nowMs);
  }

  drop(key: string): void {
    const e = this.entries.find((x) => x.key === key);
    if (e) this.dropFrom(e);
  }

  private dropFrom(e: ModelEntry): void {
    this.entries = this.entries.filter((x) => x.sender !== e.sender || x.nonce < e.nonce);
  }
}

type Op =
  | { kind: "add"; sender: number; ahead: number; fee: number; amount: number }
  | { kind: "block"; max: number }
  | { kind: "foreign"; sender: number }
  | { kind: "wait"; ms: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({
      kind: fc.constant("add" as const),
      sender: fc.nat(5),
      ahead: fc.integer({ min: -1, max: 5 }),
      fee: fc.integer({ min: 1, max: 4 }),
      amount: fc.nat(40),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant("block" as const), max: fc.integer({ min: 1, max: 6 }) }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("foreign" as const), sender: fc.nat(5) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("wait" as const), ms: fc.nat(400) }) },
);

describe("Mempool against a naive model (fast-check, seeded)", () => {
  it("same answers, same contents, same block reads for any sequence of operations", () => {
    const limits: MempoolLimits = {
      capacity: 6,
      perSenderMax: 3,
      nonceGapMax: 4,
      expiryHeights: 6,
      expiryMs: 3000,
    };
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 30, maxLength: 120 }), (ops) => {
        const pool = new Mempool(limits);
        const model = new NaiveMempool(limits);
        const accounts = Array.from({ length: 6 }, () => ({ balance: 120n, nonce: 0n }));
        const nonceOfHex = (hex: string) => accounts[Number.parseInt(hex.slice(0, 2), 16) - 1]!.nonce;
        const nonceOf = (from: Uint8Array) => accounts[from[0]! - 1]!.nonce;
        let [height, nowMs, serial] = [0, 0, 0];
        for (const op of ops) {
          if (op.kind === "add") {
            const a = accounts[op.sender]!;
            const { tx } = transfer(op.sender, Number(a.nonce) + op.ahead, op.fee, op.amount);
            const key = `k${serial++}`;
            if (tx.tx.nonce < 0n) continue;
            expect(codeOf(() => pool.add(tx, key, a, height, nowMs))).toBe(
              model.add(tx, key, a, height, nowMs),
            );
          } else if (op.kind === "block") {
            const taken = pool.ready(nonceOf, op.max);
            expect(taken.map((e) => e.key)).toEqual(model.ready(nonceOfHex, op.max));
            // Commit what a builder would: each sender's run until its balance runs out.
            const senders = new Set<number>();
            const stuck = new Set<string>();
            for (const e of taken) {
              const a = accounts[e.tx.tx.from[0]! - 1]!;
              if (stuck.has(e.sender)) continue;
              if (a.balance < e.cost) {
                // What the node does with a transaction the block cannot run: drop it.
                stuck.add(e.sender);
                pool.drop(e.key);
                model.drop(e.key);
                continue;
              }
              a.balance -= e.cost;
              a.nonce += 1n;
              senders.add(e.tx.tx.from[0]! - 1);
            }
            height++;
            pool.committed([...senders].map(address), nonceOf, height, nowMs);
            model.committed(
              [...senders].map((s) => toHex(address(s))),
              nonceOfHex,
              height,
              nowMs,
            );
          } else if (op.kind === "foreign") {
            // Another proposer's block spent this sender's next nonce (and funds) with a transaction we never saw.
            const a = accounts[op.sender]!;
            a.nonce += 1n;
            a.balance = a.balance > 50n ? a.balance - 50n : 0n;
            height++;
            pool.committed([address(op.sender)], nonceOf, height, nowMs);
            model.committed([toHex(address(op.sender))], nonceOfHex, height, nowMs);
          } else {
            nowMs += op.ms;
          }
          expect(pool.size).toBe(model.entries.length);
          expect(pool.size).toBeLessThanOrEqual(limits.capacity);
          for (const e of model.entries) expect(pool.has(e.key)).toBe(true);
        }
      }),
      { seed: 1414, numRuns: 300 },
    );
  });
});
