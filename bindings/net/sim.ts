/**
 * SimNetwork: an in-process network of simulated nodes, deterministic from one seed, in the
 * manner of FoundationDB's simulation and TigerBeetle's VOPR. Everything that could differ between
 * runs — message latency, loss, duplication, reordering, partitions, crashes, timers — is drawn
 * from a seeded {@link Random} and ordered on one virtual-time event queue, so a failing seed
 * replays exactly and a minute of protocol time runs in milliseconds.
 *
 * Each node gets a {@link Transport}, a {@link Clock} whose timers die with the node, a seeded
 * random stream, and a {@link SimStorage} disk that survives crashes only for what was synced.
 * @module
 */
import { ChainDbError, ErrorCode, aint, assert } from "../util/index.ts";
import { Random } from "./random.ts";
import { SimStorage } from "./sim-storage.ts";
import type { TraceRecorder } from "./trace.ts";
import type { Clock, NodeId, Transport, TransportHandler } from "./types.ts";

/** How long one message takes on a link. */
export type LatencySpec =
  | { kind: "fixed"; ms: number }
  | { kind: "uniform"; minMs: number; maxMs: number }
  | { kind: "exponential"; minMs: number; meanMs: number };

/** Fault model of one directed link. Probabilities are per message. */
export interface LinkConfig {
  /** Latency distribution. */
  latency: LatencySpec;
  /** Probability a message is lost. */
  loss: number;
  /** Probability a message is delivered twice (the copy with its own latency). */
  duplicate: number;
  /** Probability a message is held back by up to `reorderDelayMs` more, so later ones overtake it. */
  reorder: number;
  /** Largest extra delay of a held-back message. */
  reorderDelayMs: number;
  /** Deliver in send order (TCP-like); overrides reordering from latency spread. */
  fifo: boolean;
}

/** The default link: 1–10 ms uniform latency, no faults. */
export const DEFAULT_LINK: LinkConfig = {
  latency: { kind: "uniform", minMs: 1, maxMs: 10 },
  loss: 0,
  duplicate: 0,
  reorder: 0,
  reorderDelayMs: 50,
  fifo: false,
};

/** Options of {@link SimNetwork}. */
export interface SimNetworkOptions {
  /** The seed every random choice derives from. */
  seed: number;
  /** Fault model of every link unless overridden with {@link SimNetwork.setLink}. */
  link?: Partial<LinkConfig>;
  /**
   * What to await after each event so that promise chains started by handlers finish before
   * virtual time moves on: "macrotask" (default; safe for async handlers without real I/O) or
   * "microtask" (cheaper, for synchronous protocol cores), or a function resolving once the
   * nodes are idle (exact and cheap, e.g. every replica's `idle()`).
   */
  settle?: "macrotask" | "microtask" | (() => Promise<void>);
  /** Bound on queued events (messages in flight + timers); exceeding it is a protocol bug. */
  eventsMax?: number;
  /** Records every send, delivery, loss, drop and fault (see trace.ts); off (and free) when absent. */
  trace?: TraceRecorder;
}

/** Counters of what the network did. */
export interface SimStats {
  sent: number;
  delivered: number;
  lost: number;
  duplicated: number;
  droppedUnreachable: number;
  timersFired: number;
}

interface SimEvent {
  at: number;
  seq: number;
  cancelled: boolean;
  run: () => void;
}

const setImmediateLike: (fn: () => void) => void =
  typeof (globalThis as { setImmediate?: unknown }).setImmediate === "function"
    ? (fn) => (globalThis as unknown as { setImmediate(f: () => void): void }).setImmediate(fn)
    : (fn) => void setTimeout(fn, 0);

/** The simulated world: nodes, links, partitions, crashes and virtual time. */
export class SimNetwork {
  /** The network's own random stream (faults); nodes get forks of it. */
  readonly random: Random;
  /** Counters. */
  readonly stats: SimStats = {
    sent: 0,
    delivered: 0,
    lost: 0,
    duplicated: 0,
    droppedUnreachable: 0,
    timersFired: 0,
  };
  /** A clock for the test harness itself (its timers survive node crashes). */
  readonly clock: Clock;
  private readonly nodes = new Map<NodeId, SimNode>();
  private readonly links = new Map<string, LinkConfig>();
  private readonly defaultLink: LinkConfig;
  private readonly lastDelivery = new Map<string, number>();
  private groupOf: Map<NodeId, number> | undefined;
  private readonly queue = new EventHeap();
  private readonly eventsMax: number;
  private readonly settleMode: "macrotask" | "microtask" | (() => Promise<void>);
  private time = 0;
  private seq = 0;
  private readonly trace: TraceRecorder | undefined;

