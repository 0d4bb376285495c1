/**
 * Child process of the group-commit crash test: opens a durable ledger in argv[2] with CLIENTS
 * pairs of accounts, then CLIENTS concurrent clients each move 1 from its account A to its
 * account B in a loop, printing "ack <client> <count>" after every commit resolves, until the
 * parent's SIGKILL.
 */
import { Ledger } from "../../bindings/chain/index.ts";
import { transactional } from "../../bindings/txn/index.ts";
import { GROUP_CLIENTS, GROUP_START, groupGenesis, groupPair } from "./txn-fixtures.ts";

const ledger = await Ledger.open({ chainId: 9, genesis: groupGenesis(), dir: process.argv[2]! });
const db = transactional(ledger);
const deadline = Date.now() + 30_000; // bounds a parent that died
await Promise.all(
  Array.from({ length: GROUP_CLIENTS }, async (_, c) => {
    const [a, b] = groupPair(c);
    for (let n = 1; Date.now() < deadline && n < Number(GROUP_START); n++) {
      await db.transaction((tx) => tx.transfer(a, b, 1n));
      process.stdout.write(`ack ${c} ${n}\n`);
    }
  }),
);
process.exit(3);
