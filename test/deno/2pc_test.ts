// Deno smoke test for two-phase commit: a coordinator and two participant ledgers over the
// SimNetwork (1–10 ms links, duplicated and reordered messages) move money between the ledgers
// atomically; a transaction one participant refuses aborts and leaves no trace in either ledger
// (balances, state root, height, locks) nor a record that recovery would act on.
import { Ledger } from "../../bindings/chain/index.ts";
import { SimNetwork, decodeMessage, type SimNode } from "../../bindings/net/index.ts";
import { LedgerDatabase } from "../../bindings/txn/index.ts";
import {
  Coordinator,
  LedgerBank,
  Participant,
  TwoPcRunner,
  type TwoPcEffect,
  type TwoPcOp,
} from "../../bindings/txn/two-phase/index.ts";
import { fromHex, toHex } from "../../bindings/util/index.ts";

function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

const alice = toHex(new Uint8Array(32).fill(0xa1));
const bob = toHex(new Uint8Array(32).fill(0xb0));

/** Coordinator "c", bankA (alice: 100) and bankB (bob: 20), each runner started over one SimNetwork. */
async function cluster(seed: number) {
  const net = new SimNetwork({ seed, link: { duplicate: 0.2, reorder: 0.2 } });
  const [c, a, b] = ["c", "bankA", "bankB"].map((id) => net.addNode(id)) as [SimNode, SimNode, SimNode];
  const ledgers = {
    bankA: await Ledger.open({ chainId: 1, genesis: [{ address: fromHex(alice), balance: 100n }] }),
    bankB: await Ledger.open({ chainId: 1, genesis: [{ address: fromHex(bob), balance: 20n }] }),
  };
  // Nodes that forced a PREPARED record (voted YES).
  const prepared = new Set<string>();
  const observer = (node: string, e: TwoPcEffect) =>
    void (e.kind === "force" && (e.record as { state?: string }).state === "prepared" && prepared.add(node));
  const banks = {
    bankA: new LedgerBank(new LedgerDatabase(ledgers.bankA)),
    bankB: new LedgerBank(new LedgerDatabase(ledgers.bankB)),
  };
  for (const node of [a, b]) {
    const bank = banks[node.id as "bankA" | "bankB"];
    await new TwoPcRunner({
      transport: node.transport,
      clock: node.clock,
      log: node.storage,
      observer,
      resource: bank,
      core: new Participant(node.id, bank, { coordinators: ["c"] }),
    }).start();
  }
  const coordinator = new TwoPcRunner({
    transport: c.transport,
    clock: c.clock,
    log: c.storage,
    core: new Coordinator("c"),
  });
  await coordinator.start();
  /** Runs a transfer plan to its outcome and until every participant has released its locks. */
  const transfer = async (plan: Map<string, TwoPcOp[]>): Promise<boolean> => {
    let committed: boolean | undefined;
    void coordinator.begin(plan).outcome.then((v) => (committed = v));
    const settled = () =>
      committed !== undefined && banks.bankA.locksHeld === 0 && banks.bankB.locksHeld === 0;
    check(
      await net.runUntil(settled, 30_000),
      "the transaction did not finish within 30 s of simulated time",
    );
    return committed!;
  };
  const balance = (bank: "bankA" | "bankB", who: string) => ledgers[bank].account(fromHex(who))?.balance;
  return { net, nodes: { c, a, b }, ledgers, prepared, transfer, balance };
}

Deno.test("2PC: a transfer between two ledgers commits on both", async () => {
  const w = await cluster(3);
  const committed = await w.transfer(
    new Map([
      ["bankA", [{ account: alice, delta: -30n }]],
      ["bankB", [{ account: bob, delta: 30n }]],
    ]),
  );
  check(committed, "the transfer committed");
  check(
    await w.net.runUntil(() => w.balance("bankB", bob) === 50n, 30_000),
    `bob holds ${w.balance("bankB", bob)}`,
  );
  check(w.balance("bankA", alice) === 70n, `alice holds ${w.balance("bankA", alice)}`);
});

Deno.test(
  "2PC: a refused transfer aborts and leaves no trace in the ledgers, locks or recovery logs",
  async () => {
    const w = await cluster(4);
    const roots = { bankA: toHex(w.ledgers.bankA.root()), bankB: toHex(w.ledgers.bankB.root()) };
    const heights = { bankA: w.ledgers.bankA.height, bankB: w.ledgers.bankB.height };
    // bankA votes NO (alice would overdraw); bankB votes YES, prepares, and must undo that.
    const committed = await w.transfer(
      new Map([
        ["bankA", [{ account: alice, delta: -130n }]],
        ["bankB", [{ account: bob, delta: 130n }]],
      ]),
    );
    check(!committed, "the transfer aborted");
    check(w.prepared.has("bankB") && !w.prepared.has("bankA"), `prepared: ${[...w.prepared].join(", ")}`);
    await w.net.runUntil(() => false, 10_000); // let every re-send and inquiry play out
    check(
      w.balance("bankA", alice) === 100n && w.balance("bankB", bob) === 20n,
      `balances ${w.balance("bankA", alice)}, ${w.balance("bankB", bob)}`,
    );
    for (const bank of ["bankA", "bankB"] as const) {
      check(toHex(w.ledgers[bank].root()) === roots[bank], `${bank}: state root changed`);
      check(w.ledgers[bank].height === heights[bank], `${bank}: height changed`);
    }
    // Presumed abort: the coordinator logged nothing for the transaction (its epoch record only);
    // a participant keeps at most the lazy ABORTED record, never a PREPARED one that recovery would redo.
    const coordinatorKeys = w.nodes.c.storage.keys("2pc/");
    check(coordinatorKeys.join() === "2pc/c/epoch", `coordinator log: ${coordinatorKeys.join(", ")}`);
    for (const node of [w.nodes.a, w.nodes.b]) {
      for (const key of node.storage.keys("2pc/")) {
        const record = decodeMessage(node.storage.get(key)!) as { state?: string };
        check(record.state === "aborted", `${node.id}: ${key} is ${record.state}`);
      }
    }
  },
);
