/**
 * The file port: the few synchronous file operations chaindb's durable files use (the append log,
 * the SQLite VFS, snapshot and record files), so the same code runs on real files
 * ({@link nodeFilePort}, node:fs, which Node and Deno both provide) and on the fault-injecting
 * in-memory file system of the crash tests (`FaultFs`). The operations are POSIX's: positional
 * reads and writes, fsync of a file, fsync of a directory (which makes its entries durable, Linux
 * `fsync(2)`: "calling fsync() on a file does not necessarily ensure that the entry in the
 * directory containing the file has also reached disk"), rename and unlink.
 * @module
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { setImmediate } from "node:timers";
import { ChainDbError, ErrorCode } from "../util/index.ts";

/** How to open a file. */
export interface OpenFlags {
  /** Create the file if missing. */
  readonly create?: boolean;
  /** With `create`: fail with EEXIST if the file exists (O_EXCL). */
  readonly exclusive?: boolean;
  /** Cut the file to 0 bytes at open (O_TRUNC). */
  readonly truncate?: boolean;
  /** Open for reading only. */
  readonly readOnly?: boolean;
}

/** Synchronous file operations on paths and descriptors; errors are thrown with an errno `code`. */
export interface FilePort {
  /** Opens `file`; returns a descriptor. */
  open(file: string, flags?: OpenFlags): number;
  /** Reads up to `length` bytes at `position` into `buffer[offset..]`; returns the count (0 at EOF). */
  read(fd: number, buffer: Uint8Array, offset: number, length: number, position: number): number;
  /** Writes `buffer[offset..offset+length]` at `position`; returns the count written (may be short). */
  write(fd: number, buffer: Uint8Array, offset: number, length: number, position: number): number;
  /** Sets the file's size. */
  truncate(fd: number, size: number): void;
  /** Makes the file's data and size durable. */
  fsync(fd: number): void;
  /**
   * {@link fsync} off the calling thread (node:fs: libuv's thread pool), so the caller runs on
   * while the disk flushes; optional: {@link fsyncInBackground} falls back to a deferred `fsync`.
   */
  fsyncAsync?(fd: number): Promise<void>;
  /** The file's size in bytes. */
  size(fd: number): number;
  /** Closes the descriptor (closing does not make anything durable). */
  close(fd: number): void;
  /** True if `file` exists. */
  exists(file: string): boolean;
  /** Renames atomically, replacing `to`; durable once the directory is fsynced. */
  rename(from: string, to: string): void;
  /** Removes `file` (no error if missing); durable once the directory is fsynced. */
  unlink(file: string): void;
  /** Makes the directory's entries (creates, renames, unlinks) durable. */
  fsyncDir(dir: string): void;
  /** Creates `dir` and its parents if missing. */
  mkdir(dir: string): void;
  /** Names in `dir`, sorted. */
  readdir(dir: string): string[];
}

function nodeFlags(flags: OpenFlags): number {
  const c = fs.constants;
  let f = flags.readOnly ? c.O_RDONLY : c.O_RDWR;
  if (flags.create) f |= c.O_CREAT;
  if (flags.exclusive) f |= c.O_EXCL;
  if (flags.truncate) f |= c.O_TRUNC;
  return f;
}

/** The port over node:fs (synchronous calls; Deno's node:fs too). */
export const nodeFilePort: FilePort = {
  open: (file, flags = {}) => fs.openSync(file, nodeFlags(flags), 0o644),
  read: (fd, buffer, offset, length, position) => fs.readSync(fd, buffer, offset, length, position),
  write: (fd, buffer, offset, length, position) => fs.writeSync(fd, buffer, offset, length, position),
  truncate: (fd, size) => fs.ftruncateSync(fd, size),
  fsync: (fd) => fs.fsyncSync(fd),
  fsyncAsync: (fd) =>
    new Promise<void>((resolve, reject) => fs.fsync(fd, (e) => (e === null ? resolve() : reject(e)))),
  size: (fd) => fs.fstatSync(fd).size,
  close: (fd) => fs.closeSync(fd),
  exists: (file) => fs.existsSync(file),
  rename: (from, to) => fs.renameSync(from, to),
  unlink: (file) => fs.rmSync(file, { force: true }),
  fsyncDir: (dir) => {
    const fd = fs.openSync(dir, fs.constants.O_RDONLY);
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  },
  mkdir: (dir) => void fs.mkdirSync(dir, { recursive: true }),
  readdir: (dir) => fs.readdirSync(dir).sort(),
};

