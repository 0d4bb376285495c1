/**
 * A consensus node: the Tendermint engine (tendermint.ts) driven over any {@link Transport}, with
 * its write-ahead log, a mempool of signed transactions, and a {@link Ledger} as the application
 * (CometBFT's node = consensus reactor + mempool + block executor + block store, reduced).
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
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";
import { join } from "node:path";
import { ChainDbError, ErrorCode, assert, equalBytes, toHex } from "../util/index.ts";
import { Ledger, type GenesisAllocation, type KeyPair } from "../chain/index.ts";
import type { Clock, NodeId, Transport } from "../net/index.ts";
import { DEFAULT_SELECTION_PARAMS, SelectionState, STAKE_POOL, EVIDENCE_AGE_MAX, decodeBlockTxs, decodeChainTx, encodeBlockTxs, poolGenesisBalance, type ChainTx, type SelectionJson, type SelectionParams } from "../selection/index.ts";
import type { Behavior } from "./behavior.ts";
import { decodeBlock, encodeBlock, verifyCommit, type Block } from "./block.ts";
import { decodeMessage, encodeMessage, valueIdOf } from "./codec.ts";
import { accused, evidenceKey, verifyEvidence } from "./evidence.ts";
import { TendermintEngine, type EngineOptions } from "./tendermint.ts";
import type { CommitCertificate, ConsensusEvent, Effect, Evidence, TimeoutConfig, WalRecord } from "./types.ts";
import { ValidatorSet } from "./validators.ts";
import { FileWal } from "./wal.ts";

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
  readonly timeouts?: TimeoutConfig;
  /** Wait after a decision before the next height (CometBFT's timeout_commit); default 100 ms, at least 1. */
  readonly newHeightDelayMs?: number;
  /** Gossip tick: status to peers, re-sends when stuck; default 200 ms. */
  readonly tickMs?: number;
  /** How own messages go out (tests and `--byzantine` plug in a misbehaving one). */
  readonly behavior?: Behavior;
  /** Most transactions per block; default 1000. */
  readonly blockTxsMax?: number;
  /** Stop taking part in consensus after committing this height (still serves blocks). */
  readonly haltHeight?: number;
  /** Called after each block is committed. */
  readonly onCommit?: (block: CommittedBlock) => void;
  /** Called with each piece of evidence the engine finds. */
  readonly onEvidence?: (evidence: Evidence) => void;
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
}

/** Most transactions waiting in the mempool. */
export const MEMPOOL_MAX = 20_000;
/** Heights between rewrites of the consensus log down to its last decision. */
const WAL_COMPACT_HEIGHTS = 4;
/** Most evidence waiting for a block. */
const EVIDENCE_POOL_MAX = 256;
/** Most evidence one block carries (the codec allows more). */
const BLOCK_EVIDENCE_TAKEN = 8;
/** Executions of proposed blocks kept per height (a byzantine proposer can propose one per round). */
const EXECUTIONS_MAX = 64;
const TAG = { consensus: 0, tx: 1, status: 2, getBlock: 3, block: 4 } as const;
const ZERO_ID = new Uint8Array(32);
const ROOT_DOMAIN = new TextEncoder().encode("chaindb/app-root/v1");

/** A block executed on scratch state, ready to commit if decided. */
interface Execution {
  readonly block: Block;
  readonly packed: Uint8Array;
  readonly count: number;
  readonly selection: SelectionState;
  readonly root: Uint8Array;
  readonly feeRecipient: Uint8Array;
  readonly txKeys: readonly string[];
  readonly slashed: readonly Uint8Array[];
}

/** The log the engine writes: a file, or an array in memory. */
interface Log {
  readonly records: readonly WalRecord[];
  append(record: WalRecord, sync: boolean): void;
  /** Replaces the contents with `records` (atomically for a file). */
  compact(records: readonly WalRecord[]): void;
  close(): void;
}

