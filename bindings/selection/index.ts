/**
 * Resource selection: who may propose and vote, and with what power. Proof of stake (bonded stake
 * as voting power, unbonding, slashing and jailing on evidence, set changes two heights later as in
 * CometBFT) and delegated proof of stake (token holders elect the top K delegates per epoch).
 * Proof of work is the replication layer's multi-primary mode (a mining race), not a set.
 * @module
 */
export { StakingState, UNBONDINGS_MAX, compareAddresses, type StakingOptions, type StakingTx, type PoweredValidator } from "./pos.ts";
export { DelegateElection, type DposOptions } from "./dpos.ts";
