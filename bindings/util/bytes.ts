/**
 * Byte helpers: asserting checks that return their argument (noble-hashes style) and hex codecs.
 * @module
 */
import { ChainDbError, ErrorCode } from "./errors.ts";

/** Checks that `value` is a Uint8Array (of `length` bytes if given) and returns it. */
export function abytes(value: unknown, length: number | undefined, name: string): Uint8Array {
  if (!(value instanceof Uint8Array)) {
    throw new ChainDbError(ErrorCode.BAD_ARGUMENT, `"${name}" expected Uint8Array, got ${describe(value)}`);
  }
  if (length !== undefined && value.length !== length) {
    throw new ChainDbError(ErrorCode.BAD_LENGTH, `"${name}" expected ${length} bytes, got ${value.length}`);
  }
  return value;
}

/** Checks that `value` is an integer in [min, max] and returns it. */
export function aint(value: unknown, min: number, max: number, name: string): number {
  if (typeof value !== "number" || !Number.isInteger(value)) {
    throw new ChainDbError(ErrorCode.BAD_ARGUMENT, `"${name}" expected an integer, got ${describe(value)}`);
  }
  if (value < min || value > max) {
    throw new ChainDbError(
      ErrorCode.BAD_RANGE,
      `"${name}" expected an integer in [${min}, ${max}], got ${value}`,
    );
  }
  return value;
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (value instanceof Uint8Array) return `Uint8Array(${value.length})`;
  return typeof value === "object" ? (value.constructor?.name ?? "object") : typeof value;
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/** Lowercase hex of `bytes`. */
export function toHex(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i++) out += HEX[bytes[i]!];
  return out;
}

/** Decodes hex (upper or lower case, optional `0x`); throws `BAD_HEX` on malformed input. */
export function fromHex(hex: string, name = "hex"): Uint8Array {
  if (typeof hex !== "string") {
    throw new ChainDbError(ErrorCode.BAD_HEX, `"${name}" expected a hex string, got ${describe(hex)}`);
  }
  const s = hex.startsWith("0x") || hex.startsWith("0X") ? hex.slice(2) : hex;
  if (s.length % 2 !== 0)
    throw new ChainDbError(ErrorCode.BAD_HEX, `"${name}" has an odd number of hex digits (${s.length})`);
  if (!/^[0-9a-fA-F]*$/.test(s))
    throw new ChainDbError(ErrorCode.BAD_HEX, `"${name}" contains a character that is not a hex digit`);
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** A reversed copy of `bytes` (Bitcoin shows hashes byte-reversed). */
export function reverseBytes(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes).reverse(); // a copy for any view (a Buffer's slice would alias)
}

/** Byte-wise equality. */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
