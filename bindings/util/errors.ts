/**
 * Typed errors for expected failures. Every failure a caller can cause carries a stable `code`
 * from {@link ErrorCode}; a broken invariant is a bug and goes through {@link assert} instead.
 * @module
 */

/** Stable error codes; callers switch on these, never on messages. */
export const ErrorCode = {
  BAD_LENGTH: "BAD_LENGTH",
  BAD_HEX: "BAD_HEX",
  BAD_BITS: "BAD_BITS",
  BAD_NONCE: "BAD_NONCE",
  BAD_RANGE: "BAD_RANGE",
  BAD_ARGUMENT: "BAD_ARGUMENT",
  BAD_ENGINE: "BAD_ENGINE",
  NONCE_SPACE_EXHAUSTED: "NONCE_SPACE_EXHAUSTED",
  ABORTED: "ABORTED",
  WASM_UNAVAILABLE: "WASM_UNAVAILABLE",
  WORKER_FAILED: "WORKER_FAILED",
  // concurrency (bindings/concurrency/, bindings/txn/)
  LOCK_TIMEOUT: "LOCK_TIMEOUT",
  LOCK_RECURSION: "LOCK_RECURSION",
  LOCK_QUEUE_FULL: "LOCK_QUEUE_FULL",
  NOT_OWNER: "NOT_OWNER",
  SEMAPHORE_OVERFLOW: "SEMAPHORE_OVERFLOW",
  TX_DEADLOCK: "TX_DEADLOCK",
  TX_CONFLICT: "TX_CONFLICT",
  TX_ABORTED: "TX_ABORTED",
  TX_INVARIANT: "TX_INVARIANT",
  // storage and ledger (bindings/store/, bindings/chain/ledger.ts)
  OUT_OF_MEMORY: "OUT_OF_MEMORY",
  NO_CHECKPOINT: "NO_CHECKPOINT",
  INSUFFICIENT_FUNDS: "INSUFFICIENT_FUNDS",
  OVERFLOW: "OVERFLOW",
  SELF_TRANSFER: "SELF_TRANSFER",
  BAD_SIGNATURE: "BAD_SIGNATURE",
  WRONG_CHAIN: "WRONG_CHAIN",
  BAD_TRANSFER: "BAD_TRANSFER",
  BAD_PROOF: "BAD_PROOF",
  STORE_CORRUPT: "STORE_CORRUPT",
  STORE_IO: "STORE_IO",
  NOT_CHAINDB: "NOT_CHAINDB",
  STORE_MISMATCH: "STORE_MISMATCH",
  STORE_FORMAT: "STORE_FORMAT",
  CLOSED: "CLOSED",
  BUSY: "BUSY",
  // the protocol driver (bindings/protocol/)
  INBOX_FULL: "INBOX_FULL",
  EFFECT_LIMIT: "EFFECT_LIMIT",
  // consensus (bindings/consensus/, bindings/selection/); BAD_MESSAGE is shared with the net layer
  DOUBLE_SIGN: "DOUBLE_SIGN",
  WAL_CORRUPT: "WAL_CORRUPT",
  NOT_VALIDATOR: "NOT_VALIDATOR",
  // mempool (bindings/consensus/mempool.ts)
  NONCE_GAP: "NONCE_GAP",
  FEE_TOO_LOW: "FEE_TOO_LOW",
  MEMPOOL_SENDER_LIMIT: "MEMPOOL_SENDER_LIMIT",
  MEMPOOL_FULL: "MEMPOOL_FULL",
  // the nodes' HTTP API (bindings/cli/http.ts)
  RATE_LIMITED: "RATE_LIMITED",
  UNAUTHORIZED: "UNAUTHORIZED",
  NOT_FOUND: "NOT_FOUND",
  // network and replication (bindings/net/, bindings/replication/)
  BAD_MESSAGE: "BAD_MESSAGE",
  FRAME_TOO_LARGE: "FRAME_TOO_LARGE",
  HANDSHAKE_FAILED: "HANDSHAKE_FAILED",
  PEER_UNKNOWN: "PEER_UNKNOWN",
  NOT_PRIMARY: "NOT_PRIMARY",
  STALE_EPOCH: "STALE_EPOCH",
  REPLICATION_TIMEOUT: "REPLICATION_TIMEOUT",
} as const;

/** One of the stable error codes. */
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** An expected failure with a stable machine-readable `code`. */
export class ChainDbError extends Error {
  /** Stable code, e.g. `BAD_LENGTH`. */
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ChainDbError";
    this.code = code;
  }
}

/** Crash loudly on a broken invariant (a bug, not bad input). */
export function assert(condition: unknown, message = "assertion failed"): asserts condition {
  if (!condition) throw new Error(`chaindb internal error: ${message}`);
}

/**
 * `items[index]` for an index the caller knows is in range: an index outside `[0, length)` is a
 * bug and crashes loudly, where a plain read would carry `undefined` on (noUncheckedIndexedAccess
 * types plain reads as possibly undefined; this is the checked way to read one).
 */
export function at<T>(items: ArrayLike<T>, index: number): T {
  assert(
    Number.isInteger(index) && index >= 0 && index < items.length,
    `index ${index} outside [0, ${items.length})`,
  );
  return items[index] as T;
}
