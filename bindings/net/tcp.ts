/**
 * TcpTransport: the {@link Transport} over node:net for a known set of nodes (chosen over
 * js-libp2p, which needs a Promise.withResolvers polyfill on Node 20 and was about 50× slower
 * here for bulk messages; a known validator set needs no discovery).
 *
 * - Frames: 4-byte length ‖ type ‖ body (frame.ts), at most `frameMax` bytes; an oversized,
 *   truncated or garbage frame closes that one connection, never the transport.
 * - Handshake (mutual, SIGMA-style challenge–response): both sides send HELLO (node id, ed25519
 *   public key, a fresh 32-byte challenge); each answers with PROOF, its signature over the
 *   domain, the network name, the other side's challenge and both public keys. A node id that is
 *   not configured, a key that does not match the configured one, or a bad signature is refused.
 *   Binding both keys and the fresh challenge makes a recorded PROOF useless on another connection.
 * - One connection per pair: the node with the smaller id dials, and redials with exponential
 *   backoff and jitter after a loss; a newer authenticated connection replaces an older one (a
 *   restarted peer).
 * - Backpressure: a send that would grow the socket's unsent bytes past `sendQueueMaxBytes` is
 *   refused (returns false) instead of buffering without bound.
 * @module
 */
import { createServer, connect } from "node:net";
import type { Server, Socket } from "node:net";
import { randomBytes } from "node:crypto";
import { ChainDbError, ErrorCode, aint, abytes, assert, equalBytes } from "../util/index.ts";
import { FRAME_HEADER_SIZE, FRAME_MAX_DEFAULT, FrameDecoder } from "./frame.ts";
import { verifyNodeSignature, type NodeKey } from "./node-key.ts";
import type { NodeId, Transport, TransportHandler } from "./types.ts";

/** A configured peer: its id, its public key, and where to dial it (if this side dials). */
export interface TcpPeer {
  id: NodeId;
  publicKey: Uint8Array;
  host?: string;
  port?: number;
}

/** Options of {@link TcpTransport.start}. */
export interface TcpTransportOptions {
  /** This node's id. */
  id: NodeId;
  /** This node's signing key (its public key must be the one peers have configured). */
  key: NodeKey;
  /** Where to accept connections; omitted: dial only. Port 0 picks a free port. */
  listen?: { host: string; port: number };
  /** The other nodes. */
  peers: readonly TcpPeer[];
  /** Name of the network, bound into every handshake signature (default "chaindb"). */
  network?: string;
  /** Largest frame body in bytes (default 16 MiB). */
  frameMax?: number;
  /** Most unsent bytes per connection before sends are refused (default 32 MiB). */
  sendQueueMaxBytes?: number;
  /** Time allowed for the handshake (default 5000 ms). */
  handshakeTimeoutMs?: number;
  /** First and largest redial delay (defaults 50 ms and 2000 ms). */
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  /** Told about each connection that failed or was refused (diagnostics, tests). */
  onConnectionError?: (error: Error, peer: NodeId | undefined) => void;
}

/** Counters of one transport. */
export interface TcpStats {
  framesSent: number;
  framesReceived: number;
  refusedBackpressure: number;
  handshakesFailed: number;
  connectionsOpened: number;
}

const enum FrameType {
  Hello = 1,
  Proof = 2,
  Data = 3,
}
const DOMAIN = new TextEncoder().encode("chaindb/net/handshake/v1");
const CHALLENGE_SIZE = 32;
const NODE_ID_MAX = 64;
const HANDSHAKE_FRAME_MAX = 1 + 32 + CHALLENGE_SIZE + NODE_ID_MAX;

/** Transport over TCP between a known set of authenticated nodes. */
export class TcpTransport implements Transport {
  /** Counters. */
  readonly stats: TcpStats = { framesSent: 0, framesReceived: 0, refusedBackpressure: 0, handshakesFailed: 0, connectionsOpened: 0 };
  private handler: TransportHandler | undefined;
  private readonly peersById = new Map<NodeId, TcpPeer>();
  private readonly open = new Map<NodeId, Connection>();
  private readonly sockets = new Set<Socket>();
  private readonly redialTimers = new Map<NodeId, ReturnType<typeof setTimeout>>();
  private readonly backoff = new Map<NodeId, number>();
  private server: Server | undefined;
  private closed = false;
  /** @internal */ readonly frameMax: number;
  /** @internal */ readonly sendQueueMaxBytes: number;
  /** @internal */ readonly handshakeTimeoutMs: number;
  /** @internal */ readonly networkName: Uint8Array;

