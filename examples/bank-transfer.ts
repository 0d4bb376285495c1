/**
 * The bank transfer of the seed: Alice ($20), Bob ($5) and Carol ($0) on a durable ledger.
 *
 *   npx tsx examples/bank-transfer.ts          (Node, after `npm run build`)
 *   npx deno run -A examples/bank-transfer.ts  (Deno)
 *
 * Alice sends $10 to Bob while, at the same moment, she sends $15 to Carol: both transactions
 * want Alice's account, the lock manager makes the second wait, and when it runs Alice has only
 * $10 left — the "no negative balance" invariant refuses it and it rolls back. Then a transfer
 * that is rolled back on purpose leaves no trace, and one that commits survives a reopen.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ChainDbError, Ledger, transactional } from "chaindb";

const alice = new Uint8Array(32).fill(0xa1);
const bob = new Uint8Array(32).fill(0xb0);
const carol = new Uint8Array(32).fill(0xca);
const genesis = [
  { address: alice, balance: 20n },
  { address: bob, balance: 5n },
  { address: carol, balance: 0n },
];

function show(ledger: Ledger, when: string): bigint {
  const [a, b, c] = [alice, bob, carol].map((x) => ledger.account(x)?.balance ?? 0n);
  const total = a! + b! + c!;
  console.log(`${when.padEnd(44)} Alice $${a}  Bob $${b}  Carol $${c}  (total $${total})`);
  if (total !== 25n) throw new Error(`the balances add up to $${total}, not $25`);
  return total;
}

const dir = mkdtempSync(join(tmpdir(), "chaindb-bank-"));
try {
  const ledger = await Ledger.open({ dir, chainId: 1, genesis });
  const bank = transactional(ledger);
  show(ledger, "opening balances:");

  // 1. Two transfers from Alice at the same moment: exactly one succeeds.
  const outcomes = await Promise.allSettled([
    bank.transaction((tx) => tx.transfer(alice, bob, 10n)),
    bank.transaction((tx) => tx.transfer(alice, carol, 15n)),
  ]);
  outcomes.forEach((o, i) => {
    const what = i === 0 ? "Alice -> Bob $10" : "Alice -> Carol $15";
    const why =
      o.status === "rejected" && o.reason instanceof ChainDbError
        ? `${o.reason.code}: ${o.reason.message}`
        : String((o as PromiseRejectedResult).reason);
    console.log(`  ${what}: ${o.status === "fulfilled" ? "committed" : `failed (${why})`}`);
  });
  if (outcomes.filter((o) => o.status === "fulfilled").length !== 1)
    throw new Error("expected exactly one transfer to succeed");
  show(ledger, "after the two concurrent transfers:");

  // 2. A transfer rolled back on purpose leaves no trace.
  const tx = bank.begin();
  await tx.transfer(bob, carol, 15n);
  console.log(
    `  inside the open transaction Bob has $${await tx.balance(bob)}, outside $${ledger.account(bob)!.balance}`,
  );
  tx.rollback();
  show(ledger, "after a rolled-back transfer:");

  // 3. A transfer that commits is in the durable log when commit returns.
  await bank.transaction(async (t) => {
    await t.transfer(bob, carol, 7n);
    const sp = t.savepoint();
    await t.transfer(alice, carol, 10n); // changed our mind: undo just this part
    t.rollbackTo(sp);
  });
  show(ledger, "after Bob pays Carol $7:");
  await ledger.close();

  const reopened = await Ledger.open({ dir, chainId: 1, genesis });
  show(reopened, "after closing and reopening the ledger:");
  await reopened.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
