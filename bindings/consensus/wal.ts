/**
 * The consensus write-ahead log (CometBFT `consensus/wal.go`): every record the engine asks to
 * persist, framed as `length u32 | crc32 u32 | payload`, appended, and fsynced when the record is a
 * `sync` one (own signed messages, the lock, decisions) before anything that follows is sent.
 * After a crash the log is read back; a torn last frame (the write the crash interrupted) is cut
 * off and the file repaired, while damage before the last frame is corruption and fails loudly.
 * @module
 */
import { closeSync, fsyncSync, ftruncateSync, openSync, readFileSync, renameSync, writeSync, existsSync } from "node:fs";
import { ChainDbError, ErrorCode, assert } from "../util/index.ts";
import { decodeMessage, encodeMessage } from "./codec.ts";
import type { WalRecord } from "./types.ts";

const RECORD = { message: 1, state: 2, decide: 3 } as const;
/** Largest frame payload (a decide record carries a whole block). */
export const WAL_FRAME_MAX = 32 << 20;

/** The bytes of one record. */
export function encodeRecord(r: WalRecord): Uint8Array {
  if (r.type === "message") return withTag(RECORD.message, encodeMessage(r.message));
  if (r.type === "decide") {
    const body = encodeMessage(r.certificate);
    const out = new Uint8Array(9 + body.length);
    out[0] = RECORD.decide;
    writeU64(out, 1, r.height);
    out.set(body, 9);
    return out;
  }
  const out = new Uint8Array(1 + 8 + 4 + 1 + 4 + 33 + 4 + 33);
  const view = new DataView(out.buffer);
  out[0] = RECORD.state;
  writeU64(out, 1, r.height);
  view.setUint32(9, r.round, true);
  out[13] = r.step;
  view.setUint32(14, r.lockedRound + 1, true);
  writeId(out, 18, r.lockedId);
  view.setUint32(51, r.validRound + 1, true);
  writeId(out, 55, r.validId);
  return out;
}

/** Decodes {@link encodeRecord}'s output; throws `WAL_CORRUPT` on malformed bytes. */
export function decodeRecord(bytes: Uint8Array): WalRecord {
  try {
    const tag = bytes[0];
    if (tag === RECORD.message) {
      const message = decodeMessage(bytes.subarray(1));
      if (message.kind !== "proposal" && message.kind !== "vote") throw new Error("message record holds a " + message.kind);
      return { type: "message", message };
    }
    if (tag === RECORD.decide) {
      const certificate = decodeMessage(bytes.subarray(9));
      if (certificate.kind !== "commit") throw new Error("decide record without a certificate");
      return { type: "decide", height: readU64(bytes, 1), certificate };
    }
    if (tag === RECORD.state && bytes.length === 88) {
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      const step = bytes[13]!;
      if (step > 2) throw new Error(`step ${step}`);
      return {
        type: "state",
        height: readU64(bytes, 1),
        round: view.getUint32(9, true),
        step,
        lockedRound: view.getUint32(14, true) - 1,
        lockedId: readId(bytes, 18),
        validRound: view.getUint32(51, true) - 1,
        validId: readId(bytes, 55),
      };
    }
    throw new Error(`unknown record tag ${tag} (${bytes.length} bytes)`);
  } catch (cause) {
    throw new ChainDbError(ErrorCode.WAL_CORRUPT, `consensus log record does not decode: ${(cause as Error).message}`, { cause });
  }
}

function withTag(tag: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(1 + body.length);
  out[0] = tag;
  out.set(body, 1);
  return out;
}

function writeU64(out: Uint8Array, at: number, x: number): void {
  const view = new DataView(out.buffer, out.byteOffset);
  view.setUint32(at, x % 2 ** 32, true);
  view.setUint32(at + 4, Math.floor(x / 2 ** 32), true);
}

function readU64(bytes: Uint8Array, at: number): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const x = view.getUint32(at + 4, true) * 2 ** 32 + view.getUint32(at, true);
  if (!Number.isSafeInteger(x)) throw new Error(`height ${x} out of range`);
  return x;
}

function writeId(out: Uint8Array, at: number, id: Uint8Array | null): void {
  out[at] = id === null ? 0 : 1;
  if (id !== null) out.set(id, at + 1);
}

