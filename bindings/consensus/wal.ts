/**
 * The consensus write-ahead log (CometBFT `consensus/wal.go`): every record the engine asks to
 * persist, appended to the shared durable log (store/append-log.ts: length + CRC-32C frames), and
 * fsynced when the record is a `sync` one (own signed messages, the lock, decisions) before
 * anything that follows is sent. After a crash the log is read back; a torn or zero-filled tail
 * (writes the crash interrupted) is cut off and reported, while damage to fsynced records is
 * `STORE_CORRUPT` and fails loudly.
 * @module
 */
import { ChainDbError, ErrorCode, assert } from "../util/index.ts";
import { AppendLog, bytesSource, encodeFrame, scanFrames, type FilePort } from "../store/index.ts";
import { decodeMessage, encodeMessage } from "./codec.ts";
import type { WalRecord } from "./types.ts";

const RECORD = { message: 1, state: 2, decide: 3 } as const;
const WAL_KIND = "cwal";
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
      if (message.kind !== "proposal" && message.kind !== "vote")
        throw new Error("message record holds a " + message.kind);
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
    throw new ChainDbError(
      ErrorCode.WAL_CORRUPT,
      `consensus log record does not decode: ${(cause as Error).message}`,
      { cause },
    );
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

/** One frame of the shared append log (store/append-log.ts) around the record's bytes. */
export function frameRecord(r: WalRecord): Uint8Array {
  const payload = encodeRecord(r);
  assert(payload.length <= WAL_FRAME_MAX, "record larger than a frame");
  return encodeFrame(payload, 0);
}

/** What reading a log found: its records and how many bytes of torn tail were cut off. */
export interface WalContents {
  readonly records: WalRecord[];
  /** Length of the valid prefix. */
  readonly validBytes: number;
  /** Bytes after the valid prefix (a torn or zero-filled tail), 0 for a clean log. */
  readonly tornBytes: number;
}

/**
 * Parses frames (without the file header): a torn or zero tail is cut and reported, damage that a
 * later frame records as fsynced is `STORE_CORRUPT`, a record that does not decode `WAL_CORRUPT`.
 */
export function parseWal(bytes: Uint8Array): WalContents {
  const records: WalRecord[] = [];
  const found = scanFrames(
    bytesSource(bytes),
    0,
    (p) => records.push(decodeRecord(p)),
    "consensus log",
    WAL_FRAME_MAX,
  );
  return { records, validBytes: found.validBytes, tornBytes: found.tailBytes };
}

/** A consensus write-ahead log in one file: an {@link AppendLog} of kind `cwal`. */
export class FileWal {
  private readonly log: AppendLog;
  /** What opening found: the records, and the torn tail that was cut. */
  readonly recovered: WalContents;

  private constructor(
    readonly path: string,
    port: FilePort | undefined,
  ) {
    const records: WalRecord[] = [];
    this.log = AppendLog.open(path, WAL_KIND, (p) => records.push(decodeRecord(p)), {
      port,
      maxRecordBytes: WAL_FRAME_MAX,
    });
    const { validBytes, tailBytes } = this.log.recovery;
    this.recovered = { records, validBytes, tornBytes: tailBytes };
  }

  /** Opens (or creates, fsyncing the directory) the log at `path`, cutting a torn tail. */
  static open(path: string, port?: FilePort): FileWal {
    return new FileWal(path, port);
  }

  /** Number of fsyncs issued. */
  get syncs(): number {
    return this.log.syncs;
  }

  /** Length of the log at the last fsync: what survives a power loss. */
  get syncedBytes(): number {
    return this.log.syncedSize;
  }

  /** Appends a record; with `sync`, fsyncs it (and everything before) before returning. */
  append(record: WalRecord, sync: boolean): void {
    this.log.append(encodeRecord(record));
    if (sync) this.log.sync();
  }

  /** fsyncs pending appends. */
  sync(): void {
    this.log.sync();
  }

  /** Replaces the log with `records` (new file, fsync, rename, directory fsync): compaction. */
  rewrite(records: readonly WalRecord[]): void {
    this.log.rewrite(records.map(encodeRecord));
  }

  /** Closes the file (after a final fsync). */
  close(): void {
    this.log.close();
  }
}
