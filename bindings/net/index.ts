/**
 * Network: the {@link Transport} interface and its two implementations — the deterministic
 * in-process `SimNetwork` (seeded faults, virtual time, crash/restart with simulated disks) and
 * `TcpTransport` over node:net (framed, authenticated with ed25519 node keys).
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
export { encodeMessage, decodeMessage, type MessageValue } from "./codec.ts";
export { encodeFrame, FrameDecoder, FRAME_HEADER_SIZE, FRAME_MAX_DEFAULT } from "./frame.ts";
export { nodeKeyFromSeed, generateNodeKey, verifyNodeSignature, loadOrCreateNodeKey, type NodeKey } from "./node-key.ts";
export { TcpTransport, type TcpPeer, type TcpTransportOptions, type TcpStats } from "./tcp.ts";
