/**
 * Resource selection: who may propose and vote, and with what power. Proof of stake (bonded stake
 * as voting power, unbonding, slashing and jailing on evidence, set changes two heights later as in
 * CometBFT) and delegated proof of stake (token holders elect the top K delegates per epoch).
 * Proof of work is the replication layer's multi-primary mode (a mining race), not a set.
 * @module
 */
export { StakingState, type StakingOptions, type StakingTx, type Offence } from "./pos.ts";
export { TOTAL_POWER_MAX, UNBONDINGS_MAX, compareAddresses, type PoweredValidator } from "./types.ts";
export { DelegateElection, type DposOptions } from "./dpos.ts";
export {
  SelectionState,
  BlockRun,
  DEFAULT_SELECTION_PARAMS,
  STAKE_POOL,
  BURN_ADDRESS,
  EVIDENCE_AGE_MAX,
  poolGenesisBalance,
  type SelectionMode,
  type SelectionParams,
  type SelectionJson,
  type AccountView,
  type Bond,
  type GenesisElection,
} from "./state.ts";
export {
  signStakingTx,
  decodeStakingTx,
  verifyStakingTxSignature,
  decodeChainTx,
  encodeBlockTxs,
  decodeBlockTxs,
  STAKING_TX_VERSION,
  STAKING_TX_BASE_SIZE,
  STAKING_KINDS,
  BALLOT_CANDIDATES_MAX,
  BLOCK_TXS_MAX,
  type StakingKind,
  type StakingTransaction,
  type StakingTxFields,
  type ChainTx,
  type BlockTxs,
} from "./txs.ts";
