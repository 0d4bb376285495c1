/**
 * A lock manager for strict two-phase locking (Gray & Reuter, "Transaction Processing: Concepts
 * and Techniques", 1993, ch. 7–8; Bernstein, Hadzilacos & Goodman, "Concurrency Control and
 * Recovery in Database Systems", 1987, ch. 3): shared (S) and exclusive (X) locks per key, granted
 * in FIFO order, S→X upgrade, per-request timeouts, and deadlock detection on the wait-for graph.
 *
 * Rules, as in Gray & Reuter's lock manager:
 * - Compatibility: S with S only. A new request is granted at once only if it is compatible with
 *   every holder AND nobody is queued (no barging past waiters: writers do not starve).
 * - Upgrades (a holder of S asking for X) queue ahead of ordinary requests, FIFO among
 *   themselves, and are granted when the upgrader is the only holder.
 * - The wait-for graph has an edge T→U when T's request conflicts with a lock U holds or with
 *   U's request queued ahead of T's. Every edge a new request adds touches its requester, so each
 *   new cycle passes through the requester: detection searches from it when it starts waiting.
 *   The victim of a cycle is its youngest transaction (first seen last by this manager); its
 *   pending request is rejected with `TX_DEADLOCK` and it is marked aborted until `releaseAll`.
 * - Strict 2PL: locks are held until `releaseAll` (commit or rollback).
 *
 * All state changes happen synchronously inside the calls; promises only report them. Timers
 * come from an injectable {@link TimerClock}, so tests replay exact schedules.
 * @module
 */
import { ChainDbError, ErrorCode, assert, toHex } from "../util/index.ts";
import { systemClock, type TimerClock } from "./clock.ts";

/** Lock modes: shared (read) and exclusive (write). */
export type LockMode = "S" | "X";
/** A transaction's id, as chosen by the caller. */
export type TxId = string | number;
/** A lockable key: a string or bytes (bytes and strings never collide). */
export type LockKey = string | Uint8Array;

/** Options for a {@link LockManager}. */
export interface LockManagerOptions {
  /** Timers (default: real time). */
  clock?: TimerClock;
  /** Default wait bound per request in ms (default: Infinity, deadlocks are still detected). */
  lockTimeoutMs?: number;
  /** Most requests that may wait at once; more fail with `LOCK_QUEUE_FULL` (default 100 000). */
  waitersMax?: number;
}

/** Options for one {@link LockManager.acquire}. */
export interface AcquireOptions {
  /** Wait bound for this request in ms; `0` means "grant now or fail with LOCK_TIMEOUT". */
  timeoutMs?: number;
}

/** Counters since the manager was created. */
export interface LockManagerStats {
  granted: number;
  waited: number;
  deadlocks: number;
  timeouts: number;
}

interface TxState {
  readonly id: TxId;
  readonly age: number; // larger = younger
  readonly held: Map<string, LockEntry>;
  waiting: LockRequest | undefined;
  abortedBy: ErrorCode | undefined;
}

interface LockRequest {
  readonly tx: TxState;
  readonly entry: LockEntry;
  readonly mode: LockMode;
  readonly upgrade: boolean;
  resolve(): void;
  reject(error: ChainDbError): void;
  cancelTimer: (() => void) | undefined;
}

interface LockEntry {
  readonly key: string;
  readonly holders: Map<TxState, LockMode>;
  readonly queue: LockRequest[];
}

/** True when a lock in mode `a` may be held together with one in mode `b` by another transaction. */
export function compatible(a: LockMode, b: LockMode): boolean {
  return a === "S" && b === "S";
}

function keyOf(key: LockKey): string {
  if (typeof key === "string") return `s:${key}`;
  if (key instanceof Uint8Array) return `b:${toHex(key)}`;
  throw new ChainDbError(ErrorCode.BAD_ARGUMENT, `"key" expected a string or Uint8Array, got ${typeof key}`);
}

/** Strict two-phase locking: S/X locks per key, FIFO, upgrades, timeouts, deadlock detection. */
export class LockManager {
  private readonly clock: TimerClock;
  private readonly lockTimeoutMs: number;
  private readonly waitersMax: number;
  private readonly entries = new Map<string, LockEntry>();
  private readonly txs = new Map<TxId, TxState>();
  private nextAge = 0;
  private waiterCount = 0;
  private readonly counters: LockManagerStats = { granted: 0, waited: 0, deadlocks: 0, timeouts: 0 };

