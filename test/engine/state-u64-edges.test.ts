/**
 * The ts state engine keeps u64 balances and nonces as (lo, hi) u32 halves with explicit carries:
 * this differential property drives both engines with balances, amounts, fees and nonces at the
 * u32 and u64 edges (carries, borrows, OVERFLOW on every check) and requires identical statuses,
 * records and roots after each block.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { packTransfer } from "../../bindings/chain/transfer.ts";
import { accountRecord, createLedgerState } from "../../bindings/engine/index.ts";
import type { LedgerState } from "../../bindings/engine/index.ts";
import { prng } from "../helpers/ledger-fixtures.ts";
import { splitRecords } from "../helpers/smt-reference.ts";

const U64 = (1n << 64n) - 1n;
const EDGES = [0n, 1n, 2n, 0xffffffffn, 0x100000000n, 0x1ffffffffn, U64 >> 1n, U64 - 1n, U64];
const u64 = fc.oneof(
  fc.constantFrom(...EDGES),
  fc.bigInt({ min: 0n, max: U64 }),
  fc.bigInt({ min: 0n, max: 0x200000000n }),
);
const POOL = Array.from({ length: 6 }, (_, i) => {
  const rand = prng(77 + i);
  return Uint8Array.from({ length: 32 }, () => Math.floor(rand() * 256));
});
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const sorted = (s: LedgerState) => splitRecords(s.exportAll()).map(hex).sort();

describe("ts state u64 arithmetic at the edges", () => {
  it("statuses, records and roots equal wasm with balances, amounts, fees and nonces near 2^32 and 2^64", async () => {
    const tx = fc.tuple(fc.nat(5), fc.nat(5), u64, u64, fc.oneof(fc.constant(-1n), u64));
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(u64, u64), { minLength: 4, maxLength: 4 }),
        fc.array(fc.array(tx, { maxLength: 8 }), { minLength: 1, maxLength: 4 }),
        fc.nat(5),
        async (accounts, blocks, proposer) => {
          const states = [await createLedgerState("wasm"), await createLedgerState("ts")];
          const genesis = Buffer.concat(accounts.map(([b, n], i) => accountRecord(POOL[i]!, b, n)));
          for (const s of states) s.load(genesis);
          for (const txs of blocks) {
            // nonce -1 means "the sender's current nonce" (so most transfers reach the balance checks)
            const packed = new Uint8Array(88 * txs.length);
            txs.forEach(([f, t, amount, fee, nonce], i) => {
              const cur = states[1]!.account(POOL[f]!)?.nonce ?? 0n;
              packTransfer(packed, i, POOL[f]!, POOL[t]!, amount, fee, nonce < 0n ? cur : nonce);
            });
            const out = states.map((s) => {
              s.begin();
              const st = Array.from(s.apply(packed, txs.length, POOL[proposer]!));
              s.commit();
              return { st, recs: sorted(s), root: hex(s.root()) };
            });
            expect(out[1]).toEqual(out[0]);
          }
        },
      ),
      { numRuns: 150, seed: 42 },
    );
  }, 120_000);
});