/** A Tendermint validator (or follower) with a ledger, over a transport. */
export class ConsensusNode {
  private engine!: TendermintEngine;
  private selection: SelectionState;
  private lastId: Uint8Array = ZERO_ID;
  private readonly blocks = new Map<number, CommitCertificate>();
  private readonly mempool = new Map<string, ChainTx>();
  private readonly evidencePool = new Map<string, Evidence>();
  private executions = new Map<string, Execution>();
  private readonly pendingValidity: { height: number; valueId: Uint8Array; value: Uint8Array }[] = [];
  private readonly peerHeights = new Map<NodeId, number>();
  private readonly setCache = new Map<string, ValidatorSet>();
  private readonly ids: NodeId[];
  private queue: Promise<void> = Promise.resolve();
  private stopTick: () => void = () => {};
  private closed = false;
  private halted = false;
  /** Blocks committed from fetched certificates (block sync) rather than from live votes. */
  syncedBlocks = 0;
  /** The first error the event loop hit (the node stops; tests and the CLI report it). */
  failure: unknown = null;
  /** Engine chain id (consensus messages are signed for it). */
  readonly consensusChainId: string;

  private constructor(
    private readonly opts: ConsensusNodeOptions,
    private readonly ledger: Ledger,
    private readonly wal: Log,
    private readonly blockLog: Log,
    genesisSelection: SelectionState,
  ) {
    this.selection = genesisSelection;
    this.consensusChainId = `chaindb-${opts.chainId}`;
    // Engine peer indexes: the other nodes in order, with this node at its genesis validator index,
    // so a behaviour that addresses peers by validator index (a byzantine split) reaches both halves.
    this.ids = [...opts.transport.peerIds].sort();
    const genesisIndex = opts.key === null ? -1 : new ValidatorSet(genesisSelection.validatorsAt(1)).indexOf(opts.key.publicKey);
    this.ids.splice(Math.min(Math.max(genesisIndex, 0), this.ids.length), 0, opts.transport.self);
  }

