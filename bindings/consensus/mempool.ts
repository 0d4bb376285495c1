/**
 * A bounded mempool of signed transactions that no sender can clog (CometBFT's priority mempool
 * and go-ethereum's txpool, reduced to what a block builder needs):
 *
 * - Admission checks, cheapest first: duplicate, a transfer to itself (`SELF_TRANSFER`), spent
 *   nonce (`BAD_NONCE`), nonce too far ahead of the account's next nonce (`NONCE_GAP`), per-sender
 *   count (`MEMPOOL_SENDER_LIMIT`), an existing account whose balance covers all the sender has
 *   waiting (`INSUFFICIENT_FUNDS`), then room.
 * - Full: a transaction paying more than the cheapest waiting one evicts it (lowest fee first,
 *   the oldest among equal fees), with the evicted sender's later nonces, which can no longer run;
 *   otherwise `MEMPOOL_FULL`. The same sender and nonce again replaces the waiting transaction only
 *   for a higher fee (`FEE_TOO_LOW` otherwise).
 * - Expiry: a transaction leaves after `expiryHeights` committed heights, or `expiryMs` on the
 *   injected clock, whichever comes first.
 * - Block building reads only senders whose account's next nonce is waiting ({@link Mempool.ready}):
 *   transactions behind a nonce gap cost nothing per block; one the block cannot run on the
 *   committed state is dropped ({@link Mempool.drop}), so it costs one try, not one per block.
 * @module
 */
import { ChainDbError, ErrorCode, aint, assert, equalBytes, toHex } from "../util/index.ts";
import type { ChainTx } from "../selection/index.ts";

/** Bounds of a {@link Mempool}. */
export interface MempoolLimits {
  /** Most transactions waiting. */
  readonly capacity: number;
  /** Most transactions waiting per sender. */
  readonly perSenderMax: number;
  /** A nonce must be below the account's next nonce + this (1: only the next one is taken). */
  readonly nonceGapMax: number;
  /** Committed heights a transaction may wait before it is dropped. */
  readonly expiryHeights: number;
  /** Milliseconds (injected clock) a transaction may wait before it is dropped; omitted: no limit. */
  readonly expiryMs?: number;
}

/** Defaults: 20,000 waiting, 64 per sender, nonces up to 64 ahead, 600 heights (about 2 minutes at 200 ms blocks). */
export const DEFAULT_MEMPOOL_LIMITS: MempoolLimits = {
  capacity: 20_000,
  perSenderMax: 64,
  nonceGapMax: 64,
  expiryHeights: 600,
};

/** What admission reads of the sender's committed account. */
export interface SenderAccount {
  readonly balance: bigint;
  readonly nonce: bigint;
}

/** One waiting transaction. */
export interface MempoolEntry {
  /** sha256 of the transaction's bytes, hex. */
  readonly key: string;
  readonly tx: ChainTx;
  readonly sender: string;
  readonly nonce: bigint;
  readonly fee: bigint;
  /** What it takes from the sender's balance at most (amount moved or staked, plus fee). */
  readonly cost: bigint;
  readonly height: number;
  readonly atMs: number;
  /** Arrival order (ties in fee go to the oldest). */
  readonly seq: number;
}

/** Senders and nonces waiting, with bounded admission, eviction by fee and expiry. */
export class Mempool {
  readonly limits: MempoolLimits;
  /** Arrival order: expiry reads from the front. */
  private readonly byKey = new Map<string, MempoolEntry>();
  private readonly bySender = new Map<string, Map<bigint, MempoolEntry>>();
  private readonly spending = new Map<string, bigint>();
  /** Senders that may have their account's next nonce waiting (checked when read). */
  private readonly candidates = new Set<string>();
  /** Min-heap by (fee, seq) with lazy deletion: an entry no longer in `byKey` is skipped. */
  private heap: MempoolEntry[] = [];
  private seq = 0;
  /** Entries looked at by {@link ready} since creation (tests count block-building work with it). */
  scanned = 0;
  /** Transactions dropped: evicted by a higher fee, expired, or behind a dropped nonce. */
  dropped = 0;

  constructor(limits: Partial<MempoolLimits> = {}) {
    const l = { ...DEFAULT_MEMPOOL_LIMITS, ...limits };
    aint(l.capacity, 1, 1 << 24, "capacity");
    aint(l.perSenderMax, 1, l.capacity, "perSenderMax");
    aint(l.nonceGapMax, 1, 1 << 20, "nonceGapMax");
    aint(l.expiryHeights, 1, Number.MAX_SAFE_INTEGER, "expiryHeights");
    if (l.expiryMs !== undefined) aint(l.expiryMs, 1, Number.MAX_SAFE_INTEGER, "expiryMs");
    this.limits = l;
  }

