/**
 * Durable storage of a replica's log and metadata behind one small interface, so the same driver
 * runs on a simulated disk (crash loses what was not synced) and on real files. A write resolves
 * only once it is durable — the replication protocol acknowledges nothing before that.
 * @module
 */
import { closeSync, existsSync, fsyncSync, ftruncateSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, writeSync } from "node:fs";
import { join } from "node:path";
import { createHash } from "node:crypto";
import { ChainDbError, ErrorCode, assert } from "../util/index.ts";
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
  if (bytes.length < 36 || (bytes.length - 36) % 157 !== 0) throw new ChainDbError(ErrorCode.STORE_CORRUPT, `bad entry record of ${bytes.length} bytes`);
  return { epoch: new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, true), proposer: new Uint8Array(bytes.subarray(4, 36)), transfers: new Uint8Array(bytes.subarray(36)) };
}

const entryKey = (height: number) => `entry/${String(height).padStart(12, "0")}`;

/** A replica store on a simulated node's disk (bindings/net SimStorage). */
export class SimReplicaStore implements ReplicaStore {
  /** A store over `storage`. */
  constructor(private readonly storage: SimStorage) {}

  /** Loads metadata and entries. */
  async load(): Promise<{ meta: DurableMeta; entries: Entry[] }> {
    const metaBytes = this.storage.get("meta");
    const meta = metaBytes === undefined ? { ...EMPTY_META } : (JSON.parse(new TextDecoder().decode(metaBytes)) as DurableMeta);
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
      for (const k of this.storage.keys("entry/")) if (k >= entryKey(change.truncateFrom)) this.storage.delete(k);
    }
    change.append?.entries.forEach((e, i) => this.storage.put(entryKey(change.append!.from + i), encodeEntry(e)));
    if (change.meta !== undefined) this.storage.put("meta", new TextEncoder().encode(JSON.stringify(change.meta)));
    this.storage.sync();
  }

  /** Nothing to release. */
  async close(): Promise<void> {}
}

/**
 * A replica store in a directory: `replica.log` holds records (length u32le ‖ sha256[0..4] ‖
 * entry), appended and fsynced; a truncation cuts the file at the record's offset. `meta.json` is
 * replaced atomically (write, fsync, rename). A torn last record (a crash mid-append) is dropped
 * on load: it was never acknowledged.
 */
export class FileReplicaStore implements ReplicaStore {
  private fd = -1;
  private readonly offsets: number[] = [];
  private size = 0;

  /** A store in `dir` (created if missing). */
  constructor(private readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  /** Loads metadata and entries, dropping a torn tail. */
  async load(): Promise<{ meta: DurableMeta; entries: Entry[] }> {
    const metaFile = join(this.dir, "meta.json");
    const meta = existsSync(metaFile) ? (JSON.parse(readFileSync(metaFile, "utf8")) as DurableMeta) : { ...EMPTY_META };
    const logFile = join(this.dir, "replica.log");
    const bytes = existsSync(logFile) ? new Uint8Array(readFileSync(logFile)) : new Uint8Array(0);
    const entries: Entry[] = [];
    let at = 0;
    while (at + 8 <= bytes.length) {
      const length = new DataView(bytes.buffer, bytes.byteOffset + at, 4).getUint32(0, true);
      if (at + 8 + length > bytes.length) break;
      const body = bytes.subarray(at + 8, at + 8 + length);
      if (!equal4(checksum(body), bytes.subarray(at + 4, at + 8))) break;
      this.offsets.push(at);
      entries.push(decodeEntry(body));
      at += 8 + length;
    }
    this.fd = openSync(logFile, existsSync(logFile) ? "r+" : "w+");
    ftruncateSync(this.fd, at); // drop a torn tail
    this.size = at;
    return { meta, entries };
  }

  /** Writes and fsyncs. */
  async write(change: PersistEffect): Promise<void> {
    assert(this.fd >= 0, "load before write");
    if (change.truncateFrom !== undefined && change.truncateFrom <= this.offsets.length) {
      this.size = this.offsets[change.truncateFrom - 1]!;
      this.offsets.length = change.truncateFrom - 1;
      ftruncateSync(this.fd, this.size);
    }
    if (change.append !== undefined) {
      assert(change.append.from === this.offsets.length + 1, "appends are contiguous");
      for (const e of change.append.entries) {
        const body = encodeEntry(e);
        const record = new Uint8Array(8 + body.length);
        new DataView(record.buffer).setUint32(0, body.length, true);
        record.set(checksum(body), 4);
        record.set(body, 8);
        writeSync(this.fd, record, 0, record.length, this.size);
        this.offsets.push(this.size);
        this.size += record.length;
      }
    }
    if (change.truncateFrom !== undefined || change.append !== undefined) fsyncSync(this.fd);
    if (change.meta !== undefined) {
      const tmp = join(this.dir, "meta.json.tmp");
      const fd = openSync(tmp, "w");
      writeSync(fd, JSON.stringify(change.meta));
      fsyncSync(fd);
      closeSync(fd);
      renameSync(tmp, join(this.dir, "meta.json"));
    }
  }

  /** Closes the log file. */
  async close(): Promise<void> {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}

function checksum(body: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha256").update(body).digest().subarray(0, 4));
}

function equal4(a: Uint8Array, b: Uint8Array): boolean {
  return a[0] === b[0] && a[1] === b[1] && a[2] === b[2] && a[3] === b[3];
}

/**
 * A small key-value disk in a directory (one file per key), with the interface of the simulated
 * disk: writes are buffered until {@link FileKeyStorage.sync}, which writes each file to a
 * temporary name, fsyncs it and renames it into place, so a crash leaves whole values only.
 */
export class FileKeyStorage {
  private readonly pending = new Map<string, Uint8Array>();

  /** A disk in `dir` (created if missing). */
  constructor(private readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  /** The value at `key`, if any. */
  get(key: string): Uint8Array | undefined {
    const p = this.pending.get(key);
    if (p !== undefined) return p.slice();
    const file = join(this.dir, encodeURIComponent(key));
    return existsSync(file) ? new Uint8Array(readFileSync(file)) : undefined;
  }

  /** Buffers a write. */
  put(key: string, value: Uint8Array): void {
    this.pending.set(key, new Uint8Array(value));
  }

  /** Keys with `prefix`, sorted. */
  keys(prefix = ""): string[] {
    const out = new Set(readdirSync(this.dir).filter((f) => !f.endsWith(".tmp")).map((f) => decodeURIComponent(f)));
    for (const k of this.pending.keys()) out.add(k);
    return [...out].filter((k) => k.startsWith(prefix)).sort();
  }

  /** Writes and fsyncs every buffered value. */
  sync(): void {
    for (const [key, value] of this.pending) {
      const file = join(this.dir, encodeURIComponent(key));
      const fd = openSync(`${file}.tmp`, "w");
      writeSync(fd, value);
      fsyncSync(fd);
      closeSync(fd);
      renameSync(`${file}.tmp`, file);
    }
    this.pending.clear();
  }
}
