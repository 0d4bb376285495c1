/**
 * A consensus node's files (CometBFT's block store and state store, reduced), all through a
 * {@link FilePort} so the crash tests run them on the fault-injecting file system:
 * - the consensus log (`consensus.wal`, wal.ts), compacted by the node down to its last decision;
 * - the block store (`blocks/`): every decided block with its commit certificate, fsynced before
 *   the ledger takes it, in segment files of the shared append log (store/append-log.ts, kind
 *   `blks`) named by their first height. A segment is sealed once it reaches
 *   {@link BLOCK_SEGMENT_BYTES}; opening reads only the directory listing and the last segment, so
 *   startup reads a bounded amount however long the chain is, and an older block is read from its
 *   segment on demand (an index of frame offsets per segment, a few segments cached);
 * - the selection snapshot (`selection.json`): the selection state after the last block and the
 *   one before it, one CRC-32C checked frame written with fsync, rename and directory fsync
 *   before the ledger step.
 * A `blocks.wal` of the layout before segments (an append log of kind `cwal`) is migrated into
 * `blocks/` at open; one older than the append log is `STORE_FORMAT`.
 * @module
 */
import { join } from "node:path";
import { ChainDbError, ErrorCode, assert } from "../util/index.ts";
import {
  AppendLog,
  LOG_HEADER_BYTES,
  bytesSource,
  encodeFrame,
  fsyncParent,
  ioError,
  logHeader,
  readFully,
  readSmallFile,
  scanFrames,
  writeFileAtomic,
  type ByteSource,
  type FilePort,
} from "../store/index.ts";
import type { SelectionJson, SelectionState } from "../selection/index.ts";
import type { CommitCertificate, WalRecord } from "./types.ts";
import { FileWal, WAL_FRAME_MAX, decodeRecord, encodeRecord } from "./wal.ts";

/** Size at which a block segment is sealed and the next one begun (64 MiB). */
export const BLOCK_SEGMENT_BYTES = 64 << 20;
/** Sealed segments whose frame offsets stay cached. */
const SEGMENT_INDEX_CACHE = 8;
const SEGMENT_KIND = "blks";
const SEGMENT_NAME = /^(\d{16})\.seg$/;
/** Largest selection snapshot file. */
const SNAPSHOT_BYTES_MAX = 64 << 20;
const SNAPSHOT_KIND = "csel";

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
export function fileLog(path: string, port?: FilePort): Log {
  const wal = FileWal.open(path, port);
  return {
    records: wal.recovered.records,
    append: (r, sync) => wal.append(r, sync),
    compact: (keep) => wal.rewrite(keep),
    close: () => wal.close(),
  };
}

/** Where a block store keeps its blocks. */
export interface BlockStoreFiles {
  /** The node directory (the store lives in `dir/blocks/`). */
  readonly dir: string;
  readonly port: FilePort;
  /** Seal a segment at this size (default {@link BLOCK_SEGMENT_BYTES}). */
  readonly segmentBytes?: number;
}

/** A sealed segment: its first height and its file. */
interface Sealed {
  readonly first: number;
  readonly file: string;
}

const segmentName = (first: number) => `${String(first).padStart(16, "0")}.seg`;

/** Decided blocks by height 1..tip, each stored durably before it is applied. */
export class BlockStore {
  /** Blocks of the active segment (all blocks in memory mode). */
  private readonly recent = new Map<number, CommitCertificate>();
  private readonly sealed: Sealed[] = [];
  private readonly indexes = new Map<number, number[]>();
  private active: AppendLog | null = null;
  private activeFirst = 1;
  private top = 0;
  /** Bytes read from sealed segments since open (tests check what a lookup costs). */
  sealedBytesRead = 0;

  private constructor(private readonly files: BlockStoreFiles | null) {}

  /** A store in memory (a node without a directory). */
  static memory(): BlockStore {
    return new BlockStore(null);
  }