  /** Transactions waiting. */
  get size(): number {
    return this.byKey.size;
  }

  /** Whether the transaction with this key is waiting. */
  has(key: string): boolean {
    return this.byKey.has(key);
  }

  /** Transactions of `sender` (public key hex) waiting. */
  countOf(sender: string): number {
    return this.bySender.get(sender)?.size ?? 0;
  }

  /**
   * Admits `tx` (decoded and signature-checked) of committed height `height` at `nowMs`; false for
   * a duplicate. Throws a `ChainDbError` saying why it is refused; a refusal changes nothing.
   */
  add(tx: ChainTx, key: string, account: SenderAccount | undefined, height: number, nowMs: number): boolean {
    if (this.byKey.has(key)) return false;
    this.expire(height, nowMs);
    const sender = toHex(tx.tx.from);
    const { nonce, fee } = tx.tx;
    const next = account?.nonce ?? 0n;
    const refuse = (code: ErrorCode, why: string) =>
      new ChainDbError(code, `transaction of ${sender.slice(0, 16)}… nonce ${nonce}: ${why}`);
    if (tx.type === "transfer" && equalBytes(tx.tx.from, tx.tx.to))
      throw refuse(ErrorCode.SELF_TRANSFER, "a transfer to itself");
    if (nonce < next) throw refuse(ErrorCode.BAD_NONCE, `nonce was used already (next is ${next})`);
    if (nonce >= next + BigInt(this.limits.nonceGapMax))
      throw refuse(
        ErrorCode.NONCE_GAP,
        `more than ${this.limits.nonceGapMax - 1} ahead of the next nonce ${next}`,
      );
    const same = this.bySender.get(sender)?.get(nonce);
    if (same !== undefined && fee <= same.fee)
      throw refuse(
        ErrorCode.FEE_TOO_LOW,
        `nonce ${nonce} waits with fee ${same.fee}; a replacement must pay more`,
      );
    if (same === undefined && this.countOf(sender) >= this.limits.perSenderMax)
      throw refuse(
        ErrorCode.MEMPOOL_SENDER_LIMIT,
        `${this.limits.perSenderMax} transactions of this sender wait`,
      );
    const cost = costOf(tx);
    const spending = (this.spending.get(sender) ?? 0n) - (same?.cost ?? 0n) + cost;
    if (account === undefined || spending > account.balance)
      throw refuse(
        ErrorCode.INSUFFICIENT_FUNDS,
        `balance ${account?.balance ?? 0n} does not cover ${spending} waiting`,
      );
    if (same === undefined && this.byKey.size >= this.limits.capacity) this.makeRoom(fee, sender, refuse);
    if (same !== undefined) this.remove(same, false);
    this.insert({ key, tx, sender, nonce, fee, cost, height, atMs: nowMs, seq: this.seq++ }, next);
    return true;
  }

  /**
   * The transactions a block can take now, at most `max`: for each sender whose next nonce
   * (`nonceOf`) waits, its run of consecutive nonces; senders by the fee of that first one
   * (highest first, then oldest). Senders behind a gap are not read.
   */
  ready(nonceOf: (from: Uint8Array) => bigint, max: number): MempoolEntry[] {
    const heads: MempoolEntry[] = [];
    for (const sender of this.candidates) {
      this.scanned++;
      const waiting = this.bySender.get(sender);
      const head = waiting?.values().next().value;
      const first = head === undefined ? undefined : waiting!.get(nonceOf(head.tx.tx.from));
      if (first === undefined) this.candidates.delete(sender);
      else heads.push(first);
    }
    heads.sort((a, b) => (a.fee === b.fee ? a.seq - b.seq : a.fee > b.fee ? -1 : 1));
    const out: MempoolEntry[] = [];
    for (const head of heads) {
      const waiting = this.bySender.get(head.sender)!;
      for (
        let e: MempoolEntry | undefined = head;
        e !== undefined && out.length < max;
        e = waiting.get(e.nonce + 1n)
      ) {
        this.scanned++;
        out.push(e);
      }
      if (out.length >= max) break;
    }
    return out;
  }

  /**
   * After a block of height `height` is committed: drops the waiting transactions of `senders`
   * (the block's) whose nonce is now spent, and what expired; those senders may be ready again.
   */
  committed(
    senders: Iterable<Uint8Array>,
    nonceOf: (from: Uint8Array) => bigint,
    height: number,
    nowMs: number,
  ): void {
    for (const from of senders) {
      const sender = toHex(from);
      const waiting = this.bySender.get(sender);
      if (waiting === undefined) continue;
      const next = nonceOf(from);
      for (const e of [...waiting.values()]) if (e.nonce < next) this.remove(e, false);
      if (this.bySender.has(sender)) this.candidates.add(sender);
    }
    this.expire(height, nowMs);
  }

