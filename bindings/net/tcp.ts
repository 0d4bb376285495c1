/**
 * TcpTransport: the {@link Transport} over node:net for a known set of nodes (chosen over
 * js-libp2p, which needs a Promise.withResolvers polyfill on Node 20 and was about 50× slower
 * here for bulk messages; a known validator set needs no discovery).
 *
 * - Secure channel (secure.ts): a station-to-station handshake as CometBFT's SecretConnection —
 *   ephemeral X25519 per connection, the ed25519 node key signing a challenge derived from both
 *   ephemeral keys, then every frame sealed with ChaCha20-Poly1305 under per-direction keys and
 *   counter nonces. After verifying the peer's AUTH a side sends a sealed READY; a link is up
 *   (and carries data) only once each side has accepted the other. TLS 1.3 through node:tls was the first choice, but Node's crypto cannot create
 *   the self-signed ed25519 certificates it needs (we would hand-write X.509 DER) and pinning them
 *   needs `rejectUnauthorized: false`, after which we could not confirm that Deno's node:tls (on
 *   rustls) still checks the peer's CertificateVerify; node:crypto's X25519, HKDF and
 *   ChaCha20-Poly1305 behave the same under Node 20 and Deno 2.9 (test/deno/net_test.ts).
 * - Admission: only configured node ids with their configured keys, unless `admitUnknown`.
 * - Frames: 4-byte length ‖ body (frame.ts). Before the handshake a frame may hold at most
 *   {@link HANDSHAKE_FRAME_MAX} bytes; after it `frameMax`. A bad frame closes that connection only.
 * - Bounds: at most `connectsPerSecond` new connections per remote address, and at most
 *   `handshakesPendingMax` inbound connections may be unauthenticated at once
 *   (further ones are closed at accept), each gets `handshakeTimeoutMs`; each peer has a budget
 *   (budget.ts) and an inbox of at most `inboxMaxMessages`/`inboxMaxBytes`, its socket paused while
 *   the inbox is full; messages are delivered a bounded batch per event-loop turn, round-robin over
 *   peers, so one flooding peer cannot starve the others or the loop.
 * - One connection per pair: the node with the smaller id dials, and redials with exponential
 *   backoff and jitter after a loss; a newer authenticated connection replaces an older one.
 * - Send back-pressure: a send that would grow the socket's unsent bytes past `sendQueueMaxBytes`
 *   is refused (returns false) instead of buffering without bound.
 * @module
 */
import { createServer, connect } from "node:net";
import type { Server, Socket } from "node:net";
import { setImmediate } from "node:timers";
import { ChainDbError, ErrorCode, aint, abytes, assert, equalBytes } from "../util/index.ts";
import {
  BudgetVerdict,
  ConnectRate,
  PeerBudget,
  budgetLimits,
  type PeerBudgetLimits,
  type PeerBudgetOptions,
} from "./budget.ts";
import { FRAME_HEADER_SIZE, FRAME_MAX_DEFAULT, FrameDecoder } from "./frame.ts";
import type { NodeKey } from "./node-key.ts";
import {
  AUTH_MAX,
  HELLO_SIZE,
  NODE_ID_MAX,
  SEAL_OVERHEAD,
  Sealer,
  authStatement,
  decodeAuth,
  decodeHello,
  deriveSession,
  encodeAuth,
  encodeHello,
  newEphemeral,
  verifyAuth,
  type Ephemeral,
} from "./secure.ts";
import { systemClock, type Clock, type NodeId, type Transport, type TransportHandler } from "./types.ts";

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
  /** Admit nodes that are not configured (any id not configured, with any key). Default false. */
  admitUnknown?: boolean;
  /** Most unconfigured peers connected at once when `admitUnknown` (default 64). */
  unknownPeersMax?: number;
  /** Name of the network, bound into every handshake (default "chaindb"). */
  network?: string;
  /** Largest message in bytes plus one (default {@link FRAME_MAX_DEFAULT}). */
  frameMax?: number;
  /** Most unsent bytes per connection before sends are refused (default 32 MiB). */
  sendQueueMaxBytes?: number;
  /** Time allowed for the handshake (default 3000 ms). */
  handshakeTimeoutMs?: number;
  /** Most inbound connections still in their handshake; more are closed at once (default 32). */
  handshakesPendingMax?: number;
  /**
   * New inbound connections per second from one remote address; more are closed at accept, before
   * any handshake work (default 20, a burst of as many).
   */
  connectsPerSecond?: number;
  /** Most received messages waiting for delivery per peer before its socket is paused (default 1024). */
  inboxMaxMessages?: number;
  /** Most received bytes waiting for delivery per peer before its socket is paused (default 8 MiB; one larger message still passes). */
  inboxMaxBytes?: number;
  /** Per-peer budget: over it messages are dropped, and a persistent abuser disconnected. */
  budget?: PeerBudgetOptions;
  /** Timers (handshake deadline) and time (budgets); default real time. */
  clock?: Clock;
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
  /** Inbound connections closed at accept because too many handshakes were pending. */
  refusedPending: number;
  /** Inbound connections closed at accept because their address connected too often. */
  refusedRate: number;
  /** Messages dropped because their peer was over its budget. */
  droppedBudget: number;
  /** Peers disconnected for staying over their budget. */
  disconnectedBudget: number;
  /** Times a socket was paused because its peer's inbox was full. */
  pauses: number;
  /** Most messages ever waiting in one peer's inbox. */
  inboxPeakMessages: number;
}

