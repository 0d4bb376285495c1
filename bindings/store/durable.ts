/**
 * The durable ledger log: one SQLite database per ledger directory (@sqlite.org/sqlite-wasm over
 * the node:fs VFS), in WAL mode with `locking_mode=EXCLUSIVE` and `synchronous=NORMAL`: a block's
 * INSERT is one transaction committed to the WAL, and the log fsyncs the WAL itself — before
 * `appendBlock` returns, or off the calling thread (`writeBlock` + `syncInBackground`), so the
 * ledger can execute the next block while this one is flushed (pipelined commit).
 *
 * The state itself stays in WASM memory; per block the log gets the block (its transfers) and its
 * state changes (the touched accounts' new records), never rewritten B-tree pages of the state,
 * and every `snapshotEvery` blocks a full snapshot. Recovery loads the newest snapshot, replays
 * the changes of the later blocks in order, recomputes the root once and compares it with the
 * last block's root. Every row carries SHA-256 digests of its content (one over height, root,
 * proposer and changes, one over the transfers), so a flipped byte in what recovery reads is
 * reported, not replayed. Rows older than the newest snapshot, and the transfers, which recovery
 * does not read, are not checked on open.
 *
 * A paged state (paged-state.ts: a state larger than memory) keeps itself in its own files: the
 * snapshots are its checkpoints (no records in the database; the genesis row holds only its
 * root), and recovery opens its checkpoint, checks the checkpoint's root against the block row of
 * that height, and replays the blocks after it as above.
 *
 * A new database is built under a temporary name and renamed into place only when complete, so
 * an existing `ledger.sqlite` is always a finished ledger: an empty, truncated, foreign or
 * corrupted file is an error (NOT_CHAINDB, STORE_CORRUPT), never a fresh empty ledger.
 * @module
 */
import * as path from "node:path";
import { createHash, randomBytes } from "node:crypto";
import { ChainDbError, ErrorCode, assert, equalBytes, toHex } from "../util/index.ts";
import { ACCOUNT_RECORD_SIZE as REC, type LedgerState } from "../engine/index.ts";
import { loadSqlite } from "./sqlite.ts";
import { NODE_VFS_NAME, PORT_VFS_NAME, openVfsFile, setVfsPort } from "./node-vfs.ts";
import {
  type FilePort,
  fsyncInBackground,
  fsyncOrThrow,
  fsyncParent,
  ioError,
  nodeFilePort,
  readFully,
  readSmallFile,
} from "./file-port.ts";
import { PagedState } from "./paged-state.ts";

/** File name of the ledger database inside its directory. */
export const LEDGER_FILE = "ledger.sqlite";
/** Written in the meta table; anything else is not a chaindb ledger. */
export const LEDGER_MAGIC = "chaindb-ledger";
/**
 * Format version: 2 since the state root is the sparse Merkle tree's (format 1 held bucket-tree
 * roots, which this code cannot recompute): another version is STORE_FORMAT, never a replay.
 */
export const LEDGER_FORMAT = 2;
const SQLITE_MAGIC = "SQLite format 3\0";
const PAGE_SIZE = 65536; // 180 KB blocks: 64 KiB pages took 1.4–1.6 ms per commit here, 4 KiB pages 2.8–6.4 ms
const SNAPSHOTS_KEPT = 2;

/** What a ledger needs from its durable log. */
export interface LedgerLog {
  /**
   * Writes a block and its changes, and with `snapshot` (every account after the block) a full
   * snapshot at its height, in one transaction: durable (fsynced) when it returns, nothing of it
   * durable when it throws.
   */
  appendBlock(
    height: number,
    root: Uint8Array,
    proposer: Uint8Array,
    transfers: Uint8Array,
    changes: Uint8Array,
    snapshot?: Uint8Array,
  ): void;
  /**
   * {@link appendBlock} without the fsync: the block's transaction is committed to the WAL (whole
   * or not at all after a crash: SQLite's WAL frames are checksummed and salted), durable once a
   * later {@link syncInBackground} (or {@link appendBlock}) has returned.
   */
  writeBlock(
    height: number,
    root: Uint8Array,
    proposer: Uint8Array,
    transfers: Uint8Array,
    changes: Uint8Array,
    snapshot?: Uint8Array,
  ): void;
  /**
   * Makes every block written so far durable with an fsync of the WAL off the calling thread;
   * rejects with STORE_IO (and the log stops) if the fsync fails.
   */
  syncInBackground(): Promise<void>;
  /** Writes a full snapshot at `height` (the state after that block) in a transaction of its own. */
  writeSnapshot(height: number, root: Uint8Array, records: Uint8Array): void;
  /** Releases the files. */
  close(): void;
}

