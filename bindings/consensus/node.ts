/**
 * A consensus node: the Tendermint engine (tendermint.ts) driven over any {@link Transport}, with
 * its write-ahead log, a mempool of signed transactions, and a {@link Ledger} as the application
 * (CometBFT's node = consensus reactor + mempool + block executor + block store, reduced). This
 * module is the driver (its inputs and effects run under bindings/protocol/'s ProtocolDriver,
 * the engine's effects through driver.ts); beside it: mempool.ts, executor.ts
 * (block builder and executor), store.ts (block store, logs, selection snapshot) and sync.ts
 * (block sync and the node's wire).
 *
 * - Blocks carry the previous height's commit, pending evidence, transfers and staking
 *   transactions, and the state root after them: sha256 of the ledger's root and the selection
 *   state's hash (bindings/selection/state.ts).
 * - A proposed block is executed on a checkpoint of the ledger (`Ledger.preview`) and a copy of
 *   the selection state; a wrong root, a bad signature, a refused transaction or unverifiable
 *   evidence answers `validity false`, so correct validators prevote nil.
 * - A decided block goes to the block store (fsynced), then the selection snapshot, then the
 *   ledger (one durable step); after a SIGKILL the node finishes whatever step was cut off and
 *   the engine resumes from its log with its sign-state guard.
 * - A node that is behind (restarted, partitioned, new) learns peers' heights from status
 *   messages and fetches decided blocks with their certificates, verifies each certificate
 *   against the validator set of its height, and hands it to the engine, which decides it.
 * - Validator sets follow the selection state: the set computed at the end of block H applies
 *   from H + 2 (the engine's `validatorsAt`).
 * @module
 */
import { createHash } from "node:crypto";
import { join } from "node:path";
import { ChainDbError, ErrorCode, assert, equalBytes, toHex, type Rate } from "../util/index.ts";
import { fsyncParent, nodeFilePort, type FilePort } from "../store/index.ts";
import { Ledger, type GenesisAllocation, type KeyPair } from "../chain/index.ts";
import type { Clock, NodeId, Transport } from "../net/index.ts";
import { DEFAULT_DRIVER_LIMITS, ProtocolDriver } from "../protocol/index.ts";
import {
  DEFAULT_SELECTION_PARAMS,
  SelectionState,
  STAKE_POOL,
  EVIDENCE_AGE_MAX,
  decodeChainTx,
  poolGenesisBalance,
  type SelectionParams,
} from "../selection/index.ts";
import type { Behavior } from "./behavior.ts";
import type { Block } from "./block.ts";
import { decodeMessage, encodeMessage } from "./codec.ts";
import { evidenceKey } from "./evidence.ts";
import { TendermintEngine, type EngineOptions } from "./tendermint.ts";
import type {
  CommitCertificate,
  ConsensusEvent,
  Effect,
  Evidence,
  Proposal,
  TimeoutConfig,
  Vote,
} from "./types.ts";
import { ValidatorSet } from "./validators.ts";
import { DEFAULT_MEMPOOL_LIMITS, Mempool, type MempoolLimits } from "./mempool.ts";
import { tendermintEffects } from "./driver.ts";
import { BlockExecutor, appRoot } from "./executor.ts";
import { BlockStore, SelectionSnapshot, fileLog, memoryLog, type Log } from "./store.ts";
import { BlockSync, DEFAULT_SYNC_RATE, TAG, readHeight, tagged } from "./sync.ts";

export { appRoot } from "./executor.ts";
export { DEFAULT_SYNC_RATE, SYNC_REQUEST_COST } from "./sync.ts";

/** The definition of a chain: accounts, first validators and how validators are chosen. */
export interface ChainGenesis {
  readonly accounts: readonly GenesisAllocation[];
  /** First validators; under PoS `stake` is bonded at genesis (it adds to the supply, held by the stake pool). */
  readonly validators: readonly { readonly address: Uint8Array; readonly stake: bigint }[];
  readonly selection?: Partial<SelectionParams>;
}