const FrameType = { Auth: 2, Data: 3, Ready: 4 } as const;
/** Largest frame before the handshake completes: a sealed AUTH (HELLO is smaller). */
export const HANDSHAKE_FRAME_MAX = Math.max(HELLO_SIZE, 1 + AUTH_MAX + SEAL_OVERHEAD);
/** Most messages delivered per event-loop turn, over all peers (keeps the loop responsive). */
const DELIVER_PER_TURN = 256;

/** Transport over TCP between a known set of authenticated nodes, on an encrypted channel. */
export class TcpTransport implements Transport {
  /** Counters. */
  readonly stats: TcpStats = {
    framesSent: 0,
    framesReceived: 0,
    refusedBackpressure: 0,
    handshakesFailed: 0,
    connectionsOpened: 0,
    refusedPending: 0,
    refusedRate: 0,
    droppedBudget: 0,
    disconnectedBudget: 0,
    pauses: 0,
    inboxPeakMessages: 0,
  };
  private handler: TransportHandler | undefined;
  private readonly peersById = new Map<NodeId, TcpPeer>();
  private readonly open = new Map<NodeId, Connection>();
  private readonly sockets = new Set<Socket>();
  private readonly redialTimers = new Map<NodeId, ReturnType<typeof setTimeout>>();
  private readonly backoff = new Map<NodeId, number>();
  private readonly waiting = new Set<Connection>();
  private drainScheduled = false;
  private pendingInbound = 0;
  private server: Server | undefined;
  private closed = false;
  /** @internal */ readonly frameMax: number;
  /** @internal */ readonly sendQueueMaxBytes: number;
  /** @internal */ readonly handshakeTimeoutMs: number;
  /** @internal */ readonly handshakesPendingMax: number;
  private readonly connectRate: ConnectRate;
  /** @internal */ readonly inboxMaxMessages: number;
  /** @internal */ readonly inboxMaxBytes: number;
  /** @internal */ readonly unknownPeersMax: number;
  /** @internal */ readonly budgetLimits: PeerBudgetLimits;
  /** @internal */ readonly networkName: Uint8Array;
  /** @internal */ readonly clock: Clock;

