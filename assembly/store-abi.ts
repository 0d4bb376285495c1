/**
 * The store's ABI: key-value store (kv.ts), ledger state (state.ts, commit.ts), allocator statistics;
 * re-exported by index.ts.
 * @module
 */
export {
  kvCreate, kvIo, kvSize, kvCapacity, kvDepth, kvGetIo, kvPutIo, kvDeleteIo, kvClear,
  kvCheckpoint, kvRollback, kvRelease, kvNextSlot, kvSlotEntry,
} from "./kv";
export { heapUsed } from "./store-alloc";
export {
  commitHashCount, commitNodeCount, commitTestPrefixBits, commitBulkBegin, commitBulkLink, commitBulkEnd,
} from "./commit";
export {
  stateInit, stateAddrIo, stateProposerIo, stateCount, stateTxBuffer, stateStatusPtr, stateGet,
  stateBegin, stateCommit, stateAbort, stateApply, stateChangedCount, stateChanges, stateExportAll,
  stateLoadBuffer, stateLoad, stateReserve, stateRoot, stateProve, stateTestSkipHeap,
} from "./state";
export {
  parInit, parThreads, parStop, parWorkerRun, parWorkerWaitValue, parWorkerResume, parRootJobs, parSerialJobs, parTestSlowSpins,
} from "./parallel";
