/**
 * ACID transactions over a key-value backend, serializable by strict two-phase locking
 * (Bernstein, Hadzilacos & Goodman, "Concurrency Control and Recovery in Database Systems",
 * 1987, ch. 3; Gray & Reuter 1993, ch. 7): a read takes a shared lock, a write an exclusive one,
 * and every lock is held until commit or rollback, so the commit order is a serial order.
 *
 * - Atomicity: writes are buffered in the transaction (deferred update, Bernstein et al. ch. 6)
 *   and reach the backend in one step at commit; a rolled-back transaction leaves no trace.
 * - Consistency: invariants registered on the database see every change before commit; a
 *   violation rolls the transaction back with `TX_INVARIANT`.
 * - Isolation: the {@link LockManager}; a deadlock victim (the youngest) gets `TX_DEADLOCK` and is
 *   rolled back at once, so the others proceed.
 * - Durability: the backend's `apply` returns only once the writes are in its durable log.
 * @module
 */
import { ChainDbError, ErrorCode, assert } from "../util/index.ts";
import { LockManager, type LockManagerOptions, type TxId } from "./lock-manager.ts";

/** What a transactional database needs from the store under it. */
export interface TxBackend<K, V> {
  /** A stable string for `key` (lock name and write-set key); checks the key. */
  keyId(key: K): string;
  /** The committed value of `key`, or undefined. */
  read(key: K): V | undefined;
  /** Applies a committed transaction's writes atomically; durable when the promise resolves. */
  apply(writes: readonly Write<K, V>[]): Promise<void>;
}

/** A buffered write: a new value, or `undefined` for a delete. */
export interface Write<K, V> {
  readonly key: K;
  readonly value: V | undefined;
}

/** One key a transaction changed: its committed value and the value it will commit. */
export interface Change<K, V> {
  readonly key: K;
  readonly before: V | undefined;
  readonly after: V | undefined;
}

/** An invariant: `true` when the changes keep it, else `false` or a message saying why not. */
export type Invariant<K, V> = (changes: readonly Change<K, V>[]) => boolean | string;

/** Options of a {@link TxDatabase}. */
export interface TxDatabaseOptions extends LockManagerOptions {
  /** Most keys one transaction may lock (default 100 000): a bound on its lock and write sets. */
  keysMax?: number;
}

/** Options of {@link TxDatabase.transaction}. */
export interface RetryOptions {
  /** Extra attempts after a `TX_DEADLOCK`, `TX_CONFLICT` or `LOCK_TIMEOUT` (default 3, at most 1000). */
  retries?: number;
}

/** Error codes after which {@link TxDatabase.transaction} tries again. */
export const RETRYABLE_CODES: ReadonlySet<string> = new Set([
  ErrorCode.TX_DEADLOCK,
  ErrorCode.TX_CONFLICT,
  ErrorCode.LOCK_TIMEOUT,
]);

/** A savepoint inside a transaction (see {@link Transaction.savepoint}). */
export type Savepoint = number & { readonly __savepoint: unique symbol };

type TxStatus = "active" | "committing" | "committed" | "rolledBack";

/** A transaction: reads and writes under strict 2PL, then commit or rollback. */
export class Transaction<K, V> {
  private status: TxStatus = "active";
  // Buffered writes by key id, and an undo log of the write set for savepoints.
  private readonly writes = new Map<string, Write<K, V>>();
  private readonly undo: Array<{ id: string; previous: Write<K, V> | undefined }> = [];
  private lockedKeys = 0;

  /** @internal Use {@link TxDatabase.begin}. */
  constructor(
    /** This transaction's id in the lock manager. */
    readonly id: TxId,
    private readonly db: TxDatabase<K, V>,
  ) {}

  /** True until commit or rollback. */
  get active(): boolean {
    return this.status === "active";
  }