  /**
   * Opens the store in `files.dir/blocks/`, reading only the last segment (a torn tail is cut);
   * migrates a `blocks.wal` of the old layout. `STORE_CORRUPT` for damaged fsynced blocks or a gap
   * in the heights, `STORE_FORMAT` for a block file of a format before the append log.
   */
  static open(files: BlockStoreFiles): BlockStore {
    const store = new BlockStore(files);
    const dir = join(files.dir, "blocks");
    if (!files.port.exists(dir)) {
      files.port.mkdir(dir);
      fsyncParent(files.port, dir);
    }
    const firsts = files.port
      .readdir(dir)
      .map((name) => SEGMENT_NAME.exec(name))
      .filter((m) => m !== null)
      .map((m) => Number(m[1]));
    for (let i = 0; i + 1 < firsts.length; i++) {
      if (firsts[i + 1]! <= firsts[i]!)
        throw new ChainDbError(ErrorCode.STORE_CORRUPT, `${dir}: segment ${firsts[i + 1]} is out of order`);
      store.sealed.push({ first: firsts[i]!, file: join(dir, segmentName(firsts[i]!)) });
    }
    store.openActive(firsts.length > 0 ? firsts[firsts.length - 1]! : 1);
    store.migrate(join(files.dir, "blocks.wal"));
    return store;
  }

  /** Height of the last stored block (0 when empty). */
  get tip(): number {
    return this.top;
  }

  /** The certificate (with the block as its proposal's value) of a stored height. */
  get(height: number): CommitCertificate | undefined {
    if (!this.has(height)) return undefined;
    return this.recent.get(height) ?? this.readSealed(height);
  }

  /** Whether `height` is stored. */
  has(height: number): boolean {
    return Number.isSafeInteger(height) && height >= 1 && height <= this.top;
  }

  /** Stores decided block `height` (fsync unless `sync` is false) unless it is stored already. */
  put(height: number, certificate: CommitCertificate, sync = true): void {
    if (height <= this.top) return;
    assert(height === this.top + 1, `block ${height} stored after ${this.top}`);
    if (this.files === null) {
      this.recent.set(height, certificate);
      this.top = height;
      return;
    }
    if (this.active!.size >= (this.files.segmentBytes ?? BLOCK_SEGMENT_BYTES)) this.roll();
    this.active!.append(encodeRecord({ type: "decide", height, certificate }));
    if (sync) this.active!.sync();
    this.recent.set(height, certificate);
    this.top = height;
  }

  /** Takes the decisions a consensus log holds that the store lacks (a crash between the two). */
  adopt(records: readonly WalRecord[]): void {
    for (const r of records) if (r.type === "decide") this.put(r.height, r.certificate);
  }

  /** Syncs and closes the active segment. */
  close(): void {
    this.active?.close();
    this.active = null;
  }

  /** Seals the active segment (it is fsynced) and begins the next one. */
  private roll(): void {
    this.active!.sync();
    this.active!.close();
    this.sealed.push({ first: this.activeFirst, file: this.active!.file });
    this.openActive(this.top + 1);
    assert(this.activeFirst === this.top + 1, "a new segment starts after the tip");
  }

  /** Opens (creating it durably) the segment starting at `first` and loads its blocks. */
  private openActive(first: number): void {
    const files = this.files!;
    const file = join(files.dir, "blocks", segmentName(first));
    this.recent.clear();
    this.activeFirst = first;
    this.top = first - 1;
    this.active = AppendLog.open(
      file,
      SEGMENT_KIND,
      (payload) => {
        const r = decodeRecord(payload);
        if (r.type !== "decide" || r.height !== this.top + 1)
          throw new ChainDbError(
            ErrorCode.STORE_CORRUPT,
            `${file}: expected block ${this.top + 1}, found a ${r.type} record${r.type === "decide" ? ` of block ${r.height}` : ""}`,
          );
        this.recent.set(r.height, r.certificate);
        this.top = r.height;
      },
      { port: files.port, maxRecordBytes: WAL_FRAME_MAX },
    );
  }

