/**
 * A durable {@link TwoPcLog} on the shared append log (store/append-log.ts, kind `2pcl`): the 2PC
 * log of Gray & Reuter 1993, §10.3, reduced to what presumed abort needs. Each `sync` appends the
 * buffered writes as checksummed records and fsyncs, so a forced record is on disk before the
 * runner's next effect. A torn or zero tail is cut at open; damage to fsynced records is
 * `STORE_CORRUPT`; an I/O error is `STORE_IO`. When the file holds more than
 * {@link FILE_LOG_COMPACT_RATIO} times the bytes of the live records (and at least
 * {@link FILE_LOG_COMPACT_MIN_BYTES}), a sync rewrites it with the live records only (new file,
 * fsync, rename, directory fsync), so a restart reads a bounded amount.
 *
 * Record: op u8 (1 put, 2 delete) ‖ key length u16le ‖ key (UTF-8) ‖ value.
 * @module
 */
import { ChainDbError, ErrorCode } from "../../util/index.ts";
import { AppendLog, type FilePort } from "../../store/index.ts";
import type { TwoPcLog } from "./runner.ts";

/** The file is compacted when it is this many times larger than its live records… */
export const FILE_LOG_COMPACT_RATIO = 4;
/** …and at least this large. */
export const FILE_LOG_COMPACT_MIN_BYTES = 1 << 20;
const PUT = 1;
const DELETE = 2;
const KEY_MAX = 0xffff;

function encodeOp(key: string, value: Uint8Array | null): Uint8Array {
  const k = new TextEncoder().encode(key);
  if (k.length > KEY_MAX)
    throw new ChainDbError(
      ErrorCode.BAD_LENGTH,
      `2PC log key of ${k.length} bytes is longer than ${KEY_MAX}`,
    );
  const out = new Uint8Array(3 + k.length + (value?.length ?? 0));
  out[0] = value === null ? DELETE : PUT;
  out[1] = k.length & 0xff;
  out[2] = k.length >>> 8;
  out.set(k, 3);
  if (value !== null) out.set(value, 3 + k.length);
  return out;
}

/** How a 2PC file log is opened. */
export interface FileTwoPcLogOptions {
  /** Files through this port (default node:fs; tests pass a fault-injecting one). */
  readonly port?: FilePort;
  /** Smallest file that is compacted (default {@link FILE_LOG_COMPACT_MIN_BYTES}). */
  readonly compactMinBytes?: number;
  /**
   * Group commit: `sync` returns a promise, and syncs that overlap share one fsync run off the
   * JavaScript thread (AppendLog.commit). Default false: each `sync` fsyncs before it returns.
   */
  readonly groupCommit?: boolean;
}

/** An append-only file holding the 2PC records; writes are durable after {@link FileTwoPcLog.sync}. */
export class FileTwoPcLog implements TwoPcLog {
  private readonly map = new Map<string, Uint8Array>();
  private pending: Uint8Array[] = [];
  private readonly log: AppendLog;
  /** Compactions done. */
  compactions = 0;

  private readonly compactMinBytes: number;
  private readonly groupCommit: boolean;
  private closed = false;

  private constructor(
    readonly path: string,
    options: FileTwoPcLogOptions,
  ) {
    this.compactMinBytes = options.compactMinBytes ?? FILE_LOG_COMPACT_MIN_BYTES;
    this.groupCommit = options.groupCommit === true;
    this.log = AppendLog.open(path, "2pcl", (p) => this.replay(p), { port: options.port });
  }

  /** Opens (or creates) the log at `path`, cutting a torn tail. */
  static open(path: string, options: FileTwoPcLogOptions = {}): FileTwoPcLog {
    return new FileTwoPcLog(path, options);
  }

  /** Number of fsyncs done. */
  get syncs(): number {
    return this.log.syncs;
  }

  /** Bytes cut from the tail at open (a torn write), 0 for a clean log. */
  get tailBytesCut(): number {
    return this.log.recovery.tailBytes;
  }

  /** Bytes in the file. */
  get fileBytes(): number {
    return this.log.size;
  }

  get(key: string): Uint8Array | undefined {
    return this.map.get(key)?.slice();
  }

  put(key: string, value: Uint8Array): void {
    this.pending.push(encodeOp(key, value));
    this.map.set(key, new Uint8Array(value));
  }

  delete(key: string): void {
    this.pending.push(encodeOp(key, null));
    this.map.delete(key);
  }

  keys(prefix = ""): string[] {
    return [...this.map.keys()].filter((k) => k.startsWith(prefix)).sort();
  }

  /**
   * Appends the buffered writes and fsyncs; compacts when the file outgrew its live records. With
   * group commit it resolves once they are durable, sharing the fsync with overlapping syncs.
   */
  sync(): void | Promise<void> {
    if (this.groupCommit) return this.syncGrouped();
    if (this.pending.length === 0) return;
    for (const record of this.pending) this.log.append(record);
    this.pending = [];
    this.log.sync();
    this.maybeCompact();
  }

  private async syncGrouped(): Promise<void> {
    for (const record of this.pending) this.log.append(record);
    this.pending = [];
    await this.log.commit(); // resolves at once when nothing is left to make durable
    if (!this.log.committing && !this.closed) this.maybeCompact(); // never under a running fsync
  }

  /** Syncs and closes the file. */
  close(): void {
    this.closed = true;
    try {
      if (this.groupCommit) for (const record of this.pending.splice(0)) this.log.append(record);
      else void this.sync(); // synchronous without group commit
    } finally {
      this.log.close(); // fsyncs what was appended
    }
  }

  private maybeCompact(): void {
    if (this.log.size < this.compactMinBytes) return;
    let live = 0;
    for (const [k, v] of this.map) live += 16 + 3 + k.length * 3 + v.length; // a bound on each record's frame
    if (this.log.size <= FILE_LOG_COMPACT_RATIO * live) return;
    this.log.rewrite([...this.map].map(([k, v]) => encodeOp(k, v)));
    this.compactions++;
  }

  private replay(p: Uint8Array): void {
    const keyLength = p.length >= 3 ? p[1]! | (p[2]! << 8) : -1;
    if (
      keyLength < 0 ||
      3 + keyLength > p.length ||
      (p[0] !== PUT && p[0] !== DELETE) ||
      (p[0] === DELETE && p.length !== 3 + keyLength)
    ) {
      throw new ChainDbError(
        ErrorCode.STORE_CORRUPT,
        `2PC log ${this.path}: malformed record of ${p.length} bytes`,
      );
    }
    let key: string;
    try {
      key = new TextDecoder("utf-8", { fatal: true }).decode(p.subarray(3, 3 + keyLength));
    } catch (cause) {
      throw new ChainDbError(ErrorCode.STORE_CORRUPT, `2PC log ${this.path}: a key is not UTF-8`, { cause });
    }
    if (p[0] === DELETE) this.map.delete(key);
    else this.map.set(key, p.slice(3 + keyLength));
  }
}
