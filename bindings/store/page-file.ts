/**
 * The files of a paged ledger state (paged-state.ts): an append-only page log and a checkpoint.
 *
 *   state.pages   frames, appended, never rewritten in place:
 *                 magic u32le "PAGE" ‖ bucket u32le ‖ count u32le ‖ crc32c u32le ‖ count records
 *                 (48 bytes each, sorted by path) ‖ per record its path, leaf hash and branch
 *                 hash (24 words u32le, as sha256-block.ts writes digests); the CRC-32C covers
 *                 all after itself and bucket, count. The hashes cost 96 bytes an account on
 *                 disk and spare a page miss its rehashing: at 100k accounts and a 4 MB cache,
 *                 path and leaf hashes of the pages read back were ~25% of a block's CPU time.
 *   state.ckpt    replaced atomically (tmp, fsync, rename, fsync dir): magic "CKPT" u32le ‖
 *                 version u32le ‖ pageBits u32le ‖ log generation u32le ‖ height f64le ‖ log end f64le ‖
 *                 accounts f64le ‖ root 32 ‖ per bucket (offset f64le, or -1 for none ‖ count u32le ‖
 *                 subtree hash 32) ‖ SHA-256 of everything before.
 *
 * Shadow paging: a page is rewritten by appending it, and only a checkpoint (written after the
 * log is fsynced) makes the new offsets current, so a crash at any point leaves the last
 * checkpoint and every page it names intact; frames appended after it are unreferenced and cut
 * on open. Recovery reads the checkpoint (44 bytes per bucket) and nothing else of the log.
 *
 * Compaction: when the log holds more dead frames than live ones, a checkpoint copies the live
 * pages into the next generation's file (`state.pages.<g>`), fsyncs it, and names it in the new
 * checkpoint; the old file is removed after, and any file of another generation on open (a
 * crash in between). Until the checkpoint is replaced the old generation stays whole.
 * @module
 */
import * as path from "node:path";
import { createHash } from "node:crypto";
import { ChainDbError, ErrorCode, equalBytes } from "../util/index.ts";
import { crc32c } from "./append-log.ts";
import {
  type FilePort,
  fsyncOrThrow,
  fsyncParent,
  ioError,
  readFully,
  readSmallFile,
  writeFileAtomic,
  writeFully,
} from "./file-port.ts";

/** File name of the page log inside a ledger directory. */
export const PAGE_LOG_FILE = "state.pages";
/** File name of the state checkpoint inside a ledger directory. */
export const CHECKPOINT_FILE = "state.ckpt";
/** Bytes of a page frame's header. */
export const PAGE_HEADER = 16;
/** Bytes of an account record in a page. */
export const PAGE_RECORD = 48;
/** Bytes of a record's path, leaf hash and branch hash in a page (paged-state.ts `WORDS`). */
export const PAGE_WORDS = 96;
/** Bytes per bucket in a checkpoint. */
export const CKPT_BUCKET = 44;
/** Bytes of a checkpoint's header. */
export const CKPT_HEADER = 72;
const PAGE_MAGIC = 0x45474150; // "PAGE"
const CKPT_MAGIC = 0x54504b43; // "CKPT"
const CKPT_VERSION = 1;
/** Largest checkpoint: 2^24 buckets. */
const CKPT_MAX = CKPT_HEADER + (1 << 24) * CKPT_BUCKET + 32;

function corrupt(message: string): ChainDbError {
  return new ChainDbError(ErrorCode.STORE_CORRUPT, `paged state is corrupted: ${message}`);
}

/** A decoded checkpoint. */
export interface Checkpoint {
  /** Bits of the path that pick a page (2^pageBits pages). */
  pageBits: number;
  /** Generation of the page log it names (0: `state.pages`, g: `state.pages.<g>`). */
  gen: number;
  /** Height of the state it holds. */
  height: number;
  /** Bytes of the page log it names (later frames are unreferenced). */
  logEnd: number;
  /** Number of accounts. */
  accounts: number;
  /** State root. */
  root: Uint8Array;
  /** Per bucket: page offset in the log, -1 for an empty bucket. */
  offsets: Float64Array;
  /** Per bucket: accounts in its page. */
  counts: Uint32Array;
  /** Per bucket: subtree hashes, 32 bytes each. */
  hashes: Uint8Array;
}

