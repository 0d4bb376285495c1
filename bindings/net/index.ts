/**
 * Network: the {@link Transport} interface and its two implementations — the deterministic
 * in-process `SimNetwork` (seeded faults, virtual time, crash/restart with simulated disks) and
 * `TcpTransport` over node:net (a secure channel: X25519 + ed25519 station-to-station handshake,
 * ChaCha20-Poly1305 sealed frames; bounded handshakes, inboxes and per-peer budgets).
 * @module
 */
export { systemClock, type Clock, type NodeId, type Transport, type TransportHandler } from "./types.ts";
export { Random } from "./random.ts";
export { SimStorage, SIM_STORAGE_KEYS_MAX } from "./sim-storage.ts";
export {
  SimNetwork,
  SimNode,
  SimTransport,
  DEFAULT_LINK,
  type LatencySpec,
  type LinkConfig,
  type SimNetworkOptions,
  type SimStats,
} from "./sim.ts";
export {
  TraceRecorder,
  TRACE_MESSAGES_MAX,
  violationSubjects,
  type Trace,
  type TraceMessage,
  type TraceFault,
  type TraceStep,
  type TraceViolation,
  type MessageFate,
  type MessageDescription,
  type TraceRecorderOptions,
} from "./trace.ts";
export { renderTraceHtml, TRACE_DRAWN_MESSAGES_MAX, type TraceRenderOptions } from "./trace-html.ts";
export {
  encodeMessage,
  decodeMessage,
  MESSAGE_DEPTH_MAX,
  MESSAGE_CONTAINERS_MAX,
  BIGINT_DIGITS_MAX,
  type MessageValue,
} from "./codec.ts";
export { encodeFrame, FrameDecoder, FRAME_HEADER_SIZE, FRAME_MAX_DEFAULT } from "./frame.ts";
export {
  nodeKeyFromSeed,
  generateNodeKey,
  verifyNodeSignature,
  loadOrCreateNodeKey,
  type NodeKey,
} from "./node-key.ts";
export {
  TcpTransport,
  HANDSHAKE_FRAME_MAX,
  type TcpPeer,
  type TcpTransportOptions,
  type TcpStats,
} from "./tcp.ts";
export {
  PeerBudget,
  BudgetVerdict,
  ConnectRate,
  CONNECT_RATE_ADDRESSES_MAX,
  budgetLimits,
  type PeerBudgetOptions,
  type PeerBudgetLimits,
} from "./budget.ts";
export {
  Sealer,
  newEphemeral,
  deriveSession,
  encodeHello,
  decodeHello,
  encodeAuth,
  decodeAuth,
  verifyAuth,
  authStatement,
  HELLO_SIZE,
  AUTH_MAX,
  SEAL_OVERHEAD,
  type Ephemeral,
  type Session,
  type Auth,
} from "./secure.ts";