  private constructor(private readonly options: TcpTransportOptions) {
    this.frameMax = aint(options.frameMax ?? FRAME_MAX_DEFAULT, 16, 2 ** 31, "frameMax");
    this.sendQueueMaxBytes = aint(
      options.sendQueueMaxBytes ?? 32 * 1024 * 1024,
      1,
      2 ** 40,
      "sendQueueMaxBytes",
    );
    this.handshakeTimeoutMs = aint(options.handshakeTimeoutMs ?? 3000, 1, 3_600_000, "handshakeTimeoutMs");
    this.handshakesPendingMax = aint(options.handshakesPendingMax ?? 32, 1, 65_536, "handshakesPendingMax");
    this.connectRate = new ConnectRate(
      aint(options.connectsPerSecond ?? 20, 1, 1_000_000, "connectsPerSecond"),
    );
    this.inboxMaxMessages = aint(options.inboxMaxMessages ?? 1024, 1, 2 ** 24, "inboxMaxMessages");
    this.inboxMaxBytes = aint(options.inboxMaxBytes ?? 8 * 1024 * 1024, 1, 2 ** 40, "inboxMaxBytes");
    this.unknownPeersMax = aint(options.unknownPeersMax ?? 64, 0, 65_536, "unknownPeersMax");
    this.budgetLimits = budgetLimits(options.budget);
    this.networkName = new TextEncoder().encode(options.network ?? "chaindb");
    this.clock = options.clock ?? systemClock;
    checkNodeId(options.id);
    abytes(options.key?.publicKey, 32, "key.publicKey");
    for (const p of options.peers) {
      checkNodeId(p.id);
      abytes(p.publicKey, 32, `peer ${p.id} publicKey`);
      if (p.id === options.id || this.peersById.has(p.id))
        throw new ChainDbError(ErrorCode.BAD_ARGUMENT, `duplicate node id "${p.id}"`);
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

  /** Inbound connections still in their handshake. */
  get handshakesPending(): number {
    return this.pendingInbound;
  }

  /** True when an authenticated connection to `peer` is open. */
  isConnected(peer: NodeId): boolean {
    return this.open.has(peer);
  }

  /** Sends one message; false when not connected, closed, or over the send-queue bound. */
  send(to: NodeId, payload: Uint8Array): boolean {
    const conn = this.open.get(to);
    if (conn === undefined || this.closed) return false;
    return conn.sendData(payload);
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
    this.waiting.clear();
    const closing = [...this.sockets].map(
      (s) =>
        new Promise<void>((resolve) => {
          if (s.destroyed) return resolve();
          s.once("close", () => resolve());
          s.end();
          // A peer that does not finish its side within a second is cut off.
          setTimeout(() => s.destroy(), 1000).unref();
        }),
    );
    const server = this.server;
    if (server !== undefined) closing.push(new Promise((resolve) => server.close(() => resolve())));
    await Promise.all(closing);
    this.open.clear();
    this.handler = undefined;
  }

  private listen(host: string, port: number): Promise<void> {
    const server = createServer((socket) => this.accept(socket));
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => {
        server.off("error", reject);
        resolve();
      });
    });
  }

  private accept(socket: Socket): void {
    if (!this.connectRate.allow(socket.remoteAddress ?? "", this.clock.now())) {
      this.stats.refusedRate++;
      socket.destroy();
      this.options.onConnectionError?.(
        new ChainDbError(ErrorCode.BUSY, `${socket.remoteAddress} connects too often`),
        undefined,
      );
      return;
    }
    if (this.pendingInbound >= this.handshakesPendingMax) {
      // Closed before any handshake work: a flood of idle connections costs one accept each.
      this.stats.refusedPending++;
      socket.destroy();
      this.options.onConnectionError?.(
        new ChainDbError(ErrorCode.BUSY, `${this.pendingInbound} handshakes already pending`),
        undefined,
      );
      return;
    }
    this.pendingInbound++;
    this.adopt(socket, undefined, () => this.pendingInbound--);
  }

  private dials(p: TcpPeer): boolean {
    return p.host !== undefined && p.port !== undefined && this.options.id < p.id;
  }

  private dial(id: NodeId): void {
    if (this.closed || this.open.has(id)) return;
    const p = this.peersById.get(id)!;
    const socket = connect({ host: p.host!, port: p.port! });
    this.adopt(socket, id, () => {});
  }

  private scheduleRedial(id: NodeId): void {
    const p = this.peersById.get(id);
    if (this.closed || p === undefined || !this.dials(p) || this.redialTimers.has(id) || this.open.has(id))
      return;
    const min = this.options.reconnectMinMs ?? 50;
    const max = this.options.reconnectMaxMs ?? 2000;
    const delay = this.backoff.get(id) ?? min;
    this.backoff.set(id, Math.min(max, delay * 2));
    const timer = setTimeout(
      () => {
        this.redialTimers.delete(id);
        this.dial(id);
      },
      delay * (0.5 + Math.random() / 2),
    );
    this.redialTimers.set(id, timer);
  }

  private adopt(socket: Socket, expected: NodeId | undefined, handshakeOver: () => void): void {
    if (this.closed) return void socket.destroy();
    socket.setNoDelay(true);
    this.sockets.add(socket);
    const conn = new Connection(this, socket, expected, handshakeOver);
    socket.once("close", () => {
      this.sockets.delete(socket);
      this.waiting.delete(conn);
      const peer = conn.peer;
      if (peer !== undefined && this.open.get(peer) === conn) {
        this.open.delete(peer);
        if (!this.closed) this.handler?.onPeerDown?.(peer);
      }
      const redial = expected ?? peer;
      if (redial !== undefined) this.scheduleRedial(redial);
    });
  }

  /** @internal Why `id` with `publicKey` may not connect, or undefined if it may. */
  refusal(id: NodeId, publicKey: Uint8Array, expected: NodeId | undefined): ChainDbError | undefined {
    if (id === this.self)
      return new ChainDbError(ErrorCode.HANDSHAKE_FAILED, `a peer claimed this node's own id "${id}"`);
    if (expected !== undefined && id !== expected)
      return new ChainDbError(ErrorCode.HANDSHAKE_FAILED, `dialed "${expected}" but "${id}" answered`);
    const known = this.peersById.get(id);
    if (known !== undefined) {
      return equalBytes(publicKey, known.publicKey)
        ? undefined
        : new ChainDbError(
            ErrorCode.HANDSHAKE_FAILED,
            `node "${id}" presented a key that is not its configured key`,
          );
    }
    if (this.options.admitUnknown !== true)
      return new ChainDbError(ErrorCode.PEER_UNKNOWN, `unknown node "${id}"`);
    const holder = this.open.get(id);
    if (holder !== undefined && !equalBytes(holder.peerKey!, publicKey))
      return new ChainDbError(ErrorCode.HANDSHAKE_FAILED, `node id "${id}" is held by another key`);
    const unknown = [...this.open.keys()].filter((p) => !this.peersById.has(p)).length;
    if (holder === undefined && unknown >= this.unknownPeersMax)
      return new ChainDbError(ErrorCode.BUSY, `already ${unknown} unconfigured peers`);
    return undefined;
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
    if (previous !== undefined)
      previous.destroy(); // a restarted peer: the new connection wins
    else this.handler?.onPeerUp?.(peer);
  }

  /** @internal `conn` has messages waiting. */
  queued(conn: Connection): void {
    this.waiting.add(conn);
    if (this.drainScheduled) return;
    this.drainScheduled = true;
    setImmediate(() => this.drain());
  }

  /** Delivers up to {@link DELIVER_PER_TURN} messages, one per peer in turn, then yields. */
  private drain(): void {
    this.drainScheduled = false;
    let delivered = 0;
    while (delivered < DELIVER_PER_TURN && this.waiting.size > 0 && !this.closed) {
      for (const conn of [...this.waiting]) {
        const payload = conn.nextMessage();
        if (payload === undefined) {
          this.waiting.delete(conn);
          continue;
        }
        delivered++;
        this.stats.framesReceived++;
        try {
          this.handler?.onMessage(conn.peer!, payload);
        } catch (error) {
          if (!(error instanceof ChainDbError)) throw error; // a bug in a handler: crash loudly
          conn.fail(error);
        }
      }
    }
    if (this.waiting.size > 0 && !this.closed) this.queued([...this.waiting][0]!);
  }

  /** @internal */
  failed(error: Error, peer: NodeId | undefined, handshake: boolean): void {
    if (handshake) this.stats.handshakesFailed++;
    this.options.onConnectionError?.(error, peer);
  }
}

