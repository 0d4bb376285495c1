/**
 * A small self-describing message codec for protocol messages: JSON in UTF-8, with byte arrays
 * as `{"$b": hex}` and bigints as `{"$n": decimal}`. Chosen for debuggability of simulated traces
 * over compactness; hot paths (block bodies) travel as byte arrays inside it. Decoding rejects
 * anything that is not exactly what an encoder produces, with `BAD_MESSAGE`.
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

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** Encodes a message value. */
export function encodeMessage(value: MessageValue): Uint8Array {
  // Read the holder's own value: JSON.stringify applies toJSON (a Node Buffer's) before the replacer.
  return encoder.encode(JSON.stringify(value, function (this: Record<string, unknown>, key: string, v: unknown) {
    const original = key === "" ? v : this[key];
    if (typeof original === "bigint") return { $n: original.toString() };
    if (original instanceof Uint8Array) return { $b: toHex(original) };
    return v;
  }));
}

/** Decodes bytes produced by {@link encodeMessage}; throws `BAD_MESSAGE` on anything else. */
export function decodeMessage(bytes: Uint8Array): MessageValue {
  let text: string;
  try {
    text = decoder.decode(bytes);
    return JSON.parse(text, (_key, v: unknown) => {
      if (v !== null && typeof v === "object" && !Array.isArray(v)) {
        const o = v as Record<string, unknown>;
        if (typeof o.$b === "string" && Object.keys(o).length === 1) return fromHex(o.$b);
        if (typeof o.$n === "string" && Object.keys(o).length === 1 && /^-?\d+$/.test(o.$n)) return BigInt(o.$n);
      }
      return v;
    }) as MessageValue;
  } catch (error) {
    throw new ChainDbError(ErrorCode.BAD_MESSAGE, "undecodable message", { cause: error });
  }
}
