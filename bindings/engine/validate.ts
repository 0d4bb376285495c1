/**
 * Argument checks shared by both engines, so both reject bad input with the same typed errors.
 * @module
 */
import { ChainDbError, ErrorCode, abytes } from "../util/index.ts";

/** Size of Bitcoin's nonce space: the nonce field is a u32. */
export const NONCE_SPACE = 2 ** 32;

/** Validates `searchNonce` arguments; a range that would wrap past 2^32 is refused, never wrapped. */
export function checkSearchArgs(
  header: Uint8Array,
  target: Uint8Array,
  startNonce: number,
  count: number,
): void {
  abytes(header, 80, "header");
  abytes(target, 32, "target");
  if (!Number.isInteger(startNonce) || startNonce < 0 || startNonce >= NONCE_SPACE) {
    throw new ChainDbError(
      ErrorCode.BAD_NONCE,
      `"startNonce" expected an integer in [0, 2^32), got ${startNonce}`,
    );
  }
  if (!Number.isInteger(count) || count < 0) {
    throw new ChainDbError(ErrorCode.BAD_RANGE, `"count" expected a non-negative integer, got ${count}`);
  }
  if (startNonce + count > NONCE_SPACE) {
    throw new ChainDbError(
      ErrorCode.BAD_RANGE,
      `nonce range [${startNonce}, ${startNonce + count}) goes beyond the 2^32 nonce space`,
    );
  }
}

/** Validates merkle leaves: at least one, each a 32-byte hash (a block always has a coinbase). */
export function checkLeaves(hashes: readonly Uint8Array[]): void {
  if (!Array.isArray(hashes)) throw new ChainDbError(ErrorCode.BAD_ARGUMENT, `"hashes" expected an array`);
  if (hashes.length === 0)
    throw new ChainDbError(ErrorCode.BAD_ARGUMENT, `"hashes" expected at least 1 hash, got 0`);
  hashes.forEach((h, i) => abytes(h, 32, `hashes[${i}]`));
}
