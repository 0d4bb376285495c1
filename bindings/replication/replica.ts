/**
 * The replica driver: runs a {@link ReplicaCore} against the injected world — a Transport, a
 * Clock, a durable {@link ReplicaStore} and a ledger — under the protocol driver
 * (bindings/protocol/). Events (messages, timers, client submissions) go through its bounded
 * inbox and are handled one at a time; the core's effects run in order, each awaited, so a block
 * is durable before anything that depends on it is sent or acknowledged. The same driver runs on
 * SimNetwork and on TcpTransport.
 * @module
 */
import { ChainDbError, ErrorCode, assert } from "../util/index.ts";
import { decodeTransfer, verifyTransferSignature, type BlockResult } from "../chain/index.ts";
import type { Clock, NodeId, Random, Transport } from "../net/index.ts";
import { ProtocolDriver } from "../protocol/index.ts";
import type { AccountState, TransferStatus } from "../engine/index.ts";
import { ReplicaCore, resolveConfig } from "./core.ts";
import type { ReplicaStore } from "./store.ts";
import type { Entry, ReplicaEffect, ReplicaEvent, ReplicationConfig, Role, TimerName } from "./types.ts";
import { decodeReplicaMessage, encodeReplicaMessage } from "./wire.ts";

/** What a replica needs of a ledger (bindings/chain `Ledger` fits). */
export interface ReplicaLedger {
  /** Chain id transfers must carry. */
  readonly chainId: number;
  /** Blocks applied so far. */
  readonly height: number;
  /** Applies a block of signed transfers. */
  applyBlock(transfers: readonly Uint8Array[], options: { proposer: Uint8Array }): Promise<BlockResult>;
  /** Current state root. */
  root(): Uint8Array;
  /** An account, if it exists. */
  account(address: Uint8Array): AccountState | undefined;
}

/** Options of {@link Replica.open}. */
export interface ReplicaOptions {
  id: NodeId;
  config: ReplicationConfig;
  transport: Transport;
  clock: Clock;
  random: Random;
  store: ReplicaStore;
  ledger: ReplicaLedger;
  /** 32-byte address credited with the fees of blocks this node creates. */
  proposer: Uint8Array;
  /** Bound on queued events (default 100,000); beyond it messages are dropped, submissions refused. */
  inboxMax?: number;
  /** Observes every effect before it runs (simulation checks, tracing). */
  onEffect?: (effect: ReplicaEffect) => void;
}

/** The acknowledgement of a submitted transfer. */
export interface SubmitResult {
  /** Height of the block holding the transfer. */
  height: number;
  /** Epoch of the primary that acknowledged it. */
  epoch: number;
  /** Outcome on the ledger, when the block was applied before the acknowledgement (sync mode). */
  status?: TransferStatus;
}

/** A refused write: this node is not the primary; `primary` names the one it knows, if any. */
export class NotPrimaryError extends ChainDbError {
  /** The current primary as far as this node knows. */
  readonly primary: NodeId | undefined;
  constructor(message: string, primary: NodeId | undefined) {
    super(
      ErrorCode.NOT_PRIMARY,
      primary === undefined ? `${message} (primary unknown)` : `${message}; the primary is ${primary}`,
    );
    this.primary = primary;
  }
}

/** A snapshot of a replica's state for status displays and tests. */
export interface ReplicaStatus {
  id: NodeId;
  role: Role;
  epoch: number;
  primary: NodeId | undefined;
  lastHeight: number;
  commit: number;
  applied: number;
  root: Uint8Array;
}

const RESULTS_KEPT = 1024;

/** One replica of a single-primary cluster. */
export class Replica {
  /** Messages dropped because the inbox was full or they were malformed. */
  droppedMessages = 0;
  private readonly driver: ProtocolDriver<ReplicaEvent, ReplicaEffect>;
  private readonly timers = new Map<TimerName, () => void>();
  private readonly requests = new Map<
    number,
    { resolve: (r: SubmitResult) => void; reject: (e: Error) => void }
  >();
  private readonly results = new Map<number, BlockResult>();
  private nextRequestId = 1;
  private closed = false;
  private readonly inboxMax: number;

  private constructor(
    private readonly options: ReplicaOptions,
    private readonly core: ReplicaCore,
  ) {
    this.inboxMax = options.inboxMax ?? 100_000;
    this.driver = new ProtocolDriver<ReplicaEvent, ReplicaEffect>({
      handle: (event) => this.core.handle(event),
      apply: (effect) => this.execute(effect),
      limits: { eventsMax: this.inboxMax, sourceEventsMax: this.inboxMax, internalEventsMax: this.inboxMax },
      // Closed (or crashed, in a simulation) between two effects: nothing more runs.
      beforeEffect: (effect) => (this.options.onEffect?.(effect), !this.closed),
      onFailure: () => {
        for (const cancel of this.timers.values()) cancel();
      },
    });
  }

  private get failure(): Error | undefined {
    return this.driver.failure as Error | undefined;
  }

  /** Loads the durable state, attaches to the transport and starts the protocol. */
  static async open(options: ReplicaOptions): Promise<Replica> {
    const config = resolveConfig(options.config);
    const { meta, entries } = await options.store.load();
    const applied = options.ledger.height;
    if (applied > entries.length) {
      throw new ChainDbError(
        ErrorCode.STORE_MISMATCH,
        `the ledger is at height ${applied} but the replica log has ${entries.length} blocks`,
      );
    }
    const core = new ReplicaCore(
      options.id,
      options.proposer,
      config,
      { meta, entries, applied },
      options.random,
      () => options.clock.now(),
    );
    const replica = new Replica(options, core);
    options.transport.setHandler({
      onMessage: (from, payload) => replica.receive(from, payload),
      onPeerUp: (peer) => replica.enqueue({ kind: "peerUp", peer }),
    });
    replica.enqueue({ kind: "start" });
    return replica;
  }