/** A `STORE_IO` error for a failed file operation, with the errno error as its cause. */
export function ioError(what: string, file: string, cause: unknown): ChainDbError {
  const code = (cause as { code?: string })?.code ?? "error";
  return new ChainDbError(
    ErrorCode.STORE_IO,
    `${what} ${file} failed (${code}): the store stops; reopen it to recover`,
    { cause },
  );
}

/** Writes all of `bytes` at `position` (a short write is retried; an error is `STORE_IO`). */
export function writeFully(
  port: FilePort,
  fd: number,
  bytes: Uint8Array,
  position: number,
  file: string,
): void {
  let done = 0;
  // Bounded: every iteration writes at least one byte or throws.
  while (done < bytes.length) {
    let n: number;
    try {
      n = port.write(fd, bytes, done, bytes.length - done, position + done);
    } catch (cause) {
      throw ioError("write to", file, cause);
    }
    if (n <= 0)
      throw ioError("write to", file, Object.assign(new Error("write made no progress"), { code: "EIO" }));
    done += n;
  }
}

/** Reads exactly `length` bytes at `position` into `buffer[offset..]`; returns how many existed. */
export function readFully(
  port: FilePort,
  fd: number,
  buffer: Uint8Array,
  offset: number,
  length: number,
  position: number,
  file: string,
): number {
  let done = 0;
  while (done < length) {
    let n: number;
    try {
      n = port.read(fd, buffer, offset + done, length - done, position + done);
    } catch (cause) {
      throw ioError("read of", file, cause);
    }
    if (n === 0) break;
    done += n;
  }
  return done;
}

/** fsync, with an error surfaced as `STORE_IO`. */
export function fsyncOrThrow(port: FilePort, fd: number, file: string): void {
  try {
    port.fsync(fd);
  } catch (cause) {
    throw ioError("fsync of", file, cause);
  }
}

/**
 * fsync that runs while the caller goes on: the port's {@link FilePort.fsyncAsync}, or else its
 * `fsync` on a later macrotask (a `FaultFs`: the same ordering, with the flush simulated). Writes
 * made before the call are durable when the promise resolves; later ones may or may not be.
 * Rejects with `STORE_IO`.
 */
export function fsyncInBackground(port: FilePort, fd: number, file: string): Promise<void> {
  const started =
    port.fsyncAsync !== undefined
      ? port.fsyncAsync(fd)
      : new Promise<void>((resolve, reject) =>
          setImmediate(() => {
            try {
              port.fsync(fd);
              resolve();
            } catch (e) {
              reject(e as Error);
            }
          }),
        );
  return started.catch((cause: unknown) => {
    throw ioError("fsync of", file, cause);
  });
}

/** fsync of the directory holding `file`, with an error surfaced as `STORE_IO`. */
export function fsyncParent(port: FilePort, file: string): void {
  const dir = path.dirname(file);
  try {
    port.fsyncDir(dir);
  } catch (cause) {
    throw ioError("fsync of directory", dir, cause);
  }
}

/** Whole-file replace: write `bytes` to `file.tmp`, fsync, rename over `file`, fsync the directory. */
export function writeFileAtomic(port: FilePort, file: string, bytes: Uint8Array): void {
  const tmp = `${file}.tmp`;
  let fd: number;
  try {
    fd = port.open(tmp, { create: true, truncate: true });
  } catch (cause) {
    throw ioError("create of", tmp, cause);
  }
  try {
    writeFully(port, fd, bytes, 0, tmp);
    fsyncOrThrow(port, fd, tmp);
  } finally {
    port.close(fd);
  }
  try {
    port.rename(tmp, file);
  } catch (cause) {
    throw ioError("rename onto", file, cause);
  }
  fsyncParent(port, file);
}

/** The whole content of a small file (records, snapshots), or undefined when it does not exist. */
export function readSmallFile(port: FilePort, file: string, maxBytes: number): Uint8Array | undefined {
  if (!port.exists(file)) return undefined;
  const fd = port.open(file, { readOnly: true });
  try {
    const size = port.size(fd);
    if (size > maxBytes)
      throw new ChainDbError(
        ErrorCode.STORE_CORRUPT,
        `${file} is ${size} bytes, more than the ${maxBytes} a record file may hold`,
      );
    const out = new Uint8Array(size);
    const got = readFully(port, fd, out, 0, size, 0, file);
    return out.subarray(0, got);
  } finally {
    port.close(fd);
  }
}
