/**
 * A proposer without an account at the start of a block: the block may create it as a sender
 * (a zero-cost transfer) or as a recipient, and every later fee in the block must reach that one
 * account. The ts engine looks the proposer up once per `apply`; both engines must agree on
 * statuses, accounts and roots.
 */
import { describe, expect, it } from "vitest";
import { packTransfer } from "../../bindings/chain/transfer.ts";
import { accountRecord, createLedgerState, type LedgerState } from "../../bindings/engine/index.ts";

const addr = (i: number) => new Uint8Array(32).fill(i);
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const P = 0xee; // the proposer, with no account in the genesis

/** [from, to, amount, fee, nonce] */
type Tx = [number, number, bigint, bigint, bigint];

async function run(engine: "wasm" | "ts", blocks: Tx[][]) {
  const s: LedgerState = await createLedgerState(engine);
  s.load(Buffer.concat([1, 2, 3].map((i) => accountRecord(addr(i), 1000n, 0n))));
  const statuses: number[][] = [];
  for (const txs of blocks) {
    const packed = new Uint8Array(88 * txs.length);
    txs.forEach(([f, t, a, fee, n], i) => packTransfer(packed, i, addr(f), addr(t), a, fee, n));
    s.begin();
    statuses.push([...s.apply(packed, txs.length, addr(P))]);
    s.commit();
  }
  return { statuses, count: s.accountCount, root: hex(s.root()), proposer: s.account(addr(P)) };
}

describe("a proposer created inside its own block", () => {
  it.each([
    [
      "as a recipient",
      [
        [1, P, 5n, 1n, 0n],
        [2, 3, 7n, 2n, 0n],
        [3, 1, 1n, 3n, 0n],
      ] as Tx[],
      11n,
    ],
    [
      "as a zero-cost sender",
      [
        [P, 1, 0n, 0n, 0n],
        [2, 3, 7n, 2n, 0n],
        [1, P, 4n, 1n, 0n],
      ] as Tx[],
      7n,
    ],
  ])("%s: later fees reach its one account; ts equals wasm", async (_, txs, balance) => {
    const w = await run("wasm", [txs]);
    const t = await run("ts", [txs]);
    expect(w.statuses).toEqual([[0, 0, 0]]);
    expect(t).toEqual(w);
    expect(t.count).toBe(4);
    expect(t.proposer?.balance).toBe(balance);
  });
});