  /** A network with no nodes yet. */
  constructor(options: SimNetworkOptions) {
    this.random = new Random(aint(options?.seed, -(2 ** 53), 2 ** 53, "seed"));
    this.defaultLink = checkLink({ ...DEFAULT_LINK, ...options.link });
    this.eventsMax = aint(options.eventsMax ?? 1_000_000, 1, 100_000_000, "eventsMax");
    this.settleMode = options.settle ?? "macrotask";
    this.clock = { now: () => this.time, setTimer: (ms, fn) => this.schedule(ms, fn) };
    this.trace = options.trace;
    this.trace?.attach(() => this.time);
  }

  /** Current virtual time in milliseconds. */
  get now(): number {
    return this.time;
  }

  /** Adds a node (up) and connects it to every reachable node. */
  addNode(id: NodeId): SimNode {
    if (typeof id !== "string" || id.length === 0)
      throw new ChainDbError(ErrorCode.BAD_ARGUMENT, `"id" expected a non-empty string`);
    if (this.nodes.has(id)) throw new ChainDbError(ErrorCode.BAD_ARGUMENT, `node "${id}" exists already`);
    const node = new SimNode(this, id, this.random.fork());
    this.nodes.set(id, node);
    this.trace?.node(id);
    for (const other of this.nodes.values()) if (other !== node) other.transport.addPeer(id);
    for (const other of this.nodes.values()) if (other !== node) node.transport.addPeer(other.id);
    this.announce(id, true);
    return node;
  }

  /** The node named `id`. */
  node(id: NodeId): SimNode {
    const node = this.nodes.get(id);
    if (node === undefined) throw new ChainDbError(ErrorCode.BAD_ARGUMENT, `unknown node "${id}"`);
    return node;
  }

  /** Every node id, in the order added. */
  get nodeIds(): NodeId[] {
    return [...this.nodes.keys()];
  }

  /** Overrides the fault model of the directed link `from` → `to` (both directions if `symmetric`). */
  setLink(from: NodeId, to: NodeId, config: Partial<LinkConfig>, symmetric = true): void {
    const apply = (a: NodeId, b: NodeId) =>
      this.links.set(`${a}>${b}`, checkLink({ ...this.linkConfig(a, b), ...config }));
    apply(from, to);
    if (symmetric) apply(to, from);
  }

  /** Splits the nodes into groups that cannot reach each other; unlisted nodes form one more group. */
  partition(groups: readonly (readonly NodeId[])[]): void {
    const before = this.connectivity();
    const map = new Map<NodeId, number>();
    groups.forEach((g, i) => g.forEach((id) => (this.node(id), map.set(id, i))));
    for (const id of this.nodes.keys()) if (!map.has(id)) map.set(id, groups.length);
    this.groupOf = map;
    this.trace?.fault({
      kind: "partition",
      at: this.time,
      groups: [
        ...groups.map((g) => [...g]),
        [...this.nodes.keys()].filter((id) => map.get(id) === groups.length),
      ].filter((g) => g.length > 0),
    });
    this.announceChanges(before);
  }

  /** Removes every partition. */
  heal(): void {
    const before = this.connectivity();
    if (this.groupOf !== undefined) this.trace?.fault({ kind: "heal", at: this.time });
    this.groupOf = undefined;
    this.announceChanges(before);
  }

  /** True when `a` and `b` are both up and on the same side of any partition. */
  connected(a: NodeId, b: NodeId): boolean {
    const na = this.nodes.get(a);
    const nb = this.nodes.get(b);
    if (!na?.up || !nb?.up || a === b) return false;
    return this.groupOf === undefined || this.groupOf.get(a) === this.groupOf.get(b);
  }

  /** Crashes a node: its timers and unsynced writes are lost, its peers see it go down. */
  crash(id: NodeId): void {
    const node = this.node(id);
    if (!node.up) return;
    const before = this.connectivity();
    node.goDown();
    this.trace?.fault({ kind: "crash", at: this.time, node: id });
    this.announceChanges(before);
  }