  /** Moves the blocks of an old-layout `blocks.wal` into segments, then removes it. */
  private migrate(old: string): void {
    const port = this.files!.port;
    if (!port.exists(old)) return;
    let log: AppendLog;
    try {
      log = AppendLog.open(
        old,
        "cwal",
        (p) => {
          const r = decodeRecord(p);
          if (r.type !== "decide") return;
          if (r.height > this.top + 1)
            throw new ChainDbError(ErrorCode.STORE_CORRUPT, `${old}: block ${r.height} follows ${this.top}`);
          this.put(r.height, r.certificate, false);
        },
        { port, maxRecordBytes: WAL_FRAME_MAX },
      );
    } catch (error) {
      if (error instanceof ChainDbError && error.code === ErrorCode.NOT_CHAINDB)
        throw new ChainDbError(
          ErrorCode.STORE_FORMAT,
          `${old} is a block file of a format before the append log (chaindb < 0.2): it cannot be migrated; fetch the blocks again (remove the node directory and let block sync fill it)`,
          { cause: error },
        );
      throw error;
    }
    log.close();
    this.active!.sync();
    try {
      port.unlink(old);
    } catch (cause) {
      throw ioError("unlink of", old, cause);
    }
    fsyncParent(port, old);
  }

  /** Reads block `height` from its sealed segment (through the segment's offset index). */
  private readSealed(height: number): CommitCertificate {
    let lo = 0;
    let hi = this.sealed.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.sealed[mid]!.first <= height) lo = mid;
      else hi = mid - 1;
    }
    const segment = this.sealed[lo]!;
    assert(segment.first <= height, "a sealed segment holds every height below the active one");
    return this.withSegment(segment, (src, offsets) => {
      const at = offsets[height - segment.first];
      const end = offsets[height - segment.first + 1];
      if (at === undefined || end === undefined)
        throw new ChainDbError(ErrorCode.STORE_CORRUPT, `${segment.file} lacks block ${height}`);
      // The file seen up to the frame's end: the scan reads just that frame (at its real offset,
      // where its syncedEnd claim is checked).
      const window: ByteSource = { size: end, read: (b, o, l, p) => src.read(b, o, l, p) };
      let record: WalRecord | undefined;
      scanFrames(window, at, (p) => (record = decodeRecord(p)), segment.file, WAL_FRAME_MAX);
      this.sealedBytesRead += end - at;
      if (record?.type !== "decide" || record.height !== height)
        throw new ChainDbError(ErrorCode.STORE_CORRUPT, `${segment.file}: block ${height} changed on disk`);
      return record.certificate;
    });
  }

  /** Runs `use` on the open segment file and its frame offsets (scanning it once to index it). */
  private withSegment<T>(segment: Sealed, use: (src: ByteSource, offsets: number[]) => T): T {
    const port = this.files!.port;
    let fd: number;
    try {
      fd = port.open(segment.file, { readOnly: true });
    } catch (cause) {
      throw ioError("open of", segment.file, cause);
    }
    try {
      const src = portSource(port, fd, segment.file);
      let offsets = this.indexes.get(segment.first);
      if (offsets === undefined) {
        offsets = this.indexSegment(segment, src);
        if (this.indexes.size >= SEGMENT_INDEX_CACHE) this.indexes.delete(this.indexes.keys().next().value!);
        this.indexes.set(segment.first, offsets);
      }
      return use(src, offsets);
    } finally {
      port.close(fd);
    }
  }

  /** Frame offsets of a sealed segment (one streaming scan); its heights must run on without a gap. */
  private indexSegment(segment: Sealed, src: ByteSource): number[] {
    const head = new Uint8Array(LOG_HEADER_BYTES);
    const want = logHeader(SEGMENT_KIND);
    if (src.read(head, 0, LOG_HEADER_BYTES, 0) < LOG_HEADER_BYTES || head.some((b, i) => b !== want[i]))
      throw new ChainDbError(ErrorCode.STORE_CORRUPT, `${segment.file}: not a block segment`);
    const offsets = [LOG_HEADER_BYTES];
    const found = scanFrames(
      src,
      LOG_HEADER_BYTES,
      (p) => {
        const height = segment.first + offsets.length - 1;
        // The height is bytes 1..8 of a decide record: checked here without decoding the block.
        const view = new DataView(p.buffer, p.byteOffset, p.byteLength);
        if (p[0] !== 3 || view.getUint32(1, true) + view.getUint32(5, true) * 2 ** 32 !== height)
          throw new ChainDbError(ErrorCode.STORE_CORRUPT, `${segment.file}: expected block ${height}`);
        offsets.push(offsets[offsets.length - 1]! + 16 + p.length);
      },
      segment.file,
      WAL_FRAME_MAX,
    );
    this.sealedBytesRead += src.size;
    const next = this.sealed.find((s) => s.first > segment.first)?.first ?? this.activeFirst;
    // A sealed segment was fsynced whole before the next one existed: any tail or gap is damage.
    if (found.tailBytes > 0 || segment.first + found.records !== next)
      throw new ChainDbError(
        ErrorCode.STORE_CORRUPT,
        `${segment.file}: holds blocks ${segment.first}..${segment.first + found.records - 1} and ${found.tailBytes} damaged bytes, expected blocks up to ${next - 1}`,
      );
    return offsets;
  }
}

