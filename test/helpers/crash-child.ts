/**
 * Child process of the crash test: opens the ledger in argv[2] and commits blocks forever,
 * printing "committed <height> <root hex>" after each commit has returned (so after its fsync).
 * With argv[4] = "pipelined" it keeps two blocks in flight (block n+1 executes while block n's
 * fsync runs) and prints each block's line when its promise resolves, i.e. once it is durable.
 */
import { Ledger } from "../../bindings/chain/ledger.ts";
import { toHex } from "../../bindings/util/index.ts";
import { CRASH_CHAIN, applyNextBlock, crashGenesis } from "./crash-blocks.ts";

const dir = process.argv[2]!;
const engine = (process.argv[3] ?? "wasm") as "wasm" | "ts";
const pipelined = process.argv[4] === "pipelined";
const ledger = await Ledger.open({
  dir,
  engine,
  chainId: CRASH_CHAIN,
  genesis: crashGenesis(),
  snapshotEvery: 7,
  pipelined,
});
process.stdout.write(`opened ${ledger.height} ${toHex(ledger.root())}\n`);
let inFlight: Promise<void> | undefined;
// Bounded by the parent's SIGKILL; the cap only guards against a parent that died.
for (let i = 0; i < 100_000; i++) {
  // applyNextBlock executes the block before it returns; its promise resolves once it is durable.
  const block = applyNextBlock(ledger);
  const height = ledger.height;
  const acked = block.then((root) => void process.stdout.write(`committed ${height} ${toHex(root)}\n`));
  if (!pipelined) await acked;
  else {
    await inFlight;
    inFlight = acked;
  }
}