/** One TCP connection: HELLO, sealed AUTH, then sealed data frames. */
class Connection {
  /** The authenticated (or, while dialing, expected) peer. */
  peer: NodeId | undefined;
  /** The authenticated peer's identity key. */
  peerKey: Uint8Array | undefined;
  private state: "hello" | "auth" | "ready" | "open" | "closed" = "hello";
  private readonly decoder = new FrameDecoder(HANDSHAKE_FRAME_MAX);
  private readonly ephemeral: Ephemeral = newEphemeral();
  private remoteEphemeral: Uint8Array | undefined;
  private challenge: Uint8Array | undefined;
  private sender: Sealer | undefined;
  private receiver: Sealer | undefined;
  private budget: PeerBudget | undefined;
  private readonly inbox: Uint8Array[] = [];
  private inboxHead = 0;
  private inboxBytes = 0;
  private paused = false;
  private cancelDeadline: (() => void) | undefined;

  constructor(
    private readonly t: TcpTransport,
    private readonly socket: Socket,
    private readonly expected: NodeId | undefined,
    private handshakeOver: (() => void) | undefined,
  ) {
    this.cancelDeadline = t.clock.setTimer(t.handshakeTimeoutMs, () =>
      this.fail(new ChainDbError(ErrorCode.HANDSHAKE_FAILED, "handshake timed out")),
    );
    socket.on("data", (chunk: Buffer) =>
      this.onData(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length)),
    );
    socket.on("error", (error) => this.fail(error));
    socket.on("close", () => this.closeQuietly());
    const hello = () => this.write(withHeader(encodeHello(this.ephemeral)));
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