/** Encodes a checkpoint (the digest at the end). */
export function encodeCheckpoint(c: Checkpoint): Uint8Array {
  const buckets = 1 << c.pageBits;
  const out = new Uint8Array(CKPT_HEADER + buckets * CKPT_BUCKET + 32);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, CKPT_MAGIC, true);
  dv.setUint32(4, CKPT_VERSION, true);
  dv.setUint32(8, c.pageBits, true);
  dv.setUint32(12, c.gen, true);
  dv.setFloat64(16, c.height, true);
  dv.setFloat64(24, c.logEnd, true);
  dv.setFloat64(32, c.accounts, true);
  out.set(c.root, 40);
  for (let b = 0; b < buckets; b++) {
    const o = CKPT_HEADER + b * CKPT_BUCKET;
    dv.setFloat64(o, c.offsets[b]!, true);
    dv.setUint32(o + 8, c.counts[b]!, true);
    out.set(c.hashes.subarray(b * 32, b * 32 + 32), o + 12);
  }
  const body = out.subarray(0, out.length - 32);
  out.set(createHash("sha256").update(body).digest(), out.length - 32);
  return out;
}

/** Decodes and checks a checkpoint. */
export function decodeCheckpoint(bytes: Uint8Array): Checkpoint {
  if (bytes.length < CKPT_HEADER + 32) throw corrupt(`checkpoint of ${bytes.length} bytes`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  if (dv.getUint32(0, true) !== CKPT_MAGIC) throw corrupt("checkpoint magic");
  if (dv.getUint32(4, true) !== CKPT_VERSION)
    throw new ChainDbError(ErrorCode.STORE_FORMAT, `checkpoint version ${dv.getUint32(4, true)}`);
  const pageBits = dv.getUint32(8, true);
  if (pageBits < 1 || pageBits > 24) throw corrupt(`checkpoint pageBits ${pageBits}`);
  const buckets = 1 << pageBits;
  if (bytes.length !== CKPT_HEADER + buckets * CKPT_BUCKET + 32)
    throw corrupt(`checkpoint of ${bytes.length} bytes for ${buckets} pages`);
  const body = bytes.subarray(0, bytes.length - 32);
  if (
    !equalBytes(new Uint8Array(createHash("sha256").update(body).digest()), bytes.subarray(bytes.length - 32))
  )
    throw corrupt("checkpoint fails its digest");
  const offsets = new Float64Array(buckets);
  const counts = new Uint32Array(buckets);
  const hashes = new Uint8Array(buckets * 32);
  for (let b = 0; b < buckets; b++) {
    const o = CKPT_HEADER + b * CKPT_BUCKET;
    offsets[b] = dv.getFloat64(o, true);
    counts[b] = dv.getUint32(o + 8, true);
    hashes.set(bytes.subarray(o + 12, o + 44), b * 32);
  }
  return {
    pageBits,
    gen: dv.getUint32(12, true),
    height: dv.getFloat64(16, true),
    logEnd: dv.getFloat64(24, true),
    accounts: dv.getFloat64(32, true),
    root: bytes.slice(40, 72),
    offsets,
    counts,
    hashes,
  };
}

/** A CRC-32C implementation: `crc32c(bytes, crc)` of append-log.ts, or one that runs in the core. */
export type Crc32c = (bytes: Uint8Array, crc?: number) => number;

/** The page log and checkpoint of one ledger directory. */
export class PageFile {
  private fd = -1;
  /** Bytes of the log (the next frame goes here). */
  logEnd = 0;
  /** Bytes read from the log (page misses), for benchmarks. */
  bytesRead = 0;
  /** Bytes appended to the log, for benchmarks. */
  bytesWritten = 0;
  /** Generation of the page log in use. */
  gen = 0;
  private readonly ckptPath: string;
  private next: { fd: number; end: number; path: string } | undefined;
  private logPathOf: { gen: number; path: string } | undefined;

  constructor(
    private readonly port: FilePort,
    private readonly dir: string,
    /** Checks the frames (the wasm paged state passes the core's, for frames in its memory). */
    private readonly crc: Crc32c = crc32c,
  ) {
    this.ckptPath = path.join(dir, CHECKPOINT_FILE);
  }

  private genPath(gen: number): string {
    return path.join(this.dir, gen === 0 ? PAGE_LOG_FILE : `${PAGE_LOG_FILE}.${gen}`);
  }

  /** Path of the log of the current generation (joined once per generation: a miss reads with it). */
  private get logPath(): string {
    if (this.logPathOf?.gen !== this.gen) this.logPathOf = { gen: this.gen, path: this.genPath(this.gen) };
    return this.logPathOf.path;
  }

  /** Removes page logs of other generations than the current one. */
  private removeStrays(): void {
    const keep = path.basename(this.logPath);
    for (const name of this.port.readdir(this.dir))
      if (name.startsWith(PAGE_LOG_FILE) && name !== keep) this.port.unlink(path.join(this.dir, name));
  }

  /** The durable checkpoint, or undefined when there is none; opens the log cut to its end. */
  open(): Checkpoint | undefined {
    const bytes = readSmallFile(this.port, this.ckptPath, CKPT_MAX);
    const ckpt = bytes === undefined ? undefined : decodeCheckpoint(bytes);
    this.gen = ckpt?.gen ?? 0;
    this.removeStrays();
    this.openLog();
    const size = this.port.size(this.fd);
    const end = ckpt?.logEnd ?? 0;
    if (size < end) throw corrupt(`page log is ${size} bytes, its checkpoint names ${end}`);
    // Frames after the checkpoint's end are pages no durable checkpoint names: cut them.
    if (size > end) this.port.truncate(this.fd, end);
    this.logEnd = end;
    return ckpt;
  }

  /** Removes both files (a ledger being created); the log is open and empty afterwards. */
  reset(): void {
    this.close();
    this.port.unlink(this.ckptPath);
    this.port.unlink(`${this.ckptPath}.tmp`);
    this.gen = 0;
    this.removeStrays();
    this.port.unlink(this.logPath);
    fsyncParent(this.port, this.logPath);
    this.openLog();
    this.logEnd = 0;
  }

  private openLog(): void {
    if (this.fd >= 0) return;
    try {
      this.fd = this.port.open(this.logPath, { create: true });
    } catch (cause) {
      throw ioError("open of", this.logPath, cause);
    }
  }

  /** Appends the frames in `frames` (whole frames, built by {@link encodePage}); returns their offset. */
  append(frames: Uint8Array): number {
    const at = this.logEnd;
    writeFully(this.port, this.fd, frames, at, this.logPath);
    this.logEnd += frames.length;
    this.bytesWritten += frames.length;
    return at;
  }

  /**
   * Reads the page of `bucket` (`count` records) at `offset`; checks its header and CRC. The
   * records go to `recs`, their path and leaf words to `words` (when given).
   */
  readPage(bucket: number, count: number, offset: number, recs: Uint8Array, words?: Int32Array): void {
    const len = PAGE_HEADER + count * (PAGE_RECORD + PAGE_WORDS);
    const buf = new Uint8Array(len);
    const got = readFully(this.port, this.fd, buf, 0, len, offset, this.logPath);
    this.bytesRead += len;
    if (got !== len) throw corrupt(`page ${bucket} at ${offset} is cut short`);
    const dv = new DataView(buf.buffer);
    if (
      dv.getUint32(0, true) !== PAGE_MAGIC ||
      dv.getUint32(4, true) !== bucket ||
      dv.getUint32(8, true) !== count
    )
      throw corrupt(`page ${bucket} at ${offset} has a wrong header`);
    if (this.crc(buf.subarray(4, 12), this.crc(buf.subarray(PAGE_HEADER))) !== dv.getUint32(12, true))
      throw corrupt(`page ${bucket} at ${offset} fails its CRC`);
    const split = PAGE_HEADER + count * PAGE_RECORD;
    recs.set(buf.subarray(PAGE_HEADER, split));
    if (words !== undefined)
      new Uint8Array(words.buffer, words.byteOffset, count * PAGE_WORDS).set(buf.subarray(split));
  }

  /** Copies the checked frame of `bucket` (`count` records) at `offset` into `into` at `at`. */
  readFrame(bucket: number, count: number, offset: number, into: Uint8Array, at: number): void {
    const len = pageFrameBytes(count);
    const buf = into.subarray(at, at + len);
    if (readFully(this.port, this.fd, buf, 0, len, offset, this.logPath) !== len)
      throw corrupt(`page ${bucket} at ${offset} is cut short`);
    const dv = new DataView(buf.buffer, buf.byteOffset, len);
    if (
      dv.getUint32(0, true) !== PAGE_MAGIC ||
      dv.getUint32(4, true) !== bucket ||
      dv.getUint32(8, true) !== count
    )
      throw corrupt(`page ${bucket} at ${offset} has a wrong header`);
    if (this.crc(buf.subarray(4, 12), this.crc(buf.subarray(PAGE_HEADER))) !== dv.getUint32(12, true))
      throw corrupt(`page ${bucket} at ${offset} fails its CRC`);
  }

  /** Starts the next generation's log (compaction): empty, written by {@link rewriteAppend}. */
  beginRewrite(): void {
    const file = this.genPath(this.gen + 1);
    try {
      this.next = { fd: this.port.open(file, { create: true, truncate: true }), end: 0, path: file };
    } catch (cause) {
      throw ioError("create of", file, cause);
    }
  }

  /** Appends frames to the next generation's log; returns their offset there. */
  rewriteAppend(frames: Uint8Array): number {
    const next = this.next!;
    const at = next.end;
    writeFully(this.port, next.fd, frames, at, next.path);
    next.end += frames.length;
    this.bytesWritten += frames.length;
    return at;
  }

  /**
   * Makes the next generation durable, names it in checkpoint `c` (its `gen` and `logEnd` are
   * set here), switches to it and removes the old log.
   */
  commitRewrite(c: Checkpoint): void {
    const next = this.next!;
    this.next = undefined;
    try {
      fsyncOrThrow(this.port, next.fd, next.path);
      fsyncParent(this.port, next.path);
      c.gen = this.gen + 1;
      c.logEnd = next.end;
      writeFileAtomic(this.port, this.ckptPath, encodeCheckpoint(c));
    } catch (e) {
      this.port.close(next.fd);
      throw e;
    }
    const old = this.logPath;
    this.port.close(this.fd);
    this.fd = next.fd;
    this.gen++;
    this.logEnd = next.end;
    this.port.unlink(old);
  }

  /** Makes the appended pages durable, then writes the checkpoint atomically. */
  checkpoint(c: Checkpoint): void {
    fsyncOrThrow(this.port, this.fd, this.logPath);
    writeFileAtomic(this.port, this.ckptPath, encodeCheckpoint(c));
  }

  /** Size of the page log and checkpoint files in bytes (disk per account). */
  diskBytes(): number {
    let ckpt = 0;
    if (this.port.exists(this.ckptPath)) {
      const fd = this.port.open(this.ckptPath, { readOnly: true });
      ckpt = this.port.size(fd);
      this.port.close(fd);
    }
    return this.logEnd + ckpt;
  }

  /** Closes the log. */
  close(): void {
    if (this.fd < 0) return;
    this.port.close(this.fd);
    this.fd = -1;
  }
}

/** Bytes of the frame of a page of `count` records. */
export function pageFrameBytes(count: number): number {
  return PAGE_HEADER + count * (PAGE_RECORD + PAGE_WORDS);
}

/** Writes one page frame for `bucket` into `out` at `at`: header, records, their words; returns its end. */
export function encodePage(
  bucket: number,
  records: Uint8Array,
  words: Int32Array,
  count: number,
  out: Uint8Array,
  at: number,
  crc: Crc32c = crc32c,
): number {
  const dv = new DataView(out.buffer, out.byteOffset);
  dv.setUint32(at, PAGE_MAGIC, true);
  dv.setUint32(at + 4, bucket, true);
  dv.setUint32(at + 8, count, true);
  out.set(records.subarray(0, count * PAGE_RECORD), at + PAGE_HEADER);
  out.set(
    new Uint8Array(words.buffer, words.byteOffset, count * PAGE_WORDS),
    at + PAGE_HEADER + count * PAGE_RECORD,
  );
  const end = at + pageFrameBytes(count);
  dv.setUint32(at + 12, crc(out.subarray(at + 4, at + 12), crc(out.subarray(at + PAGE_HEADER, end))), true);
  return end;
}
