/**
 * Child process of the paged crash test: opens the paged ledger (paged-crash.ts) in argv[2] on the
 * engine argv[3] ("ts" or "wasm"), prints "opened <height> <engine>", and commits blocks forever,
 * printing "committed <height> <root hex>" after each commit returned.
 */
import { Ledger } from "../../bindings/chain/ledger.ts";
import { toHex } from "../../bindings/util/index.ts";
import { applyNextBlock } from "./crash-blocks.ts";
import { PAGED_CACHE_BYTES, pagedCrashOptions } from "./paged-crash.ts";

const dir = process.argv[2]!;
const engine = process.argv[3] === "wasm" ? "wasm" : "ts";
const ledger = await Ledger.open({ ...pagedCrashOptions(5), dir, cacheBytes: PAGED_CACHE_BYTES, engine });
process.stdout.write(`opened ${ledger.height} ${ledger.engine}\n`);
// Bounded by the parent's SIGKILL; the cap only guards against a parent that died.
for (let i = 0; i < 100_000; i++) {
  const root = await applyNextBlock(ledger, 60);
  process.stdout.write(`committed ${ledger.height} ${toHex(root)}\n`);
}
