/**
 * Tendermint BFT consensus ("The latest gossip on BFT consensus", Buchman, Kwon, Milosevic,
 * Algorithm 1): the engine as a deterministic state machine, signed messages, CometBFT's proposer
 * selection, duplicate-vote evidence, and a seeded simulation.
 * @module
 */
export { Step, VoteType, DEFAULT_TIMEOUTS } from "./types.ts";
export type {
  Proposal,
  Vote,
  CommitCertificate,
  Evidence,
  Message,
  Timeout,
  ConsensusEvent,
  WalRecord,
  Effect,
  TimeoutConfig,
} from "./types.ts";
export {
  valueIdOf,
  proposalSignBytes,
  voteSignBytes,
  signProposal,
  signVote,
  verifyProposal,
  verifyProposalSignature,
  proposalHeader,
  isProposalHeader,
  verifyVote,
  verifyEd25519,
  cachingVerifier,
  encodeMessage,
  decodeMessage,
  VALUE_BYTES_MAX,
  type Verifier,
} from "./codec.ts";
export {
  ValidatorSet,
  ProposerPriorities,
  ProposerSchedule,
  compareBytes,
  TOTAL_POWER_MAX,
  VALIDATORS_MAX,
  type Validator,
} from "./validators.ts";
export { accused, evidenceKey, makeEvidence, verifyEvidence } from "./evidence.ts";
export { honest, type Behavior, type BehaviorContext } from "./behavior.ts";
export {
  TendermintEngine,
  ROUND_WINDOW,
  FUTURE_HEIGHTS,
  type EngineOptions,
  type EngineStats,
} from "./tendermint.ts";
export {
  BYZANTINE_STRATEGIES,
  byzantine,
  type ByzantineStrategy,
  type ByzantineOptions,
} from "./byzantine.ts";
export {
  BlockStore,
  SelectionSnapshot,
  BLOCK_SEGMENT_BYTES,
  type BlockStoreFiles,
  type StoredSelection,
} from "./store.ts";
export {
  encodeRecord,
  decodeRecord,
  frameRecord,
  parseWal,
  crc32,
  FileWal,
  WAL_FRAME_MAX,
  type WalContents,
} from "./wal.ts";
export {
  simulateConsensus,
  replayCommand,
  type SimulationOptions,
  type SimulationResult,
  type Invariant,
} from "./simulation.ts";
export {
  simulateConsensusNodes,
  nodeReplayCommand,
  type NodeSimulationOptions,
  type NodeSimulationResult,
  type NodeSelfTest,
  type NodeInvariant,
} from "./node-simulation.ts";
export { HostilePeer, HOSTILE_ATTACKS, type HostileAttack, type HostileOptions } from "./hostile.ts";
export {
  encodeBlock,
  decodeBlock,
  verifyCommit,
  verifyBlockEvidence,
  blockCommitOf,
  BLOCK_EVIDENCE_MAX,
  type Block,
  type BlockCommit,
} from "./block.ts";
export {
  ConsensusNode,
  appRoot,
  MEMPOOL_MAX,
  DEFAULT_SYNC_RATE,
  SYNC_REQUEST_COST,
  DEFAULT_INBOX_LIMITS,
  type InboxLimits,
  type ConsensusNodeOptions,
  type ConsensusNodeStatus,
  type ChainGenesis,
  type CommittedBlock,
} from "./node.ts";
export {
  Mempool,
  DEFAULT_MEMPOOL_LIMITS,
  costOf,
  type MempoolLimits,
  type MempoolEntry,
  type SenderAccount,
} from "./mempool.ts";
export {
  driveTendermint,
  tendermintEffects,
  type TendermintWorld,
  type TendermintDriverOptions,
} from "./driver.ts";
