/**
 * The multi-primary proof-of-work core: a deterministic state machine (events in, effects out)
 * beside pow-node.ts, its driver, as core.ts is beside replica.ts. It holds the block index, the
 * best chain, the mempool and the orphans, and chooses the chain Bitcoin's way: the valid chain
 * with the most cumulative work (sum of 2^256 / (target + 1) over its headers; the lower block
 * id wins a tie).
 *
 * The ledger is the driver's: the core reads it (account nonces, for the mempool) through a
 * read-only view and asks for every change with an effect — `execute` (reset to genesis and/or
 * apply blocks, stopping at the first one that fails) or `mine` (apply the mempool's transfers,
 * search a nonce). Such an effect is always the last of its batch: the core waits for its answer
 * (the `executed` or `mined` event the driver feeds back) before it goes on, so the effects come
 * out in exactly the order a sequential node would carry them out.
 * @module
 */
import { assert, toHex } from "../util/index.ts";
import type { Engine } from "../engine/index.ts";
import { chainWork } from "../pow/index.ts";
import { decodeTransfer, verifyTransferSignature } from "../chain/index.ts";
import { decodeMessage, encodeMessage, type NodeId, type Random } from "../net/index.ts";
import {
  GENESIS_ID,
  POW_BLOCK_TRANSFERS_MAX,
  checkBlockStateless,
  decodeBlock,
  type PowBlock,
} from "./pow-block.ts";

/** Inputs of a {@link PowCore}. */
export type PowEvent =
  | { readonly kind: "message"; readonly from: NodeId; readonly payload: Uint8Array }
  | { readonly kind: "mine" }
  | { readonly kind: "announce" }
  | { readonly kind: "peerUp"; readonly peer: NodeId }
  /** The answer to an `execute` effect: blocks applied, and the one that failed, if any. */
  | {
      readonly kind: "executed";
      readonly applied: number;
      readonly failure?: { readonly id: string; readonly reason: string };
    }
  /** The answer to a `mine` effect: the mined block's bytes. */
  | { readonly kind: "mined"; readonly bytes: Uint8Array };

/** A block the driver applies to the ledger. */
export interface PowExecution {
  readonly id: string;
  readonly transfers: readonly Uint8Array[];
  readonly stateRoot: Uint8Array;
}

/** Outputs of a {@link PowCore}, carried out in order. */
export type PowEffect =
  | { readonly kind: "send"; readonly to: NodeId; readonly message: Uint8Array }
  | { readonly kind: "broadcast"; readonly message: Uint8Array }
  /** To every connected peer but `except`. */
  | { readonly kind: "gossip"; readonly except: NodeId | undefined; readonly message: Uint8Array }
  /** Keeps a block on disk (synced). */
  | { readonly kind: "store"; readonly id: string; readonly bytes: Uint8Array }
  | { readonly kind: "setTimer"; readonly timer: "mine" | "announce"; readonly ms: number }
  /** Reset the ledger to genesis when `reset`, then apply `blocks` in order; answer `executed`. */
  | { readonly kind: "execute"; readonly reset: boolean; readonly blocks: readonly PowExecution[] }
  /** Apply `transfers` (or none, if one fails) on the tip, mine a block of them; answer `mined`. */
  | { readonly kind: "mine"; readonly parent: string; readonly transfers: readonly Uint8Array[] }
  | { readonly kind: "connected"; readonly block: PowBlock; readonly height: number }
  | { readonly kind: "rejected"; readonly id: string; readonly reason: string };

/** What the core reads of the driver's ledger. */
export interface PowLedgerView {
  readonly chainId: number;
  account(address: Uint8Array): { readonly nonce: bigint } | undefined;
}

/** Configuration of a {@link PowCore}. */
export interface PowCoreOptions {
  readonly engine: Engine;
  readonly bits: number;
  readonly random: Random;
  /** The driver's current ledger (it is replaced on a reset). */
  readonly ledger: () => PowLedgerView;
  readonly mineEveryMs?: number;
  readonly announceMs?: number;
  readonly mempoolMax?: number;
  readonly mempoolPerSenderMax?: number;
}

interface Indexed {
  block: PowBlock;
  bytes: Uint8Array;
  height: number;
  work: bigint;
  invalid?: string;
}

/** A chain switch waiting for the ledger (switchTo of a sequential node, one round at a time). */
interface Switch {
  target: string;
  readonly from: NodeId | undefined;
  round: number;
  old: string[];
  fork: number;
  /** "try": the new branch is being executed; "restore": the old chain again, after a failure. */
  phase: "try" | "restore";
  reset: boolean;
  /** The executed branch stops before a block already known invalid. */
  stopsAtInvalid: boolean;
  ids: string[];
}