function readId(bytes: Uint8Array, at: number): Uint8Array | null {
  if (bytes[at]! > 1) throw new Error("id flag out of range");
  return bytes[at] === 1 ? new Uint8Array(bytes.subarray(at + 1, at + 33)) : null;
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 (IEEE 802.3), as zlib computes it. */
export function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** One frame: length, crc32, payload. */
export function frameRecord(r: WalRecord): Uint8Array {
  const payload = encodeRecord(r);
  assert(payload.length <= WAL_FRAME_MAX, "record larger than a frame");
  const out = new Uint8Array(8 + payload.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, payload.length, true);
  view.setUint32(4, crc32(payload), true);
  out.set(payload, 8);
  return out;
}

/** What reading a log found: its records and how many bytes of torn tail were cut off. */
export interface WalContents {
  readonly records: WalRecord[];
  /** Length of the valid prefix. */
  readonly validBytes: number;
  /** Bytes after the valid prefix (a torn last frame), 0 for a clean log. */
  readonly tornBytes: number;
}

/** Parses framed records; a bad last frame is a torn tail, a bad earlier frame is `WAL_CORRUPT`. */
export function parseWal(bytes: Uint8Array): WalContents {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const records: WalRecord[] = [];
  let at = 0;
  while (at < bytes.length) {
    const end = at + 8 + (at + 8 <= bytes.length ? view.getUint32(at, true) : 0);
    const whole = at + 8 <= bytes.length && end <= bytes.length && view.getUint32(at, true) <= WAL_FRAME_MAX;
    const payload = whole ? bytes.subarray(at + 8, end) : null;
    if (payload === null || crc32(payload) !== view.getUint32(at + 4, true)) {
      // A torn write can only be the last frame: nothing valid may follow it.
      if (!whole || end >= bytes.length) return { records, validBytes: at, tornBytes: bytes.length - at };
      throw new ChainDbError(ErrorCode.WAL_CORRUPT, `consensus log damaged at byte ${at} of ${bytes.length} (not the last frame)`);
    }
    records.push(decodeRecord(payload));
    at = end;
  }
  return { records, validBytes: at, tornBytes: 0 };
}

/** A consensus write-ahead log in one file. */
export class FileWal {
  private fd: number;
  private dirty = false;
  /** Number of fsyncs issued. */
  syncs = 0;

  /** Byte length of the log: appends go here. */
  private end: number;
  /** Length of the log at the last fsync: what survives a power loss (tests cut the file here). */
  syncedBytes: number;

  private constructor(readonly path: string, fd: number, readonly recovered: WalContents) {
    this.fd = fd;
    this.end = recovered.validBytes;
    this.syncedBytes = recovered.validBytes;
  }

  /** Opens (or creates) the log at `path`, repairing a torn last frame. */
  static open(path: string): FileWal {
    const bytes = existsSync(path) ? new Uint8Array(readFileSync(path)) : new Uint8Array(0);
    const contents = parseWal(bytes);
    const fd = openSync(path, existsSync(path) ? "r+" : "w+");
    if (contents.tornBytes > 0) {
      ftruncateSync(fd, contents.validBytes);
      fsyncSync(fd);
    }
    const wal = new FileWal(path, fd, contents);
    return wal;
  }

  /** Appends a record; with `sync`, fsyncs it (and everything before) before returning. */
  append(record: WalRecord, sync: boolean): void {
    if (this.fd < 0) throw new ChainDbError(ErrorCode.CLOSED, "consensus log closed");
    const frame = frameRecord(record);
    let written = 0;
    // Positional writes at the end: the file was cut to its valid length and only grows.
    while (written < frame.length) written += writeSync(this.fd, frame, written, frame.length - written, this.end + written);
    this.end += frame.length;
    this.dirty = true;
    if (sync) this.sync();
  }

  /** fsyncs pending appends. */
  sync(): void {
    if (!this.dirty) return;
    fsyncSync(this.fd);
    this.dirty = false;
    this.syncedBytes = this.end;
    this.syncs++;
  }

  /** Replaces the log with `records` (write a new file, fsync, rename): drops what is no longer needed. */
  rewrite(records: readonly WalRecord[]): void {
    const tmp = `${this.path}.tmp`;
    const fd = openSync(tmp, "w");
    let end = 0;
    for (const r of records) {
      const frame = frameRecord(r);
      let written = 0;
      while (written < frame.length) written += writeSync(fd, frame, written, frame.length - written, end + written);
      end += frame.length;
    }
    fsyncSync(fd);
    closeSync(fd);
    closeSync(this.fd);
    renameSync(tmp, this.path);
    this.fd = openSync(this.path, "r+");
    this.end = end;
    this.syncedBytes = end;
    this.dirty = false;
  }

  /** Closes the file (after a final fsync). */
  close(): void {
    if (this.fd < 0) return;
    this.sync();
    closeSync(this.fd);
    this.fd = -1;
  }
}
