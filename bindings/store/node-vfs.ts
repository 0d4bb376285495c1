/**
 * A SQLite VFS over synchronous node:fs for @sqlite.org/sqlite-wasm, whose Node build has no file
 * storage of its own (SQLite "The OS Interface Object", https://sqlite.org/c3ref/vfs.html, and
 * "sqlite3_io_methods", https://sqlite.org/c3ref/io_methods.html). node:fs exists in Node and Deno.
 *
 * - xSync is fsync (fdatasync for SQLITE_SYNC_DATAONLY); a created file also fsyncs its directory,
 *   so the new directory entry survives a crash.
 * - Locks are recorded but not enforced across processes: the database must be opened with
 *   `PRAGMA locking_mode=EXCLUSIVE` before `journal_mode=WAL`, so SQLite keeps the WAL index in
 *   heap memory and never calls the xShm* methods (https://sqlite.org/wal.html#noshm). One process
 *   per directory is enforced by the ledger's LOCK file instead.
 * @module
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { tmpdir } from "node:os";

/** The sqlite3 namespace object from sqlite3InitModule() (typed loosely: only what we touch). */
// deno-lint-ignore no-explicit-any
type Sqlite3 = any;

interface OpenFile {
  fd: number;
  path: string;
  deleteOnClose: boolean;
  lockType: number;
}

/** Name under which the VFS is registered. */
export const NODE_VFS_NAME = "chaindb-nodefs";

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
const SQLITE_OPEN_READONLY = 0x1;
const SQLITE_OPEN_CREATE = 0x4;
const SQLITE_OPEN_DELETEONCLOSE = 0x8;
const SQLITE_SYNC_DATAONLY = 0x10;
const SQLITE_ACCESS_READWRITE = 1;

let tempCounter = 0;
let installed = false;

function fsyncDir(file: string): void {
  // Directories cannot be fsynced on every platform; a failure there is not a data loss by itself.
  try {
    const fd = fs.openSync(path.dirname(file), "r");
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    /* not supported here */
  }
}

/** Registers the VFS once per sqlite3 instance (idempotent). */
export function installNodeVfs(sqlite3: Sqlite3): void {
  if (installed) return;
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
      try {
        fs.closeSync(f.fd);
        if (f.deleteOnClose) fs.rmSync(f.path, { force: true });
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
          const got = fs.readSync(f.fd, heap(), pDest + done, n - done, offset(at) + done);
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
        while (done < n) done += fs.writeSync(f.fd, heap(), pSrc + done, n - done, offset(at) + done);
        return SQLITE_OK;
      } catch {
        return SQLITE_IOERR_WRITE;
      }
    },
    xTruncate(pFile: number, size: number | bigint): number {
      try {
        fs.ftruncateSync(files.get(pFile)!.fd, offset(size));
        return SQLITE_OK;
      } catch {
        return SQLITE_IOERR_TRUNCATE;
      }
    },
    xSync(pFile: number, flags: number): number {
      try {
        const fd = files.get(pFile)!.fd;
        if (flags & SQLITE_SYNC_DATAONLY) fs.fdatasyncSync(fd);
        else fs.fsyncSync(fd);
        return SQLITE_OK;
      } catch {
        return SQLITE_IOERR_FSYNC;
      }
    },
    xFileSize(pFile: number, pSize: number): number {
      try {
        wasm.poke(pSize, BigInt(fs.fstatSync(files.get(pFile)!.fd).size), "i64");
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
      return 0;
    },
  };

  const methods = {
    xOpen(_pVfs: number, zName: number, pFile: number, flags: number, pOutFlags: number): number {
      let name = zName ? wasm.cstrToJs(zName) : null;
      const deleteOnClose = name === null || (flags & SQLITE_OPEN_DELETEONCLOSE) !== 0;
      name ??= path.join(tmpdir(), `chaindb-sqlite-${process.pid}-${++tempCounter}`);
      try {
        const exists = fs.existsSync(name);
        if (!exists && !(flags & SQLITE_OPEN_CREATE)) return SQLITE_CANTOPEN;
        const fd = fs.openSync(name, flags & SQLITE_OPEN_READONLY ? "r" : exists ? "r+" : "w+");
        if (!exists) fsyncDir(name);
        files.set(pFile, { fd, path: name, deleteOnClose, lockType: 0 });
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
      try {
        fs.rmSync(name, { force: true });
        if (syncDir) fsyncDir(name);
        return SQLITE_OK;
      } catch {
        return SQLITE_IOERR_DELETE;
      }
    },
    xAccess(_pVfs: number, zName: number, flags: number, pOut: number): number {
      const name = wasm.cstrToJs(zName);
      let ok: number;
      try {
        fs.accessSync(name, flags === SQLITE_ACCESS_READWRITE ? fs.constants.R_OK | fs.constants.W_OK : fs.constants.F_OK);
        ok = 1;
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
    vfs: { struct: vfs, methods, name: NODE_VFS_NAME, asDefault: false },
  });
  installed = true;
}
