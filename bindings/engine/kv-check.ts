/**
 * Argument checks shared by both key-value stores, so both reject bad input identically.
 * @module
 */
import { ChainDbError, ErrorCode, abytes } from "../util/index.ts";
import { KV_DEPTH_MAX, KV_KEY_MAX, KV_VALUE_MAX } from "./kv-types.ts";

/** Checks a key: a Uint8Array of 1..1024 bytes. */
export function checkKey(key: unknown): Uint8Array {
  const k = abytes(key, undefined, "key");
  if (k.length === 0 || k.length > KV_KEY_MAX) {
    throw new ChainDbError(ErrorCode.BAD_LENGTH, `"key" expected 1..${KV_KEY_MAX} bytes, got ${k.length}`);
  }
  return k;
}

/** Checks a value: a Uint8Array of 0..65536 bytes. */
export function checkValue(value: unknown): Uint8Array {
  const v = abytes(value, undefined, "value");
  if (v.length > KV_VALUE_MAX) {
    throw new ChainDbError(
      ErrorCode.BAD_LENGTH,
      `"value" expected 0..${KV_VALUE_MAX} bytes, got ${v.length}`,
    );
  }
  return v;
}

/** Throws unless another checkpoint may be opened at `depth`. */
export function checkCanCheckpoint(depth: number): void {
  if (depth >= KV_DEPTH_MAX) {
    throw new ChainDbError(ErrorCode.BAD_RANGE, `checkpoints nest at most ${KV_DEPTH_MAX} deep`);
  }
}

/** Throws NO_CHECKPOINT when none is open. */
export function checkOpenCheckpoint(depth: number, op: string): void {
  if (depth === 0) throw new ChainDbError(ErrorCode.NO_CHECKPOINT, `${op}: no checkpoint is open`);
}
