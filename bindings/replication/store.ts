/**
 * Durable storage of a replica's log and metadata behind one small interface, so the same driver
 * runs on a simulated disk (crash loses what was not synced) and on real files. A write resolves
 * only once it is durable — the replication protocol acknowledges nothing before that.
 * @module
 */
import { join } from "node:path";
import { ChainDbError, ErrorCode, assert } from "../util/index.ts";
import {
  AppendLog,
  FRAME_HEADER_BYTES,
  LOG_HEADER_BYTES,
  fsyncParent,
  nodeFilePort,
  readSmallFile,
  writeFileAtomic,
  type FilePort,
} from "../store/index.ts";
import type { SimStorage } from "../net/index.ts";
import type { DurableMeta, Entry, PersistEffect } from "./types.ts";

/** Where a replica keeps its log and metadata. */
export interface ReplicaStore {
  /** Everything durable: metadata and the entries at heights 1..n. */
  load(): Promise<{ meta: DurableMeta; entries: Entry[] }>;
  /** Applies one change; resolves once it is durable. */
  write(change: PersistEffect): Promise<void>;
  /** Releases files. */
  close(): Promise<void>;
}

const EMPTY_META: DurableMeta = { epoch: 0, votedFor: "", commit: 0 };

/** Binary form of an entry: epoch u32le ‖ proposer 32 ‖ transfers. */
export function encodeEntry(entry: Entry): Uint8Array {
  const out = new Uint8Array(36 + entry.transfers.length);
  new DataView(out.buffer).setUint32(0, entry.epoch, true);
  out.set(entry.proposer, 4);
  out.set(entry.transfers, 36);
  return out;
}

/** Inverse of {@link encodeEntry}; throws `STORE_CORRUPT` on a malformed record. */
export function decodeEntry(bytes: Uint8Array): Entry {
  if (bytes.length < 36 || (bytes.length - 36) % 157 !== 0)
    throw new ChainDbError(ErrorCode.STORE_CORRUPT, `bad entry record of ${bytes.length} bytes`);
  return {
    epoch: new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, true),
    proposer: new Uint8Array(bytes.subarray(4, 36)),
    transfers: new Uint8Array(bytes.subarray(36)),
  };
}

const entryKey = (height: number) => `entry/${String(height).padStart(12, "0")}`;

/** A replica store on a simulated node's disk (bindings/net SimStorage). */
export class SimReplicaStore implements ReplicaStore {
  /** A store over `storage`. */
  constructor(private readonly storage: SimStorage) {}

  /** Loads metadata and entries. */
  async load(): Promise<{ meta: DurableMeta; entries: Entry[] }> {
    const metaBytes = this.storage.get("meta");
    const meta =
      metaBytes === undefined
        ? { ...EMPTY_META }
        : (JSON.parse(new TextDecoder().decode(metaBytes)) as DurableMeta);
    const keys = this.storage.keys("entry/");
    const entries = keys.map((k, i) => {
      assert(k === entryKey(i + 1), "entries are contiguous from height 1");
      return decodeEntry(this.storage.get(k)!);
    });
    return { meta, entries };
  }

  /** Writes and syncs. */
  async write(change: PersistEffect): Promise<void> {
    if (change.truncateFrom !== undefined) {
      for (const k of this.storage.keys("entry/"))
        if (k >= entryKey(change.truncateFrom)) this.storage.delete(k);
    }
    change.append?.entries.forEach((e, i) =>
      this.storage.put(entryKey(change.append!.from + i), encodeEntry(e)),
    );
    if (change.meta !== undefined)
      this.storage.put("meta", new TextEncoder().encode(JSON.stringify(change.meta)));
    this.storage.sync();
  }

  /** Nothing to release. */
  async close(): Promise<void> {}
}

/**
 * A replica store in a directory: `replica.log` is the shared durable append log (store/append-log.ts,
 * kind `repl`, one record per entry), appended and fsynced; a truncation cuts the file at the
 * entry's offset and fsyncs at once. `meta.json` (epoch, vote, commit hint) is replaced atomically
 * (write, fsync, rename, directory fsync) whenever the epoch or vote changes. A torn or zero tail is cut on load (it was never
 * acknowledged); a damaged entry that later entries record as fsynced is `STORE_CORRUPT`, never a
 * silent truncation of every later entry.
 */
export class FileReplicaStore implements ReplicaStore {
  private log: AppendLog | undefined;
  private readonly offsets: number[] = [];
  private written: DurableMeta | undefined;

  /**
   * A store in `dir` (created if missing); `port` for tests (fault injection). With
   * `groupCommit`, the log's fsync runs off the JavaScript thread and overlapping writes share it
   * (AppendLog.commit); default: each write fsyncs before it returns.
   */
  constructor(
    private readonly dir: string,
    private readonly port: FilePort = nodeFilePort,
    private readonly options: { readonly groupCommit?: boolean } = {},
  ) {
    if (!port.exists(dir)) {
      port.mkdir(dir);
      fsyncParent(port, dir);
    }
  }