/** What the durable store is opened with. */
export interface DurableMeta {
  /** Chain id. */
  chainId: number;
  /** Genesis account records. */
  genesis: Uint8Array;
  /** Progress of long loads (genesis, snapshot), in records. */
  onProgress?: (done: number, total: number) => void;
}

// deno-lint-ignore no-explicit-any
type Db = any;

/** Bytes per `Hash.update`: node:crypto refuses 2 GiB and more at once (a 50M-account genesis is 2.4 GB). */
const HASH_CHUNK = 1 << 30;

function sha256(...parts: Uint8Array[]): Uint8Array {
  const h = createHash("sha256");
  for (const p of parts)
    for (let at = 0; at < p.length; at += HASH_CHUNK) h.update(p.subarray(at, at + HASH_CHUNK));
  return new Uint8Array(h.digest());
}

function u64(n: number): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(n), true);
  return b;
}

function corrupt(message: string, cause?: unknown): ChainDbError {
  return new ChainDbError(ErrorCode.STORE_CORRUPT, `ledger store is corrupted: ${message}`, { cause });
}

/** Checks the file header before SQLite sees it: foreign and truncated files get clear errors. */
function preflight(port: FilePort, file: string): void {
  const head = new Uint8Array(100);
  const fd = port.open(file, { readOnly: true });
  let got: number;
  let size: number;
  try {
    size = port.size(fd);
    got = readFully(port, fd, head, 0, 100, 0, file);
  } finally {
    port.close(fd);
  }
  if (size === 0) throw corrupt(`${file} is empty (truncated)`);
  const magic = new TextDecoder("latin1").decode(head.subarray(0, 16));
  if (got >= 16 && magic !== SQLITE_MAGIC) {
    throw new ChainDbError(ErrorCode.NOT_CHAINDB, `${file} is not a chaindb ledger (not an SQLite database)`);
  }
  if (got < 100) throw corrupt(`${file} is ${size} bytes, shorter than an SQLite header (truncated)`);
  const dv = new DataView(head.buffer);
  const pageSize = dv.getUint16(16) === 1 ? 65536 : dv.getUint16(16);
  const pages = dv.getUint32(28);
  // Without a WAL the main file must hold every page its header counts (a crash inside a
  // checkpoint leaves the WAL behind, and SQLite completes the checkpoint from it).
  const walBytes = fileSize(port, `${file}-wal`);
  if (walBytes === 0 && (size % pageSize !== 0 || size < pages * pageSize)) {
    throw corrupt(`${file} is ${size} bytes but its header counts ${pages} pages of ${pageSize} (truncated)`);
  }
}

function fileSize(port: FilePort, file: string): number {
  if (!port.exists(file)) return 0;
  const fd = port.open(file, { readOnly: true });
  try {
    return port.size(fd);
  } finally {
    port.close(fd);
  }
}

function sqliteError(sqlite3: Db, error: unknown, file: string): ChainDbError {
  const rc = (error as { resultCode?: number })?.resultCode;
  const primary = typeof rc === "number" ? rc & 0xff : undefined;
  if (primary === sqlite3.capi.SQLITE_NOTADB) {
    return new ChainDbError(
      ErrorCode.NOT_CHAINDB,
      `${file} is not a chaindb ledger (not an SQLite database)`,
      { cause: error },
    );
  }
  if (primary === sqlite3.capi.SQLITE_CORRUPT) return corrupt(`SQLite reports corruption in ${file}`, error);
  if (primary === SQLITE_IOERR || primary === SQLITE_FULL)
    return new ChainDbError(
      ErrorCode.STORE_IO,
      `${file} cannot be read: ${(error as Error)?.message ?? error}`,
      { cause: error },
    );
  return corrupt(`${file} cannot be read: ${(error as Error)?.message ?? error}`, error);
}