  /** A lock manager with no locks. */
  constructor(options: LockManagerOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.lockTimeoutMs = checkTimeout(options.lockTimeoutMs ?? Infinity, "lockTimeoutMs");
    this.waitersMax = options.waitersMax ?? 100_000;
    if (!Number.isInteger(this.waitersMax) || this.waitersMax < 1)
      throw new RangeError(`"waitersMax" expected an integer >= 1`);
  }

  /**
   * Resolves once `txId` holds `key` in `mode` (or stronger). Rejects with `LOCK_TIMEOUT`,
   * `TX_DEADLOCK` (this transaction was chosen as a deadlock victim: roll it back),
   * `TX_ABORTED` (already a victim, or released while waiting) or `LOCK_QUEUE_FULL`.
   * A transaction may have only one request waiting at a time.
   */
  acquire(txId: TxId, key: LockKey, mode: LockMode, options?: AcquireOptions): Promise<void> {
    try {
      return this.request(txId, key, mode, options?.timeoutMs ?? this.lockTimeoutMs);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Grants the lock if that needs no waiting; never queues. Same errors as {@link LockManager.acquire}. */
  tryAcquire(txId: TxId, key: LockKey, mode: LockMode): boolean {
    const { tx, entry } = this.admit(txId, key, mode);
    const grantable = this.grantableNow(tx, entry, mode);
    if (grantable) this.grant(tx, entry, mode);
    this.dropIfIdle(entry);
    return grantable;
  }

  /** Releases every lock of `txId` and cancels its waiting request (commit or rollback). */
  releaseAll(txId: TxId): void {
    const tx = this.txs.get(txId);
    if (!tx) return;
    if (tx.waiting)
      this.dropRequest(
        tx.waiting,
        new ChainDbError(
          ErrorCode.TX_ABORTED,
          `transaction ${String(txId)} released its locks while waiting`,
        ),
      );
    assert(tx.waiting === undefined, "released transaction still waiting");
    // Granting others touches their `held` maps, never this one: iterate it in place, then clear.
    for (const entry of tx.held.values()) {
      entry.holders.delete(tx);
      this.grantWaiters(entry);
      this.dropIfIdle(entry);
    }
    tx.held.clear();
    this.txs.delete(txId);
  }

  /** The mode in which `txId` holds `key`, if any. */
  heldMode(txId: TxId, key: LockKey): LockMode | undefined {
    const tx = this.txs.get(txId);
    return tx?.held.get(keyOf(key))?.holders.get(tx);
  }

  /** Current holders of `key` and their modes (a copy). */
  holders(key: LockKey): Map<TxId, LockMode> {
    const entry = this.entries.get(keyOf(key));
    return new Map([...(entry?.holders ?? [])].map(([tx, mode]) => [tx.id, mode]));
  }

  /** Transactions waiting for `key`, in grant order, with the mode each asked for. */
  waiters(key: LockKey): { txId: TxId; mode: LockMode; upgrade: boolean }[] {
    const entry = this.entries.get(keyOf(key));
    return (entry?.queue ?? []).map((r) => ({ txId: r.tx.id, mode: r.mode, upgrade: r.upgrade }));
  }

  /** Counters since creation. */
  get stats(): Readonly<LockManagerStats> {
    return { ...this.counters };
  }

  /** Checks every internal invariant (for tests): compatible holders, no grantable head, no cycle. */
  checkInvariants(): void {
    let waiting = 0;
    for (const entry of this.entries.values()) {
      const modes = [...entry.holders.values()];
      assert(
        !modes.includes("X") || modes.length === 1,
        `key ${entry.key}: X held together with another lock`,
      );
      assert(entry.holders.size > 0 || entry.queue.length > 0, `key ${entry.key}: idle entry kept`);
      if (entry.queue.length > 0)
        assert(!this.headGrantable(entry), `key ${entry.key}: grantable request left waiting`);
      for (const r of entry.queue)
        assert(r.tx.waiting === r, `key ${entry.key}: request not linked to its transaction`);
      waiting += entry.queue.length;
    }
    assert(waiting === this.waiterCount, "waiter count drifted");
    for (const tx of this.txs.values()) {
      if (tx.waiting)
        assert(this.findCycle(tx) === undefined, `deadlock left undetected through ${String(tx.id)}`);
    }
  }

  // Checks a request and registers the transaction (kept until releaseAll, so its age is stable).
  private admit(txId: TxId, key: LockKey, mode: LockMode): { tx: TxState; entry: LockEntry } {
    if (mode !== "S" && mode !== "X")
      throw new ChainDbError(ErrorCode.BAD_ARGUMENT, `"mode" expected "S" or "X", got ${String(mode)}`);
    const k = keyOf(key);
    const tx = this.txFor(txId);
    if (tx.abortedBy)
      throw new ChainDbError(
        ErrorCode.TX_ABORTED,
        `transaction ${String(txId)} was aborted (${tx.abortedBy}); roll it back`,
      );
    if (tx.waiting)
      throw new ChainDbError(
        ErrorCode.BAD_ARGUMENT,
        `transaction ${String(txId)} already has a request waiting`,
      );
    return { tx, entry: this.entryFor(k) };
  }

  private request(txId: TxId, key: LockKey, mode: LockMode, timeoutMs: number): Promise<void> {
    checkTimeout(timeoutMs, "timeoutMs");
    const { tx, entry } = this.admit(txId, key, mode);
    if (this.grantableNow(tx, entry, mode)) {
      this.grant(tx, entry, mode);
      return Promise.resolve();
    }
    if (timeoutMs === 0) {
      this.dropIfIdle(entry);
      this.counters.timeouts++;
      throw new ChainDbError(ErrorCode.LOCK_TIMEOUT, `lock ${mode} on ${entry.key} not available at once`);
    }
    if (this.waiterCount >= this.waitersMax) {
      this.dropIfIdle(entry);
      throw new ChainDbError(ErrorCode.LOCK_QUEUE_FULL, `${this.waiterCount} requests already waiting`);
    }
    return this.enqueue(tx, entry, mode, timeoutMs);
  }

  private enqueue(tx: TxState, entry: LockEntry, mode: LockMode, timeoutMs: number): Promise<void> {
    const upgrade = entry.holders.get(tx) === "S";
    let request!: LockRequest;
    const promise = new Promise<void>((resolve, reject) => {
      request = { tx, entry, mode, upgrade, resolve, reject, cancelTimer: undefined };
    });
    // Upgrades go after the upgrades already queued and before every ordinary request.
    const at = upgrade ? entry.queue.findIndex((r) => !r.upgrade) : -1;
    entry.queue.splice(at === -1 ? entry.queue.length : at, 0, request);
    tx.waiting = request;
    this.waiterCount++;
    this.counters.waited++;
    if (timeoutMs !== Infinity) {
      request.cancelTimer = this.clock.setTimer(timeoutMs, () => {
        if (tx.waiting !== request) return;
        this.counters.timeouts++;
        this.dropRequest(
          request,
          new ChainDbError(
            ErrorCode.LOCK_TIMEOUT,
            `lock ${mode} on ${entry.key} not granted within ${timeoutMs} ms`,
          ),
        );
      });
    }
    this.resolveDeadlocks(tx);
    return promise;
  }

  // Breaks every cycle through `tx` (bounded: each round removes one waiting request).
  private resolveDeadlocks(tx: TxState): void {
    // The bound is fixed up front: each victim lowers waiterCount, so a bound re-read every round
    // crossed the round counter halfway and left a cycle standing (found by the seeded histories).
    const roundsMax = this.waiterCount + 1;
    for (let round = 0; round < roundsMax && tx.waiting; round++) {
      const cycle = this.findCycle(tx);
      if (!cycle) return;
      const victim = cycle.reduce((a, b) => (b.age > a.age ? b : a));
      assert(victim.waiting !== undefined, "deadlock victim is not waiting");
      this.counters.deadlocks++;
      victim.abortedBy = ErrorCode.TX_DEADLOCK;
      const others = cycle.filter((t) => t !== victim).map((t) => String(t.id));
      this.dropRequest(
        victim.waiting,
        new ChainDbError(
          ErrorCode.TX_DEADLOCK,
          `transaction ${String(victim.id)} chosen as deadlock victim (cycle with ${others.join(", ")})`,
        ),
      );
    }
  }

  /**
   * A shortest cycle of the wait-for graph through `start`, as the list of its transactions.
   * Breadth-first: a depth-first path back to `start` is a cycle too, but a long one, and its
   * youngest member is often no part of the short cycle that really blocks — one seeded history
   * (test/txn/txn-serializable.test.ts) aborted ten transactions for a single three-way deadlock.
   */
  private findCycle(start: TxState): TxState[] | undefined {
    // Bounded: each transaction enters the frontier at most once.
    const parent = new Map<TxState, TxState>();
    let frontier = [start];
    while (frontier.length > 0) {
      const next: TxState[] = [];
      for (const t of frontier) {
        for (const u of this.waitsFor(t)) {
          if (u === start) {
            const cycle = [t];
            for (let p = parent.get(t); p !== undefined; p = parent.get(p)) cycle.push(p);
            return cycle.reverse();
          }
          if (parent.has(u) || !u.waiting) continue;
          parent.set(u, t);
          next.push(u);
        }
      }
      frontier = next;
    }
    return undefined;
  }

  /** The transactions `tx`'s waiting request waits for: conflicting holders and earlier requests. */
  private waitsFor(tx: TxState): TxState[] {
    const request = tx.waiting;
    if (!request) return [];
    const out = new Set<TxState>();
    for (const [holder, held] of request.entry.holders) {
      if (holder !== tx && !compatible(request.mode, held)) out.add(holder);
    }
    for (const earlier of request.entry.queue) {
      if (earlier === request) break;
      if (earlier.tx !== tx && !compatible(request.mode, earlier.mode)) out.add(earlier.tx);
    }
    return [...out];
  }

  private grantableNow(tx: TxState, entry: LockEntry, mode: LockMode): boolean {
    const held = entry.holders.get(tx);
    if (held === "X" || held === mode) return true; // already covered
    if (held === "S") return entry.holders.size === 1 && !entry.queue.some((r) => r.upgrade);
    if (entry.queue.length > 0) return false; // FIFO: no barging
    for (const other of entry.holders.values()) if (!compatible(mode, other)) return false;
    return true;
  }

  private grant(tx: TxState, entry: LockEntry, mode: LockMode): void {
    const held = entry.holders.get(tx);
    if (held === "X" || held === mode) return;
    assert(!tx.waiting || tx.waiting.entry === entry, "grant to a transaction waiting elsewhere");
    entry.holders.set(tx, mode);
    tx.held.set(entry.key, entry);
    this.counters.granted++;
    assert(mode === "S" || entry.holders.size === 1, "X granted beside another holder");
  }

  private headGrantable(entry: LockEntry): boolean {
    const head = entry.queue[0];
    if (!head) return false;
    if (head.upgrade) return entry.holders.size === 1 && entry.holders.has(head.tx);
    for (const other of entry.holders.values()) if (!compatible(head.mode, other)) return false;
    return true;
  }

  // FIFO: grants from the head while possible, stopping at the first request that must wait.
  private grantWaiters(entry: LockEntry): void {
    while (this.headGrantable(entry)) {
      const head = entry.queue.shift()!;
      this.unlinkWaiter(head);
      this.grant(head.tx, entry, head.mode);
      head.resolve();
    }
  }

  private dropRequest(request: LockRequest, error: ChainDbError): void {
    const i = request.entry.queue.indexOf(request);
    assert(i >= 0, "dropped request is not queued");
    request.entry.queue.splice(i, 1);
    this.unlinkWaiter(request);
    request.reject(error);
    this.grantWaiters(request.entry); // it may have been the one blocking those behind it
    this.dropIfIdle(request.entry);
  }

  private unlinkWaiter(request: LockRequest): void {
    assert(request.tx.waiting === request, "request not linked to its transaction");
    request.tx.waiting = undefined;
    request.cancelTimer?.();
    this.waiterCount--;
    assert(this.waiterCount >= 0, "negative waiter count");
  }

  private txFor(txId: TxId): TxState {
    if (typeof txId !== "string" && typeof txId !== "number") {
      throw new ChainDbError(
        ErrorCode.BAD_ARGUMENT,
        `"txId" expected a string or number, got ${typeof txId}`,
      );
    }
    let tx = this.txs.get(txId);
    if (!tx) {
      tx = { id: txId, age: this.nextAge++, held: new Map(), waiting: undefined, abortedBy: undefined };
      this.txs.set(txId, tx);
    }
    return tx;
  }

  private entryFor(key: string): LockEntry {
    let entry = this.entries.get(key);
    if (!entry) {
      entry = { key, holders: new Map(), queue: [] };
      this.entries.set(key, entry);
    }
    return entry;
  }

  private dropIfIdle(entry: LockEntry): void {
    if (entry.holders.size === 0 && entry.queue.length === 0) this.entries.delete(entry.key);
  }
}

function checkTimeout(ms: number, name: string): number {
  if (typeof ms !== "number" || Number.isNaN(ms) || ms < 0)
    throw new RangeError(`"${name}" expected a number >= 0, got ${String(ms)}`);
  return ms;
}