/** Options of {@link ConsensusNode.open}. */
export interface ConsensusNodeOptions {
  /** Chain id (u32): transactions are signed for it; consensus messages for `chaindb-<id>`. */
  readonly chainId: number;
  readonly genesis: ChainGenesis;
  /** Validator key (an account too: fees of its blocks go to it); null for a follower. */
  readonly key: KeyPair | null;
  readonly transport: Transport;
  readonly clock: Clock;
  /** Directory of the logs, the ledger and the selection snapshot; omitted: in memory. */
  readonly dir?: string;
  /** Files of `dir` through this port (default node:fs; crash tests: a `FaultFs`). */
  readonly filePort?: FilePort;
  /** Size at which a block-store segment is sealed (default 64 MiB, store.ts's `BLOCK_SEGMENT_BYTES`). */
  readonly blockSegmentBytes?: number;
  readonly timeouts?: TimeoutConfig;
  /** Wait after a decision before the next height (CometBFT's timeout_commit); default 100 ms, at least 1. */
  readonly newHeightDelayMs?: number;
  /** Gossip tick: status to peers, re-sends when stuck; default 200 ms. */
  readonly tickMs?: number;
  /** How own messages go out (tests and `--byzantine` plug in a misbehaving one). */
  readonly behavior?: Behavior;
  /** Bounds of the inbox (defaults: {@link DEFAULT_INBOX_LIMITS}). */
  readonly inbox?: Partial<InboxLimits>;
  /**
   * What block-sync answers may cost per peer, in bytes (each answer costs its size plus
   * {@link SYNC_REQUEST_COST}); default {@link DEFAULT_SYNC_RATE}. Requests beyond it are dropped.
   */
  readonly syncRate?: Rate;
  /** Bounds of the mempool (defaults: {@link DEFAULT_MEMPOOL_LIMITS}). */
  readonly mempool?: Partial<MempoolLimits>;
  /** Most transactions per block; default 1000. */
  readonly blockTxsMax?: number;
  /** Stop taking part in consensus after committing this height (still serves blocks). */
  readonly haltHeight?: number;
  /** Called after each block is committed. */
  readonly onCommit?: (block: CommittedBlock) => void;
  /** Called with each piece of evidence the engine finds. */
  readonly onEvidence?: (evidence: Evidence) => void;
  /**
   * The crash hook (simulations): called before each effect the node carries out, `k` counting
   * them over this incarnation; false stops the node there, as a power loss between two effects
   * would. Absent: never stops.
   */
  readonly beforeEffect?: (k: number) => boolean;
}

/** What {@link ConsensusNodeOptions.onCommit} reports. */
export interface CommittedBlock {
  readonly height: number;
  /** sha256 of the block's bytes (the value consensus decided). */
  readonly id: Uint8Array;
  readonly block: Block;
  /** State root after the block (ledger and selection). */
  readonly root: Uint8Array;
  readonly txs: number;
  /** Offenders slashed by this block's evidence. */
  readonly slashed: readonly Uint8Array[];
}

/** Status of a node (the CLI prints it). */
export interface ConsensusNodeStatus {
  readonly height: number;
  readonly tip: string;
  readonly root: string;
  readonly round: number;
  readonly mempool: number;
  readonly validators: readonly { readonly address: string; readonly power: number }[];
  readonly halted: boolean;
  /** Peer messages dropped because the inbox was full. */
  readonly inboxDropped: number;
  /** Block-sync requests dropped because the peer was over its budget. */
  readonly syncRefused: number;
}

/**
 * Bounds of a node's inbox: a peer's message beyond `eventsMax` waiting events, beyond
 * `peerEventsMax` of that peer's, or beyond `bytesMax` waiting bytes is dropped and counted
 * (consensus tolerates lost messages: the tick re-sends votes and asks for missing blocks).
 */
