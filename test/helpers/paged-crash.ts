/**
 * The paged ledger of the crash tests: the crash-test accounts (crash-blocks.ts) plus 500 idle
 * accounts, in pages with a 4 KB cache, so nearly every page a block touches is evicted to the
 * page log and read back (the ledger's pages are ~25 times its cache budget), and the log is
 * compacted at most checkpoints (a block rewrites most pages).
 */
import { accountRecord } from "../../bindings/engine/index.ts";
import { CRASH_CHAIN, crashGenesis } from "./crash-blocks.ts";
import { prng } from "./ledger-fixtures.ts";

/** Cache budget of the paged crash ledger (bytes). */
export const PAGED_CACHE_BYTES = 4096;
/** Idle accounts next to the crash-test accounts. */
export const PAGED_IDLE_ACCOUNTS = 500;

/** Options of the paged crash ledger (without `dir`), and of its in-memory reference (`cacheBytes` dropped). */
export function pagedCrashOptions(snapshotEvery: number): {
  chainId: number;
  genesis: ReturnType<typeof crashGenesis>;
  genesisRecords: Uint8Array;
  snapshotEvery: number;
} {
  const rand = prng(424242);
  const records = new Uint8Array(PAGED_IDLE_ACCOUNTS * 48);
  for (let i = 0; i < PAGED_IDLE_ACCOUNTS; i++) {
    const a = Uint8Array.from({ length: 32 }, () => Math.floor(rand() * 256));
    records.set(accountRecord(a, BigInt(i + 1), 0n), i * 48);
  }
  return { chainId: CRASH_CHAIN, genesis: crashGenesis(), genesisRecords: records, snapshotEvery };
}
