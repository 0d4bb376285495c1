/**
 * Simulated durable storage for one simulated node: a key-value map whose writes reach "disk"
 * only on {@link SimStorage.sync} (fsync). A crash throws away every write since the last sync, so
 * a restarted node keeps exactly what it had made durable — the property DESIGN.md's "Nothing
 * lost" rule is tested against.
 * @module
 */
import { ChainDbError, ErrorCode, assert } from "../util/index.ts";

/** Most keys one simulated disk holds (a bound, not a tuning knob). */
export const SIM_STORAGE_KEYS_MAX = 1_000_000;

/** A node's simulated disk: buffered writes, `sync` makes them durable, a crash loses the rest. */
export class SimStorage {
  private durable = new Map<string, Uint8Array>();
  // Pending writes since the last sync; `undefined` marks a pending delete.
  private pending = new Map<string, Uint8Array | undefined>();
  /** Number of `sync` calls that had something to write (fsyncs). */
  syncs = 0;

  /** The value at `key` as this node sees it (pending writes included), or undefined. */
  get(key: string): Uint8Array | undefined {
    const value = this.pending.has(key) ? this.pending.get(key) : this.durable.get(key);
    return value?.slice();
  }

  /** Buffers a write of `value` at `key` (a copy is kept). */
  put(key: string, value: Uint8Array): void {
    if (
      !this.pending.has(key) &&
      !this.durable.has(key) &&
      this.durable.size + this.pending.size >= SIM_STORAGE_KEYS_MAX
    ) {
      throw new ChainDbError(ErrorCode.OUT_OF_MEMORY, `simulated disk full (${SIM_STORAGE_KEYS_MAX} keys)`);
    }
    this.pending.set(key, value.slice());
  }

  /** Buffers a delete of `key`. */
  delete(key: string): void {
    this.pending.set(key, undefined);
  }

  /** Keys starting with `prefix` (pending writes included), sorted. */
  keys(prefix = ""): string[] {
    const out = new Set<string>();
    for (const k of this.durable.keys()) if (k.startsWith(prefix)) out.add(k);
    for (const [k, v] of this.pending) {
      if (!k.startsWith(prefix)) continue;
      if (v === undefined) out.delete(k);
      else out.add(k);
    }
    return [...out].sort();
  }

  /** Makes every buffered write durable. */
  sync(): void {
    if (this.pending.size === 0) return;
    for (const [k, v] of this.pending) {
      if (v === undefined) this.durable.delete(k);
      else this.durable.set(k, v);
    }
    this.pending.clear();
    this.syncs++;
  }

  /** True when nothing is waiting for a sync. */
  get clean(): boolean {
    return this.pending.size === 0;
  }

  /** The crash: every write since the last sync is lost. Called by the simulator. */
  loseUnsynced(): void {
    this.pending.clear();
    assert(this.pending.size === 0, "crash leaves no pending writes");
  }
}