export interface InboxLimits {
  /** Most peer messages waiting. */
  readonly eventsMax: number;
  /** Most waiting messages of one peer (a flooding peer cannot crowd out the others). */
  readonly peerEventsMax: number;
  /** Most bytes of waiting messages. */
  readonly bytesMax: number;
}

/** Defaults: 4,096 events, 1,024 per peer, 64 MiB. */
export const DEFAULT_INBOX_LIMITS: InboxLimits = {
  eventsMax: DEFAULT_DRIVER_LIMITS.eventsMax,
  peerEventsMax: DEFAULT_DRIVER_LIMITS.sourceEventsMax,
  bytesMax: DEFAULT_DRIVER_LIMITS.bytesMax,
};

/**
 * What the node's driver runs: a peer's bytes, the gossip tick, a fired engine timeout, and block
 * sync's bookkeeping once the engine's effects of a fetched certificate ran.
 */
type NodeInput =
  | { readonly kind: "payload"; readonly from: NodeId; readonly payload: Uint8Array }
  | { readonly kind: "tick" }
  | { readonly kind: "event"; readonly event: ConsensusEvent }
  | { readonly kind: "synced"; readonly from: NodeId; readonly height: number };

/** Most transactions waiting in the mempool by default. */
export const MEMPOOL_MAX = DEFAULT_MEMPOOL_LIMITS.capacity;
/** Heights between rewrites of the consensus log down to its last decision. */
const WAL_COMPACT_HEIGHTS = 4;
/** Most proposed blocks waiting for their validity check (those of a height the ledger has not reached). */
const PENDING_VALIDITY_MAX = 64;
/** Most evidence waiting for a block. */
const EVIDENCE_POOL_MAX = 256;
const ZERO_ID = new Uint8Array(32);

/** A Tendermint validator (or follower) with a ledger, over a transport. */
export class ConsensusNode {
  private engine!: TendermintEngine;
  private selection: SelectionState;
  private lastId: Uint8Array = ZERO_ID;
  private readonly mempool: Mempool;
  private readonly evidencePool = new Map<string, Evidence>();
  private readonly executor: BlockExecutor;
  private readonly sync: BlockSync;
  private readonly snapshot: SelectionSnapshot;
  private readonly pendingValidity: { height: number; valueId: Uint8Array; value: Uint8Array }[] = [];
  private readonly setCache = new Map<string, ValidatorSet>();
  private readonly ids: NodeId[];
  private readonly driver: ProtocolDriver<NodeInput, Effect>;
  private tickWaiting = false;
  private stopTick: () => void = () => {};
  private closed = false;
  private halted = false;
  /** Engine chain id (consensus messages are signed for it). */
  readonly consensusChainId: string;

  private constructor(
    private readonly opts: ConsensusNodeOptions,
    private readonly ledger: Ledger,
    private readonly wal: Log,
    private readonly blocks: BlockStore,
    genesisSelection: SelectionState,
  ) {
    this.selection = genesisSelection;
    this.consensusChainId = `chaindb-${opts.chainId}`;
    this.mempool = new Mempool(opts.mempool);
    const limits = { ...DEFAULT_INBOX_LIMITS, ...opts.inbox };
    this.driver = new ProtocolDriver<NodeInput, Effect>({
      handle: (input) => this.handle(input),
      apply: this.applier(),
      // Never inside the caller's stack (a transport callback).
      start: "microtask",
      ...(opts.beforeEffect !== undefined
        ? { beforeEffect: (_e: Effect, k: number) => opts.beforeEffect!(k) }
        : {}),
      limits: {
        eventsMax: limits.eventsMax,
        sourceEventsMax: limits.peerEventsMax,
        bytesMax: limits.bytesMax,
      },
    });
    this.snapshot = new SelectionSnapshot(opts.dir, opts.filePort ?? nodeFilePort);
    this.executor = new BlockExecutor(
      {
        ledger,
        selection: () => this.selection,
        lastId: () => this.lastId,
        height: () => this.height,
        certificate: (h) => this.blocks.get(h),
        validatorsAt: (h) => this.validatorsAt(h),
      },
      opts.chainId,
      this.consensusChainId,
    );
    this.sync = new BlockSync(
      {
        transport: opts.transport,
        clock: opts.clock,
        consensusChainId: this.consensusChainId,
        height: () => this.height,
        engineHeight: () => this.engine.height,
        halted: () => this.halted,
        certificate: (h) => this.blocks.get(h),
        validatorsAt: (h) => this.validatorsAt(h),
      },
      opts.syncRate ?? DEFAULT_SYNC_RATE,
    );
    // Engine peer indexes: the other nodes in order, with this node at its genesis validator index,
    // so a behaviour that addresses peers by validator index (a byzantine split) reaches both halves.
    this.ids = [...opts.transport.peerIds].sort();
    const genesisIndex =
      opts.key === null ? -1 : new ValidatorSet(genesisSelection.validatorsAt(1)).indexOf(opts.key.publicKey);
    this.ids.splice(Math.min(Math.max(genesisIndex, 0), this.ids.length), 0, opts.transport.self);
  }