  sendData(payload: Uint8Array): boolean {
    if (this.state !== "open" || this.socket.destroyed) return false;
    if (payload.length + 1 > this.t.frameMax) {
      throw new ChainDbError(
        ErrorCode.FRAME_TOO_LARGE,
        `message of ${payload.length} bytes exceeds the frame maximum of ${this.t.frameMax - 1}`,
      );
    }
    const size = FRAME_HEADER_SIZE + 1 + payload.length + SEAL_OVERHEAD;
    if (this.socket.writableLength + size > this.t.sendQueueMaxBytes) {
      this.t.stats.refusedBackpressure++;
      return false;
    }
    this.write(this.sealFrame(FrameType.Data, payload));
    this.t.stats.framesSent++;
    return true;
  }

  /** The oldest undelivered message, resuming the socket once the inbox is half empty. */
  nextMessage(): Uint8Array | undefined {
    if (this.state === "closed" || this.inboxHead >= this.inbox.length) return undefined;
    const payload = this.inbox[this.inboxHead]!;
    this.inbox[this.inboxHead++] = EMPTY;
    this.inboxBytes -= payload.length;
    if (this.inboxHead === this.inbox.length) {
      this.inbox.length = 0;
      this.inboxHead = 0;
    }
    const waiting = this.inbox.length - this.inboxHead;
    if (
      this.paused &&
      waiting <= this.t.inboxMaxMessages / 2 &&
      this.inboxBytes <= this.t.inboxMaxBytes / 2
    ) {
      this.paused = false;
      this.socket.resume();
      queueMicrotask(() => this.pump()); // frames that arrived before the pause, after this delivery
    }
    return payload;
  }

  destroy(): void {
    this.closeQuietly();
    this.socket.destroy();
  }

  fail(error: Error): void {
    if (this.state === "closed") return;
    const handshake = this.state !== "open";
    this.closeQuietly();
    this.socket.destroy();
    this.t.failed(error, this.peer ?? this.expected, handshake);
  }

  private sealFrame(type: number, body: Uint8Array): Uint8Array {
    const frame = this.sender!.seal(type, body, FRAME_HEADER_SIZE);
    new DataView(frame.buffer).setUint32(0, frame.length - FRAME_HEADER_SIZE, false);
    return frame;
  }

  private write(frame: Uint8Array): void {
    if (this.state !== "closed" && !this.socket.destroyed) this.socket.write(frame);
  }

  private onData(chunk: Uint8Array): void {
    if (this.isClosed()) return;
    this.decoder.feed(chunk);
    this.pump();
  }

  /**
   * Handles buffered frames one at a time (AUTH raises the frame limit for the data frames after
   * it) until none is complete or the inbox is full; then the rest waits in the decoder, which
   * holds at most what arrived before the socket was paused.
   */
  private pump(): void {
    while (!this.isClosed() && !this.paused) {
      try {
        const frame = this.decoder.next();
        if (frame === undefined) return;
        this.onFrame(frame);
      } catch (error) {
        if (!(error instanceof ChainDbError)) throw error; // a bug: crash loudly
        return this.fail(error);
      }
    }
  }

  private onFrame(frame: Uint8Array): void {
    if (this.state === "open") return this.onSealed(frame);
    if (this.state === "hello") return this.onHello(frame);
    if (this.state === "auth") return this.onAuth(frame);
    assert(this.state === "ready", "frames arrive only while open");
    return this.onReady(frame);
  }

  private onHello(body: Uint8Array): void {
    const remote = decodeHello(body);
    const session = deriveSession(this.ephemeral, remote, this.t.networkName);
    this.remoteEphemeral = remote;
    this.challenge = session.challenge;
    this.sender = new Sealer(session.sendKey);
    this.receiver = new Sealer(session.receiveKey);
    this.state = "auth";
    const statement = authStatement(this.t.networkName, session.challenge, this.ephemeral.publicKey);
    this.write(this.sealFrame(FrameType.Auth, encodeAuth(this.t.self, this.t.key, statement)));
  }

