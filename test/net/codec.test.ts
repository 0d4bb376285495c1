// The net message codec (bindings/net/codec.ts): round trips, issue 14's costly inputs refused by
// bounded checks (the error names where the scan stopped, so the assertion counts work, not time),
// and fuzzing with random bytes, random JSON and mutated valid encodings.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ChainDbError, ErrorCode } from "../../bindings/util/index.ts";
import {
  BIGINT_DIGITS_MAX,
  MESSAGE_CONTAINERS_MAX,
  MESSAGE_DEPTH_MAX,
  decodeMessage,
  encodeMessage,
  type MessageValue,
} from "../../bindings/net/index.ts";

const te = new TextEncoder();
const value: fc.Arbitrary<MessageValue> = fc.letrec<{ v: MessageValue }>((tie) => ({
  v: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    fc.integer(),
    fc.string({ maxLength: 8 }),
    fc.bigInt({ min: -(1n << 256n), max: 1n << 256n }),
    fc.uint8Array({ maxLength: 16 }),
    fc.array(tie("v"), { maxLength: 4 }),
    fc.dictionary(
      fc.string({ minLength: 2, maxLength: 6 }).filter((k) => !k.startsWith("$")),
      tie("v"),
      { maxKeys: 4 },
    ),
  ),
})).v;

function decodeOrCoded(bytes: Uint8Array): MessageValue | undefined {
  try {
    return decodeMessage(bytes);
  } catch (error) {
    expect(error).toBeInstanceOf(ChainDbError);
    expect((error as ChainDbError).code).toBe(ErrorCode.BAD_MESSAGE);
    return undefined;
  }
}

describe("net message codec", () => {
  it("round-trips values with byte arrays and bigints", () => {
    fc.assert(
      fc.property(value, (v) => {
        expect(decodeMessage(encodeMessage(v))).toEqual(v);
      }),
      { numRuns: 500, seed: 1409 },
    );
    expect(decodeMessage(encodeMessage({ a: 1n << 255n, b: new Uint8Array([1, 2]) }))).toEqual({
      a: 1n << 255n,
      b: new Uint8Array([1, 2]),
    });
  });

  it("refuses deep nesting where the scan crosses the limit, not after parsing it", () => {
    const deep = te.encode("[".repeat(1_000_000) + "]".repeat(1_000_000)); // issue 14 sent 8M deep
    expect(() => decodeMessage(deep)).toThrowError(
      expect.objectContaining({
        code: ErrorCode.BAD_MESSAGE,
        message: `message nested deeper than ${MESSAGE_DEPTH_MAX} at byte ${MESSAGE_DEPTH_MAX}`,
      }),
    );
    const nested = (n: number) => te.encode("[".repeat(n) + "]".repeat(n));
    expect(decodeMessage(nested(MESSAGE_DEPTH_MAX))).toBeDefined();
    // brackets inside strings do not count
    expect(decodeMessage(te.encode(JSON.stringify({ s: "[".repeat(100) + '\\"{' })))).toEqual({
      s: "[".repeat(100) + '\\"{',
    });
  });

  it("refuses a huge $n before BigInt parses it", () => {
    const digits = (n: number) => te.encode(`{"$n":"${"7".repeat(n)}"}`);
    expect(decodeMessage(digits(BIGINT_DIGITS_MAX))).toBe(BigInt("7".repeat(BIGINT_DIGITS_MAX)));
    expect(() => decodeMessage(digits(2_000_000))).toThrowError(
      expect.objectContaining({
        code: ErrorCode.BAD_MESSAGE,
        message: `bigint of 2000000 characters exceeds ${BIGINT_DIGITS_MAX} digits`,
      }),
    );
    expect(() => decodeMessage(te.encode('{"$n":"12x"}'))).toThrowError(
      expect.objectContaining({ code: ErrorCode.BAD_MESSAGE }),
    );
  });

  it("refuses more than MESSAGE_CONTAINERS_MAX objects where the scan crosses the limit", () => {
    const many = te.encode(`[${Array.from({ length: 1_000_000 }, () => '{"$b":"00"}').join(",")}]`); // issue 14's 1M $b objects
    const at = 1 + MESSAGE_CONTAINERS_MAX * 12 - 12; // "[" then 12 bytes per '{"$b":"00"},'
    expect(() => decodeMessage(many)).toThrowError(
      expect.objectContaining({
        code: ErrorCode.BAD_MESSAGE,
        message: `message has more than ${MESSAGE_CONTAINERS_MAX} objects and arrays (byte ${at})`,
      }),
    );
  });

  it("fuzz: random bytes, random JSON and mutated encodings decode or throw BAD_MESSAGE", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => void decodeOrCoded(bytes)),
      { numRuns: 2000, seed: 1410 },
    );
    fc.assert(
      fc.property(fc.json({ maxDepth: 40 }), (text) => void decodeOrCoded(te.encode(text))),
      { numRuns: 1000, seed: 1411 },
    );
    fc.assert(
      fc.property(
        value,
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 3 }),
        (v, edits) => {
          const bytes = encodeMessage(v).slice();
          for (const [at, x] of edits) bytes[at % bytes.length] = x;
          decodeOrCoded(bytes);
        },
      ),
      { numRuns: 2000, seed: 1412 },
    );
  });
});