  /**
   * Opens a node: its ledger, logs and selection state (finishing a commit a crash cut off), then
   * starts or restores the engine and joins the network.
   */
  static async open(options: ConsensusNodeOptions): Promise<ConsensusNode> {
    const params: SelectionParams = { ...DEFAULT_SELECTION_PARAMS, ...options.genesis.selection };
    if ((options.newHeightDelayMs ?? 100) < 1)
      throw new ChainDbError(
        ErrorCode.BAD_RANGE,
        `"newHeightDelayMs" expected ≥ 1 (blocks are built after the previous one is applied)`,
      );
    const validators = options.genesis.validators;
    const pool = poolGenesisBalance(params, validators);
    const accounts =
      pool > 0n
        ? [...options.genesis.accounts, { address: STAKE_POOL, balance: pool }]
        : [...options.genesis.accounts];
    const dir = options.dir;
    const port = options.filePort ?? nodeFilePort;
    if (dir !== undefined && !port.exists(dir)) {
      port.mkdir(dir);
      fsyncParent(port, dir); // the directory's own entry, before any file in it is relied on
    }
    // The ts state engine: the wasm engine refuses an empty block (see cli/node.ts).
    const ledger = await Ledger.open({
      chainId: options.chainId,
      genesis: accounts,
      engine: "ts",
      ...(dir !== undefined ? { dir: join(dir, "ledger"), filePort: port } : {}),
    });
    let wal: Log | undefined;
    let blocks: BlockStore | undefined;
    try {
      wal = dir === undefined ? memoryLog() : fileLog(join(dir, "consensus.wal"), port);
      blocks =
        dir === undefined
          ? BlockStore.memory()
          : BlockStore.open({ dir, port, segmentBytes: options.blockSegmentBytes });
      const node = new ConsensusNode(
        options,
        ledger,
        wal,
        blocks,
        SelectionState.genesis(params, validators),
      );
      await node.recover();
      node.startEngine();
      return node;
    } catch (error) {
      // A refused open (a corrupt file) releases what it opened: the ledger's lock above all,
      // or the next open is BUSY.
      for (const release of [() => wal?.close(), () => blocks?.close()])
        try {
          release();
        } catch {
          // the open's own error is the one to report
        }
      await ledger.close().catch(() => {});
      throw error;
    }
  }

  // ------------------------------------------------------------------ public API

  /** Height of the last committed block. */
  get height(): number {
    return this.ledger.height;
  }

  /** The state root after the last committed block. */
  root(): Uint8Array {
    return appRoot(this.ledger.root(), this.selection.hash());
  }

  /** The ledger (read it; only the node writes it). */
  get accounts(): Ledger {
    return this.ledger;
  }

