/**
 * A consensus node's files (CometBFT's block store and state store, reduced): the consensus log
 * the engine writes, the block store (every decided block with its commit certificate, as
 * `decide` records of the WAL format in wal.ts, fsynced before the ledger takes the block), and
 * the selection snapshot (`selection.json`: the selection state after the last block and the one
 * before it, written with fsync and rename before the ledger step). In memory when no directory
 * is given.
 * @module
 */
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from "node:fs";
import { join } from "node:path";
import { ChainDbError, ErrorCode } from "../util/index.ts";
import type { SelectionJson, SelectionState } from "../selection/index.ts";
import type { CommitCertificate, WalRecord } from "./types.ts";
import { FileWal } from "./wal.ts";

/** A log of WAL records: a file, or an array in memory. */
export interface Log {
  readonly records: readonly WalRecord[];
  append(record: WalRecord, sync: boolean): void;
  /** Replaces the contents with `records` (atomically for a file). */
  compact(records: readonly WalRecord[]): void;
  close(): void;
}

/** A log in memory (a node without a directory). */
export function memoryLog(): Log {
  const records: WalRecord[] = [];
  return {
    records,
    append: (r) => void records.push(r),
    compact: (keep) => void records.splice(0, records.length, ...keep),
    close: () => {},
  };
}

/** A log in the WAL file at `path`. */
export function fileLog(path: string): Log {
  const wal = FileWal.open(path);
  return {
    records: wal.recovered.records,
    append: (r, sync) => wal.append(r, sync),
    compact: (keep) => wal.rewrite(keep),
    close: () => wal.close(),
  };
}

/** Decided blocks by height, each stored durably before it is applied. */
export class BlockStore {
  private readonly blocks = new Map<number, CommitCertificate>();

  constructor(private readonly log: Log) {
    for (const r of log.records) if (r.type === "decide") this.blocks.set(r.height, r.certificate);
  }

  /** The certificate (with the block as its proposal's value) of a stored height. */
  get(height: number): CommitCertificate | undefined {
    return this.blocks.get(height);
  }

  /** Whether `height` is stored. */
  has(height: number): boolean {
    return this.blocks.has(height);
  }

  /** Stores decided block `height` (fsync) unless it is stored already. */
  put(height: number, certificate: CommitCertificate): void {
    if (this.blocks.has(height)) return;
    this.log.append({ type: "decide", height, certificate }, true);
    this.blocks.set(height, certificate);
  }

  /** Takes the decisions a consensus log holds that the store lacks (a crash between the two). */
  adopt(records: readonly WalRecord[]): void {
    for (const r of records) if (r.type === "decide") this.put(r.height, r.certificate);
  }

  close(): void {
    this.log.close();
  }
}

/** What {@link SelectionSnapshot.read} returns. */
export interface StoredSelection {
  readonly height: number;
  readonly state: SelectionJson;
  readonly previous: SelectionJson | null;
}

/** The selection snapshot file of a node directory (none in memory). */
export class SelectionSnapshot {
  private readonly path: string | null;

  constructor(dir: string | undefined) {
    this.path = dir === undefined ? null : join(dir, "selection.json");
  }

  /** Written (fsync, rename) before the ledger step, with the state before it for a cut-off commit. */
  write(height: number, next: SelectionState, previous: SelectionState): void {
    if (this.path === null) return;
    const text = JSON.stringify({ height, state: next.toJSON(), previous: previous.toJSON() });
    const fd = openSync(`${this.path}.tmp`, "w");
    writeSync(fd, text);
    fsyncSync(fd);
    closeSync(fd);
    renameSync(`${this.path}.tmp`, this.path);
  }

  /** The stored snapshot, null when there is none; `STORE_CORRUPT` when unreadable. */
  read(): StoredSelection | null {
    if (this.path === null || !existsSync(this.path)) return null;
    try {
      return JSON.parse(readFileSync(this.path, "utf8")) as StoredSelection;
    } catch (error) {
      throw new ChainDbError(ErrorCode.STORE_CORRUPT, `unreadable selection snapshot ${this.path}`, {
        cause: error,
      });
    }
  }
}
