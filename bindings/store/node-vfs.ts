/**
 * A SQLite VFS over synchronous node:fs for @sqlite.org/sqlite-wasm, whose Node build has no file
 * storage of its own (SQLite "The OS Interface Object", https://sqlite.org/c3ref/vfs.html, and
 * "sqlite3_io_methods", https://sqlite.org/c3ref/io_methods.html). node:fs exists in Node and Deno.
 *
 * - Every file operation goes through a {@link FilePort}: node:fs for {@link NODE_VFS_NAME}, any
 *   port (the crash tests' fault-injecting file system) for {@link PORT_VFS_NAME}.
 * - xSync is fsync; a created or deleted file also fsyncs its directory, so the entry survives a
 *   crash, and a failed directory fsync is an I/O error (SQLITE_IOERR_DIR_FSYNC), never ignored.
 * - Locks are recorded but not enforced across processes: the database must be opened with
 *   `PRAGMA locking_mode=EXCLUSIVE` before `journal_mode=WAL`, so SQLite keeps the WAL index in
 *   heap memory and never calls the xShm* methods (https://sqlite.org/wal.html#noshm). One process
 *   per directory is enforced by the ledger's LOCK file instead.
 * @module
 */
import * as path from "node:path";
import { tmpdir } from "node:os";
import { nodeFilePort, type FilePort } from "./file-port.ts";

/** The sqlite3 namespace object from sqlite3InitModule() (typed loosely: only what we touch). */
// deno-lint-ignore no-explicit-any
type Sqlite3 = any;

interface OpenFile {
  fd: number;
  path: string;
  deleteOnClose: boolean;
  lockType: number;
  port: FilePort;
}

/** Name under which the node:fs VFS is registered. */
export const NODE_VFS_NAME = "chaindb-nodefs";
/** Name of the VFS over the port set with {@link setVfsPort} (one at a time per process: tests). */
export const PORT_VFS_NAME = "chaindb-port";

let portVfsPort: FilePort = nodeFilePort;

/** Sets the port that {@link PORT_VFS_NAME} uses from now on (crash tests: a `FaultFs`). */
export function setVfsPort(port: FilePort): void {
  portVfsPort = port;
}

const SQLITE_OK = 0;
const SQLITE_IOERR = 10;
const SQLITE_NOTFOUND = 12;
const SQLITE_CANTOPEN = 14;
const SQLITE_IOERR_SHORT_READ = 522;
const SQLITE_IOERR_WRITE = 778;
const SQLITE_IOERR_FSYNC = 1034;
const SQLITE_IOERR_TRUNCATE = 1546;
const SQLITE_IOERR_FSTAT = 1802;
const SQLITE_IOERR_DELETE = 2570;
const SQLITE_IOERR_DIR_FSYNC = 1290;
const SQLITE_IOCAP_POWERSAFE_OVERWRITE = 0x1000;
const SQLITE_OPEN_READONLY = 0x1;
const SQLITE_OPEN_CREATE = 0x4;
const SQLITE_OPEN_DELETEONCLOSE = 0x8;

let tempCounter = 0;
const installed = new Set<string>();
/** Files SQLite holds open, by VFS name and absolute path (for fsyncs the log schedules itself). */
const openByPath = new Map<string, OpenFile>();
const pathKey = (vfsName: string, file: string) => `${vfsName}\0${path.resolve(file)}`;

/**
 * The descriptor and port of `file` while SQLite holds it open through the VFS `vfsName`, or
 * undefined. The durable ledger fsyncs its WAL through this in the background (pipelined commit).
 */
export function openVfsFile(vfsName: string, file: string): { fd: number; port: FilePort } | undefined {
  const f = openByPath.get(pathKey(vfsName, file));
  return f === undefined ? undefined : { fd: f.fd, port: f.port };
}

/** Registers the node:fs VFS and the port VFS once per sqlite3 instance (idempotent). */
export function installNodeVfs(sqlite3: Sqlite3): void {
  installPortVfs(sqlite3, NODE_VFS_NAME, () => nodeFilePort);
  installPortVfs(sqlite3, PORT_VFS_NAME, () => portVfsPort);
}