function portSource(port: FilePort, fd: number, file: string): ByteSource {
  let size: number;
  try {
    size = port.size(fd);
  } catch (cause) {
    throw ioError("stat of", file, cause);
  }
  return {
    size,
    read: (buffer, offset, length, position) => readFully(port, fd, buffer, offset, length, position, file),
  };
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

  constructor(
    dir: string | undefined,
    private readonly port?: FilePort,
  ) {
    this.path = dir === undefined ? null : join(dir, "selection.json");
  }

  /** Written (fsync, rename, directory fsync) before the ledger step, with the state before it. */
  write(height: number, next: SelectionState, previous: SelectionState): void {
    this.writeStored({ height, state: next.toJSON(), previous: previous.toJSON() });
  }

  /** Writes a stored snapshot as it is (tests build the files of a cut-off commit with it). */
  writeStored(stored: StoredSelection): void {
    if (this.path === null) return;
    // One file: a log header and one frame, whose CRC-32C covers the JSON.
    const header = logHeader(SNAPSHOT_KIND);
    const frame = encodeFrame(new TextEncoder().encode(JSON.stringify(stored)), LOG_HEADER_BYTES);
    const bytes = new Uint8Array(header.length + frame.length);
    bytes.set(header, 0);
    bytes.set(frame, header.length);
    writeFileAtomic(this.port!, this.path, bytes);
  }

  /** The stored snapshot, null when there is none; `STORE_CORRUPT` when damaged. */
  read(): StoredSelection | null {
    if (this.path === null) return null;
    const bytes = readSmallFile(this.port!, this.path, SNAPSHOT_BYTES_MAX);
    if (bytes === undefined) return null;
    const header = logHeader(SNAPSHOT_KIND);
    let json: Uint8Array | undefined;
    if (bytes.length >= LOG_HEADER_BYTES && header.every((b, i) => bytes[i] === b)) {
      const found = scanFrames(
        bytesSource(bytes),
        LOG_HEADER_BYTES,
        (p) => (json = p),
        this.path,
        SNAPSHOT_BYTES_MAX,
      );
      if (found.records !== 1 || found.tailBytes > 0) json = undefined;
    } else if (bytes[0] === 0x7b) json = bytes; // "{": a snapshot of the layout before frames
    try {
      if (json === undefined) throw new Error("no checksummed snapshot frame");
      return JSON.parse(new TextDecoder().decode(json)) as StoredSelection;
    } catch (error) {
      throw new ChainDbError(ErrorCode.STORE_CORRUPT, `unreadable selection snapshot ${this.path}`, {
        cause: error,
      });
    }
  }
}