  private onAuth(sealed: Uint8Array): void {
    let plain: Uint8Array;
    try {
      plain = this.receiver!.open(sealed);
    } catch (error) {
      throw new ChainDbError(ErrorCode.HANDSHAKE_FAILED, "auth frame failed authentication", {
        cause: error,
      });
    }
    if (plain[0] !== FrameType.Auth)
      throw new ChainDbError(ErrorCode.HANDSHAKE_FAILED, `expected auth, got frame type ${plain[0]}`);
    const auth = decodeAuth(plain.subarray(1));
    const refusal = this.t.refusal(auth.id, auth.publicKey, this.expected);
    if (refusal !== undefined) throw refusal;
    if (!verifyAuth(auth, authStatement(this.t.networkName, this.challenge!, this.remoteEphemeral!))) {
      throw new ChainDbError(ErrorCode.HANDSHAKE_FAILED, `node "${auth.id}" failed to prove its key`);
    }
    this.peer = auth.id;
    this.peerKey = auth.publicKey;
    this.state = "ready";
    // READY tells the peer we accepted it: neither side reports the link up unless both accepted.
    this.write(this.sealFrame(FrameType.Ready, EMPTY));
  }

  private onReady(sealed: Uint8Array): void {
    let plain: Uint8Array;
    try {
      plain = this.receiver!.open(sealed);
    } catch (error) {
      throw new ChainDbError(ErrorCode.HANDSHAKE_FAILED, "ready frame failed authentication", {
        cause: error,
      });
    }
    if (plain[0] !== FrameType.Ready || plain.length !== 1)
      throw new ChainDbError(ErrorCode.HANDSHAKE_FAILED, `expected ready, got frame type ${plain[0]}`);
    this.state = "open";
    this.endHandshake();
    this.decoder.frameMax = this.t.frameMax + SEAL_OVERHEAD; // data frames may now be as large as configured
    this.budget = new PeerBudget(this.t.budgetLimits, this.t.frameMax, this.t.clock.now());
    this.t.authenticated(this);
  }

  private onSealed(sealed: Uint8Array): void {
    const plain = this.receiver!.open(sealed);
    if (plain[0] !== FrameType.Data)
      throw new ChainDbError(
        ErrorCode.BAD_MESSAGE,
        `unexpected frame type ${plain[0]} on an open connection`,
      );
    const verdict = this.budget!.charge(plain.length, this.t.clock.now());
    if (verdict !== BudgetVerdict.Accept) {
      this.t.stats.droppedBudget++;
      if (verdict === BudgetVerdict.Disconnect) {
        this.t.stats.disconnectedBudget++;
        throw new ChainDbError(
          ErrorCode.BUSY,
          `peer "${this.peer}" stayed over its budget (${this.budget!.dropped} messages dropped)`,
        );
      }
      return;
    }
    const payload = plain.subarray(1);
    this.inbox.push(payload);
    this.inboxBytes += payload.length;
    this.t.queued(this);
    const waiting = this.inbox.length - this.inboxHead;
    if (waiting > this.t.stats.inboxPeakMessages) this.t.stats.inboxPeakMessages = waiting;
    if (!this.paused && (waiting >= this.t.inboxMaxMessages || this.inboxBytes >= this.t.inboxMaxBytes)) {
      this.paused = true;
      this.t.stats.pauses++;
      this.socket.pause();
    }
  }

  private isClosed(): boolean {
    return this.state === "closed";
  }

  private endHandshake(): void {
    this.cancelDeadline?.();
    this.cancelDeadline = undefined;
    this.handshakeOver?.();
    this.handshakeOver = undefined;
  }

  private closeQuietly(): void {
    this.state = "closed";
    this.endHandshake();
    this.inbox.length = 0;
    this.inboxHead = 0;
    this.inboxBytes = 0;
  }
}

const EMPTY = new Uint8Array(0);

function withHeader(body: Uint8Array): Uint8Array {
  const out = new Uint8Array(FRAME_HEADER_SIZE + body.length);
  new DataView(out.buffer).setUint32(0, body.length, false);
  out.set(body, FRAME_HEADER_SIZE);
  return out;
}

function checkNodeId(id: unknown): void {
  if (typeof id !== "string" || id.length === 0 || new TextEncoder().encode(id).length > NODE_ID_MAX) {
    throw new ChainDbError(
      ErrorCode.BAD_ARGUMENT,
      `node id expected a string of 1..${NODE_ID_MAX} bytes, got ${JSON.stringify(id)}`,
    );
  }
}
