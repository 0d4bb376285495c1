/**
 * Shared helpers: typed errors, byte checks and hex.
 * @module
 */
export { ChainDbError, ErrorCode, assert, at } from "./errors.ts";
export { abytes, aint, toHex, fromHex, reverseBytes, equalBytes } from "./bytes.ts";
export { TokenBucket, RateLimiter, type Rate } from "./rate.ts";
