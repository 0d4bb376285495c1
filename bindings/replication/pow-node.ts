/**
 * A multi-primary replica: every node accepts transfers into its mempool, mines blocks with the
 * proof-of-work engine and gossips transfers and blocks (each node forwards what it had not seen;
 * duplicates are dropped). Fork choice is Bitcoin's: the valid chain with the most cumulative
 * work (sum of 2^256 / (target + 1) over its headers; the lower block id wins a tie). A
 * reorganisation rebuilds the ledger along the new branch (from genesis: the ledger cannot roll
 * back) and returns the abandoned blocks' transfers to the mempool unless the new branch has them.
 * A block failing the proof of work, the merkle root, a transfer, or the state root is rejected
 * and never forwarded. Blocks are kept on the node's disk, so a restarted node rebuilds its chain
 * and catches up from its peers.
 *
 * Events (messages, timers, submissions) go through one bounded inbox handled one at a time, as
 * in the single-primary driver, so runs on the SimNetwork replay exactly.
 * @module
 */
import { ChainDbError, ErrorCode, assert, toHex } from "../util/index.ts";
import { decodeTransfer, setNonce, verifyTransferSignature, type BlockResult } from "../chain/index.ts";
import type { Engine } from "../engine/index.ts";
import { bitsToTarget, chainWork } from "../pow/index.ts";
import {
  decodeMessage,
  encodeMessage,
  type Clock,
  type NodeId,
  type Random,
  type SimStorage,
  type Transport,
} from "../net/index.ts";
import type { ReplicaLedger } from "./replica.ts";
import {
  GENESIS_ID,
  POW_BLOCK_TRANSFERS_MAX,
  checkBlockStateless,
  decodeBlock,
  encodeBlock,
  newHeader,
  type PowBlock,
} from "./pow-block.ts";

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

interface Indexed {
  block: PowBlock;
  bytes: Uint8Array;
  height: number;
  work: bigint;
  invalid?: string;
}

type Event =
  | { kind: "message"; from: NodeId; payload: Uint8Array }
  | { kind: "mine" }
  | { kind: "announce" }
  | { kind: "peerUp"; peer: NodeId };

const FEE_SINK = new Uint8Array(32); // fees are burned: headers carry no coinbase
const ORPHANS_MAX = 512;
const SEEN_TX_MAX = 50_000;
const INBOX_MAX = 100_000;

/** One node of a multi-primary proof-of-work cluster. */
export class PowNode {
  /** Blocks rejected by this node. */
  rejected = 0;
  /** Reorganisations (tip moved to a branch that does not extend it). */
  reorgs = 0;
  private readonly index = new Map<string, Indexed>();
  private chain: string[] = []; // ids at heights 1..n
  private ledger!: PowLedger;
  private readonly mempool = new Map<string, Map<bigint, Uint8Array>>();
  private mempoolSize = 0;
  private readonly seenTx = new Set<string>();
  private readonly orphans = new Map<string, { bytes: Uint8Array; from: NodeId }[]>();
  private orphanCount = 0;
  private readonly inbox: Event[] = [];
  private running = false;
  private closed = false;
  private mining: boolean;
  private failure: Error | undefined;
  private idleWaiters: (() => void)[] = [];
  private readonly cancels: (() => void)[] = [];

  private constructor(private readonly o: PowNodeOptions) {
    this.mining = o.mineEveryMs !== undefined;
  }

  /** Loads stored blocks, rebuilds the best chain, and joins the network. */
  static async open(options: PowNodeOptions): Promise<PowNode> {
    const node = new PowNode(options);
    node.ledger = await options.openLedger();
    const stored = options.storage.keys("block/").map((k) => options.storage.get(k)!);
    // Stored blocks were validated before they were written; index parents first (by height).
    const decoded = stored.map((bytes) => ({ bytes, block: decodeBlock(bytes, options.engine) }));
    for (let progress = true; progress;) {
      progress = false;
      for (const d of decoded) {
        if (node.index.has(d.block.id) || (d.block.parent !== GENESIS_ID && !node.index.has(d.block.parent)))
          continue;
        node.addToIndex(d.block, d.bytes);
        progress = true;
      }
    }
    const best = node.bestCandidate();
    if (best !== undefined) await node.switchTo(best, undefined);
    options.transport.setHandler({
      onMessage: (from, payload) => node.enqueue({ kind: "message", from, payload }),
      onPeerUp: (peer) => node.enqueue({ kind: "peerUp", peer }),
    });
    node.armMining();
    node.arm("announce", options.announceMs ?? 500);
    return node;
  }