  /** The selection state after the last committed block (read it; do not change it). */
  get selectionState(): SelectionState {
    return this.selection;
  }

  /** The validator set of `height` (known up to the committed height + 2). */
  validatorsAt(height: number): ValidatorSet {
    const list = this.selection.validatorsAt(height);
    const key = list.map((v) => `${toHex(v.address)}:${v.power}`).join(",");
    let set = this.setCache.get(key);
    if (set === undefined) {
      if (this.setCache.size >= 64) this.setCache.clear();
      this.setCache.set(key, (set = new ValidatorSet(list)));
    }
    return set;
  }

  /** The certificate (with the block as its proposal's value) of a committed height. */
  certificate(height: number): CommitCertificate | undefined {
    return this.blocks.get(height);
  }

  /**
   * Checks a signed transaction (codec, chain id, signature), adds it to the mempool and gossips
   * it; `accepted` is false for one already waiting. A refusal throws a `ChainDbError` (see
   * mempool.ts: `BAD_NONCE`, `NONCE_GAP`, `FEE_TOO_LOW`, `MEMPOOL_SENDER_LIMIT`,
   * `INSUFFICIENT_FUNDS`, `MEMPOOL_FULL`, or the codec's codes).
   */
  submit(tx: Uint8Array): { accepted: boolean } {
    const accepted = this.admitTx(tx);
    if (accepted) this.opts.transport.broadcast(tagged(TAG.tx, tx));
    return { accepted };
  }

  /** The node's status. */
  status(): ConsensusNodeStatus {
    const set = this.validatorsAt(this.height + 1);
    return {
      height: this.height,
      tip: toHex(this.lastId),
      root: toHex(this.root()),
      round: this.engine.round,
      mempool: this.mempool.size,
      validators: set.validators.map((v) => ({ address: toHex(v.address), power: v.power })),
      halted: this.halted,
      inboxDropped: this.driver.dropped,
      syncRefused: this.sync.refused,
    };
  }

  /** Resolves once every event queued so far was handled, or the node failed (tests). */
  idle(): Promise<void> {
    return this.driver.idle();
  }

  /** The first error the event loop hit (the node stops; tests and the CLI report it), else null. */
  get failure(): unknown {
    return this.driver.failure ?? null;
  }

  /** Blocks committed from fetched certificates (block sync) rather than from live votes. */
  get syncedBlocks(): number {
    return this.sync.synced;
  }

  /**
   * Evidence the engine holds (found or received, verified; what blocks draw from). Simulations
   * check with it that every equivocation seen becomes evidence.
   */
  evidence(): Evidence[] {
    return this.engine.evidence();
  }

  /** True if the engine holds its share of evidence against `address` (more is dropped: one slashes). */
  evidenceQuotaReached(address: Uint8Array): boolean {
    return this.engine.evidenceQuotaReached(address);
  }

  /** Whether the engine would take `message` in now (height window, signer, signature); no side effect. */
  admits(message: Proposal | Vote): boolean {
    return this.engine.admissible(message) >= 0;
  }

  /** Events waiting in the inbox. */
  get inboxSize(): number {
    return this.driver.size;
  }