  /**
   * Opens a node: its ledger, logs and selection state (finishing a commit a crash cut off), then
   * starts or restores the engine and joins the network.
   */
  static async open(options: ConsensusNodeOptions): Promise<ConsensusNode> {
    const params: SelectionParams = { ...DEFAULT_SELECTION_PARAMS, ...options.genesis.selection };
    if ((options.newHeightDelayMs ?? 100) < 1) throw new ChainDbError(ErrorCode.BAD_RANGE, `"newHeightDelayMs" expected ≥ 1 (blocks are built after the previous one is applied)`);
    const validators = options.genesis.validators;
    const pool = poolGenesisBalance(params, validators);
    const accounts = pool > 0n ? [...options.genesis.accounts, { address: STAKE_POOL, balance: pool }] : [...options.genesis.accounts];
    const dir = options.dir;
    if (dir !== undefined) mkdirSync(dir, { recursive: true });
    // The ts state engine: the wasm engine refuses an empty block (see cli/node.ts).
    const ledger = await Ledger.open({ chainId: options.chainId, genesis: accounts, engine: "ts", ...(dir !== undefined ? { dir: join(dir, "ledger") } : {}) });
    const wal = dir === undefined ? memoryLog() : fileLog(join(dir, "consensus.wal"));
    const blockLog = dir === undefined ? memoryLog() : fileLog(join(dir, "blocks.wal"));
    const node = new ConsensusNode(options, ledger, wal, blockLog, SelectionState.genesis(params, validators));
    await node.recover();
    node.startEngine();
    return node;
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

  /** Checks a signed transaction (codec, chain id, signature), adds it to the mempool and gossips it. */
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
    };
  }

  /** Resolves once every event queued so far was handled (tests). */
  idle(): Promise<void> {
    return this.queue;
  }

  /** Stops: timers, handler, logs and ledger closed. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stopTick();
    this.opts.transport.setHandler({ onMessage: () => {} });
    await this.queue;
    this.wal.close();
    this.blockLog.close();
    await this.ledger.close();
  }

  // ------------------------------------------------------------------ startup

  /** Brings the ledger and selection state up to the last decided block the logs hold. */
  private async recover(): Promise<void> {
    for (const r of this.blockLog.records) if (r.type === "decide") this.blocks.set(r.height, r.certificate);
    for (const r of this.wal.records) {
      if (r.type === "decide" && !this.blocks.has(r.height)) {
        this.blockLog.append(r, true);
        this.blocks.set(r.height, r.certificate);
      }
    }
    const stored = this.readSnapshot();
    const h = this.ledger.height;
    if (stored !== null) {
      // The snapshot is written before the ledger step: one height ahead means that step was cut off.
      if (stored.height === h) this.selection = SelectionState.fromJSON(stored.state);
      else if (stored.height === h + 1 && stored.previous !== null) this.selection = SelectionState.fromJSON(stored.previous);
      else throw new ChainDbError(ErrorCode.STORE_MISMATCH, `selection snapshot of height ${stored.height} does not fit the ledger at ${h}`);
    } else if (h !== 0) throw new ChainDbError(ErrorCode.STORE_MISMATCH, `the ledger is at height ${h} but no selection snapshot exists`);
    if (h > 0) {
      const cert = this.blocks.get(h);
      if (cert === undefined) throw new ChainDbError(ErrorCode.STORE_MISMATCH, `the block store lacks block ${h} the ledger holds`);
      this.lastId = cert.proposal.valueId;
    }
    assert(this.selection.height === h, "selection state and ledger at one height");
    for (let next = h + 1; this.blocks.has(next); next++) await this.commit(next, this.blocks.get(next)!, false);
  }

  private startEngine(): void {
    const options: EngineOptions = {
      chainId: this.consensusChainId,
      validators: this.validatorsAt(this.height + 1),
      validatorsAt: (h) => this.validatorsAt(h),
      key: this.opts.key,
      buildValue: (h, r) => this.build(h, r),
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
    assert(this.engine.height === this.height + 1, `engine at height ${this.engine.height}, ledger at ${this.height}`);
    this.opts.transport.setHandler({ onMessage: (from, payload) => this.enqueue(() => this.onPayload(from, payload)) });
    this.enqueue(() => this.run(effects));
    const tick = () => {
      this.enqueue(() => this.onTick());
      this.stopTick = this.opts.clock.setTimer(this.opts.tickMs ?? 200, tick);
    };
    this.stopTick = this.opts.clock.setTimer(this.opts.tickMs ?? 200, tick);
  }

  // ------------------------------------------------------------------ event loop

  /** Runs `step` after every earlier event (one event at a time, in arrival order). */
  private enqueue(step: () => void | Promise<void>): void {
    this.queue = this.queue.then(async () => {
      if (this.closed || this.failure !== null) return;
      try {
        await step();
      } catch (error) {
        this.failure = error;
      }
    });
  }

  private async feed(event: ConsensusEvent): Promise<void> {
    if (this.halted) return;
    await this.run(this.engine.handle(event));
  }

  /** Carries out the engine's effects in order (persist before send; a decision before what follows). */
  private async run(effects: Effect[]): Promise<void> {
    for (let k = 0; k < effects.length && k < 100_000; k++) {
      const e = effects[k]!;
      switch (e.kind) {
        case "persist":
          this.wal.append(e.record, e.sync);
          break;
        case "broadcast":
          this.opts.transport.broadcast(tagged(TAG.consensus, encodeMessage(e.message)));
          break;
        case "send": {
          const to = this.ids[e.to];
          if (to !== undefined && to !== this.opts.transport.self) this.opts.transport.send(to, tagged(TAG.consensus, encodeMessage(e.message)));
          break;
        }
        case "schedule":
          this.opts.clock.setTimer(e.delayMs, () => this.enqueue(() => this.feed({ kind: "timeout", timeout: e.timeout })));
          break;
        case "validate":
          this.pendingValidity.push({ height: e.height, valueId: e.valueId, value: e.value });
          effects.push(...this.answerValidity());
          break;
        case "decide":
          await this.commit(e.height, e.certificate, true);
          // The decision (persisted just before) ends everything the log held: the block store and
          // the ledger have the height, and nothing of the next height was logged yet.
          if (e.height % WAL_COMPACT_HEIGHTS === 0) this.wal.compact([{ type: "decide", height: e.height, certificate: e.certificate }]);
          effects.push(...this.answerValidity());
          break;
        case "evidence":
          if (this.evidencePool.size < EVIDENCE_POOL_MAX) this.evidencePool.set(evidenceKey(e.evidence), e.evidence);
          this.opts.onEvidence?.(e.evidence);
          break;
      }
    }
  }

  /** Answers the validity questions about the next height (others wait until the ledger gets there). */
  private answerValidity(): Effect[] {
    const out: Effect[] = [];
    for (let i = 0; i < this.pendingValidity.length; ) {
      const q = this.pendingValidity[i]!;
      if (q.height <= this.height) this.pendingValidity.splice(i, 1);
      else if (q.height === this.height + 1 && !this.halted) {
        this.pendingValidity.splice(i, 1);
        out.push(...this.engine.handle({ kind: "validity", valueId: q.valueId, valid: this.check(q.height, q.value) }));
      } else i++;
    }
    return out;
  }

  private async onPayload(from: NodeId, payload: Uint8Array): Promise<void> {
    if (payload.length < 1) return;
    const body = payload.subarray(1);
    try {
      switch (payload[0]) {
        case TAG.consensus:
          return await this.feed({ kind: "message", from: this.ids.indexOf(from), message: decodeMessage(body) });
        case TAG.tx:
          this.admitTx(body);
          return;
        case TAG.status:
          return this.onStatus(from, readHeight(body));
        case TAG.getBlock: {
          const cert = this.blocks.get(readHeight(body));
          if (cert !== undefined) this.opts.transport.send(from, tagged(TAG.block, encodeMessage(cert)));
          return;
        }
        case TAG.block:
          return await this.onBlock(from, body);
      }
    } catch (error) {
      // A peer's malformed bytes are its problem, not ours: drop them.
      if (!(error instanceof ChainDbError)) throw error;
    }
  }

  private async onTick(): Promise<void> {
    this.opts.transport.broadcast(tagged(TAG.status, heightBytes(this.height)));
    await this.feed({ kind: "tick" });
  }

  // ------------------------------------------------------------------ block sync

  private onStatus(from: NodeId, height: number): void {
    this.peerHeights.set(from, height);
    if (height > this.height && !this.halted) this.opts.transport.send(from, tagged(TAG.getBlock, heightBytes(this.height + 1)));
  }

  /** A fetched block: verify its certificate against the set of its height, then let the engine decide it. */
  private async onBlock(from: NodeId, body: Uint8Array): Promise<void> {
    const cert = decodeMessage(body);
    if (cert.kind !== "commit" || this.halted) return;
    const height = cert.proposal.height;
    if (height !== this.height + 1 || this.engine.height !== height) return;
    if (!equalBytes(valueIdOf(cert.proposal.value), cert.proposal.valueId)) return;
    if (!verifyCommit(this.consensusChainId, this.validatorsAt(height), cert, height, cert.proposal.valueId)) return;
    await this.feed({ kind: "message", from: this.ids.indexOf(from), message: cert });
    if (this.height === height) this.syncedBlocks++;
    // Still behind: ask for the next one at once.
    const known = this.peerHeights.get(from) ?? 0;
    if (known > this.height && !this.halted) this.opts.transport.send(from, tagged(TAG.getBlock, heightBytes(this.height + 1)));
  }

  // ------------------------------------------------------------------ mempool

  private admitTx(bytes: Uint8Array): boolean {
    const tx = decodeChainTx(bytes.slice(), this.opts.chainId);
    const key = toHex(createHash("sha256").update(bytes).digest());
    if (this.mempool.has(key)) return false;
    const account = this.ledger.account(tx.tx.from);
    if (tx.tx.nonce < (account?.nonce ?? 0n)) throw new ChainDbError(ErrorCode.BAD_NONCE, `nonce ${tx.tx.nonce} was used already`);
    if (this.mempool.size >= MEMPOOL_MAX) throw new ChainDbError(ErrorCode.BUSY, `mempool full (${MEMPOOL_MAX} transactions)`);
    this.mempool.set(key, tx);
    return true;
  }

  /** After a commit: drop the included transactions and any whose nonce is spent. */
  private pruneMempool(included: readonly string[]): void {
    for (const k of included) this.mempool.delete(k);
    for (const [k, tx] of this.mempool) if (tx.tx.nonce < (this.ledger.account(tx.tx.from)?.nonce ?? 0n)) this.mempool.delete(k);
  }

  // ------------------------------------------------------------------ blocks

  /** The paper's getValue(): a block of mempool transactions and pending evidence on the committed state. */
  private build(height: number, _round: number): Uint8Array {
    assert(height === this.height + 1, `building block ${height} on height ${this.height}`);
    const feeRecipient = this.opts.key!.publicKey;
    const evidence = [...this.evidencePool.values()].filter((e) => this.evidenceUsable(e, height)).slice(0, BLOCK_EVIDENCE_TAKEN);
    const selection = this.selection.clone();
    const run = selection.begin(height, feeRecipient, this.ledger);
    const slashed = evidence.map((e) => (run.slash(evidenceKey(e), accused(e), e.a.height), accused(e)));
    const included: ChainTx[] = [];
    const txKeys: string[] = [];
    for (const [key, tx] of this.mempool) {
      if (included.length >= (this.opts.blockTxsMax ?? 1000)) break;
      try {
        run.tx(tx);
        included.push(tx);
        txKeys.push(key);
      } catch (error) {
        if (!(error instanceof ChainDbError)) throw error; // refused now (e.g. a nonce gap): maybe later
      }
    }
    const { packed, count } = run.finish();
    const preview = this.ledger.preview(packed, count, feeRecipient);
    assert(preview.statuses.every((s) => s === "ok"), `a built block fails on the ledger: ${preview.statuses.find((s) => s !== "ok")}`);
    const root = appRoot(preview.root, selection.hash());
    const lastCommit = height === 1 ? null : this.blocks.get(height - 1)!;
    const block: Block = { height, parent: this.lastId, lastCommit, evidence, txs: encodeBlockTxs({ feeRecipient, txs: included.map((t) => t.bytes) }), stateRoot: root };
    const value = encodeBlock(block);
    this.remember(value, { block, packed, count, selection, root, feeRecipient, txKeys, slashed });
    return value;
  }

  private evidenceUsable(e: Evidence, height: number): boolean {
    const h = e.a.height;
    if (h >= height || h < height - EVIDENCE_AGE_MAX || h < 1 || this.selection.wasSlashed(evidenceKey(e))) return false;
    return verifyEvidence(this.consensusChainId, this.validatorsAt(h), e);
  }

  /** The application's validity check of a proposed block of the next height. */
  private check(height: number, value: Uint8Array): boolean {
    try {
      const done = this.executions.get(toHex(valueIdOf(value)));
      const execution = done ?? this.execute(height, value);
      return equalBytes(execution.root, execution.block.stateRoot);
    } catch (error) {
      if (error instanceof ChainDbError) return false;
      throw error;
    }
  }

  /** Executes a block of the next height on scratch state; throws a typed error if it is invalid. */
  private execute(height: number, value: Uint8Array): Execution {
    const block = decodeBlock(value);
    const bad = (why: string) => new ChainDbError(ErrorCode.BAD_MESSAGE, `block ${height}: ${why}`);
    if (block.height !== height) throw bad(`claims height ${block.height}`);
    if (!equalBytes(block.parent, this.lastId)) throw bad("wrong parent");
    if (height === 1 ? block.lastCommit !== null : block.lastCommit === null || !verifyCommit(this.consensusChainId, this.validatorsAt(height - 1), block.lastCommit, height - 1, this.lastId)) {
      throw bad("missing or invalid commit of the parent");
    }
    const keys = new Set<string>();
    for (const e of block.evidence) {
      if (keys.has(evidenceKey(e)) || !this.evidenceUsable(e, height)) throw bad("unusable evidence");
      keys.add(evidenceKey(e));
    }
    const { feeRecipient, txs } = decodeBlockTxs(block.txs);
    const decoded = txs.map((t) => decodeChainTx(t, this.opts.chainId));
    const selection = this.selection.clone();
    const run = selection.begin(height, feeRecipient, this.ledger);
    const slashed = block.evidence.map((e) => (run.slash(evidenceKey(e), accused(e), e.a.height), accused(e)));
    for (const t of decoded) run.tx(t);
    const { packed, count } = run.finish();
    const preview = this.ledger.preview(packed, count, feeRecipient);
    if (!preview.statuses.every((s) => s === "ok")) throw bad(`a transaction fails on the ledger (${preview.statuses.find((s) => s !== "ok")})`);
    const root = appRoot(preview.root, selection.hash());
    const txKeys = txs.map((t) => toHex(createHash("sha256").update(t).digest()));
    const execution = { block, packed, count, selection, root, feeRecipient, txKeys, slashed };
    this.remember(value, execution);
    return execution;
  }

  private remember(value: Uint8Array, execution: Execution): void {
    if (this.executions.size >= EXECUTIONS_MAX) this.executions.clear();
    this.executions.set(toHex(valueIdOf(value)), execution);
  }

  /**
   * Commits decided block `height`: block store (fsync), selection snapshot, ledger (one durable
   * step). `live` is false while recovering from the logs at startup.
   */
  private async commit(height: number, cert: CommitCertificate, live: boolean): Promise<void> {
    if (height <= this.height) return; // restored engines re-announce nothing below the ledger, but be safe
    assert(height === this.height + 1, `decided ${height} on ledger height ${this.height}`);
    const value = cert.proposal.value;
    if (live && !this.blocks.has(height)) {
      this.blockLog.append({ type: "decide", height, certificate: cert }, true);
      this.blocks.set(height, cert);
    }
    const execution = this.executions.get(toHex(cert.proposal.valueId)) ?? this.execute(height, value);
    // More than 2/3 of the power decided this block: a wrong root here means this node's state diverged.
    assert(equalBytes(execution.root, execution.block.stateRoot), `decided block ${height} has a state root this node does not reach`);
    this.writeSnapshot(height, execution.selection);
    await this.ledger.applyPacked(execution.packed, execution.count, { proposer: execution.feeRecipient, atomic: true });
    this.selection = execution.selection;
    this.lastId = cert.proposal.valueId;
    this.executions = new Map();
    assert(equalBytes(this.root(), execution.root), "the committed state matches the executed block");
    this.pruneMempool(execution.txKeys);
    for (const e of execution.block.evidence) this.evidencePool.delete(evidenceKey(e));
    for (const [k, e] of this.evidencePool) if (e.a.height < height - EVIDENCE_AGE_MAX) this.evidencePool.delete(k);
    this.opts.onCommit?.({ height, id: cert.proposal.valueId, block: execution.block, root: execution.root, txs: execution.txKeys.length, slashed: execution.slashed });
    if (this.opts.haltHeight !== undefined && height >= this.opts.haltHeight) this.halted = true;
  }

  // ------------------------------------------------------------------ selection snapshot

  private snapshotPath(): string | null {
    return this.opts.dir === undefined ? null : join(this.opts.dir, "selection.json");
  }

  /** Written (fsync, rename) before the ledger step, with the state before it for a cut-off commit. */
  private writeSnapshot(height: number, next: SelectionState): void {
    const path = this.snapshotPath();
    if (path === null) return;
    const text = JSON.stringify({ height, state: next.toJSON(), previous: this.selection.toJSON() });
    const fd = openSync(`${path}.tmp`, "w");
    writeSync(fd, text);
    fsyncSync(fd);
    closeSync(fd);
    renameSync(`${path}.tmp`, path);
  }

  private readSnapshot(): { height: number; state: SelectionJson; previous: SelectionJson | null } | null {
    const path = this.snapshotPath();
    if (path === null || !existsSync(path)) return null;
    try {
      return JSON.parse(readFileSync(path, "utf8")) as { height: number; state: SelectionJson; previous: SelectionJson | null };
    } catch (error) {
      throw new ChainDbError(ErrorCode.STORE_CORRUPT, `unreadable selection snapshot ${path}`, { cause: error });
    }
  }
}