  /** Height, tip id, state root and mempool size. */
  status(): { id: NodeId; height: number; tip: string; root: string; mempool: number } {
    return {
      id: this.o.id,
      height: this.chain.length,
      tip: this.chain.at(-1) ?? GENESIS_ID,
      root: toHex(this.ledger.root()),
      mempool: this.mempoolSize,
    };
  }

  /** An account on the best chain's state, if it exists. */
  account(address: Uint8Array): { balance: bigint; nonce: bigint } | undefined {
    return this.ledger.account(address);
  }

  /** Block ids of the best chain, heights 1..n. */
  bestChain(): readonly string[] {
    return this.chain;
  }

  /** The block with id `id`, if known. */
  block(id: string): PowBlock | undefined {
    return this.index.get(id)?.block;
  }

  /** The first error that stopped this node (a broken invariant), if any. */
  get error(): Error | undefined {
    return this.failure;
  }

  /** Adds a signed transfer to the mempool and gossips it; throws on an invalid one. */
  submit(transfer: Uint8Array): void {
    const reason = this.acceptTx(transfer);
    if (reason !== undefined && reason !== "seen")
      throw new ChainDbError(ErrorCode.BAD_TRANSFER, `transfer refused: ${reason}`);
    if (reason === undefined) this.o.transport.broadcast(encodeMessage({ t: "tx", tx: transfer }));
  }

  /** Stops (or restarts) this node's miner. */
  setMining(on: boolean): void {
    this.mining = on && this.o.mineEveryMs !== undefined;
    if (this.mining) this.armMining();
  }