/** Received blocks still to handle (depth first: a block's orphans right after it). */
type Work =
  | { readonly kind: "block"; readonly bytes: Uint8Array; readonly from: NodeId | undefined }
  | { readonly kind: "orphans"; readonly id: string };

const ORPHANS_MAX = 512;
const SEEN_TX_MAX = 50_000;
/** Rounds of a chain switch: each either connects the target or marks a block invalid. */
const SWITCH_ROUNDS_MAX = 64;

/** One proof-of-work node's chain, mempool and fork choice. */
export class PowCore {
  /** Blocks rejected by this node. */
  rejected = 0;
  /** Reorganisations (tip moved to a branch that does not extend it). */
  reorgs = 0;
  private readonly index = new Map<string, Indexed>();
  private chain: string[] = []; // ids at heights 1..n
  private readonly mempool = new Map<string, Map<bigint, Uint8Array>>();
  private mempoolCount = 0;
  private readonly seenTx = new Set<string>();
  private readonly orphans = new Map<string, { bytes: Uint8Array; from: NodeId }[]>();
  private orphanCount = 0;
  private mining: boolean;
  private work: Work[] = [];
  private switching: Switch | undefined;
  private minedAwaited = false;
  private out: PowEffect[] = [];

  constructor(private readonly o: PowCoreOptions) {
    this.mining = o.mineEveryMs !== undefined;
  }

  /** Indexes stored blocks (validated before they were written) and switches to the best chain. */
  load(stored: readonly Uint8Array[]): PowEffect[] {
    const decoded = stored.map((bytes) => ({ bytes, block: decodeBlock(bytes, this.o.engine) }));
    // Parents first: a pass indexes every block whose parent is known, until none is left.
    for (let progress = true; progress;) {
      progress = false;
      for (const d of decoded) {
        if (this.index.has(d.block.id) || (d.block.parent !== GENESIS_ID && !this.index.has(d.block.parent)))
          continue;
        this.addToIndex(d.block, d.bytes);
        progress = true;
      }
    }
    const best = this.bestCandidate();
    if (best !== undefined) this.startSwitch(best, undefined);
    return this.flush();
  }

  /** Handles one event; returns the effects, in order. */
  handle(event: PowEvent): PowEffect[] {
    switch (event.kind) {
      case "mine":
        assert(this.idle(), "events wait for the ledger");
        if (this.mining) this.requestMine();
        else this.armMining();
        break;
      case "mined":
        this.onMined(event.bytes);
        break;
      case "executed":
        this.onExecuted(event.applied, event.failure);
        this.drain();
        break;
      case "announce":
        assert(this.idle(), "events wait for the ledger");
        this.announceTip(undefined);
        this.setTimer("announce", this.o.announceMs ?? 500);
        break;
      case "peerUp":
        assert(this.idle(), "events wait for the ledger");
        this.announceTip(event.peer);
        break;
      case "message":
        assert(this.idle(), "events wait for the ledger");
        this.onMessage(event.from, event.payload);
        break;
    }
    return this.flush();
  }

  /** Adds a client's transfer to the mempool; returns why it is refused, or undefined (and gossip effects). */
  submit(transfer: Uint8Array): { reason: string | undefined; effects: PowEffect[] } {
    const reason = this.acceptTx(transfer);
    if (reason === undefined)
      this.emit({ kind: "broadcast", message: encodeMessage({ t: "tx", tx: transfer }) });
    return { reason, effects: this.flush() };
  }

  /** Stops (or restarts) the miner; returns the timer effect of a restart. */
  setMining(on: boolean): PowEffect[] {
    this.mining = on && this.o.mineEveryMs !== undefined;
    if (this.mining) this.armMining();
    return this.flush();
  }

  /** The first mining timer (after load). */
  armMiningEffects(): PowEffect[] {
    this.armMining();
    return this.flush();
  }

  /** Height of the best chain. */
  get height(): number {
    return this.chain.length;
  }

  /** Block ids of the best chain, heights 1..n. */
  bestChain(): readonly string[] {
    return this.chain;
  }

  /** The tip's id (the genesis id for an empty chain). */
  get tip(): string {
    return this.chain.at(-1) ?? GENESIS_ID;
  }

  /** The block with id `id`, if known. */
  block(id: string): PowBlock | undefined {
    return this.index.get(id)?.block;
  }

  /** Transfers in the mempool. */
  get mempoolSize(): number {
    return this.mempoolCount;
  }

  private idle(): boolean {
    return this.switching === undefined && !this.minedAwaited && this.work.length === 0;
  }

  private emit(effect: PowEffect): void {
    this.out.push(effect);
  }

  private flush(): PowEffect[] {
    const out = this.out;
    this.out = [];
    const waits = out.findIndex((e) => e.kind === "execute" || e.kind === "mine");
    assert(waits === -1 || waits === out.length - 1, "a ledger request ends its batch");
    return out;
  }

