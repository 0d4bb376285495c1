/**
 * Loads @sqlite.org/sqlite-wasm once per process and registers the node:fs VFS with it.
 * @module
 */
import { ChainDbError, ErrorCode } from "../util/index.ts";
import { installNodeVfs } from "./node-vfs.ts";

// deno-lint-ignore no-explicit-any
type Sqlite3 = any;

let loading: Promise<Sqlite3> | undefined;

/** The initialised sqlite3 namespace, with the node:fs VFS installed. */
export function loadSqlite(): Promise<Sqlite3> {
  loading ??= (async () => {
    try {
      const { default: init } = await import("@sqlite.org/sqlite-wasm");
      const sqlite3 = await (init as unknown as (opts?: object) => Promise<Sqlite3>)({
        print: () => {},
        printErr: () => {},
      });
      installNodeVfs(sqlite3);
      return sqlite3;
    } catch (cause) {
      loading = undefined;
      throw new ChainDbError(ErrorCode.WASM_UNAVAILABLE, "cannot load @sqlite.org/sqlite-wasm", { cause });
    }
  })();
  return loading;
}
