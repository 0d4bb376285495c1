/**
 * The store's ABI: the key-value store (kv.ts) and allocator statistics, re-exported by index.ts.
 * @module
 */
export {
  kvCreate, kvIo, kvSize, kvCapacity, kvDepth, kvGetIo, kvPutIo, kvDeleteIo, kvClear,
  kvCheckpoint, kvRollback, kvRelease, kvNextSlot, kvSlotEntry,
} from "./kv";
export { heapUsed } from "./store-alloc";