  private setTimer(timer: "mine" | "announce", ms: number): void {
    this.emit({ kind: "setTimer", timer, ms });
  }

  private armMining(): void {
    if (this.mining) this.setTimer("mine", this.o.random.exponential(this.o.mineEveryMs!));
  }

  private announceTip(peer: NodeId | undefined): void {
    const tip = this.chain.at(-1);
    if (tip === undefined) return;
    const message = encodeMessage({ t: "block", b: this.index.get(tip)!.bytes });
    if (peer === undefined) this.emit({ kind: "broadcast", message });
    else this.emit({ kind: "send", to: peer, message });
  }

  private onMessage(from: NodeId, payload: Uint8Array): void {
    let m: Record<string, unknown>;
    try {
      m = decodeMessage(payload) as Record<string, unknown>;
    } catch {
      return;
    }
    if (m?.t === "tx" && m.tx instanceof Uint8Array) {
      if (this.acceptTx(m.tx) === undefined)
        this.emit({ kind: "gossip", except: from, message: encodeMessage({ t: "tx", tx: m.tx }) });
    } else if (m?.t === "getblock" && typeof m.id === "string") {
      const known = this.index.get(m.id);
      if (known !== undefined && known.invalid === undefined)
        this.emit({ kind: "send", to: from, message: encodeMessage({ t: "block", b: known.bytes }) });
    } else if (m?.t === "block" && m.b instanceof Uint8Array) {
      this.work.push({ kind: "block", bytes: m.b, from });
      this.drain();
    }
  }