  /** Drops the waiting transaction `key` and its sender's later nonces (it cannot run now). */
  drop(key: string): void {
    const e = this.byKey.get(key);
    if (e !== undefined) this.remove(e, true);
  }

  /** Drops what waited longer than the limits allow (arrival order, so the front is oldest). */
  expire(height: number, nowMs: number): void {
    const { expiryHeights, expiryMs } = this.limits;
    for (const e of this.byKey.values()) {
      const old =
        height - e.height >= expiryHeights || (expiryMs !== undefined && nowMs - e.atMs >= expiryMs);
      if (!old) break;
      this.remove(e, true);
    }
  }

  /** Evicts the cheapest waiting transaction if `fee` beats it; else refuses with `MEMPOOL_FULL`. */
  private makeRoom(
    fee: bigint,
    sender: string,
    refuse: (code: ErrorCode, why: string) => ChainDbError,
  ): void {
    const cheapest = this.peekCheapest();
    assert(cheapest !== undefined, "a full mempool has a cheapest transaction");
    if (fee <= cheapest.fee)
      throw refuse(
        ErrorCode.MEMPOOL_FULL,
        `${this.limits.capacity} wait; a fee above ${cheapest.fee} is needed`,
      );
    if (cheapest.sender === sender)
      throw refuse(ErrorCode.MEMPOOL_FULL, `${this.limits.capacity} wait; the cheapest is this sender's own`);
    this.remove(cheapest, true);
  }

  private peekCheapest(): MempoolEntry | undefined {
    while (this.heap.length > 0 && this.byKey.get(this.heap[0]!.key) !== this.heap[0]) heapPop(this.heap);
    return this.heap[0];
  }

  private insert(e: MempoolEntry, next: bigint): void {
    this.byKey.set(e.key, e);
    let waiting = this.bySender.get(e.sender);
    if (waiting === undefined) this.bySender.set(e.sender, (waiting = new Map<bigint, MempoolEntry>()));
    waiting.set(e.nonce, e);
    this.spending.set(e.sender, (this.spending.get(e.sender) ?? 0n) + e.cost);
    if (e.nonce === next) this.candidates.add(e.sender);
    heapPush(this.heap, e);
    // Lazy deletion leaves stale heap entries: rebuild when they outnumber live ones.
    if (this.heap.length > 2 * this.byKey.size + 64) this.heap = heapify([...this.byKey.values()]);
    assert(this.byKey.size <= this.limits.capacity, "mempool within capacity");
  }

  /** Removes `e`; `cascade` also drops the sender's later nonces (they cannot run without it). */
  private remove(e: MempoolEntry, cascade: boolean): void {
    const waiting = this.bySender.get(e.sender)!;
    const doomed = cascade ? [...waiting.values()].filter((x) => x.nonce >= e.nonce) : [e];
    for (const x of doomed) {
      this.byKey.delete(x.key);
      waiting.delete(x.nonce);
      this.spending.set(x.sender, this.spending.get(x.sender)! - x.cost);
      if (cascade) this.dropped++;
    }
    if (waiting.size === 0) {
      this.bySender.delete(e.sender);
      this.spending.delete(e.sender);
      this.candidates.delete(e.sender);
    }
  }
}

/** Most a transaction takes from its sender's balance. */
export function costOf(tx: ChainTx): bigint {
  if (tx.type === "transfer") return tx.tx.amount + tx.tx.fee;
  return tx.tx.fee + (tx.tx.kind === "stake" ? tx.tx.amount : 0n);
}

const cheaper = (a: MempoolEntry, b: MempoolEntry) => a.fee < b.fee || (a.fee === b.fee && a.seq < b.seq);

function heapPush(h: MempoolEntry[], e: MempoolEntry): void {
  h.push(e);
  for (let i = h.length - 1; i > 0;) {
    const p = (i - 1) >> 1;
    if (!cheaper(h[i]!, h[p]!)) break;
    [h[i], h[p]] = [h[p]!, h[i]!];
    i = p;
  }
}

function heapPop(h: MempoolEntry[]): void {
  const last = h.pop()!;
  if (h.length === 0) return;
  h[0] = last;
  siftDown(h, 0);
}

function siftDown(h: MempoolEntry[], i: number): void {
  for (;;) {
    const l = 2 * i + 1;
    const r = l + 1;
    let m = i;
    if (l < h.length && cheaper(h[l]!, h[m]!)) m = l;
    if (r < h.length && cheaper(h[r]!, h[m]!)) m = r;
    if (m === i) return;
    [h[i], h[m]] = [h[m]!, h[i]!];
    i = m;
  }
}

function heapify(entries: MempoolEntry[]): MempoolEntry[] {
  for (let i = (entries.length >> 1) - 1; i >= 0; i--) siftDown(entries, i);
  return entries;
}