/**
 * BEGIN, `body`, COMMIT; on an error ROLLBACK and rethrow that error. (oo1's `db.transaction`
 * rethrows the ROLLBACK's "no transaction is active" instead when COMMIT itself failed, e.g. on
 * SQLITE_IOERR_FSYNC, which hid the I/O error.)
 */
function inTransaction(db: Db, body: () => void): void {
  db.exec("BEGIN");
  try {
    body();
    db.exec("COMMIT");
  } catch (e) {
    try {
      db.exec("ROLLBACK");
    } catch {
      /* the failed COMMIT already ended the transaction: the first error is the one to report */
    }
    throw e;
  }
}

const SQLITE_IOERR = 10;
const SQLITE_FULL = 13;

/** A failed write as a coded error: STORE_IO for I/O errors and a full disk, else STORE_CORRUPT. */
function storeError(e: unknown): ChainDbError {
  if (e instanceof ChainDbError) return e;
  const primary = ((e as { resultCode?: number })?.resultCode ?? -1) & 0xff;
  if (primary === SQLITE_IOERR || primary === SQLITE_FULL) {
    return new ChainDbError(ErrorCode.STORE_IO, `ledger store write failed: ${(e as Error)?.message ?? e}`, {
      cause: e,
    });
  }
  return corrupt(`write failed: ${(e as Error)?.message ?? e}`, e);
}

/** LOCK files this process holds: token → the port generation it was taken in. */
const heldLocks = new Map<string, number>();

function generation(port: FilePort): number {
  return (port as { crashes?: number }).crashes ?? 0; // a FaultFs counts its simulated crashes
}

/** The owner recorded in a LOCK file ("pid token"), or undefined if it is unreadable. */
function lockOwner(port: FilePort, file: string): { pid: number; token: string } | undefined {
  const bytes = readSmallFile(port, file, 256);
  // Malformed (empty, torn, zeroed: a crash while it was created): nobody's, so stale.
  const m =
    bytes === undefined ? null : /^(\d{1,10}) ([0-9a-f]{16})\n$/.exec(new TextDecoder().decode(bytes));
  return m === null ? undefined : { pid: Number(m[1]), token: m[2]! };
}

