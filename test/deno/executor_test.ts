// Deno smoke test for the block executors with real Deno Web Workers: the parallel executor
// (signatures verified and disjoint groups executed on 2 workers) gives the serial result, and a
// ledger transaction pair from the seed (Alice pays Bob and Carol at once) keeps $25 in total.
import { Ledger, keyPairFromSeed, signTransfer } from "../../bindings/chain/index.ts";
import { ParallelExecutor, SerialExecutor } from "../../bindings/concurrency/index.ts";
import { transactional } from "../../bindings/txn/index.ts";
import { toHex } from "../../bindings/util/index.ts";

function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

Deno.test("parallel executor equals serial under Deno workers", async () => {
  const keys = Array.from({ length: 12 }, (_, i) => keyPairFromSeed(new Uint8Array(32).fill(i + 1)));
  const genesis = keys.map((k) => ({ address: k.publicKey, balance: 1_000n }));
  const proposer = new Uint8Array(32).fill(0xee);
  const nonces = keys.map(() => 0);
  const block = Array.from({ length: 80 }, (_, i) => {
    const from = (i * 5) % keys.length;
    return signTransfer(keys[from]!, {
      chainId: 3,
      to: keys[(from + 1) % keys.length]!.publicKey,
      amount: 1 + i,
      fee: 1,
      nonce: nonces[from]!++,
    });
  });
  const a = await Ledger.open({ chainId: 3, genesis });
  const b = await Ledger.open({ chainId: 3, genesis });
  const parallel = await ParallelExecutor.start({ workers: 2, parallelExecution: true });
  try {
    const want = await new SerialExecutor().execute(a, block, { proposer });
    const got = await parallel.execute(b, block, { proposer });
    check(JSON.stringify(got.statuses) === JSON.stringify(want.statuses), "statuses differ");
    check(toHex(got.root) === toHex(want.root), "roots differ");
    check(parallel.lastReport.path === "workers", `ran on ${parallel.lastReport.path}`);
  } finally {
    await parallel.close();
  }
});

Deno.test("Alice pays Bob and Carol at the same moment: exactly one succeeds", async () => {
  const [alice, bob, carol] = [0xa1, 0xb0, 0xca].map((x) => new Uint8Array(32).fill(x)) as [
    Uint8Array,
    Uint8Array,
    Uint8Array,
  ];
  const ledger = await Ledger.open({
    chainId: 1,
    genesis: [
      { address: alice, balance: 20n },
      { address: bob, balance: 5n },
      { address: carol, balance: 0n },
    ],
  });
  const db = transactional(ledger);
  const results = await Promise.allSettled([
    db.transaction((tx) => tx.transfer(alice, bob, 10n)),
    db.transaction((tx) => tx.transfer(alice, carol, 15n)),
  ]);
  check(results.filter((r) => r.status === "fulfilled").length === 1, "not exactly one success");
  const total = [alice, bob, carol].reduce((s, x) => s + ledger.account(x)!.balance, 0n);
  check(total === 25n, `total ${total}`);
});
