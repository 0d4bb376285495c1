/**
 * A multi-primary replica: every node accepts transfers into its mempool, mines blocks with the
 * proof-of-work engine and gossips transfers and blocks (each node forwards what it had not seen;
 * duplicates are dropped). Fork choice is Bitcoin's: the valid chain with the most cumulative
 * work (see pow-core.ts, the deterministic core this module drives). A reorganisation rebuilds the
 * ledger along the new branch (from genesis: the ledger cannot roll back) and returns the
 * abandoned blocks' transfers to the mempool unless the new branch has them. A block failing the
 * proof of work, the merkle root, a transfer, or the state root is rejected and never forwarded.
 * Blocks are kept on the node's disk, so a restarted node rebuilds its chain and catches up from
 * its peers.
 *
 * This module is the driver: it owns the ledger, the disk, the timers and the transport, and runs
 * the core under the protocol driver (bindings/protocol/): events (messages, timers) go through
 * its bounded inbox one at a time, effects run in order (a block is on disk before it is
 * gossiped), so runs on the SimNetwork replay exactly.
 * @module
 */
import { ChainDbError, ErrorCode, assert, toHex } from "../util/index.ts";
import { setNonce, type BlockResult } from "../chain/index.ts";
import type { Engine } from "../engine/index.ts";
import { bitsToTarget } from "../pow/index.ts";
import type { Clock, NodeId, Random, SimStorage, Transport } from "../net/index.ts";
import { ProtocolDriver } from "../protocol/index.ts";
import type { ReplicaLedger } from "./replica.ts";
import { encodeBlock, newHeader, type PowBlock } from "./pow-block.ts";
import { PowCore, type PowEffect, type PowEvent } from "./pow-core.ts";

/** A ledger that can apply a block all-or-nothing. */
export interface PowLedger extends Omit<ReplicaLedger, "applyBlock"> {
  /** Applies a block; with `atomic` a rejected transfer rejects the block (state untouched). */
  applyBlock(
    transfers: readonly Uint8Array[],
    options: { proposer: Uint8Array; atomic?: boolean },
  ): Promise<BlockResult>;
}

/** Options of {@link PowNode.open}. */
export interface PowNodeOptions {
  id: NodeId;
  transport: Transport;
  clock: Clock;
  random: Random;
  /** The node's disk (blocks are kept under `block/`). */
  storage: Pick<SimStorage, "get" | "put" | "keys" | "sync">;
  engine: Engine;
  /** Opens a fresh ledger at genesis (for startup and reorganisations). */
  openLedger: () => Promise<PowLedger>;
  /** Compact target every block must carry (e.g. 0x207fffff: about two hashes per block). */
  bits: number;
  /** Mean time between blocks of this node's miner in ms; omitted: this node does not mine. */
  mineEveryMs?: number;
  /** Time between re-announcements of the tip to every peer (default 500 ms). */
  announceMs?: number;
  /** Most transfers in the mempool (default 10,000) and per sender (default 64). */
  mempoolMax?: number;
  mempoolPerSenderMax?: number;
  /** Observes each block this node connects (id, height) and rejects (id, reason). */
  onConnect?: (block: PowBlock, height: number) => void;
  onReject?: (id: string, reason: string) => void;
}

const FEE_SINK = new Uint8Array(32); // fees are burned: headers carry no coinbase
const INBOX_MAX = 100_000;

/** One node of a multi-primary proof-of-work cluster: the driver of a {@link PowCore}. */
export class PowNode {
  private ledger!: PowLedger;
  private readonly core: PowCore;
  private readonly driver: ProtocolDriver<PowEvent, PowEffect>;
  private closed = false;
  private readonly cancels: (() => void)[] = [];

  private constructor(private readonly o: PowNodeOptions) {
    this.core = new PowCore({
      engine: o.engine,
      bits: o.bits,
      random: o.random,
      ledger: () => this.ledger,
      ...(o.mineEveryMs !== undefined ? { mineEveryMs: o.mineEveryMs } : {}),
      ...(o.announceMs !== undefined ? { announceMs: o.announceMs } : {}),
      ...(o.mempoolMax !== undefined ? { mempoolMax: o.mempoolMax } : {}),
      ...(o.mempoolPerSenderMax !== undefined ? { mempoolPerSenderMax: o.mempoolPerSenderMax } : {}),
    });
    this.driver = new ProtocolDriver<PowEvent, PowEffect>({
      handle: (event) => this.core.handle(event),
      apply: (effect) => this.apply(effect),
      limits: { eventsMax: INBOX_MAX, sourceEventsMax: INBOX_MAX, internalEventsMax: INBOX_MAX },
    });
  }

  /** Loads stored blocks, rebuilds the best chain, and joins the network. */
  static async open(options: PowNodeOptions): Promise<PowNode> {
    const node = new PowNode(options);
    node.ledger = await options.openLedger();
    const stored = options.storage.keys("block/").map((k) => options.storage.get(k)!);
    node.driver.pushEffects(node.core.load(stored));
    await node.idle();
    options.transport.setHandler({
      onMessage: (from, payload) => node.enqueue({ kind: "message", from, payload }),
      onPeerUp: (peer) => node.enqueue({ kind: "peerUp", peer }),
    });
    node.applyNow(node.core.armMiningEffects());
    node.arm("announce", options.announceMs ?? 500);
    return node;
  }

  /** Blocks rejected by this node. */
  get rejected(): number {
    return this.core.rejected;
  }

  /** Reorganisations (tip moved to a branch that does not extend it). */
  get reorgs(): number {
    return this.core.reorgs;
  }