  /** Stops: timers, handler, logs and ledger closed. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stopTick();
    this.opts.transport.setHandler({ onMessage: () => {} });
    this.driver.stop(); // what waits is dropped; an effect being awaited (a commit) finishes
    await this.driver.idle();
    // Each release runs even if one before it fails (a failing disk's last flush): otherwise the
    // ledger stays open and its LOCK held, and the reopen the error asks for is BUSY.
    let failure: { error: unknown } | undefined;
    const releases: (() => void | Promise<void>)[] = [
      () => this.wal.close(),
      () => this.blocks.close(),
      () => this.ledger.close(),
    ];
    for (const release of releases)
      try {
        await release();
      } catch (error) {
        failure ??= { error };
      }
    if (failure !== undefined) throw failure.error;
  }

  // ------------------------------------------------------------------ startup

  /** Brings the ledger and selection state up to the last decided block the logs hold. */
  private async recover(): Promise<void> {
    this.blocks.adopt(this.wal.records);
    const stored = this.snapshot.read();
    const h = this.ledger.height;
    if (stored !== null) {
      // The snapshot is written before the ledger step: one height ahead means that step was cut off.
      if (stored.height === h) this.selection = SelectionState.fromJSON(stored.state);
      else if (stored.height === h + 1 && stored.previous !== null)
        this.selection = SelectionState.fromJSON(stored.previous);
      else
        throw new ChainDbError(
          ErrorCode.STORE_MISMATCH,
          `selection snapshot of height ${stored.height} does not fit the ledger at ${h}`,
        );
    } else if (h !== 0)
      throw new ChainDbError(
        ErrorCode.STORE_MISMATCH,
        `the ledger is at height ${h} but no selection snapshot exists`,
      );
    if (h > 0) {
      const cert = this.blocks.get(h);
      if (cert === undefined)
        throw new ChainDbError(ErrorCode.STORE_MISMATCH, `the block store lacks block ${h} the ledger holds`);
      this.lastId = cert.proposal.valueId;
    }
    assert(this.selection.height === h, "selection state and ledger at one height");
    for (let next = h + 1; this.blocks.has(next); next++)
      await this.commit(next, this.blocks.get(next)!, false);
  }

  private startEngine(): void {
    const options: EngineOptions = {
      chainId: this.consensusChainId,
      validators: this.validatorsAt(this.height + 1),
      validatorsAt: (h) => this.validatorsAt(h),
      key: this.opts.key,
      buildValue: (h) => this.build(h),
      height: 1,
      newHeightDelayMs: this.opts.newHeightDelayMs ?? 100,
      peers: this.ids.length,
      ...(this.opts.timeouts !== undefined ? { timeouts: this.opts.timeouts } : {}),
      ...(this.opts.behavior !== undefined ? { behavior: this.opts.behavior } : {}),
    };
    const records = this.wal.records;
    let effects: Effect[];
    if (records.length > 0) {
      // From the ledger's next height: the block store may hold decisions the log lacks.
      const restored = TendermintEngine.restore({ ...options, height: this.height + 1 }, records);
      this.engine = restored.engine;
      effects = restored.effects;
    } else {
      this.engine = new TendermintEngine({ ...options, height: this.height + 1 });
      effects = this.engine.start();
    }
    // A lone validator decides inside start() (its own votes are a quorum): the decisions among
    // `effects` are not applied yet, so the engine may be ahead of the ledger by exactly those.
    const undecided = effects.filter((e) => e.kind === "decide").length;
    assert(
      this.engine.height === this.height + 1 + undecided,
      `engine at height ${this.engine.height}, ledger at ${this.height}`,
    );
    this.opts.transport.setHandler({
      onMessage: (from, payload) =>
        void this.driver.offer({ kind: "payload", from, payload }, from, payload.length),
    });
    this.driver.pushEffects(effects);
    const tick = () => {
      // One tick waiting at most: a slow node skips ticks instead of queueing them.
      if (!this.tickWaiting) {
        this.tickWaiting = true;
        this.driver.push({ kind: "tick" });
      }
      this.stopTick = this.opts.clock.setTimer(this.opts.tickMs ?? 200, tick);
    };
    this.stopTick = this.opts.clock.setTimer(this.opts.tickMs ?? 200, tick);
  }

  // ------------------------------------------------------------------ event loop

  /** One input to the effects it causes (the engine's; a peer's malformed bytes cause none). */
  private handle(input: NodeInput): Effect[] {
    switch (input.kind) {
      case "tick":
        this.tickWaiting = false;
        this.sync.announce();
        return this.feed({ kind: "tick" });
      case "event":
        return this.feed(input.event);
      case "synced":
        this.sync.delivered(input.from, input.height);
        return [];
      case "payload":
        try {
          return this.onPayload(input.from, input.payload);
        } catch (error) {
          // A peer's malformed bytes are its problem, not ours: drop them.
          if (!(error instanceof ChainDbError)) throw error;
          return [];
        }
    }
  }