  /** This node's id. */
  get id(): NodeId {
    return this.options.id;
  }

  /** The first error that stopped this replica (a broken invariant), if any. */
  get error(): Error | undefined {
    return this.failure;
  }

  /** Submits a signed transfer; resolves when acknowledged, rejects with NOT_PRIMARY, BUSY or a codec error. */
  submit(transfer: Uint8Array): Promise<SubmitResult> {
    if (this.closed) return Promise.reject(new ChainDbError(ErrorCode.CLOSED, "the replica is closed"));
    const t = decodeTransfer(transfer);
    if (t.chainId !== this.options.ledger.chainId) {
      return Promise.reject(
        new ChainDbError(
          ErrorCode.WRONG_CHAIN,
          `transfer is for chain ${t.chainId}, this is chain ${this.options.ledger.chainId}`,
        ),
      );
    }
    if (this.core.role !== "primary")
      return Promise.reject(new NotPrimaryError("this node is not the primary", this.core.primary));
    if (!verifyTransferSignature(transfer))
      return Promise.reject(new ChainDbError(ErrorCode.BAD_SIGNATURE, "the transfer has a bad signature"));
    if (this.driver.size >= this.inboxMax)
      return Promise.reject(new ChainDbError(ErrorCode.BUSY, "the replica's inbox is full"));
    const requestId = this.nextRequestId++;
    return new Promise((resolve, reject) => {
      this.requests.set(requestId, { resolve, reject });
      this.enqueue({ kind: "submit", requestId, transfer: new Uint8Array(transfer) });
    });
  }

  /** Reads an account from this replica's committed state (any role). */
  read(address: Uint8Array): AccountState | undefined {
    return this.options.ledger.account(address);
  }

  /** Current state. */
  status(): ReplicaStatus {
    return {
      id: this.id,
      role: this.core.role,
      epoch: this.core.currentEpoch,
      primary: this.core.primary,
      lastHeight: this.core.lastHeight,
      commit: this.core.commit,
      applied: this.options.ledger.height,
      root: this.options.ledger.root(),
    };
  }

  /** The log entry at `height`, if this replica has it. */
  entry(height: number): Entry | undefined {
    return this.core.entry(height);
  }

  /** Resolves once the inbox is empty and no effect is running; rejects if the replica failed. */
  async idle(): Promise<void> {
    await this.driver.idle();
    if (this.failure !== undefined) throw this.failure;
  }

  /** Stops: cancels timers, detaches from the transport, refuses waiting submissions. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const cancel of this.timers.values()) cancel();
    this.timers.clear();
    this.driver.stop();
    for (const r of this.requests.values())
      r.reject(new ChainDbError(ErrorCode.CLOSED, "the replica closed before the commit was acknowledged"));
    this.requests.clear();
    await this.idle().catch(() => {});
  }

  private receive(from: NodeId, payload: Uint8Array): void {
    let message;
    try {
      message = decodeReplicaMessage(payload);
    } catch {
      this.droppedMessages++;
      return;
    }
    this.enqueue({ kind: "message", from, message });
  }

  private enqueue(event: ReplicaEvent): void {
    if (this.closed || this.failure !== undefined) return;
    if (event.kind === "message") {
      if (!this.driver.offer(event, event.from)) this.droppedMessages++;
    } else this.driver.push(event);
  }

  private async execute(effect: ReplicaEffect): Promise<void> {
    switch (effect.kind) {
      case "persist":
        return this.options.store.write(effect);
      case "send":
        this.options.transport.send(effect.to, encodeReplicaMessage(effect.message));
        return;
      case "setTimer": {
        this.timers.get(effect.name)?.();
        const name = effect.name;
        this.timers.set(
          name,
          this.options.clock.setTimer(effect.ms, () => this.enqueue({ kind: "timer", name })),
        );
        return;
      }
      case "cancelTimer":
        this.timers.get(effect.name)?.();
        this.timers.delete(effect.name);
        return;
      case "apply":
        return this.apply(effect.height, effect.entry);
      case "ack":
        effect.requestIds.forEach((id, i) => {
          const status = this.results.get(effect.height)?.statuses[i];
          this.settle(id, (r) =>
            r.resolve({
              height: effect.height,
              epoch: effect.epoch,
              ...(status !== undefined ? { status } : {}),
            }),
          );
        });
        return;
      case "reject":
        for (const id of effect.requestIds) {
          const error =
            effect.code === "BUSY"
              ? new ChainDbError(ErrorCode.BUSY, effect.message)
              : new NotPrimaryError(effect.message, effect.primary);
          this.settle(id, (r) => r.reject(error));
        }
        return;
      case "committed":
        return;
    }
  }

  private async apply(height: number, entry: Entry): Promise<void> {
    const ledger = this.options.ledger;
    assert(
      ledger.height === height - 1,
      `block ${height} follows the ledger's height ${ledger.height} (never applied twice)`,
    );
    const transfers: Uint8Array[] = [];
    for (let at = 0; at < entry.transfers.length; at += 157)
      transfers.push(entry.transfers.subarray(at, at + 157));
    const result = await ledger.applyBlock(transfers, { proposer: entry.proposer });
    assert(result.height === height, "the ledger applied the block at its height");
    this.results.set(height, result);
    if (this.results.size > RESULTS_KEPT) this.results.delete(this.results.keys().next().value!);
  }

  private settle(
    id: number,
    fn: (r: { resolve: (r: SubmitResult) => void; reject: (e: Error) => void }) => void,
  ): void {
    const request = this.requests.get(id);
    if (request === undefined) return;
    this.requests.delete(id);
    fn(request);
  }
}