/** The block's state root: sha256(domain ‖ ledger root ‖ selection hash). */
export function appRoot(ledgerRoot: Uint8Array, selectionHash: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha256").update(ROOT_DOMAIN).update(ledgerRoot).update(selectionHash).digest());
}

function tagged(tag: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(1 + body.length);
  out[0] = tag;
  out.set(body, 1);
  return out;
}

function heightBytes(height: number): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(height), true);
  return out;
}

function readHeight(body: Uint8Array): number {
  if (body.length !== 8) throw new ChainDbError(ErrorCode.BAD_MESSAGE, `height expected 8 bytes, got ${body.length}`);
  const h = new DataView(body.buffer, body.byteOffset, 8).getBigUint64(0, true);
  if (h > BigInt(Number.MAX_SAFE_INTEGER)) throw new ChainDbError(ErrorCode.BAD_RANGE, `height ${h} out of range`);
  return Number(h);
}

function memoryLog(): Log {
  const records: WalRecord[] = [];
  return { records, append: (r) => void records.push(r), compact: (keep) => void records.splice(0, records.length, ...keep), close: () => {} };
}

function fileLog(path: string): Log {
  const wal = FileWal.open(path);
  return { records: wal.recovered.records, append: (r, sync) => wal.append(r, sync), compact: (keep) => wal.rewrite(keep), close: () => wal.close() };
}