  private feed(event: ConsensusEvent): Effect[] {
    return this.halted ? [] : this.engine.handle(event);
  }

  private onPayload(from: NodeId, payload: Uint8Array): Effect[] {
    const tag = payload[0];
    if (tag === undefined) return []; // empty
    const body = payload.subarray(1);
    switch (tag) {
      case TAG.consensus:
        return this.feed({ kind: "message", from: this.ids.indexOf(from), message: decodeMessage(body) });
      case TAG.tx:
        this.admitTx(body);
        return [];
      case TAG.status:
        this.sync.onStatus(from, readHeight(body));
        return [];
      case TAG.getBlock:
        this.sync.onGetBlock(from, readHeight(body));
        return [];
      case TAG.block: {
        const cert = this.sync.acceptBlock(from, body);
        if (cert === undefined) return [];
        // Counted and followed up once the effects of the certificate (its decision) ran.
        this.driver.push({ kind: "synced", from, height: cert.proposal.height });
        return this.feed({ kind: "message", from: this.ids.indexOf(from), message: cert });
      }
    }
    return [];
  }

  /**
   * How the node carries out the engine's effects (consensus/driver.ts): persist before send, a
   * decision (block store, snapshot, ledger) before what follows.
   */
  private applier(): (effect: Effect) => void | readonly Effect[] | Promise<void | readonly Effect[]> {
    return tendermintEffects(
      () => this.engine,
      {
        persist: (record, sync) => this.wal.append(record, sync),
        broadcast: (message) => this.opts.transport.broadcast(tagged(TAG.consensus, encodeMessage(message))),
        send: (index, message) => {
          const to = this.ids[index];
          if (to !== undefined && to !== this.opts.transport.self)
            this.opts.transport.send(to, tagged(TAG.consensus, encodeMessage(message)));
        },
        setTimer: (delayMs, fire) => void this.opts.clock.setTimer(delayMs, fire),
        validate: (height, value, valueId) => this.validate(height, value, valueId),
        decide: async (height, _value, certificate) => {
          await this.commit(height, certificate, true);
          // The decision (persisted just before) ends everything the log held: the block store and
          // the ledger have the height, and nothing of the next height was logged yet.
          if (height % WAL_COMPACT_HEIGHTS === 0) this.wal.compact([{ type: "decide", height, certificate }]);
          return this.answerValidity();
        },
        evidence: (evidence) => {
          if (this.evidencePool.size < EVIDENCE_POOL_MAX)
            this.evidencePool.set(evidenceKey(evidence), evidence);
          this.opts.onEvidence?.(evidence);
        },
      },
      (event) => void this.driver.push({ kind: "event", event }),
    );
  }

  /**
   * The verdict on a proposed block: at once for the next height; a block of a later height waits
   * (bounded: a byzantine proposer can propose a block per round; the oldest question goes) until
   * the ledger gets there; one of a committed height is never answered.
   */
  private validate(height: number, value: Uint8Array, valueId: Uint8Array): boolean | undefined {
    if (height <= this.height) return undefined;
    if (height === this.height + 1 && !this.halted) return this.check(height, value);
    if (this.pendingValidity.length >= PENDING_VALIDITY_MAX) this.pendingValidity.shift();
    this.pendingValidity.push({ height, valueId, value });
    return undefined;
  }

  /** Answers the validity questions about the next height (others wait until the ledger gets there). */
  private answerValidity(): ConsensusEvent[] {
    const out: ConsensusEvent[] = [];
    for (let i = 0; i < this.pendingValidity.length;) {
      const q = this.pendingValidity[i]!;
      if (q.height <= this.height) this.pendingValidity.splice(i, 1);
      else if (q.height === this.height + 1 && !this.halted) {
        this.pendingValidity.splice(i, 1);
        out.push({ kind: "validity", valueId: q.valueId, valid: this.check(q.height, q.value) });
      } else i++;
    }
    return out;
  }

