/**
 * Proof of work: compact targets, work and the PoW check (Bitcoin Core pow.cpp, arith_uint256.cpp).
 * @module
 */
export {
  MAINNET_POW_LIMIT_BITS,
  type Compact,
  type PowVerdict,
  type PowCheck,
  type PowCheckOptions,
  decodeCompact,
  encodeCompact,
  bitsToTarget,
  bitsToTargetBigInt,
  targetToBits,
  targetToBigInt,
  bigIntToTarget,
  workFromTarget,
  chainWork,
  difficulty,
  hashMeetsTarget,
  checkProofOfWork,
} from "./target.ts";
export { mine, type MineOptions, type MineProgress, type MineResult } from "./miner.ts";
export { MinerPool, type PoolSearchResult } from "./pool.ts";
