/**
 * Child process of the transaction crash test: opens the bank ledger in argv[2], commits one
 * transfer (Alice → Bob $3), then in a second transaction debits Alice $10, prints "debited" and
 * waits for the parent's SIGKILL before it can credit Carol.
 */
import { transactional } from "../../bindings/txn/index.ts";
import { toHex } from "../../bindings/util/index.ts";
import { ALICE, CAROL, BOB, openBank } from "./txn-fixtures.ts";

const ledger = await openBank(process.argv[2]!);
const db = transactional(ledger);
await db.transaction((tx) => tx.transfer(ALICE, BOB, 3n));
process.stdout.write(`committed ${toHex(ledger.root())}\n`);
const tx = db.begin();
const alice = await tx.getForUpdate(ALICE);
await tx.put(ALICE, { balance: alice!.balance - 10n, nonce: alice!.nonce });
process.stdout.write("debited\n");
// The parent kills us here; the timer only bounds a parent that died.
setTimeout(() => {
  void (async () => {
    await tx.put(CAROL, { balance: 10n, nonce: 0n });
    await tx.commit();
    process.exit(3);
  })();
}, 30_000);