  /** Reads `key` (shared lock): this transaction's own write if any, else the committed value. */
  async get(key: K): Promise<V | undefined> {
    const id = await this.lock(key, "S");
    const own = this.writes.get(id);
    return own ? own.value : this.db.backend.read(key);
  }

  /** Reads `key` with an exclusive lock, for a read followed by a write (avoids upgrade deadlocks). */
  async getForUpdate(key: K): Promise<V | undefined> {
    const id = await this.lock(key, "X");
    const own = this.writes.get(id);
    return own ? own.value : this.db.backend.read(key);
  }

  /** Writes `key` (exclusive lock); visible to this transaction now, to others after commit. */
  async put(key: K, value: V): Promise<void> {
    const id = await this.lock(key, "X");
    this.record(id, { key, value });
  }

  /** Deletes `key` (exclusive lock). */
  async delete(key: K): Promise<void> {
    const id = await this.lock(key, "X");
    this.record(id, { key, value: undefined });
  }

  /** Marks the current point; {@link rollbackTo} undoes the writes made after it (locks stay held). */
  savepoint(): Savepoint {
    this.checkActive();
    return this.undo.length as Savepoint;
  }

  /** Undoes every write made after `savepoint`; the savepoint stays usable. */
  rollbackTo(savepoint: Savepoint): void {
    this.checkActive();
    if (!Number.isInteger(savepoint) || savepoint < 0 || savepoint > this.undo.length) {
      throw new ChainDbError(
        ErrorCode.BAD_ARGUMENT,
        `"savepoint" ${String(savepoint)} is not a savepoint of this transaction (or was rolled back past)`,
      );
    }
    // Bounded by the undo log's length.
    while (this.undo.length > savepoint) {
      const { id, previous } = this.undo.pop()!;
      if (previous) this.writes.set(id, previous);
      else this.writes.delete(id);
    }
  }

  /** The changes this transaction would commit (committed value before, buffered value after). */
  changes(): Change<K, V>[] {
    return [...this.writes.values()].map((w) => ({
      key: w.key,
      before: this.db.backend.read(w.key),
      after: w.value,
    }));
  }

  /**
   * Checks the invariants, applies the writes durably, then releases the locks. A violated
   * invariant rolls back with `TX_INVARIANT`; a failed durable write rolls back and rethrows.
   */
  async commit(): Promise<void> {
    this.checkActive();
    this.status = "committing";
    try {
      this.db.checkInvariants(this.changes());
      // Strict 2PL: every written key is still X-locked here, so no other commit touches them.
      if (this.writes.size > 0) await this.db.backend.apply([...this.writes.values()]);
    } catch (error) {
      this.finish("rolledBack");
      throw error;
    }
    this.finish("committed");
    this.db.noteCommit(this);
  }

  /** Drops every write and releases the locks; a no-op once the transaction has ended. */
  rollback(): void {
    if (this.status === "committed" || this.status === "rolledBack") return;
    this.finish("rolledBack");
  }

  private async lock(key: K, mode: "S" | "X"): Promise<string> {
    this.checkActive();
    const id = this.db.backend.keyId(key);
    const isNew = this.db.locks.heldMode(this.id, id) === undefined;
    if (isNew && this.lockedKeys >= this.db.keysMax) {
      throw new ChainDbError(
        ErrorCode.BAD_ARGUMENT,
        `transaction ${String(this.id)} would lock more than ${this.db.keysMax} keys`,
      );
    }
    try {
      await this.db.locks.acquire(this.id, id, mode);
      if (isNew) this.lockedKeys++;
    } catch (error) {
      // A deadlock victim, a timeout or an abort: roll back now so the others can proceed.
      this.rollback();
      throw error;
    }
    // rollback() while this request waited leaves the transaction ended: report that.
    this.checkActive();
    return id;
  }

  private record(id: string, write: Write<K, V>): void {
    this.undo.push({ id, previous: this.writes.get(id) });
    this.writes.set(id, write);
  }

