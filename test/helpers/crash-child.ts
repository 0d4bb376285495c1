/**
 * Child process of the crash test: opens the ledger in argv[2] and commits blocks forever,
 * printing "committed <height> <root hex>" after each commit has returned (so after its fsync).
 */
import { Ledger } from "../../bindings/chain/ledger.ts";
import { toHex } from "../../bindings/util/index.ts";
import { CRASH_CHAIN, applyNextBlock, crashGenesis } from "./crash-blocks.ts";

const dir = process.argv[2]!;
const engine = (process.argv[3] ?? "wasm") as "wasm" | "ts";
const ledger = await Ledger.open({
  dir,
  engine,
  chainId: CRASH_CHAIN,
  genesis: crashGenesis(),
  snapshotEvery: 7,
});
process.stdout.write(`opened ${ledger.height} ${toHex(ledger.root())}\n`);
// Bounded by the parent's SIGKILL; the cap only guards against a parent that died.
for (let i = 0; i < 100_000; i++) {
  const root = await applyNextBlock(ledger);
  process.stdout.write(`committed ${ledger.height} ${toHex(root)}\n`);
}