  /** Restarts a crashed node as a new incarnation (fresh transport and clock, same disk). */
  restart(id: NodeId): SimNode {
    const node = this.node(id);
    if (node.up) throw new ChainDbError(ErrorCode.BAD_ARGUMENT, `node "${id}" is up`);
    const before = this.connectivity();
    node.goUp();
    this.trace?.fault({ kind: "restart", at: this.time, node: id });
    this.announceChanges(before);
    return node;
  }

  private steps = 0;
  private lastYield = performance.now();

  /**
   * Gives the host's event loop a turn every ~50 ms of wall-clock time. Microtask settling never
   * lets timers or I/O run, so a long run starved its host (vitest's worker RPC timed out). Only
   * wall-clock time is spent: nothing the host does can reach this network's queue.
   */
  private async yieldNow(): Promise<void> {
    if ((++this.steps & 1023) !== 0 || performance.now() - this.lastYield < 50) return;
    await new Promise((resolve) => setTimeout(resolve, 0));
    this.lastYield = performance.now();
  }

  /** Processes the next event; false when none is left. */
  async step(): Promise<boolean> {
    const event = this.queue.pop();
    if (event === undefined) return false;
    assert(event.at >= this.time, "events run in time order");
    this.time = event.at;
    if (!event.cancelled) {
      event.run();
      await this.settle();
    }
    return true;
  }

  /** Runs every event due within the next `ms` of virtual time, then sets the clock to the end. */
  async runFor(ms: number): Promise<void> {
    const end = this.time + aint(ms, 0, 2 ** 40, "ms");
    for (let next = this.queue.peek(); next !== undefined && next.at <= end; next = this.queue.peek()) {
      await this.step();
      await this.yieldNow();
    }
    this.time = end;
  }

  /** Runs until `done()` holds (checked after each event) or `maxMs` of virtual time pass; returns `done()`. */
  async runUntil(done: () => boolean, maxMs: number): Promise<boolean> {
    const end = this.time + aint(maxMs, 0, 2 ** 40, "maxMs");
    if (done()) return true;
    for (let next = this.queue.peek(); next !== undefined && next.at <= end; next = this.queue.peek()) {
      await this.step();
      if (done()) return true;
      await this.yieldNow();
    }
    this.time = Math.max(this.time, end);
    return done();
  }

  /** Number of queued events. */
  get pendingEvents(): number {
    return this.queue.size;
  }

  /** @internal Schedules `fn` after `delayMs`; returns a cancel function. */
  schedule(delayMs: number, fn: () => void): () => void {
    if (this.queue.size >= this.eventsMax) {
      throw new ChainDbError(
        ErrorCode.OUT_OF_MEMORY,
        `simulation event queue full (${this.eventsMax}): a protocol is flooding`,
      );
    }
    const event: SimEvent = {
      at: this.time + Math.max(0, delayMs),
      seq: this.seq++,
      cancelled: false,
      run: fn,
    };
    this.queue.push(event);
    return () => void (event.cancelled = true);
  }

  /** @internal Sends one message from `from` to `to` through the link's fault model. */
  transmit(from: SimNode, to: NodeId, payload: Uint8Array): boolean {
    this.stats.sent++;
    const target = this.nodes.get(to);
    if (target === undefined || !this.connected(from.id, to)) {
      this.stats.droppedUnreachable++;
      this.trace?.send(from.id, to, payload, "dropped");
      return false;
    }
    const link = this.linkConfig(from.id, to);
    if (this.random.chance(link.loss)) {
      this.stats.lost++;
      this.trace?.send(from.id, to, payload, "lost");
      return true; // the sender cannot know
    }
    const copies = this.random.chance(link.duplicate) ? 2 : 1;
    if (copies === 2) this.stats.duplicated++;
    const incarnation = target.incarnation;
    for (let i = 0; i < copies; i++) {
      const delay = this.delayFor(from.id, to, link);
      const bytes = payload.slice();
      const record = this.trace?.send(from.id, to, payload, "in-flight", i === 1);
      this.schedule(delay, () => {
        // A message arrives only on a live connection to the incarnation it was sent to.
        if (!this.connected(from.id, to) || target.incarnation !== incarnation) {
          this.trace?.end(record, "dropped");
          return void this.stats.droppedUnreachable++;
        }
        this.stats.delivered++;
        this.trace?.end(record, "delivered");
        target.transport.deliver(from.id, bytes);
      });
    }
    return true;
  }

