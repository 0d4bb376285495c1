/**
 * The WebAssembly ABI of chaindb's core: this file only re-exports (one concern per file).
 * @module
 */
export { inputPtr, inputSize, outputPtr, growMemoryForTest } from "./io";
export {
  sha256Input, sha256dInput, sha256Init, sha256Update, sha256Final, sha256dFinal, sha256ManyInput,
  sha256Bytes, sha256dBytes, sha256Pairs4, sha256dPairs4,
} from "./sha256";
export { powInit, powSearch, powFoundNonce } from "./pow";
export { merkleLevelsInput, merkleRootInput } from "./merkle";
export * from "./store-abi";
export {
  pagedAlloc, pagedFree, pagedHashCount, pagedNodes, pagedLeaves, pagedPaths, pagedTopUpdate, pagedTopAll,
  pagedCrc32c,
} from "./paged";
