/**
 * A small self-describing message codec for protocol messages: JSON in UTF-8, with byte arrays
 * as `{"$b": hex}` and bigints as `{"$n": decimal}`. Chosen for debuggability of simulated traces
 * over compactness; hot paths (block bodies) travel as byte arrays inside it. Decoding rejects
 * anything that is not exactly what an encoder produces, with `BAD_MESSAGE`.
 *
 * Decoding work is bounded before JSON.parse runs: one linear scan refuses nesting deeper than
 * {@link MESSAGE_DEPTH_MAX} and more than {@link MESSAGE_CONTAINERS_MAX} objects and arrays, and a
 * `$n` longer than {@link BIGINT_DIGITS_MAX} digits is refused before BigInt parses it (a
 * 16M-digit `$n`, 8M-deep nesting or 1M `$b` objects cost seconds of CPU per frame, issue 14).
 * @module
 */
import { ChainDbError, ErrorCode, fromHex, toHex } from "../util/index.ts";

/** What the codec carries. */
export type MessageValue =
  | null
  | boolean
  | number
  | string
  | bigint
  | Uint8Array
  | readonly MessageValue[]
  | { readonly [key: string]: MessageValue | undefined };

/** Deepest nesting of objects and arrays a message may have. */
export const MESSAGE_DEPTH_MAX = 32;
/** Most objects and arrays in one message. */
export const MESSAGE_CONTAINERS_MAX = 65_536;
/** Most decimal digits of a `$n` (a u256 has 78). */
export const BIGINT_DIGITS_MAX = 80;

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** Encodes a message value. */
export function encodeMessage(value: MessageValue): Uint8Array {
  // Read the holder's own value: JSON.stringify applies toJSON (a Node Buffer's) before the replacer.
  return encoder.encode(
    JSON.stringify(value, function (this: Record<string, unknown>, key: string, v: unknown) {
      const original = key === "" ? v : this[key];
      if (typeof original === "bigint") return { $n: original.toString() };
      if (original instanceof Uint8Array) return { $b: toHex(original) };
      return v;
    }),
  );
}

/** Decodes bytes produced by {@link encodeMessage}; throws `BAD_MESSAGE` on anything else. */
export function decodeMessage(bytes: Uint8Array): MessageValue {
  checkShape(bytes);
  let text: string;
  try {
    text = decoder.decode(bytes);
    return JSON.parse(text, (_key, v: unknown) => {
      if (v !== null && typeof v === "object" && !Array.isArray(v)) {
        const o = v as Record<string, unknown>;
        if (typeof o.$b === "string" && Object.keys(o).length === 1) return fromHex(o.$b);
        if (typeof o.$n === "string" && Object.keys(o).length === 1) return parseBigint(o.$n);
      }
      return v;
    }) as MessageValue;
  } catch (error) {
    if (error instanceof ChainDbError && error.code === ErrorCode.BAD_MESSAGE) throw error;
    throw new ChainDbError(ErrorCode.BAD_MESSAGE, "undecodable message", { cause: error });
  }
}

function parseBigint(digits: string): bigint {
  if (digits.length > BIGINT_DIGITS_MAX + 1)
    throw new ChainDbError(
      ErrorCode.BAD_MESSAGE,
      `bigint of ${digits.length} characters exceeds ${BIGINT_DIGITS_MAX} digits`,
    );
  if (!/^-?\d+$/.test(digits))
    throw new ChainDbError(ErrorCode.BAD_MESSAGE, "bigint is not a decimal integer");
  return BigInt(digits);
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** One pass over the bytes: refuses deep nesting and too many containers before parsing. */
function checkShape(bytes: Uint8Array): void {
  let depth = 0;
  let containers = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i]!;
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
      continue;
    }
    if (c === QUOTE) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > MESSAGE_DEPTH_MAX)
        throw new ChainDbError(
          ErrorCode.BAD_MESSAGE,
          `message nested deeper than ${MESSAGE_DEPTH_MAX} at byte ${i}`,
        );
      if (++containers > MESSAGE_CONTAINERS_MAX)
        throw new ChainDbError(
          ErrorCode.BAD_MESSAGE,
          `message has more than ${MESSAGE_CONTAINERS_MAX} objects and arrays (byte ${i})`,
        );
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
}