  private delayFor(from: NodeId, to: NodeId, link: LinkConfig): number {
    let delay = sampleLatency(this.random, link.latency);
    if (this.random.chance(link.reorder)) delay += this.random.float() * link.reorderDelayMs;
    if (link.fifo) {
      const key = `${from}>${to}`;
      delay = Math.max(delay, (this.lastDelivery.get(key) ?? 0) - this.time);
      this.lastDelivery.set(key, this.time + delay);
    }
    return delay;
  }

  private linkConfig(from: NodeId, to: NodeId): LinkConfig {
    return this.links.get(`${from}>${to}`) ?? this.defaultLink;
  }

  private connectivity(): Set<string> {
    const out = new Set<string>();
    for (const a of this.nodes.keys())
      for (const b of this.nodes.keys()) if (this.connected(a, b)) out.add(`${a}>${b}`);
    return out;
  }

  // Peer events are queued (not called inline) so a handler never re-enters the simulator.
  private announceChanges(before: Set<string>): void {
    const after = this.connectivity();
    for (const a of this.nodes.keys()) {
      for (const b of this.nodes.keys()) {
        const key = `${a}>${b}`;
        if (before.has(key) !== after.has(key)) this.queuePeerEvent(a, b, after.has(key));
      }
    }
  }

  private announce(id: NodeId, up: boolean): void {
    for (const other of this.nodes.keys()) {
      if (other === id || !this.connected(id, other)) continue;
      this.queuePeerEvent(id, other, up);
      this.queuePeerEvent(other, id, up);
    }
  }

  private queuePeerEvent(at: NodeId, peer: NodeId, up: boolean): void {
    const node = this.node(at);
    if (!node.up) return;
    const incarnation = node.incarnation;
    this.schedule(0, () => {
      if (node.incarnation !== incarnation || !node.up) return;
      node.transport.notifyPeer(peer, up && this.connected(at, peer));
    });
  }

  private settle(): Promise<void> {
    if (typeof this.settleMode === "function") return this.settleMode();
    return this.settleMode === "macrotask"
      ? new Promise((resolve) => setImmediateLike(resolve))
      : Promise.resolve();
  }
}

/** One simulated node: its transport, clock, random stream and disk. */
export class SimNode {
  /** Whether the node is running. */
  up = true;
  /** Starts at 1; each restart adds one. Messages and timers of an old incarnation are void. */
  incarnation = 1;
  /** The node's disk; survives crashes for what was synced. */
  readonly storage = new SimStorage();
  /** Transport of the current incarnation. */
  transport: SimTransport;
  /** Clock of the current incarnation: its timers are cancelled by a crash. */
  clock: Clock;
  private readonly timers = new Set<() => void>();

  /** @internal Created by {@link SimNetwork.addNode}. */
  constructor(
    private readonly net: SimNetwork,
    /** The node's id. */
    readonly id: NodeId,
    /** The node's own random stream (protocol randomness, e.g. election jitter). */
    readonly random: Random,
  ) {
    this.transport = new SimTransport(net, this);
    this.clock = this.makeClock();
  }

  /** @internal The crash. */
  goDown(): void {
    this.up = false;
    for (const cancel of this.timers) cancel();
    this.timers.clear();
    this.transport.detach();
    this.storage.loseUnsynced();
  }

  /** @internal The restart. */
  goUp(): void {
    assert(!this.up, "restart only a crashed node");
    const peers = this.transport.peerIds;
    this.up = true;
    this.incarnation++;
    this.transport = new SimTransport(this.net, this);
    for (const p of peers) this.transport.addPeer(p);
    this.clock = this.makeClock();
  }

  private makeClock(): Clock {
    const incarnation = this.incarnation;
    return {
      now: () => this.net.now,
      setTimer: (ms, fn) => {
        if (!this.up || this.incarnation !== incarnation) return () => {};
        const cancel = this.net.schedule(ms, () => {
          this.timers.delete(cancel);
          this.net.stats.timersFired++;
          fn();
        });
        this.timers.add(cancel);
        return () => {
          this.timers.delete(cancel);
          cancel();
        };
      },
    };
  }
}

/** The {@link Transport} a simulated node talks through. */
export class SimTransport implements Transport {
  private handler: TransportHandler | undefined;
  private readonly peers: NodeId[] = [];
  private readonly view = new Set<NodeId>();
  private attached = true;