  /** Loads metadata and entries, cutting a torn tail. */
  async load(): Promise<{ meta: DurableMeta; entries: Entry[] }> {
    const metaFile = join(this.dir, "meta.json");
    const metaBytes = readSmallFile(this.port, metaFile, META_BYTES_MAX);
    const meta = metaBytes === undefined ? { ...EMPTY_META } : parseMeta(metaBytes, metaFile);
    this.written = metaBytes === undefined ? undefined : { ...meta };
    const entries: Entry[] = [];
    let at = LOG_HEADER_BYTES;
    this.offsets.length = 0;
    this.log = AppendLog.open(
      join(this.dir, "replica.log"),
      "repl",
      (p) => {
        this.offsets.push(at);
        at += FRAME_HEADER_BYTES + p.length;
        entries.push(decodeEntry(p));
      },
      { port: this.port },
    );
    return { meta, entries };
  }

  /** Writes and fsyncs. */
  async write(change: PersistEffect): Promise<void> {
    const log = this.log;
    assert(log !== undefined, "load before write");
    if (change.truncateFrom !== undefined && change.truncateFrom <= this.offsets.length) {
      log.truncate(this.offsets[change.truncateFrom - 1]!);
      this.offsets.length = change.truncateFrom - 1;
    }
    if (change.append !== undefined) {
      assert(change.append.from === this.offsets.length + 1, "appends are contiguous");
      for (const e of change.append.entries) {
        this.offsets.push(log.size);
        log.append(encodeEntry(e));
      }
      if (this.options.groupCommit === true) await log.commit();
      else log.sync();
    }
    if (change.meta !== undefined && this.metaDue(change.meta)) {
      writeFileAtomic(
        this.port,
        join(this.dir, "meta.json"),
        new TextEncoder().encode(JSON.stringify(change.meta)),
      );
      this.written = { ...change.meta };
    }
  }

  /**
   * The core sends its meta with every write. The epoch and vote must be durable before anything
   * that depends on them is sent; `commit` is only a lower bound (a hint after restart), so it is
   * rewritten every {@link META_COMMIT_STRIDE} heights, not on every write: one fsync per
   * appended batch instead of three (log, meta.json, directory).
   */
  private metaDue(meta: DurableMeta): boolean {
    const w = this.written;
    return (
      w === undefined ||
      w.epoch !== meta.epoch ||
      w.votedFor !== meta.votedFor ||
      meta.commit < w.commit ||
      meta.commit - w.commit >= META_COMMIT_STRIDE
    );
  }

  /** Closes the log file. */
  async close(): Promise<void> {
    this.log?.close();
    this.log = undefined;
  }
}

const META_BYTES_MAX = 4096;
/** Largest value of a {@link FileKeyStorage} (a block). */
const KEY_VALUE_BYTES_MAX = 64 << 20;
/** Heights the durable commit hint may lag behind the core's. */
export const META_COMMIT_STRIDE = 64;

function parseMeta(bytes: Uint8Array, file: string): DurableMeta {
  let meta: Partial<DurableMeta>;
  try {
    meta = JSON.parse(new TextDecoder().decode(bytes)) as Partial<DurableMeta>;
  } catch (cause) {
    throw new ChainDbError(ErrorCode.STORE_CORRUPT, `${file} is not JSON`, { cause });
  }
  if (
    !Number.isSafeInteger(meta.epoch) ||
    typeof meta.votedFor !== "string" ||
    !Number.isSafeInteger(meta.commit)
  ) {
    throw new ChainDbError(ErrorCode.STORE_CORRUPT, `${file} lacks epoch, votedFor or commit`);
  }
  return meta as DurableMeta;
}

/**
 * A small key-value disk in a directory (one file per key), with the interface of the simulated
 * disk: writes are buffered until {@link FileKeyStorage.sync}, which writes each file to a
 * temporary name, fsyncs it and renames it into place, then fsyncs the directory, so a crash
 * leaves whole values only and a synced value survives.
 */
export class FileKeyStorage {
  private readonly pending = new Map<string, Uint8Array>();

  /** A disk in `dir` (created if missing, its entry fsynced); `port` for tests (fault injection). */
  constructor(
    private readonly dir: string,
    private readonly port: FilePort = nodeFilePort,
  ) {
    if (!port.exists(dir)) {
      port.mkdir(dir);
      fsyncParent(port, dir);
    }
  }

  /** The value at `key`, if any. */
  get(key: string): Uint8Array | undefined {
    const p = this.pending.get(key);
    if (p !== undefined) return p.slice();
    return readSmallFile(this.port, join(this.dir, encodeURIComponent(key)), KEY_VALUE_BYTES_MAX);
  }

  /** Buffers a write. */
  put(key: string, value: Uint8Array): void {
    this.pending.set(key, new Uint8Array(value));
  }

  /** Keys with `prefix`, sorted. */
  keys(prefix = ""): string[] {
    const out = new Set(
      this.port
        .readdir(this.dir)
        .filter((f) => !f.endsWith(".tmp"))
        .map((f) => decodeURIComponent(f)),
    );
    for (const k of this.pending.keys()) out.add(k);
    return [...out].filter((k) => k.startsWith(prefix)).sort();
  }

  /** Writes and fsyncs every buffered value. */
  sync(): void {
    // Each value: temporary file, fsync, rename, directory fsync (before that a crash may bring back the old value).
    for (const [key, value] of this.pending)
      writeFileAtomic(this.port, join(this.dir, encodeURIComponent(key)), value);
    this.pending.clear();
  }
}
