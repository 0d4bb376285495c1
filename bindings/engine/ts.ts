/**
 * The pure-TypeScript engine: SHA-256 (FIPS 180-4) on @noble/hashes, the proof-of-work nonce
 * search on the hand-written midstate SHA-256d of `sha256-ts.ts`, and Bitcoin's merkle root.
 * It is the reference the `wasm` engine is tested against, and the fallback where WebAssembly
 * is unavailable.
 * @module
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { ChainDbError, ErrorCode, abytes } from "../util/index.ts";
import { TsKvStore } from "./kv-ts.ts";
import { searchNonceTs } from "./sha256-ts.ts";
import { createTsState } from "./state-ts.ts";
import type { Engine, SearchResult } from "./types.ts";
import { checkLeaves, checkSearchArgs } from "./validate.ts";

/** sha256(sha256(data)). */
function sha256d(data: Uint8Array): Uint8Array {
  return sha256(sha256(abytes(data, undefined, "data")));
}

/**
 * Bitcoin's merkle root (consensus/merkle.cpp): pairs are concatenated and hashed with sha256d;
 * a level with an odd count duplicates its last hash. One leaf is its own root.
 */
function merkleRoot(hashes: readonly Uint8Array[]): Uint8Array {
  checkLeaves(hashes); // also refuses an empty list
  let level: Uint8Array[] = hashes.map((h) => h.slice());
  const pair = new Uint8Array(64);
  while (level.length > 1) {
    const next: Uint8Array[] = [];
    for (let i = 0; i < level.length; i += 2) {
      pair.set(level[i]!, 0);
      pair.set(level[i + 1] ?? level[i]!, 32);
      next.push(sha256(sha256(pair)));
    }
    level = next;
  }
  return level[0]!;
}

/** Creates the pure-TypeScript engine (synchronous; `createEngine("ts")` awaits it all the same). */
export function createTsEngine(): Engine {
  return {
    name: "ts",
    sha256: (data) => sha256(abytes(data, undefined, "data")),
    sha256d,
    sha256Many: (messages) => {
      if (!Array.isArray(messages))
        throw new ChainDbError(ErrorCode.BAD_ARGUMENT, `"messages" expected an array`);
      return messages.map((m, i) => sha256(abytes(m, undefined, `messages[${i}]`)));
    },
    searchNonce(header, target, startNonce, count): SearchResult {
      checkSearchArgs(header, target, startNonce, count);
      return searchNonceTs(header, target, startNonce, count);
    },
    merkleRoot,
    createKvStore: () => Promise.resolve(new TsKvStore()),
    createLedgerState: () => Promise.resolve(createTsState()),
  };
}
