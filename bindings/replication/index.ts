/**
 * Single-primary replication (Viewstamped Replication Revisited; Raft §5): a primary orders
 * transfers into blocks and ships them; secondaries apply committed blocks and serve reads;
 * failover by epoch-numbered elections with fencing of deposed primaries.
 * @module
 */
export { ReplicaCore, resolveConfig, type CoreStart } from "./core.ts";
export {
  Replica,
  NotPrimaryError,
  type ReplicaLedger,
  type ReplicaOptions,
  type ReplicaStatus,
  type SubmitResult,
} from "./replica.ts";
export {
  SimReplicaStore,
  FileReplicaStore,
  FileKeyStorage,
  encodeEntry,
  decodeEntry,
  type ReplicaStore,
} from "./store.ts";
export {
  encodeReplicaMessage,
  decodeReplicaMessage,
  replicaMessageSize,
  REPLICA_WIRE_VERSION,
  APPEND_ENTRIES_WIRE_MAX,
  ENTRY_TRANSFERS_WIRE_MAX,
} from "./wire.ts";
export type {
  DurableMeta,
  Entry,
  ReplicaEffect,
  ReplicaEvent,
  ReplicaMessage,
  ReplicationConfig,
  ReplicationMode,
  ResolvedConfig,
  Role,
  TimerName,
} from "./types.ts";
export { simulatePrimary, type PrimarySimulationOptions, type SimulationReport } from "./simulate.ts";
export { PowNode, type PowNodeOptions, type PowLedger } from "./pow-node.ts";
export {
  PowCore,
  type PowCoreOptions,
  type PowEffect,
  type PowEvent,
  type PowExecution,
  type PowLedgerView,
} from "./pow-core.ts";
export {
  encodeBlock,
  decodeBlock,
  checkBlockStateless,
  blockMerkleRoot,
  newHeader,
  GENESIS_ID,
  POW_BLOCK_TRANSFERS_MAX,
  type PowBlock,
} from "./pow-block.ts";
export { simulatePow, type PowSimulationOptions } from "./pow-simulate.ts";
