/**
 * Transactions on a key-value store: byte keys and values under strict two-phase locking
 * (Bernstein, Hadzilacos & Goodman 1987, ch. 3). A commit applies its writes inside one store
 * checkpoint (all or nothing); the store lives in memory, so durability comes from an optional
 * `log` that must make the writes durable before its promise resolves.
 * @module
 */
import { ChainDbError, ErrorCode, abytes, toHex } from "../util/index.ts";
import { KV_KEY_MAX, type KvStore } from "../engine/index.ts";
import { TxDatabase, type TxBackend, type TxDatabaseOptions, type Write } from "./transaction.ts";

/** Options of a {@link KvDatabase}. */
export interface KvDatabaseOptions extends TxDatabaseOptions {
  /** Makes a commit's writes durable before they are applied (called once per commit). */
  log?: (writes: readonly Write<Uint8Array, Uint8Array>[]) => Promise<void>;
}

class KvBackend implements TxBackend<Uint8Array, Uint8Array> {
  constructor(
    private readonly store: KvStore,
    private readonly log: KvDatabaseOptions["log"],
  ) {}

  keyId(key: Uint8Array): string {
    abytes(key, undefined, "key");
    if (key.length < 1 || key.length > KV_KEY_MAX)
      throw new ChainDbError(
        ErrorCode.BAD_LENGTH,
        `"key" expected 1..${KV_KEY_MAX} bytes, got ${key.length}`,
      );
    return toHex(key);
  }

  read(key: Uint8Array): Uint8Array | undefined {
    return this.store.get(key);
  }

  async apply(writes: readonly Write<Uint8Array, Uint8Array>[]): Promise<void> {
    if (this.log) await this.log(writes);
    this.store.checkpoint();
    try {
      for (const w of writes) {
        if (w.value === undefined) this.store.delete(w.key);
        else this.store.put(w.key, w.value);
      }
    } catch (error) {
      this.store.rollback();
      throw error;
    }
    this.store.release();
  }
}

/** A key-value store with serializable transactions. */
export class KvDatabase extends TxDatabase<Uint8Array, Uint8Array> {
  /** Wraps `store`. */
  constructor(
    /** The store under the transactions. */
    readonly store: KvStore,
    options: KvDatabaseOptions = {},
  ) {
    super(new KvBackend(store, options.log), options);
  }
}
