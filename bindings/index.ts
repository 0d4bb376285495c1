/**
 * chaindb: the database and distributed-systems layer under a blockchain. The package root
 * re-exports each layer's public face.
 * @module
 */

// errors and byte helpers
export { ChainDbError, ErrorCode, toHex, fromHex } from "./util/index.ts";

// engines: the hot paths in WebAssembly and in pure TypeScript
export {
  createEngine,
  ENGINE_NAMES,
  NONCE_SPACE,
  type Engine,
  type EngineName,
  type SearchResult,
} from "./engine/index.ts";

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

// concurrency: synchronization primitives across threads, and the strict-2PL lock manager
export {
  Mutex,
  Semaphore,
  Event,
  ConditionVariable,
  Signal,
  type MutexHandle,
  type SemaphoreHandle,
  type EventHandle,
  type ConditionVariableHandle,
  type SignalHandle,
  type WaitOptions,
} from "./concurrency/index.ts";
export {
  LockManager,
  ManualClock,
  type LockMode,
  type LockKey,
  type TxId,
  type LockManagerOptions,
  type TimerClock,
} from "./txn/index.ts";

// ledger: ed25519 transfers, the account state machine, state proofs; the key-value store
export {
  generateKeyPair,
  keyPairFromSeed,
  signTransfer,
  decodeTransfer,
  verifyTransferSignature,
  Ledger,
  verifyProof,
  TRANSFER_SIZE,
  type KeyPair,
  type Transfer,
  type TransferFields,
  type LedgerOptions,
  type ApplyOptions,
  type BlockResult,
  type GenesisAllocation,
  type Account,
} from "./chain/index.ts";
// what an Engine creates: key-value stores and ledger states (engine.createKvStore(), …)
export {
  createKvStore,
  createLedgerState,
  STATE_THREADS_MAX,
  TransferCode,
  type LedgerStateOptions,
  type KvStore,
  type LedgerState,
  type AccountState,
  type ProofMaterial,
  type TransferStatus,
} from "./engine/index.ts";

// runtime: run a module in a worker thread on Node.js or Deno
export {
  spawnWorker,
  onParentMessage,
  inWorker,
  workerUrl,
  isDeno,
  runtimeVersion,
  cpuCount,
  type WorkerHandle,
  type WorkerEvents,
  type ParentChannel,
} from "./runtime/index.ts";

// network: the Transport interface, the deterministic SimNetwork and the authenticated TcpTransport
export {
  SimNetwork,
  SimNode,
  SimStorage,
  TcpTransport,
  Random,
  systemClock,
  nodeKeyFromSeed,
  generateNodeKey,
  loadOrCreateNodeKey,
  encodeMessage,
  decodeMessage,
  type NodeId,
  type Transport,
  type TransportHandler,
  type Clock,
  type LinkConfig,
  type SimNetworkOptions,
  type NodeKey,
  type TcpPeer,
  type TcpTransportOptions,
} from "./net/index.ts";

// single-primary replication: replicas, stores, the seeded simulation
export {
  Replica,
  NotPrimaryError,
  SimReplicaStore,
  FileReplicaStore,
  simulatePrimary,
  type ReplicaOptions,
  type ReplicaStatus,
  type ReplicaLedger,
  type ReplicaStore,
  type ReplicationConfig,
  type ReplicationMode,
  type SubmitResult,
  type SimulationReport,
} from "./replication/index.ts";

// transactions (strict 2PL, invariants, durable commits) and serial vs parallel block executors
export {
  transactional,
  TxDatabase,
  Transaction,
  LedgerDatabase,
  LedgerTransaction,
  KvDatabase,
  type TxAccount,
  type Invariant,
  type Change,
  type RetryOptions,
  type Savepoint,
  type TxDatabaseOptions,
  type LedgerDatabaseOptions,
  type KvDatabaseOptions,
} from "./txn/index.ts";
// two-phase commit across databases (presumed abort): cores, runner, banks, file log, simulation
export {
  Coordinator,
  Participant,
  TwoPcRunner,
  LogBank,
  LedgerBank,
  FileTwoPcLog,
  simulateTwoPc,
  type TwoPcOp,
  type TwoPcEffect,
  type TwoPcResource,
  type TwoPcLog,
  type TwoPcSimulationReport,
} from "./txn/index.ts";
export {
  SerialExecutor,
  ParallelExecutor,
  type BlockExecutor,
  type ParallelExecutorOptions,
  type ExecutionReport,
} from "./concurrency/index.ts";

// consensus: the Tendermint engine (Algorithm 1 of "The latest gossip on BFT consensus"), CometBFT
// proposer selection, signed messages, evidence, the write-ahead log, and the seeded simulation
export {
  TendermintEngine,
  ValidatorSet,
  ProposerSchedule,
  ProposerPriorities,
  Step,
  VoteType,
  DEFAULT_TIMEOUTS,
  signProposal,
  signVote,
  verifyProposal,
  verifyVote,
  verifyEvidence,
  valueIdOf,
  cachingVerifier,
  encodeMessage as encodeConsensusMessage,
  decodeMessage as decodeConsensusMessage,
  FileWal,
  honest,
  byzantine,
  BYZANTINE_STRATEGIES,
  simulateConsensus,
  replayCommand as consensusReplayCommand,
  type EngineOptions,
  type Effect as ConsensusEffect,
  type ConsensusEvent,
  type Message as ConsensusMessage,
  type Proposal,
  type Vote,
  type CommitCertificate,
  type Evidence,
  type WalRecord,
  type TimeoutConfig,
  type Validator,
  type Behavior,
  type ByzantineStrategy,
  type SimulationOptions as ConsensusSimulationOptions,
  type SimulationResult as ConsensusSimulationResult,
  ConsensusNode,
  driveTendermint,
  type TendermintWorld,
  type TendermintDriverOptions,
  type ConsensusNodeOptions,
  type ConsensusNodeStatus,
  type ChainGenesis,
  type CommittedBlock,
} from "./consensus/index.ts";

// the protocol driver every deterministic core runs under
export {
  ProtocolDriver,
  DEFAULT_DRIVER_LIMITS,
  type DriverLimits,
  type DriverOptions,
  type DriverState,
} from "./protocol/index.ts";

// resource selection: proof of stake (staking, unbonding, slashing) and delegated proof of stake
export {
  StakingState,
  DelegateElection,
  type StakingOptions,
  type StakingTx,
  type PoweredValidator,
  type DposOptions,
} from "./selection/index.ts";
// on a consensus chain: staking as signed ledger transactions, and the selection state they change
export {
  SelectionState,
  DEFAULT_SELECTION_PARAMS,
  STAKE_POOL,
  BURN_ADDRESS,
  signStakingTx,
  decodeStakingTx,
  verifyStakingTxSignature,
  type SelectionMode,
  type SelectionParams,
  type StakingKind,
  type StakingTransaction,
  type StakingTxFields,
} from "./selection/index.ts";