  // ------------------------------------------------------------------ mempool

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
    const ledger = this.o.ledger();
    if (t.chainId !== ledger.chainId) return "wrong chain";
    if (!verifyTransferSignature(tx)) return "bad signature";
    const nonce = ledger.account(t.from)?.nonce ?? 0n;
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
      this.mempoolCount >= (this.o.mempoolMax ?? 10_000) ||
      (queue?.size ?? 0) >= (this.o.mempoolPerSenderMax ?? 64)
    )
      return false;
    if (queue === undefined) this.mempool.set(sender, (queue = new Map<bigint, Uint8Array>()));
    queue.set(t.nonce, tx);
    this.mempoolCount++;
    return true;
  }

  private nonceOf(sender: string): bigint {
    return this.o.ledger().account(Uint8Array.from(Buffer.from(sender, "hex")))?.nonce ?? 0n;
  }

  /** Drops transfers whose nonce the ledger has passed. */
  private pruneMempool(): void {
    for (const [sender, queue] of this.mempool) {
      const nonce = this.nonceOf(sender);
      for (const n of queue.keys()) if (n < nonce) (queue.delete(n), this.mempoolCount--);
      if (queue.size === 0) this.mempool.delete(sender);
    }
  }

  /** Transfers that apply in order on the current state: each sender's consecutive nonces. */
  private selectTransfers(): Uint8Array[] {
    const out: Uint8Array[] = [];
    for (const [sender, queue] of this.mempool) {
      let nonce = this.nonceOf(sender);
      for (
        let tx = queue.get(nonce);
        tx !== undefined && out.length < POW_BLOCK_TRANSFERS_MAX;
        tx = queue.get(++nonce)
      )
        out.push(tx);
    }
    return out;
  }

  // ------------------------------------------------------------------ mining

  private requestMine(): void {
    this.minedAwaited = true;
    this.emit({ kind: "mine", parent: this.tip, transfers: this.selectTransfers() });
  }

  private onMined(bytes: Uint8Array): void {
    assert(this.minedAwaited, "a mined block answers a mine request");
    this.minedAwaited = false;
    const block = decodeBlock(bytes, this.o.engine);
    const entry = this.addToIndex(block, bytes);
    this.chain.push(block.id);
    assert(entry.height === this.chain.length, "a mined block extends the tip");
    this.emit({ kind: "store", id: block.id, bytes });
    this.pruneMempool();
    this.emit({ kind: "connected", block, height: entry.height });
    this.emit({ kind: "gossip", except: undefined, message: encodeMessage({ t: "block", b: bytes }) });
    this.armMining();
  }

  // ------------------------------------------------------------------ blocks and fork choice

  /** Handles received blocks until none is left or a chain switch waits for the ledger. */
  private drain(): void {
    // Bounded: each item is a received block or an orphan list taken out of a bounded map.
    while (this.switching === undefined) {
      const item = this.work.pop();
      if (item === undefined) return;
      if (item.kind === "orphans") {
        const waiting = this.orphans.get(item.id) ?? [];
        this.orphans.delete(item.id);
        this.orphanCount -= waiting.length;
        for (let i = waiting.length - 1; i >= 0; i--) {
          const o = waiting[i]!;
          this.work.push({ kind: "block", bytes: o.bytes, from: o.from === "" ? undefined : o.from });
        }
      } else this.receiveBlock(item.bytes, item.from);
    }
  }

  private receiveBlock(bytes: Uint8Array, from: NodeId | undefined): void {
    let block: PowBlock;
    try {
      block = decodeBlock(bytes, this.o.engine);
    } catch {
      return;
    }
    if (this.index.has(block.id)) return; // duplicate
    const reason = checkBlockStateless(block, this.o.engine, this.o.ledger().chainId, this.o.bits);
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
      if (from !== undefined)
        this.emit({ kind: "send", to: from, message: encodeMessage({ t: "getblock", id: block.parent }) });
      return;
    }
    this.addToIndex(block, bytes);
    // Children that were waiting for this block come next, after a switch this block causes.
    this.work.push({ kind: "orphans", id: block.id });
    const best = this.bestCandidate();
    if (best !== undefined && best !== this.tip) this.startSwitch(best, from);
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
  private startSwitch(target: string, from: NodeId | undefined): void {
    this.switching = {
      target,
      from,
      round: 0,
      old: [],
      fork: 0,
      phase: "try",
      reset: false,
      stopsAtInvalid: false,
      ids: [],
    };
    this.switchRound();
  }

  /** One round: execute the branch to the target (in place when it extends the chain). */
  private switchRound(): void {
    const s = this.switching!;
    if (s.round >= SWITCH_ROUNDS_MAX) return void (this.switching = undefined);
    const path: string[] = [];
    for (
      let id: string | undefined = s.target;
      id !== undefined && id !== GENESIS_ID;
      id = this.index.get(id)!.block.parent
    )
      path.unshift(id);
    let fork = 0;
    while (fork < Math.min(path.length, this.chain.length) && path[fork] === this.chain[fork]) fork++;
    s.old = [...this.chain];
    s.fork = fork;
    s.phase = "try";
    if (fork === s.old.length) this.execute(false, path.slice(fork));
    else this.execute(true, path);
  }

  /** Asks the driver to run `ids` (up to the first one known invalid) on the ledger. */
  private execute(reset: boolean, ids: readonly string[]): void {
    const s = this.switching!;
    const invalidAt = ids.findIndex((id) => this.index.get(id)!.invalid !== undefined);
    s.ids = invalidAt < 0 ? [...ids] : ids.slice(0, invalidAt);
    s.stopsAtInvalid = invalidAt >= 0;
    s.reset = reset;
    if (!reset && s.ids.length === 0) return this.onExecuted(0, undefined);
    this.emit({
      kind: "execute",
      reset,
      blocks: s.ids.map((id) => {
        const b = this.index.get(id)!.block;
        return { id, transfers: b.transfers, stateRoot: b.stateRoot };
      }),
    });
  }

  private onExecuted(applied: number, failure: { id: string; reason: string } | undefined): void {
    const s = this.switching;
    assert(s !== undefined, "an execution answers a chain switch");
    assert(applied <= s.ids.length, "no more blocks applied than asked");
    if (s.reset) this.chain = [];
    this.chain.push(...s.ids.slice(0, applied));
    if (failure !== undefined) this.markInvalid(failure.id, failure.reason);
    const ok = failure === undefined && !s.stopsAtInvalid;
    assert(ok || applied < s.ids.length || s.stopsAtInvalid, "a failure stops the execution");
    if (s.phase === "restore") {
      assert(ok, "the previous chain stays valid");
      const next = this.bestCandidate();
      if (next === undefined || next === this.tip) return void (this.switching = undefined);
      s.target = next;
      s.round++;
      return this.switchRound();
    }
    if (ok) {
      if (s.fork < s.old.length) this.reorgs++;
      this.switching = undefined;
      return this.afterSwitch(s.old, s.fork, s.from);
    }
    // A block of the branch was invalid: its subtree is out; restore and pick again.
    s.phase = "restore";
    this.execute(true, s.old);
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
    this.emit({ kind: "rejected", id, reason });
  }

  private afterSwitch(old: readonly string[], fork: number, from: NodeId | undefined): void {
    const connected = this.chain.slice(fork);
    for (const id of old.slice(fork))
      for (const tx of this.index.get(id)!.block.transfers) this.addToMempool(tx);
    this.pruneMempool();
    for (const [i, id] of connected.entries()) {
      const e = this.index.get(id)!;
      this.emit({ kind: "store", id, bytes: e.bytes });
      this.emit({ kind: "connected", block: e.block, height: fork + i + 1 });
      // Forwarded only once validated.
      this.emit({ kind: "gossip", except: from, message: encodeMessage({ t: "block", b: e.bytes }) });
    }
  }
}