  private constructor(private readonly options: TcpTransportOptions) {
    this.frameMax = aint(options.frameMax ?? FRAME_MAX_DEFAULT, 16, 2 ** 31, "frameMax");
    this.sendQueueMaxBytes = aint(options.sendQueueMaxBytes ?? 32 * 1024 * 1024, 1, 2 ** 40, "sendQueueMaxBytes");
    this.handshakeTimeoutMs = aint(options.handshakeTimeoutMs ?? 5000, 1, 3_600_000, "handshakeTimeoutMs");
    this.networkName = new TextEncoder().encode(options.network ?? "chaindb");
    checkNodeId(options.id);
    abytes(options.key?.publicKey, 32, "key.publicKey");
    for (const p of options.peers) {
      checkNodeId(p.id);
      abytes(p.publicKey, 32, `peer ${p.id} publicKey`);
      if (p.id === options.id || this.peersById.has(p.id)) throw new ChainDbError(ErrorCode.BAD_ARGUMENT, `duplicate node id "${p.id}"`);
      this.peersById.set(p.id, p);
    }
  }

  /** Starts listening (if configured) and dialing; resolves once the listener is bound. */
  static async start(options: TcpTransportOptions): Promise<TcpTransport> {
    const t = new TcpTransport(options);
    if (options.listen !== undefined) await t.listen(options.listen.host, options.listen.port);
    for (const p of options.peers) if (t.dials(p)) t.dial(p.id);
    return t;
  }

  /** This node's id. */
  get self(): NodeId {
    return this.options.id;
  }

  /** The configured peers, in configuration order. */
  get peerIds(): readonly NodeId[] {
    return [...this.peersById.keys()];
  }

  /** The bound listening address (with the real port when 0 was asked for). */
  get address(): { host: string; port: number } | undefined {
    const a = this.server?.address();
    return a !== null && typeof a === "object" ? { host: a.address, port: a.port } : undefined;
  }

  /** True when an authenticated connection to `peer` is open. */
  isConnected(peer: NodeId): boolean {
    return this.open.has(peer);
  }

  /** Sends one message; false when not connected, closed, or over the send-queue bound. */
  send(to: NodeId, payload: Uint8Array): boolean {
    const conn = this.open.get(to);
    if (conn === undefined || this.closed) return false;
    return conn.sendFrame(FrameType.Data, payload);
  }

  /** Sends to every connected peer. */
  broadcast(payload: Uint8Array): number {
    let n = 0;
    for (const id of this.open.keys()) if (this.send(id, payload)) n++;
    return n;
  }

  /** Installs the handler. */
  setHandler(handler: TransportHandler): void {
    this.handler = handler;
  }

  /** Resolves when `peer`'s unsent bytes drop below half the bound (or it disconnects). */
  async writable(peer: NodeId): Promise<void> {
    const conn = this.open.get(peer);
    if (conn === undefined || conn.unsentBytes < this.sendQueueMaxBytes / 2) return;
    await conn.drained();
  }

  /** Stops listening and dialing and closes every connection; resolves when all sockets closed. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.redialTimers.values()) clearTimeout(t);
    this.redialTimers.clear();
    const closing = [...this.sockets].map((s) => new Promise<void>((resolve) => {
      if (s.destroyed) return resolve();
      s.once("close", () => resolve());
      s.end();
      // A peer that does not finish its side within a second is cut off.
      setTimeout(() => s.destroy(), 1000).unref();
    }));
    const server = this.server;
    if (server !== undefined) closing.push(new Promise((resolve) => server.close(() => resolve())));
    await Promise.all(closing);
    this.open.clear();
    this.handler = undefined;
  }

  private listen(host: string, port: number): Promise<void> {
    const server = createServer((socket) => this.adopt(socket, undefined));
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => {
        server.off("error", reject);
        resolve();
      });
    });
  }

  private dials(p: TcpPeer): boolean {
    return p.host !== undefined && p.port !== undefined && this.options.id < p.id;
  }

  private dial(id: NodeId): void {
    if (this.closed || this.open.has(id)) return;
    const p = this.peersById.get(id)!;
    const socket = connect({ host: p.host!, port: p.port! });
    this.adopt(socket, id);
  }

  private scheduleRedial(id: NodeId): void {
    const p = this.peersById.get(id);
    if (this.closed || p === undefined || !this.dials(p) || this.redialTimers.has(id) || this.open.has(id)) return;
    const min = this.options.reconnectMinMs ?? 50;
    const max = this.options.reconnectMaxMs ?? 2000;
    const delay = this.backoff.get(id) ?? min;
    this.backoff.set(id, Math.min(max, delay * 2));
    const timer = setTimeout(() => {
      this.redialTimers.delete(id);
      this.dial(id);
    }, delay * (0.5 + Math.random() / 2));
    this.redialTimers.set(id, timer);
  }

  private adopt(socket: Socket, expected: NodeId | undefined): void {
    if (this.closed) return void socket.destroy();
    socket.setNoDelay(true);
    this.sockets.add(socket);
    const conn = new Connection(this, socket, expected);
    socket.once("close", () => {
      this.sockets.delete(socket);
      const peer = conn.peer;
      if (peer !== undefined && this.open.get(peer) === conn) {
        this.open.delete(peer);
        if (!this.closed) this.handler?.onPeerDown?.(peer);
      }
      const redial = expected ?? peer;
      if (redial !== undefined) this.scheduleRedial(redial);
    });
  }

  /** @internal The configured peer `id`, or undefined. */
  peer(id: NodeId): TcpPeer | undefined {
    return this.peersById.get(id);
  }

