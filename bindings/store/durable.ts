/**
 * Durable ledger log (placeholder until the SQLite store lands).
 * @module
 */
import { ChainDbError, ErrorCode } from "../util/index.ts";
import type { LedgerState } from "../engine/state-types.ts";
import type { LedgerLog } from "../chain/ledger.ts";

/** What a durable store is opened with. */
export interface DurableMeta {
  /** Chain id. */
  chainId: number;
  /** State tree depth. */
  treeDepth: number;
  /** Genesis account records. */
  genesis: Uint8Array;
}

/** Opens (or creates) the durable log in `dir` and restores `state` from it. */
export async function openDurableLog(dir: string, meta: DurableMeta, state: LedgerState): Promise<{ log: LedgerLog; height: number }> {
  void dir; void meta; void state;
  throw new ChainDbError(ErrorCode.BAD_ARGUMENT, "durable ledgers are not implemented yet");
}