  /** Height, tip id, state root and mempool size. */
  status(): { id: NodeId; height: number; tip: string; root: string; mempool: number } {
    return {
      id: this.o.id,
      height: this.core.height,
      tip: this.core.tip,
      root: toHex(this.ledger.root()),
      mempool: this.core.mempoolSize,
    };
  }

  /** An account on the best chain's state, if it exists. */
  account(address: Uint8Array): { balance: bigint; nonce: bigint } | undefined {
    return this.ledger.account(address);
  }

  /** Block ids of the best chain, heights 1..n. */
  bestChain(): readonly string[] {
    return this.core.bestChain();
  }

  /** The block with id `id`, if known. */
  block(id: string): PowBlock | undefined {
    return this.core.block(id);
  }

  /** The first error that stopped this node (a broken invariant), if any. */
  get error(): Error | undefined {
    return this.driver.failure as Error | undefined;
  }

  /** Adds a signed transfer to the mempool and gossips it; throws on an invalid one. */
  submit(transfer: Uint8Array): void {
    const { reason, effects } = this.core.submit(transfer);
    if (reason !== undefined && reason !== "seen")
      throw new ChainDbError(ErrorCode.BAD_TRANSFER, `transfer refused: ${reason}`);
    this.applyNow(effects);
  }

  /** Stops (or restarts) this node's miner. */
  setMining(on: boolean): void {
    this.applyNow(this.core.setMining(on));
  }

  /** Resolves once the inbox is empty and nothing runs; rejects if the node failed. */
  async idle(): Promise<void> {
    await this.driver.idle();
    if (this.driver.failure !== undefined) throw this.driver.failure as Error;
  }

  /** Stops timers and message handling (the event being handled finishes). */
  async close(): Promise<void> {
    this.closed = true;
    for (const c of this.cancels) c();
    this.driver.stop("input");
    await this.idle().catch(() => {});
  }

  private arm(kind: "mine" | "announce", ms: number): void {
    if (this.closed) return;
    this.cancels.push(this.o.clock.setTimer(ms, () => this.enqueue({ kind })));
  }

  private enqueue(event: PowEvent): void {
    if (this.closed || this.driver.failure !== undefined) return;
    if (event.kind === "message") this.driver.offer(event, event.from);
    else this.driver.push(event);
  }

  /** Carries out effects a direct call (submit, setMining) returned: sends and timers only. */
  private applyNow(effects: readonly PowEffect[]): void {
    for (const e of effects) {
      assert(e.kind === "broadcast" || e.kind === "setTimer", "a direct call only sends or arms");
      void this.apply(e);
    }
  }

  /** Carries out one effect of the core; ledger work answers with the core's next effects. */
  private apply(e: PowEffect): void | Promise<readonly PowEffect[]> {
    const transport = this.o.transport;
    switch (e.kind) {
      case "send":
        transport.send(e.to, e.message);
        return;
      case "broadcast":
        transport.broadcast(e.message);
        return;
      case "gossip":
        for (const p of transport.peerIds)
          if (p !== e.except && transport.isConnected(p)) transport.send(p, e.message);
        return;
      case "store":
        this.o.storage.put(`block/${e.id}`, e.bytes);
        this.o.storage.sync();
        return;
      case "setTimer":
        return this.arm(e.timer, e.ms);
      case "connected":
        return this.o.onConnect?.(e.block, e.height);
      case "rejected":
        return this.o.onReject?.(e.id, e.reason);
      case "execute":
        return this.execute(e.reset, e.blocks);
      case "mine":
        return this.mine(e.transfers);
    }
  }

  /** Resets the ledger if asked, applies blocks until one fails; tells the core how far it got. */
  private async execute(
    reset: boolean,
    blocks: Extract<PowEffect, { kind: "execute" }>["blocks"],
  ): Promise<readonly PowEffect[]> {
    if (reset) this.ledger = await this.o.openLedger();
    let applied = 0;
    for (const b of blocks) {
      try {
        await this.ledger.applyBlock(b.transfers, { proposer: FEE_SINK, atomic: true });
      } catch (error) {
        const reason = `transfer rejected: ${(error as Error).message}`;
        return this.core.handle({ kind: "executed", applied, failure: { id: b.id, reason } });
      }
      if (toHex(this.ledger.root()) !== toHex(b.stateRoot))
        return this.core.handle({
          kind: "executed",
          applied,
          failure: { id: b.id, reason: "state root does not match" },
        });
      applied++;
    }
    return this.core.handle({ kind: "executed", applied });
  }

  /** Applies `transfers` (none, if one fails) on the tip and searches a nonce for the block. */
  private async mine(selected: readonly Uint8Array[]): Promise<readonly PowEffect[]> {
    let transfers = selected;
    const parent = this.core.tip;
    try {
      await this.ledger.applyBlock(transfers, { proposer: FEE_SINK, atomic: true });
    } catch {
      transfers = []; // a transfer the mempool thought valid is not (e.g. balance): mine an empty block
      await this.ledger.applyBlock(transfers, { proposer: FEE_SINK, atomic: true });
    }
    const stateRoot = this.ledger.root();
    const time = 1_700_000_000 + Math.floor(this.o.clock.now() / 1000);
    const header = newHeader(this.o.engine, parent, transfers, stateRoot, this.o.bits, time);
    const found = this.o.engine.searchNonce(header, bitsToTarget(this.o.bits), 0, 1 << 24);
    assert(found.nonce !== null, "the chain's bits are easy enough to mine in 2^24 hashes");
    const bytes = encodeBlock({ header: setNonce(header, found.nonce), stateRoot, transfers });
    return this.core.handle({ kind: "mined", bytes });
  }
}