/** True if the LOCK's owner may still hold it: a live other process, or a live handle in this one. */
function ownerAlive(port: FilePort, owner: { pid: number; token: string }): boolean {
  if (!Number.isInteger(owner.pid) || owner.pid <= 0) return false;
  if (owner.pid === process.pid) return heldLocks.get(owner.token) === generation(port);
  try {
    process.kill(owner.pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Takes the directory's LOCK file (one process per ledger directory); returns its path and token.
 * The LOCK is created with O_EXCL. A stale one (its process is gone) is taken over atomically: it
 * is renamed to a name of our own (only one renamer can win), and checked again after the rename —
 * if a live owner's fresh LOCK was caught instead, it is put back and the directory is BUSY.
 */
function lockDir(port: FilePort, dir: string): { lock: string; token: string } {
  const lock = path.join(dir, "LOCK");
  const token = randomBytes(8).toString("hex");
  // Bounded: a few takeovers at most, then BUSY.
  for (let attempt = 0; attempt < 4; attempt++) {
    try {
      const fd = port.open(lock, { create: true, exclusive: true });
      try {
        const bytes = new TextEncoder().encode(`${process.pid} ${token}\n`);
        if (port.write(fd, bytes, 0, bytes.length, 0) !== bytes.length)
          throw ioError("write of", lock, new Error("short write"));
      } finally {
        port.close(fd);
      }
      // Ours only if it still holds our token: a racing takeover may have moved it meanwhile.
      if (lockOwner(port, lock)?.token === token) {
        heldLocks.set(token, generation(port));
        return { lock, token };
      }
      continue;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST")
        throw e instanceof ChainDbError ? e : ioError("create of", lock, e);
    }
    const owner = lockOwner(port, lock);
    if (owner !== undefined && ownerAlive(port, owner))
      throw new ChainDbError(ErrorCode.BUSY, `ledger directory ${dir} is open in process ${owner.pid}`);
    const stale = `${lock}.stale-${process.pid}-${token}`;
    try {
      port.rename(lock, stale);
    } catch {
      continue; // another process moved it first: try again
    }
    const taken = lockOwner(port, stale);
    if (taken !== undefined && ownerAlive(port, taken)) {
      port.rename(stale, lock); // a live owner's LOCK, created after our check: give it back
      throw new ChainDbError(ErrorCode.BUSY, `ledger directory ${dir} is open in process ${taken.pid}`);
    }
    port.unlink(stale);
  }
  throw new ChainDbError(ErrorCode.BUSY, `cannot lock ledger directory ${dir}`);
}

function unlock(port: FilePort, lock: { lock: string; token: string }): void {
  heldLocks.delete(lock.token);
  port.unlink(lock.lock);
}

function openDb(sqlite3: Db, file: string, create: boolean, vfs: string): Db {
  const db = new sqlite3.oo1.DB({ filename: file, flags: create ? "c" : "w", vfs });
  // Order matters: exclusive locking before WAL keeps the WAL index in heap memory (no xShm*).
  // synchronous=NORMAL: a commit writes the WAL without an fsync and the log fsyncs the WAL itself
  // (SqliteLedgerLog.syncWal), at once or in the background; checkpoints still fsync WAL and file.
  if (create) db.exec(`PRAGMA page_size=${PAGE_SIZE}`);
  db.exec(
    "PRAGMA locking_mode=EXCLUSIVE; PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA wal_autocheckpoint=1000; PRAGMA temp_store=MEMORY",
  );
  return db;
}

/** Builds a complete new ledger file under a temporary name, then renames it into place. */
function createLedgerFile(
  sqlite3: Db,
  port: FilePort,
  vfs: string,
  file: string,
  meta: DurableMeta,
  genesisRoot: Uint8Array,
  genesisSnapshot: Uint8Array,
): void {
  const tmp = `${file}.tmp-${process.pid}`;
  for (const f of [tmp, `${tmp}-wal`, `${tmp}-journal`]) port.unlink(f);
  const db = openDb(sqlite3, tmp, true, vfs);
  try {
    db.exec(`
      CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE blocks (height INTEGER PRIMARY KEY, root BLOB NOT NULL, proposer BLOB NOT NULL,
                           changes BLOB NOT NULL, digest BLOB NOT NULL,
                           transfers BLOB NOT NULL, transfers_digest BLOB NOT NULL);
      CREATE TABLE snapshots (height INTEGER PRIMARY KEY, root BLOB NOT NULL, records BLOB NOT NULL,
                              digest BLOB NOT NULL);`);
    db.transaction(() => {
      const rows: Array<[string, string]> = [
        ["magic", LEDGER_MAGIC],
        ["format", String(LEDGER_FORMAT)],
        ["chainId", String(meta.chainId)],
        ["genesis", toHex(sha256(meta.genesis))],
      ];
      for (const row of rows) db.exec({ sql: "INSERT INTO meta VALUES (?, ?)", bind: row });
      insertSnapshot(db, 0, genesisRoot, genesisSnapshot);
    });
  } finally {
    db.close();
  }
  port.unlink(`${tmp}-wal`); // closing checkpointed it into the file (fsynced)
  try {
    port.rename(tmp, file);
  } catch (cause) {
    throw ioError("rename onto", file, cause);
  }
  fsyncParent(port, file); // an error here is surfaced: the new ledger's name is not durable yet
}

function insertSnapshot(db: Db, height: number, root: Uint8Array, records: Uint8Array): void {
  db.exec({
    sql: "INSERT OR REPLACE INTO snapshots VALUES (?, ?, ?, ?)",
    bind: [height, root, records, sha256(u64(height), root, records)],
  });
}

/** Checks the meta table: ours, this format, this chain. */
function checkMeta(db: Db, file: string, meta: DurableMeta): void {
  const hasMeta = db.selectValue("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'meta'");
  if (hasMeta !== 1)
    throw new ChainDbError(ErrorCode.NOT_CHAINDB, `${file} is an SQLite database but not a chaindb ledger`);
  const values = new Map<string, string>();
  db.exec({
    sql: "SELECT key, value FROM meta",
    rowMode: "array",
    callback: (r: [string, string]) => void values.set(r[0], r[1]),
  });
  if (values.get("magic") !== LEDGER_MAGIC)
    throw new ChainDbError(ErrorCode.NOT_CHAINDB, `${file} is not a chaindb ledger`);
  if (values.get("format") !== String(LEDGER_FORMAT)) {
    throw new ChainDbError(
      ErrorCode.STORE_FORMAT,
      `${file} has ledger format ${values.get("format")}, this chaindb reads format ${LEDGER_FORMAT} (sparse Merkle state root): rebuild the ledger from its genesis and blocks`,
    );
  }
  const expect = (key: string, want: string) => {
    if (values.get(key) !== want) {
      throw new ChainDbError(
        ErrorCode.STORE_MISMATCH,
        `${file} holds a ledger with ${key} ${values.get(key)}, opened with ${want}`,
      );
    }
  };
  expect("chainId", String(meta.chainId));
  expect("genesis", toHex(sha256(meta.genesis)));
}

/** Where the time of the last recovery went. */
export interface RecoveryStats {
  /** Height of the snapshot recovery started from. */
  snapshotHeight: number;
  /** Blocks replayed after the snapshot. */
  blocksReplayed: number;
  /** Account records replayed (the blocks' changes). */
  recordsReplayed: number;
  /** Reading and loading the snapshot. */
  snapshotMs: number;
  /** Reading, checking and applying the blocks' changes. */
  replayMs: number;
  /** The one root computation at the end. */
  rootMs: number;
}

let lastRecovery: RecoveryStats | undefined;

/** Statistics of the most recent recovery in this process (benchmarks read them). */
export function lastRecoveryStats(): RecoveryStats | undefined {
  return lastRecovery;
}

/**
 * Column `col` of the current row as a view of SQLite's WASM heap, without a copy: valid only
 * until the statement steps again or is finalized, and until SQLite's heap grows. `getBlob`
 * allocates a zeroed array and copies twice; for the snapshot and each block's changes (96 KB
 * for 1,000 transfers at 1M accounts) that was half the time of a log replay here.
 */
function blobView(sqlite3: Db, stmt: Db, col: number): Uint8Array {
  // sqlite3_column_blob first, then sqlite3_column_bytes (SQLite's documented order).
  const ptr = Number(sqlite3.capi.sqlite3_column_blob(stmt.pointer, col));
  const n = sqlite3.capi.sqlite3_column_bytes(stmt.pointer, col) as number;
  return n === 0 ? new Uint8Array(0) : (sqlite3.wasm.heap8u() as Uint8Array).subarray(ptr, ptr + n);
}

/** Loads the newest snapshot into `state`; returns its height and root. */
function loadSnapshot(
  sqlite3: Db,
  db: Db,
  state: LedgerState,
  onProgress?: DurableMeta["onProgress"],
): { snapHeight: number; snapRoot: Uint8Array } {
  const stmt = db.prepare("SELECT height, root, digest, records FROM snapshots ORDER BY height DESC LIMIT 1");
  try {
    if (!stmt.step()) throw corrupt("no snapshot");
    const snapHeight = stmt.get(0) as number;
    const snapRoot = stmt.getBlob(1) as Uint8Array;
    const snapDigest = stmt.getBlob(2) as Uint8Array;
    const records = blobView(sqlite3, stmt, 3);
    if (!equalBytes(sha256(u64(snapHeight), snapRoot, records), snapDigest))
      throw corrupt(`snapshot ${snapHeight} fails its digest`);
    if (records.length % REC !== 0) throw corrupt(`snapshot ${snapHeight} has a partial record`);
    state.load(records, onProgress);
    return { snapHeight, snapRoot };
  } finally {
    stmt.finalize();
  }
}

/**
 * Opens a paged state at its checkpoint (unless it was just created); returns its height and
 * root after checking the root against what the database recorded for that height.
 */
function openCheckpoint(db: Db, state: PagedState): { snapHeight: number; snapRoot: Uint8Array } {
  if (!state.isOpen) state.open();
  const snapHeight = state.checkpointHeight;
  if (snapHeight < 0) throw corrupt("the paged state has no checkpoint");
  const sql =
    snapHeight === 0
      ? "SELECT root FROM snapshots WHERE height = 0"
      : "SELECT root FROM blocks WHERE height = ?";
  const recorded = db.selectValue(sql, snapHeight === 0 ? undefined : [snapHeight]) as Uint8Array | undefined;
  if (recorded === undefined) throw corrupt(`the paged state's checkpoint ${snapHeight} has no block row`);
  if (!equalBytes(recorded, state.checkpointRoot))
    throw corrupt(`the paged state's checkpoint root differs from block ${snapHeight}'s`);
  return { snapHeight, snapRoot: state.checkpointRoot };
}

/** Restores `state` from the newest snapshot and the later blocks; returns the height. */
function recover(sqlite3: Db, db: Db, state: LedgerState, onProgress?: DurableMeta["onProgress"]): number {
  const t0 = performance.now();
  const { snapHeight, snapRoot } =
    state instanceof PagedState ? openCheckpoint(db, state) : loadSnapshot(sqlite3, db, state, onProgress);
  const t1 = performance.now();
  let height = snapHeight;
  let root = snapRoot;
  let recordsReplayed = 0;
  // Columns before `transfers` only: SQLite then never reads the transfers' overflow pages.
  const stmt = db.prepare(
    "SELECT height, root, proposer, changes, digest FROM blocks WHERE height > ? ORDER BY height",
  );
  try {
    stmt.bind([snapHeight]);
    // Bounded by the number of rows in the table.
    while (stmt.step()) {
      const h = stmt.get(0) as number;
      const [r, proposer, digest] = [1, 2, 4].map((i) => stmt.getBlob(i) as Uint8Array);
      const changes = blobView(sqlite3, stmt, 3); // read before the next step
      if (h !== height + 1) throw corrupt(`block ${height + 1} is missing (next is ${h})`);
      if (!equalBytes(sha256(u64(h), r!, proposer!, changes!), digest!))
        throw corrupt(`block ${h} fails its digest`);
      if (changes!.length % REC !== 0) throw corrupt(`block ${h} has a partial change record`);
      state.load(changes!);
      recordsReplayed += changes!.length / REC;
      height = h;
      root = r!;
    }
  } finally {
    stmt.finalize();
  }
  const t2 = performance.now();
  const actual = state.root();
  lastRecovery = {
    snapshotHeight: snapHeight,
    blocksReplayed: height - snapHeight,
    recordsReplayed,
    snapshotMs: t1 - t0,
    replayMs: t2 - t1,
    rootMs: performance.now() - t2,
  };
  if (!equalBytes(actual, root)) {
    throw corrupt(
      `recovered root ${toHex(actual)} differs from the root ${toHex(root)} recorded at height ${height}`,
    );
  }
  return height;
}

class SqliteLedgerLog implements LedgerLog {
  private readonly insertBlock: Db;
  private broken: unknown;

  constructor(
    private readonly db: Db,
    private readonly port: FilePort,
    private readonly lock: { lock: string; token: string },
    private readonly vfs: string,
    private readonly walFile: string,
  ) {
    this.insertBlock = db.prepare("INSERT INTO blocks VALUES (?, ?, ?, ?, ?, ?, ?)");
  }

  appendBlock(
    height: number,
    root: Uint8Array,
    proposer: Uint8Array,
    transfers: Uint8Array,
    changes: Uint8Array,
    snapshot?: Uint8Array,
  ): void {
    this.guarded(() => {
      this.write(height, root, proposer, transfers, changes, snapshot);
      const wal = this.wal();
      fsyncOrThrow(wal.port, wal.fd, this.walFile);
    });
  }

  writeBlock(
    height: number,
    root: Uint8Array,
    proposer: Uint8Array,
    transfers: Uint8Array,
    changes: Uint8Array,
    snapshot?: Uint8Array,
  ): void {
    this.guarded(() => this.write(height, root, proposer, transfers, changes, snapshot));
  }

  syncInBackground(): Promise<void> {
    let wal: { fd: number; port: FilePort };
    try {
      this.checkUsable();
      wal = this.wal();
    } catch (e) {
      return Promise.reject(e as Error);
    }
    return fsyncInBackground(wal.port, wal.fd, this.walFile).catch((e: unknown) => {
      this.broken ??= e;
      throw e;
    });
  }

  /** The WAL as SQLite holds it open (a committed write has created it). */
  private wal(): { fd: number; port: FilePort } {
    const wal = openVfsFile(this.vfs, this.walFile);
    assert(wal !== undefined, "the WAL is open after a commit");
    return wal;
  }

  private checkUsable(): void {
    if (this.broken !== undefined)
      throw new ChainDbError(ErrorCode.STORE_IO, "the ledger store stopped after an I/O error; reopen it", {
        cause: this.broken,
      });
  }

  private guarded(step: () => void): void {
    this.checkUsable();
    try {
      step();
    } catch (e) {
      // After a failed commit what reached the disk is unknown (a failed fsync may have dropped
      // pages): stop, as PostgreSQL does, and let recovery decide on reopen.
      this.broken = e;
      throw storeError(e);
    }
  }

  private write(
    height: number,
    root: Uint8Array,
    proposer: Uint8Array,
    transfers: Uint8Array,
    changes: Uint8Array,
    snapshot?: Uint8Array,
  ): void {
    const digest = sha256(u64(height), root, proposer, changes);
    const insert = () =>
      this.insertBlock
        .bind([height, root, proposer, changes, digest, transfers, sha256(transfers)])
        .stepReset();
    // One statement outside BEGIN is one transaction, committed to the WAL (not yet fsynced).
    // A snapshot joins the block's transaction, so an error never comes after the block is durable.
    if (snapshot === undefined) insert();
    else inTransaction(this.db, () => (insert(), this.snapshotRows(height, root, snapshot)));
  }

  writeSnapshot(height: number, root: Uint8Array, records: Uint8Array): void {
    this.guarded(() => {
      inTransaction(this.db, () => this.snapshotRows(height, root, records));
      const wal = this.wal();
      fsyncOrThrow(wal.port, wal.fd, this.walFile);
    });
  }

  private snapshotRows(height: number, root: Uint8Array, records: Uint8Array): void {
    insertSnapshot(this.db, height, root, records);
    this.db.exec({
      sql: "DELETE FROM snapshots WHERE height NOT IN (SELECT height FROM snapshots ORDER BY height DESC LIMIT ?)",
      bind: [SNAPSHOTS_KEPT],
    });
  }

  close(): void {
    try {
      this.insertBlock.finalize();
      this.db.close();
    } finally {
      unlock(this.port, this.lock);
    }
  }
}

/** How the durable store is opened. */
export interface DurableOptions {
  /** Files through this port (default node:fs; crash tests pass a fault-injecting one). */
  readonly port?: FilePort;
}

/** Opens (or creates) the ledger in `dir` and restores `state` to its last committed block. */
export async function openDurableLog(
  dir: string,
  meta: DurableMeta,
  state: LedgerState,
  options: DurableOptions = {},
): Promise<{ log: LedgerLog; height: number }> {
  const sqlite3 = await loadSqlite();
  const port = options.port ?? nodeFilePort;
  const vfs = port === nodeFilePort ? NODE_VFS_NAME : PORT_VFS_NAME;
  if (vfs === PORT_VFS_NAME) setVfsPort(port);
  port.mkdir(dir);
  const lock = lockDir(port, dir);
  const file = path.join(dir, LEDGER_FILE);
  let db: Db | undefined;
  try {
    if (!port.exists(file)) {
      const paged = state instanceof PagedState ? state : undefined;
      paged?.reset(meta.genesis.length / REC); // files of a creation that crashed are dropped
      state.load(meta.genesis, meta.onProgress);
      if (state.accountCount !== meta.genesis.length / REC)
        throw new ChainDbError(ErrorCode.BAD_ARGUMENT, "genesis: duplicate addresses");
      const root = state.root();
      // The checkpoint first: a ledger file always has its state's files.
      paged?.checkpoint(0);
      try {
        createLedgerFile(sqlite3, port, vfs, file, meta, root, paged ? new Uint8Array(0) : meta.genesis);
      } catch (e) {
        throw e instanceof ChainDbError ? e : sqliteError(sqlite3, e, file);
      }
    }
    preflight(port, file);
    try {
      db = openDb(sqlite3, file, false, vfs);
      checkMeta(db, file, meta);
      const height = recover(sqlite3, db, state, meta.onProgress);
      return { log: new SqliteLedgerLog(db, port, lock, vfs, `${file}-wal`), height };
    } catch (e) {
      try {
        db?.close();
      } catch {
        /* already failing */
      }
      throw e instanceof ChainDbError ? e : sqliteError(sqlite3, e, file);
    }
  } catch (e) {
    unlock(port, lock);
    throw e;
  }
}