  // ------------------------------------------------------------------ mempool

  /** Admits a transaction (cheap duplicate check before the signature); throws a coded refusal. */
  private admitTx(bytes: Uint8Array): boolean {
    const key = toHex(createHash("sha256").update(bytes).digest());
    if (this.mempool.has(key)) return false;
    const tx = decodeChainTx(bytes.slice(), this.opts.chainId);
    return this.mempool.add(tx, key, this.ledger.account(tx.tx.from), this.height, this.opts.clock.now());
  }

  private readonly nonceOf = (from: Uint8Array): bigint => this.ledger.account(from)?.nonce ?? 0n;

  // ------------------------------------------------------------------ blocks

  /** The paper's getValue(): ready mempool transactions and pending evidence on the committed state. */
  private build(height: number): Uint8Array {
    // Only senders whose next nonce waits, in runs of consecutive nonces: a gap costs nothing here.
    const ready = this.mempool.ready(this.nonceOf, this.opts.blockTxsMax ?? 1000);
    // One the committed state refuses (e.g. its funds went to a staking transaction) is dropped:
    // it would otherwise be tried again in every block until it expires.
    return this.executor.build(height, this.opts.key!.publicKey, ready, this.evidencePool.values(), (e) =>
      this.mempool.drop(e.key),
    );
  }

  /** The application's validity check of a proposed block of the next height. */
  private check(height: number, value: Uint8Array): boolean {
    return this.executor.check(height, value);
  }

  /**
   * Commits decided block `height`: block store (fsync), selection snapshot, ledger (one durable
   * step). `live` is false while recovering from the logs at startup.
   */
  private async commit(height: number, cert: CommitCertificate, live: boolean): Promise<void> {
    if (height <= this.height) return; // restored engines re-announce nothing below the ledger, but be safe
    assert(height === this.height + 1, `decided ${height} on ledger height ${this.height}`);
    if (live) this.blocks.put(height, cert);
    const execution = this.executor.executionOf(height, cert.proposal.valueId, cert.proposal.value);
    // More than 2/3 of the power decided this block: a wrong root here means this node's state diverged.
    assert(
      equalBytes(execution.root, execution.block.stateRoot),
      `decided block ${height} has a state root this node does not reach`,
    );
    this.snapshot.write(height, execution.selection, this.selection);
    const before = this.ledger.height;
    const applied = this.ledger.applyPacked(execution.packed, execution.count, {
      proposer: execution.feeRecipient,
      atomic: true,
    });
    // The ledger's height moved when the call returned: move the selection state with it before
    // awaiting, so `height` and `root()` never show a ledger at H beside a selection at H − 1 (a
    // caller reading the node while this commit awaits — the node simulation's restart check
    // did, at hostile seed 12 — saw a root no node ever committed).
    if (this.ledger.height === before + 1) this.selection = execution.selection; // not if it threw
    await applied;
    this.selection = execution.selection;
    this.lastId = cert.proposal.valueId;
    this.executor.clear();
    assert(equalBytes(this.root(), execution.root), "the committed state matches the executed block");
    this.mempool.committed(execution.senders, this.nonceOf, height, this.opts.clock.now());
    for (const e of execution.block.evidence) this.evidencePool.delete(evidenceKey(e));
    for (const [k, e] of this.evidencePool)
      if (e.a.height < height - EVIDENCE_AGE_MAX) this.evidencePool.delete(k);
    this.opts.onCommit?.({
      height,
      id: cert.proposal.valueId,
      block: execution.block,
      root: execution.root,
      txs: execution.txKeys.length,
      slashed: execution.slashed,
    });
    if (this.opts.haltHeight !== undefined && height >= this.opts.haltHeight) this.halted = true;
  }
}