  private finish(status: "committed" | "rolledBack"): void {
    assert(this.status === "active" || this.status === "committing", "transaction ended twice");
    this.status = status;
    this.writes.clear();
    this.undo.length = 0;
    this.db.locks.releaseAll(this.id);
    assert(this.writes.size === 0, "write set kept after the end");
  }

  private checkActive(): void {
    if (this.status !== "active") {
      throw new ChainDbError(
        ErrorCode.TX_ABORTED,
        `transaction ${String(this.id)} has ${this.status === "committing" ? "begun committing" : this.status === "committed" ? "committed" : "been rolled back"}`,
      );
    }
  }
}

/** A database of keys and values with serializable transactions over a {@link TxBackend}. */
export class TxDatabase<K, V> {
  /** The lock manager (strict 2PL) shared by this database's transactions. */
  readonly locks: LockManager;
  /** @internal Most keys per transaction. */
  readonly keysMax: number;
  private readonly invariants: Array<{ name: string; check: Invariant<K, V> }> = [];
  private nextId = 1;
  private commits = 0;

  /** A database over `backend`; `options` configure the lock manager. */
  constructor(
    /** The store under the transactions. */
    readonly backend: TxBackend<K, V>,
    options: TxDatabaseOptions = {},
  ) {
    this.locks = new LockManager(options);
    this.keysMax = options.keysMax ?? 100_000;
    if (!Number.isInteger(this.keysMax) || this.keysMax < 1)
      throw new RangeError(`"keysMax" expected an integer >= 1`);
  }

  /** Number of transactions committed through this database. */
  get committed(): number {
    return this.commits;
  }

  /** Registers an invariant checked before every commit. */
  registerInvariant(name: string, check: Invariant<K, V>): void {
    if (typeof check !== "function")
      throw new ChainDbError(ErrorCode.BAD_ARGUMENT, `invariant "${name}" expected a function`);
    this.invariants.push({ name, check });
  }

  /** Starts a transaction (younger than every transaction begun before it). */
  begin(): Transaction<K, V> {
    return this.create(this.nextId++);
  }

  /**
   * Runs `fn` in a transaction and commits it; on `TX_DEADLOCK`, `TX_CONFLICT` or `LOCK_TIMEOUT`
   * runs it again in a new transaction, up to `retries` more times. Any other error rolls back.
   */
  async transaction<T>(fn: (tx: Transaction<K, V>) => Promise<T>, options: RetryOptions = {}): Promise<T> {
    const retries = options.retries ?? 3;
    if (!Number.isInteger(retries) || retries < 0 || retries > 1000)
      throw new RangeError(`"retries" expected an integer 0..1000, got ${String(retries)}`);
    for (let attempt = 0; ; attempt++) {
      const tx = this.begin();
      try {
        const result = await fn(tx);
        if (tx.active) await tx.commit();
        return result;
      } catch (error) {
        tx.rollback();
        const code = (error as ChainDbError)?.code;
        if (attempt >= retries || !(error instanceof ChainDbError) || !RETRYABLE_CODES.has(code)) throw error;
      }
    }
  }

  /** @internal Builds a transaction; subclasses return their own kind. */
  protected create(id: number): Transaction<K, V> {
    return new Transaction(id, this);
  }

  /** @internal Throws `TX_INVARIANT` when a registered invariant rejects `changes`. */
  checkInvariants(changes: readonly Change<K, V>[]): void {
    for (const { name, check } of this.invariants) {
      const verdict = check(changes);
      if (verdict === true) continue;
      const why = typeof verdict === "string" ? `: ${verdict}` : "";
      throw new ChainDbError(
        ErrorCode.TX_INVARIANT,
        `invariant "${name}" violated${why}; transaction rolled back`,
      );
    }
  }

  /** @internal Counts a commit. */
  noteCommit(_tx: Transaction<K, V>): void {
    this.commits++;
  }
}
