/**
 * A durable {@link TwoPcLog} in one append-only file (the 2PC log of Gray & Reuter 1993, §10.3,
 * reduced to what presumed abort needs): each `sync` appends the buffered writes as JSON lines
 * and fsyncs, so a forced record is on disk before the runner's next effect. A torn last line (a
 * crash mid-append) is cut off at open; any other damage is `STORE_CORRUPT`.
 *
 * Not done: compaction (the file grows by one line per write until rewritten by a future version).
 * @module
 */
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, truncateSync, writeSync } from "node:fs";
import { ChainDbError, ErrorCode, fromHex, toHex } from "../../util/index.ts";
import type { TwoPcLog } from "./runner.ts";

/** Most bytes read from an existing log at open (a bound on memory). */
export const FILE_LOG_BYTES_MAX = 256 * 1024 * 1024;

/** An append-only file holding the 2PC records; writes are durable after {@link FileTwoPcLog.sync}. */
export class FileTwoPcLog implements TwoPcLog {
  private readonly map = new Map<string, Uint8Array>();
  private pending: string[] = [];
  private fd: number;
  /** Number of fsyncs done. */
  syncs = 0;

  private constructor(readonly path: string) {
    this.fd = -1;
    if (existsSync(path)) this.load();
    this.fd = openSync(path, "a");
  }

  /** Opens (or creates) the log at `path`, repairing a torn tail. */
  static open(path: string): FileTwoPcLog {
    return new FileTwoPcLog(path);
  }

  get(key: string): Uint8Array | undefined {
    return this.map.get(key)?.slice();
  }

  put(key: string, value: Uint8Array): void {
    this.map.set(key, new Uint8Array(value));
    this.pending.push(JSON.stringify({ k: key, v: toHex(value) }) + "\n");
  }

  delete(key: string): void {
    this.map.delete(key);
    this.pending.push(JSON.stringify({ k: key, v: null }) + "\n");
  }

  keys(prefix = ""): string[] {
    return [...this.map.keys()].filter((k) => k.startsWith(prefix)).sort();
  }

  /** Appends the buffered writes and fsyncs. */
  sync(): void {
    if (this.pending.length === 0) return;
    writeSync(this.fd, this.pending.join(""));
    fsyncSync(this.fd);
    this.pending = [];
    this.syncs++;
  }

  /** Syncs and closes the file. */
  close(): void {
    this.sync();
    closeSync(this.fd);
  }

  private load(): void {
    const bytes = readFileSync(this.path);
    if (bytes.length > FILE_LOG_BYTES_MAX) throw new ChainDbError(ErrorCode.STORE_CORRUPT, `2PC log ${this.path} is larger than ${FILE_LOG_BYTES_MAX} bytes`);
    const text = new TextDecoder().decode(bytes);
    const end = text.lastIndexOf("\n") + 1; // whatever follows the last newline is a torn append
    const lines = text.slice(0, end).split("\n").slice(0, -1);
    lines.forEach((line, i) => {
      let record: { k?: unknown; v?: unknown };
      try {
        record = JSON.parse(line) as { k?: unknown; v?: unknown };
      } catch (error) {
        throw new ChainDbError(ErrorCode.STORE_CORRUPT, `2PC log ${this.path}: line ${i + 1} is not JSON`, { cause: error });
      }
      if (typeof record.k !== "string" || (record.v !== null && typeof record.v !== "string")) throw new ChainDbError(ErrorCode.STORE_CORRUPT, `2PC log ${this.path}: bad line ${i + 1}`);
      if (record.v === null) this.map.delete(record.k);
      else this.map.set(record.k, fromHex(record.v as string));
    });
    if (end < bytes.length) truncateSync(this.path, new TextEncoder().encode(text.slice(0, end)).length);
  }
}
