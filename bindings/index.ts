/**
 * chaindb: the database and distributed-systems layer under a blockchain. The package root
 * re-exports each layer's public face.
 * @module
 */

// errors and byte helpers
export { ChainDbError, ErrorCode, toHex, fromHex } from "./util/index.ts";

// engines: the hot paths in WebAssembly and in pure TypeScript
export { createEngine, ENGINE_NAMES, NONCE_SPACE, type Engine, type EngineName, type SearchResult } from "./engine/index.ts";

// chain formats
export {
  encodeHeader,
  decodeHeader,
  blockHash,
  blockHashBytes,
  getNonce,
  setNonce,
  headerWithNonce,
  setTime,
  hashToHex,
  hashFromHex,
  HEADER_SIZE,
  type BlockHeader,
} from "./chain/index.ts";

// proof of work
export {
  bitsToTarget,
  targetToBits,
  bitsToTargetBigInt,
  targetToBigInt,
  bigIntToTarget,
  difficulty,
  chainWork,
  workFromTarget,
  hashMeetsTarget,
  checkProofOfWork,
  MAINNET_POW_LIMIT_BITS,
  type PowCheckOptions,
  type PowVerdict,
  mine,
  MinerPool,
  type MineOptions,
  type MineProgress,
  type MineResult,
  type PowCheck,
} from "./pow/index.ts";