  /** @internal Created by the simulator for each incarnation. */
  constructor(
    private readonly net: SimNetwork,
    private readonly node: SimNode,
  ) {}

  /** This node's id. */
  get self(): NodeId {
    return this.node.id;
  }

  /** Every other node, in the order added. */
  get peerIds(): readonly NodeId[] {
    return this.peers;
  }

  /** True when the network currently connects this node and `peer`. */
  isConnected(peer: NodeId): boolean {
    return this.attached && this.net.connected(this.node.id, peer);
  }

  /** Queues a message through the link's fault model. */
  send(to: NodeId, payload: Uint8Array): boolean {
    if (!this.attached) return false;
    return this.net.transmit(this.node, to, payload);
  }

  /** Sends to every reachable peer. */
  broadcast(payload: Uint8Array): number {
    let accepted = 0;
    for (const p of this.peers) if (this.isConnected(p) && this.send(p, payload)) accepted++;
    return accepted;
  }

  /** Installs the handler. */
  setHandler(handler: TransportHandler): void {
    this.handler = handler;
  }

  /** Detaches from the network (the node keeps running but is deaf and mute). */
  async close(): Promise<void> {
    this.detach();
  }

  /** @internal */
  addPeer(id: NodeId): void {
    if (!this.peers.includes(id)) this.peers.push(id);
  }

  /** @internal */
  detach(): void {
    this.attached = false;
    this.handler = undefined;
    this.view.clear();
  }

  /** @internal */
  deliver(from: NodeId, payload: Uint8Array): void {
    if (this.attached) this.handler?.onMessage(from, payload);
  }

  /** @internal Reports a change of reachability once per change. */
  notifyPeer(peer: NodeId, up: boolean): void {
    if (!this.attached || this.view.has(peer) === up) return;
    if (up) this.view.add(peer);
    else this.view.delete(peer);
    if (up) this.handler?.onPeerUp?.(peer);
    else this.handler?.onPeerDown?.(peer);
  }
}

function sampleLatency(random: Random, spec: LatencySpec): number {
  switch (spec.kind) {
    case "fixed":
      return spec.ms;
    case "uniform":
      return spec.minMs + random.float() * (spec.maxMs - spec.minMs);
    case "exponential":
      return spec.minMs + random.exponential(spec.meanMs);
  }
}

function checkLink(link: LinkConfig): LinkConfig {
  for (const p of ["loss", "duplicate", "reorder"] as const) {
    if (!(link[p] >= 0 && link[p] <= 1))
      throw new ChainDbError(ErrorCode.BAD_RANGE, `"${p}" expected a probability in [0, 1], got ${link[p]}`);
  }
  const l = link.latency;
  const ok =
    (l.kind === "fixed" && l.ms >= 0) ||
    (l.kind === "uniform" && l.minMs >= 0 && l.maxMs >= l.minMs) ||
    (l.kind === "exponential" && l.minMs >= 0 && l.meanMs >= 0);
  if (!ok) throw new ChainDbError(ErrorCode.BAD_ARGUMENT, `bad latency spec ${JSON.stringify(l)}`);
  if (!(link.reorderDelayMs >= 0))
    throw new ChainDbError(ErrorCode.BAD_RANGE, `"reorderDelayMs" expected >= 0`);
  return link;
}

/** A binary min-heap of events by (time, sequence): equal times run in scheduling order. */
class EventHeap {
  private readonly items: SimEvent[] = [];

  get size(): number {
    return this.items.length;
  }

  peek(): SimEvent | undefined {
    return this.items[0];
  }

  push(event: SimEvent): void {
    const a = this.items;
    a.push(event);
    for (let i = a.length - 1; i > 0;) {
      const parent = (i - 1) >> 1;
      if (!before(a[i]!, a[parent]!)) break;
      [a[i], a[parent]] = [a[parent]!, a[i]!];
      i = parent;
    }
  }

  pop(): SimEvent | undefined {
    const a = this.items;
    if (a.length === 0) return undefined;
    const top = a[0]!;
    const last = a.pop()!;
    if (a.length > 0) {
      a[0] = last;
      for (let i = 0; ;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && before(a[l]!, a[m]!)) m = l;
        if (r < a.length && before(a[r]!, a[m]!)) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m]!, a[i]!];
        i = m;
      }
    }
    return top;
  }
}

function before(a: SimEvent, b: SimEvent): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}