  /** @internal */
  get key(): NodeKey {
    return this.options.key;
  }

  /** @internal A connection finished its handshake. */
  authenticated(conn: Connection): void {
    const peer = conn.peer!;
    const previous = this.open.get(peer);
    this.open.set(peer, conn);
    this.backoff.delete(peer);
    this.stats.connectionsOpened++;
    if (previous !== undefined) previous.destroy(); // a restarted peer: the new connection wins
    else this.handler?.onPeerUp?.(peer);
  }

  /** @internal */
  deliver(peer: NodeId, payload: Uint8Array): void {
    this.stats.framesReceived++;
    this.handler?.onMessage(peer, payload);
  }

  /** @internal */
  failed(error: Error, peer: NodeId | undefined, handshake: boolean): void {
    if (handshake) this.stats.handshakesFailed++;
    this.options.onConnectionError?.(error, peer);
  }
}

/** One TCP connection: handshake, then data frames. */
class Connection {
  /** The authenticated (or, while dialing, expected) peer. */
  peer: NodeId | undefined;
  private state: "hello" | "proof" | "open" | "closed" = "hello";
  private readonly decoder: FrameDecoder;
  private readonly challenge = new Uint8Array(randomBytes(CHALLENGE_SIZE));
  private peerKey: Uint8Array | undefined;
  private readonly timer: ReturnType<typeof setTimeout>;