  /** Resolves once the inbox is empty and nothing runs; rejects if the node failed. */
  idle(): Promise<void> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (!this.running && this.inbox.length === 0) return Promise.resolve();
    return new Promise((resolve, reject) =>
      this.idleWaiters.push(() => (this.failure ? reject(this.failure) : resolve())),
    );
  }

  /** Stops timers and message handling. */
  async close(): Promise<void> {
    this.closed = true;
    for (const c of this.cancels) c();
    this.inbox.length = 0;
    await this.idle().catch(() => {});
  }

  private arm(kind: "mine" | "announce", ms: number): void {
    if (this.closed) return;
    this.cancels.push(this.o.clock.setTimer(ms, () => this.enqueue({ kind })));
  }

  private armMining(): void {
    if (this.mining) this.arm("mine", this.o.random.exponential(this.o.mineEveryMs!));
  }

  private enqueue(event: Event): void {
    if (this.closed || this.failure !== undefined || this.inbox.length >= INBOX_MAX) return;
    this.inbox.push(event);
    if (!this.running) void this.pump();
  }

  private async pump(): Promise<void> {
    this.running = true;
    try {
      while (this.inbox.length > 0 && !this.closed) await this.handle(this.inbox.shift()!);
    } catch (error) {
      this.failure = error as Error;
    } finally {
      this.running = false;
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }

  private async handle(event: Event): Promise<void> {
    switch (event.kind) {
      case "mine":
        if (this.mining) await this.mine();
        this.armMining();
        return;
      case "announce":
        this.announceTip(undefined);
        this.arm("announce", this.o.announceMs ?? 500);
        return;
      case "peerUp":
        return this.announceTip(event.peer);
      case "message":
        return this.onMessage(event.from, event.payload);
    }
  }

  private announceTip(peer: NodeId | undefined): void {
    const tip = this.chain.at(-1);
    if (tip === undefined) return;
    const message = encodeMessage({ t: "block", b: this.index.get(tip)!.bytes });
    if (peer === undefined) this.o.transport.broadcast(message);
    else this.o.transport.send(peer, message);
  }

  private async onMessage(from: NodeId, payload: Uint8Array): Promise<void> {
    let m: Record<string, unknown>;
    try {
      m = decodeMessage(payload) as Record<string, unknown>;
    } catch {
      return;
    }
    if (m?.t === "tx" && m.tx instanceof Uint8Array) {
      if (this.acceptTx(m.tx) === undefined) this.gossip(from, encodeMessage({ t: "tx", tx: m.tx }));
    } else if (m?.t === "getblock" && typeof m.id === "string") {
      const known = this.index.get(m.id);
      if (known !== undefined && known.invalid === undefined)
        this.o.transport.send(from, encodeMessage({ t: "block", b: known.bytes }));
    } else if (m?.t === "block" && m.b instanceof Uint8Array) {
      await this.receiveBlock(m.b, from);
    }
  }

  private gossip(except: NodeId | undefined, message: Uint8Array): void {
    for (const p of this.o.transport.peerIds)
      if (p !== except && this.o.transport.isConnected(p)) this.o.transport.send(p, message);
  }

  /** Mempool admission; returns why a transfer is refused, or undefined when newly accepted. */
  private acceptTx(tx: Uint8Array): string | undefined {
    let t;
    try {
      t = decodeTransfer(tx);
    } catch {
      return "malformed";
    }
    const key = toHex(tx.subarray(125, 157)); // the signature's tail identifies the transfer
    if (this.seenTx.has(key)) return "seen";
    if (t.chainId !== this.ledger.chainId) return "wrong chain";
    if (!verifyTransferSignature(tx)) return "bad signature";
    const nonce = this.ledger.account(t.from)?.nonce ?? 0n;
    if (t.nonce < nonce) return "stale nonce";
    if (this.seenTx.size >= SEEN_TX_MAX) this.seenTx.clear();
    this.seenTx.add(key);
    return this.addToMempool(tx) ? undefined : "mempool full";
  }

  private addToMempool(tx: Uint8Array): boolean {
    const t = decodeTransfer(tx);
    const sender = toHex(t.from);
    let queue = this.mempool.get(sender);
    if (queue?.has(t.nonce)) return true;
    if (
      this.mempoolSize >= (this.o.mempoolMax ?? 10_000) ||
      (queue?.size ?? 0) >= (this.o.mempoolPerSenderMax ?? 64)
    )
      return false;
    if (queue === undefined) this.mempool.set(sender, (queue = new Map<bigint, Uint8Array>()));
    queue.set(t.nonce, tx);
    this.mempoolSize++;
    return true;
  }

  /** Drops transfers whose nonce the ledger has passed. */
  private pruneMempool(): void {
    for (const [sender, queue] of this.mempool) {
      const nonce = this.ledger.account(Uint8Array.from(Buffer.from(sender, "hex")))?.nonce ?? 0n;
      for (const n of queue.keys()) if (n < nonce) (queue.delete(n), this.mempoolSize--);
      if (queue.size === 0) this.mempool.delete(sender);
    }
  }

  /** Transfers that apply in order on the current state: each sender's consecutive nonces. */
  private selectTransfers(): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (const [sender, queue] of this.mempool) {
      let nonce = this.ledger.account(Uint8Array.from(Buffer.from(sender, "hex")))?.nonce ?? 0n;
      for (
        let tx = queue.get(nonce);
        tx !== undefined && out.length < POW_BLOCK_TRANSFERS_MAX;
        tx = queue.get(++nonce)
      )
        out.push(tx);
    }
    return out;
  }

  private async mine(): Promise<void> {
    const parent = this.chain.at(-1) ?? GENESIS_ID;
    let transfers = this.selectTransfers();
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
    const block = decodeBlock(bytes, this.o.engine);
    const entry = this.addToIndex(block, bytes);
    this.chain.push(block.id);
    assert(entry.height === this.chain.length, "a mined block extends the tip");
    this.store(entry);
    this.pruneMempool();
    this.o.onConnect?.(block, entry.height);
    this.gossip(undefined, encodeMessage({ t: "block", b: bytes }));
  }

  private async receiveBlock(bytes: Uint8Array, from: NodeId | undefined): Promise<void> {
    let block: PowBlock;
    try {
      block = decodeBlock(bytes, this.o.engine);
    } catch {
      return;
    }
    if (this.index.has(block.id)) return; // duplicate
    const reason = checkBlockStateless(block, this.o.engine, this.ledger.chainId, this.o.bits);
    if (reason !== undefined) return this.reject(block.id, reason);
    if (block.parent !== GENESIS_ID && !this.index.has(block.parent)) {
      if (this.orphanCount < ORPHANS_MAX) {
        const list = this.orphans.get(block.parent) ?? [];
        if (!list.some((o) => o.bytes.length === bytes.length && toHex(o.bytes) === toHex(bytes))) {
          list.push({ bytes, from: from ?? "" });
          this.orphans.set(block.parent, list);
          this.orphanCount++;
        }
      }
      if (from !== undefined) this.o.transport.send(from, encodeMessage({ t: "getblock", id: block.parent }));
      return;
    }
    const entry = this.addToIndex(block, bytes);
    const best = this.bestCandidate();
    if (best !== undefined && best !== (this.chain.at(-1) ?? GENESIS_ID)) await this.switchTo(best, from);
    // Children that were waiting for this block.
    const waiting = this.orphans.get(block.id) ?? [];
    this.orphans.delete(block.id);
    this.orphanCount -= waiting.length;
    for (const o of waiting) await this.receiveBlock(o.bytes, o.from === "" ? undefined : o.from);
    void entry;
  }

  private addToIndex(block: PowBlock, bytes: Uint8Array): Indexed {
    const parent = block.parent === GENESIS_ID ? undefined : this.index.get(block.parent)!;
    const entry: Indexed = {
      block,
      bytes,
      height: (parent?.height ?? 0) + 1,
      work: (parent?.work ?? 0n) + chainWork(block.bits),
    };
    if (parent?.invalid !== undefined) entry.invalid = "descends from an invalid block";
    this.index.set(block.id, entry);
    return entry;
  }

  /**
   * The valid-or-unexecuted block with the most work; equal work goes to the lower block id, a
   * total order, so nodes that stop mining on a tie still agree (Bitcoin keeps the first seen and
   * waits for the next block to break the tie).
   */
  private bestCandidate(): string | undefined {
    let best: Indexed | undefined;
    for (const e of this.index.values()) {
      if (e.invalid !== undefined) continue;
      if (best === undefined || e.work > best.work || (e.work === best.work && e.block.id < best.block.id))
        best = e;
    }
    return best?.block.id;
  }

  /** Makes `target` the tip: extends in place, or rebuilds the ledger along the new branch. */
  private async switchTo(target: string, from: NodeId | undefined): Promise<void> {
    // Bounded: each round either connects the target or marks a block invalid.
    for (let round = 0; round < 64; round++) {
      const path: string[] = [];
      for (
        let id: string | undefined = target;
        id !== undefined && id !== GENESIS_ID;
        id = this.index.get(id)!.block.parent
      )
        path.unshift(id);
      let fork = 0;
      while (fork < Math.min(path.length, this.chain.length) && path[fork] === this.chain[fork]) fork++;
      const old = [...this.chain]; // a copy: extend() pushes onto this.chain
      const ok = fork === old.length ? await this.extend(path.slice(fork)) : await this.rebuild(path);
      if (ok) {
        if (fork < old.length) this.reorgs++;
        this.afterSwitch(old, fork, from);
        return;
      }
      // A block of the branch was invalid: its subtree is out; restore and pick again.
      if (!(await this.rebuild(old))) assert(false, "the previous chain stays valid");
      const next = this.bestCandidate();
      if (next === undefined || next === (this.chain.at(-1) ?? GENESIS_ID)) return;
      target = next;
    }
  }

  private async extend(ids: string[]): Promise<boolean> {
    for (const id of ids) if (!(await this.applyOne(id))) return false;
    return true;
  }

  private async rebuild(ids: readonly string[]): Promise<boolean> {
    const keep = [...ids];
    this.ledger = await this.o.openLedger();
    this.chain = [];
    return this.extend(keep);
  }

  private async applyOne(id: string): Promise<boolean> {
    const e = this.index.get(id)!;
    if (e.invalid !== undefined) return false;
    try {
      await this.ledger.applyBlock(e.block.transfers, { proposer: FEE_SINK, atomic: true });
    } catch (error) {
      this.markInvalid(id, `transfer rejected: ${(error as Error).message}`);
      return false;
    }
    if (toHex(this.ledger.root()) !== toHex(e.block.stateRoot)) {
      this.markInvalid(id, "state root does not match");
      return false;
    }
    this.chain.push(id);
    return true;
  }

  private markInvalid(id: string, reason: string): void {
    this.index.get(id)!.invalid = reason;
    // Descendants cannot be valid either.
    for (let changed = true; changed;) {
      changed = false;
      for (const e of this.index.values()) {
        if (
          e.invalid === undefined &&
          e.block.parent !== GENESIS_ID &&
          this.index.get(e.block.parent)?.invalid !== undefined
        ) {
          e.invalid = "descends from an invalid block";
          changed = true;
        }
      }
    }
    this.reject(id, reason);
  }

  private reject(id: string, reason: string): void {
    this.rejected++;
    this.o.onReject?.(id, reason);
  }

  private afterSwitch(old: readonly string[], fork: number, from: NodeId | undefined): void {
    const connected = this.chain.slice(fork);
    for (const id of old.slice(fork))
      for (const tx of this.index.get(id)!.block.transfers) this.addToMempool(tx);
    this.pruneMempool();
    for (const [i, id] of connected.entries()) {
      const e = this.index.get(id)!;
      this.store(e);
      this.o.onConnect?.(e.block, fork + i + 1);
      this.gossip(from, encodeMessage({ t: "block", b: e.bytes })); // forwarded only once validated
    }
  }

  private store(e: Indexed): void {
    this.o.storage.put(`block/${e.block.id}`, e.bytes);
    this.o.storage.sync();
  }
}