/** Registers a VFS named `name` whose file operations go to `port()`. */
function installPortVfs(sqlite3: Sqlite3, vfsName: string, port: () => FilePort): void {
  if (installed.has(vfsName)) return;
  const { capi, wasm } = sqlite3;
  const files = new Map<number, OpenFile>();
  const ioMethods = new capi.sqlite3_io_methods();
  const vfs = new capi.sqlite3_vfs();
  const offset = (x: number | bigint) => Number(x);
  const heap = (): Uint8Array => wasm.heap8u();

  ioMethods.$iVersion = 1; // no xShm*: exclusive locking mode keeps the WAL index in the heap
  vfs.$iVersion = 2;
  vfs.$szOsFile = capi.sqlite3_file.structInfo.sizeof;
  vfs.$mxPathname = 1024;

  const io = {
    xClose(pFile: number): number {
      const f = files.get(pFile);
      if (!f) return SQLITE_OK;
      files.delete(pFile);
      if (openByPath.get(pathKey(vfsName, f.path)) === f) openByPath.delete(pathKey(vfsName, f.path));
      try {
        f.port.close(f.fd);
        if (f.deleteOnClose) f.port.unlink(f.path);
        return SQLITE_OK;
      } catch {
        return SQLITE_IOERR;
      }
    },
    xRead(pFile: number, pDest: number, n: number, at: number | bigint): number {
      const f = files.get(pFile)!;
      try {
        // Bounded: each read either makes progress or ends the loop.
        let done = 0;
        while (done < n) {
          const got = f.port.read(f.fd, heap(), pDest + done, n - done, offset(at) + done);
          if (got === 0) break;
          done += got;
        }
        if (done < n) {
          heap().fill(0, pDest + done, pDest + n);
          return SQLITE_IOERR_SHORT_READ;
        }
        return SQLITE_OK;
      } catch {
        return SQLITE_IOERR;
      }
    },
    xWrite(pFile: number, pSrc: number, n: number, at: number | bigint): number {
      const f = files.get(pFile)!;
      try {
        let done = 0;
        // Bounded: a write that makes no progress is an error.
        while (done < n) {
          const wrote = f.port.write(f.fd, heap(), pSrc + done, n - done, offset(at) + done);
          if (wrote <= 0) return SQLITE_IOERR_WRITE;
          done += wrote;
        }
        return SQLITE_OK;
      } catch {
        return SQLITE_IOERR_WRITE;
      }
    },
    xTruncate(pFile: number, size: number | bigint): number {
      try {
        const f = files.get(pFile)!;
        f.port.truncate(f.fd, offset(size));
        return SQLITE_OK;
      } catch {
        return SQLITE_IOERR_TRUNCATE;
      }
    },
    xSync(pFile: number): number {
      try {
        const f = files.get(pFile)!;
        f.port.fsync(f.fd);
        return SQLITE_OK;
      } catch {
        return SQLITE_IOERR_FSYNC;
      }
    },
    xFileSize(pFile: number, pSize: number): number {
      try {
        const f = files.get(pFile)!;
        wasm.poke(pSize, BigInt(f.port.size(f.fd)), "i64");
        return SQLITE_OK;
      } catch {
        return SQLITE_IOERR_FSTAT;
      }
    },
    xLock(pFile: number, lockType: number): number {
      files.get(pFile)!.lockType = lockType;
      return SQLITE_OK;
    },
    xUnlock(pFile: number, lockType: number): number {
      files.get(pFile)!.lockType = lockType;
      return SQLITE_OK;
    },
    xCheckReservedLock(_pFile: number, pOut: number): number {
      wasm.poke(pOut, 0, "i32");
      return SQLITE_OK;
    },
    xFileControl(): number {
      return SQLITE_NOTFOUND;
    },
    xSectorSize(): number {
      return 4096;
    },
    xDeviceCharacteristics(): number {
      // Powersafe overwrite (the unix VFS's default): a write changes only the bytes written, so
      // the WAL is not padded to a sector with copies of the commit frame. The padding's second
      // half was written after the commit's fsync: a failure there reported an error for a
      // commit that was already durable (found by the fault-FS suite, seed 5 of the EIO case).
      return SQLITE_IOCAP_POWERSAFE_OVERWRITE;
    },
  };

  const methods = {
    xOpen(_pVfs: number, zName: number, pFile: number, flags: number, pOutFlags: number): number {
      let name = zName ? wasm.cstrToJs(zName) : null;
      const deleteOnClose = name === null || (flags & SQLITE_OPEN_DELETEONCLOSE) !== 0;
      name ??= path.join(tmpdir(), `chaindb-sqlite-${process.pid}-${++tempCounter}`);
      const p = port();
      let fd: number;
      let exists: boolean;
      try {
        exists = p.exists(name);
        if (!exists && !(flags & SQLITE_OPEN_CREATE)) return SQLITE_CANTOPEN;
        fd = p.open(name, { readOnly: (flags & SQLITE_OPEN_READONLY) !== 0, create: !exists });
      } catch {
        return SQLITE_CANTOPEN;
      }
      try {
        if (!exists && !deleteOnClose) p.fsyncDir(path.dirname(name));
      } catch {
        p.close(fd);
        return SQLITE_IOERR_DIR_FSYNC;
      }
      try {
        const open: OpenFile = { fd, path: name, deleteOnClose, lockType: 0, port: p };
        files.set(pFile, open);
        openByPath.set(pathKey(vfsName, name), open);
        const file = new capi.sqlite3_file(pFile);
        file.$pMethods = ioMethods.pointer;
        file.dispose();
        if (pOutFlags) wasm.poke(pOutFlags, flags, "i32");
        return SQLITE_OK;
      } catch {
        return SQLITE_CANTOPEN;
      }
    },
    xDelete(_pVfs: number, zName: number, syncDir: number): number {
      const name = wasm.cstrToJs(zName);
      const p = port();
      try {
        p.unlink(name);
      } catch {
        return SQLITE_IOERR_DELETE;
      }
      try {
        if (syncDir) p.fsyncDir(path.dirname(name));
        return SQLITE_OK;
      } catch {
        return SQLITE_IOERR_DIR_FSYNC;
      }
    },
    xAccess(_pVfs: number, zName: number, _flags: number, pOut: number): number {
      const name = wasm.cstrToJs(zName);
      let ok: number;
      try {
        ok = port().exists(name) ? 1 : 0; // SQLITE_ACCESS_READWRITE: files we can see we can write
      } catch {
        ok = 0;
      }
      wasm.poke(pOut, ok, "i32");
      return SQLITE_OK;
    },
    xFullPathname(_pVfs: number, zName: number, nOut: number, zOut: number): number {
      const full = new TextEncoder().encode(path.resolve(wasm.cstrToJs(zName)));
      if (full.length + 1 > nOut) return SQLITE_CANTOPEN;
      heap().set(full, zOut);
      heap()[zOut + full.length] = 0;
      return SQLITE_OK;
    },
    xRandomness(_pVfs: number, n: number, zOut: number): number {
      const bytes = crypto.getRandomValues(new Uint8Array(n));
      heap().set(bytes, zOut);
      return n;
    },
    xSleep(): number {
      return SQLITE_OK;
    },
    xCurrentTime(_pVfs: number, pOut: number): number {
      wasm.poke(pOut, 2440587.5 + Date.now() / 86400000, "f64");
      return SQLITE_OK;
    },
    xCurrentTimeInt64(_pVfs: number, pOut: number): number {
      wasm.poke(pOut, BigInt(Date.now()) + 210866760000000n, "i64");
      return SQLITE_OK;
    },
    xGetLastError(): number {
      return SQLITE_OK;
    },
  };

  sqlite3.vfs.installVfs({
    io: { struct: ioMethods, methods: io },
    vfs: { struct: vfs, methods, name: vfsName, asDefault: false },
  });
  installed.add(vfsName);
}