  constructor(
    private readonly t: TcpTransport,
    private readonly socket: Socket,
    private readonly expected: NodeId | undefined,
  ) {
    // Handshake frames are small: a peer that claims a big one before proving itself is refused,
    // so an unauthenticated connection cannot make us buffer a maximum-size frame.
    this.decoder = new FrameDecoder(HANDSHAKE_FRAME_MAX);
    this.timer = setTimeout(() => this.fail(new ChainDbError(ErrorCode.HANDSHAKE_FAILED, "handshake timed out")), t.handshakeTimeoutMs);
    this.timer.unref?.();
    socket.on("data", (chunk: Buffer) => this.onData(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length)));
    socket.on("error", (error) => this.fail(error));
    socket.on("close", () => this.closeQuietly());
    const hello = () => this.sendFrame(FrameType.Hello, concat(t.key.publicKey, this.challenge, new TextEncoder().encode(t.self)), true);
    if (socket.connecting) socket.once("connect", hello);
    else hello();
  }

  get unsentBytes(): number {
    return this.socket.writableLength;
  }

  drained(): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        this.socket.off("drain", done);
        this.socket.off("close", done);
        resolve();
      };
      this.socket.on("drain", done);
      this.socket.on("close", done);
    });
  }

  sendFrame(type: FrameType, body: Uint8Array, force = false): boolean {
    if (this.state === "closed" || this.socket.destroyed) return false;
    if (body.length + 1 > this.t.frameMax) {
      throw new ChainDbError(ErrorCode.FRAME_TOO_LARGE, `message of ${body.length} bytes exceeds the frame maximum of ${this.t.frameMax - 1}`);
    }
    const frame = new Uint8Array(FRAME_HEADER_SIZE + 1 + body.length);
    new DataView(frame.buffer).setUint32(0, 1 + body.length, false);
    frame[FRAME_HEADER_SIZE] = type;
    frame.set(body, FRAME_HEADER_SIZE + 1);
    if (!force && this.socket.writableLength + frame.length > this.t.sendQueueMaxBytes) {
      this.t.stats.refusedBackpressure++;
      return false;
    }
    this.socket.write(frame);
    this.t.stats.framesSent++;
    return true;
  }

  destroy(): void {
    this.state = "closed";
    this.socket.destroy();
  }

  private onData(chunk: Uint8Array): void {
    if (this.state === "closed") return;
    let frames: Uint8Array[];
    try {
      frames = this.decoder.push(chunk);
    } catch (error) {
      return this.fail(error as Error);
    }
    for (const frame of frames) {
      if (this.isClosed()) return;
      try {
        this.onFrame(frame[0]!, frame.subarray(1));
      } catch (error) {
        if (!(error instanceof ChainDbError)) throw error; // a bug in a handler: crash loudly
        return this.fail(error);
      }
    }
  }

  private onFrame(type: number, body: Uint8Array): void {
    if (this.state === "open" && type === FrameType.Data) return this.t.deliver(this.peer!, body);
    if (this.state === "hello" && type === FrameType.Hello) return this.onHello(body);
    if (this.state === "proof" && type === FrameType.Proof) return this.onProof(body);
    throw new ChainDbError(ErrorCode.BAD_MESSAGE, `unexpected frame type ${type} in state ${this.state}`);
  }

  private onHello(body: Uint8Array): void {
    if (body.length <= 32 + CHALLENGE_SIZE || body.length > 32 + CHALLENGE_SIZE + NODE_ID_MAX) {
      throw new ChainDbError(ErrorCode.HANDSHAKE_FAILED, `malformed hello (${body.length} bytes)`);
    }
    const key = body.slice(0, 32);
    const theirChallenge = body.subarray(32, 32 + CHALLENGE_SIZE);
    const id = new TextDecoder().decode(body.subarray(32 + CHALLENGE_SIZE));
    const known = this.t.peer(id);
    if (known === undefined) throw new ChainDbError(ErrorCode.PEER_UNKNOWN, `unknown node "${id}"`);
    if (this.expected !== undefined && id !== this.expected) {
      throw new ChainDbError(ErrorCode.HANDSHAKE_FAILED, `dialed "${this.expected}" but "${id}" answered`);
    }
    if (!equalBytes(key, known.publicKey)) throw new ChainDbError(ErrorCode.HANDSHAKE_FAILED, `node "${id}" presented a key that is not its configured key`);
    this.peer = id;
    this.peerKey = key;
    this.state = "proof";
    this.sendFrame(FrameType.Proof, this.t.key.sign(this.statement(theirChallenge, this.t.key.publicKey, key)), true);
  }

  private onProof(body: Uint8Array): void {
    assert(this.peerKey !== undefined, "proof follows hello");
    const statement = this.statement(this.challenge, this.peerKey, this.t.key.publicKey);
    if (body.length !== 64 || !verifyNodeSignature(this.peerKey, statement, body)) {
      throw new ChainDbError(ErrorCode.HANDSHAKE_FAILED, `node "${this.peer}" failed to prove its key`);
    }
    clearTimeout(this.timer);
    this.state = "open";
    this.decoder.frameMax = this.t.frameMax; // data frames may now be as large as configured
    this.t.authenticated(this);
  }

  private statement(challenge: Uint8Array, signerKey: Uint8Array, verifierKey: Uint8Array): Uint8Array {
    return concat(DOMAIN, this.t.networkName, challenge, signerKey, verifierKey);
  }

  private fail(error: Error): void {
    if (this.state === "closed") return;
    const handshake = this.state !== "open";
    this.closeQuietly();
    this.socket.destroy();
    this.t.failed(error, this.peer ?? this.expected, handshake);
  }

  private isClosed(): boolean {
    return this.state === "closed";
  }

  private closeQuietly(): void {
    this.state = "closed";
    clearTimeout(this.timer);
  }
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function checkNodeId(id: unknown): void {
  if (typeof id !== "string" || id.length === 0 || new TextEncoder().encode(id).length > NODE_ID_MAX) {
    throw new ChainDbError(ErrorCode.BAD_ARGUMENT, `node id expected a string of 1..${NODE_ID_MAX} bytes, got ${JSON.stringify(id)}`);
  }
}
