// The replication wire codec: round trips of every message type (property test against the
// encoder), issue 14's costly JSON payloads rejected at the first byte, and fuzzing with random and
// mutated valid encodings — each input decodes to a valid message or throws BAD_MESSAGE.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ChainDbError, ErrorCode } from "../../bindings/util/index.ts";
import {
  decodeReplicaMessage,
  encodeReplicaMessage,
  replicaMessageSize,
  type ReplicaMessage,
} from "../../bindings/replication/index.ts";

const height = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
const entry = fc.record({
  epoch: height,
  proposer: fc.uint8Array({ minLength: 32, maxLength: 32 }),
  transfers: fc
    .integer({ min: 0, max: 3 })
    .chain((n) => fc.uint8Array({ minLength: n * 157, maxLength: n * 157 })),
});
const message: fc.Arbitrary<ReplicaMessage> = fc.oneof(
  fc.record({
    t: fc.constant("append" as const),
    epoch: height,
    prevHeight: height,
    prevEpoch: height,
    entries: fc.array(entry, { maxLength: 4 }),
    commit: height,
  }),
  fc.record({ t: fc.constant("appendReply" as const), epoch: height, ok: fc.boolean(), height }),
  fc.record({ t: fc.constant("vote" as const), epoch: height, lastHeight: height, lastEpoch: height }),
  fc.record({ t: fc.constant("voteReply" as const), epoch: height, granted: fc.boolean() }),
);

/** Decodes, asserting the only failure is a coded BAD_MESSAGE; returns the message or undefined. */
function decodeOrCoded(bytes: Uint8Array): ReplicaMessage | undefined {
  try {
    return decodeReplicaMessage(bytes);
  } catch (error) {
    expect(error).toBeInstanceOf(ChainDbError);
    expect((error as ChainDbError).code).toBe(ErrorCode.BAD_MESSAGE);
    return undefined;
  }
}

describe("replication wire codec", () => {
  it("round-trips every message type exactly, at the size it announces", () => {
    fc.assert(
      fc.property(message, (m) => {
        const bytes = encodeReplicaMessage(m);
        expect(bytes.length).toBe(replicaMessageSize(m));
        expect(decodeReplicaMessage(bytes)).toEqual(m);
        // an odd offset inside a bigger buffer decodes the same
        const shifted = new Uint8Array(bytes.length + 3);
        shifted.set(bytes, 3);
        expect(decodeReplicaMessage(shifted.subarray(3))).toEqual(m);
      }),
      { numRuns: 500, seed: 1401 },
    );
  });

  it("rejects issue 14's costly JSON frames at the first byte", () => {
    const te = new TextEncoder();
    const cases = [
      te.encode(`{"t":"vote","epoch":{"$n":"${"9".repeat(1_000_000)}"},"lastHeight":0,"lastEpoch":0}`), // the 16M-digit $n, smaller
      te.encode("[".repeat(1_000_000) + "]".repeat(1_000_000)), // the 8M-deep nesting, smaller
      te.encode(
        `{"t":"append","epoch":1,"entries":[${Array.from({ length: 100_000 }, () => '{"$b":"00"}').join(",")}]}`,
      ), // many $b objects
    ];
    for (const bytes of cases) {
      // The version byte ("{" or "[") is refused before any further byte is read: the error names byte 0.
      expect(() => decodeReplicaMessage(bytes)).toThrowError(
        expect.objectContaining({
          code: ErrorCode.BAD_MESSAGE,
          message: expect.stringMatching(/unknown wire version \d+ at byte 0/),
        }),
      );
    }
  });

  it("refuses counts that do not fit the remaining bytes before allocating", () => {
    const m = encodeReplicaMessage({
      t: "append",
      epoch: 1,
      prevHeight: 0,
      prevEpoch: 0,
      entries: [],
      commit: 0,
    });
    const huge = m.slice();
    new DataView(huge.buffer).setUint32(34, 0xffff_ffff, true); // entry count
    expect(() => decodeReplicaMessage(huge)).toThrowError(
      expect.objectContaining({
        code: ErrorCode.BAD_MESSAGE,
        message: expect.stringMatching(/entries do not fit in 0 bytes/),
      }),
    );
    const one = encodeReplicaMessage({
      t: "append",
      epoch: 1,
      prevHeight: 0,
      prevEpoch: 0,
      entries: [{ epoch: 1, proposer: new Uint8Array(32), transfers: new Uint8Array(0) }],
      commit: 0,
    });
    new DataView(one.buffer).setUint32(one.length - 4, 1_000_000, true); // transfers count of the entry
    expect(() => decodeReplicaMessage(one)).toThrowError(
      expect.objectContaining({
        code: ErrorCode.BAD_MESSAGE,
        message: expect.stringMatching(/transfers does not fit/),
      }),
    );
    const unsafe = encodeReplicaMessage({ t: "voteReply", epoch: 0, granted: true });
    unsafe[9] = 0x20; // epoch ≥ 2^53
    expect(() => decodeReplicaMessage(unsafe)).toThrowError(
      expect.objectContaining({ code: ErrorCode.BAD_MESSAGE }),
    );
  });

  it("fuzz: random bytes and mutated valid encodings decode to a valid message or throw BAD_MESSAGE", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const m = decodeOrCoded(bytes);
        if (m !== undefined) expect(encodeReplicaMessage(m)).toEqual(bytes); // canonical: a decoded input re-encodes to itself
      }),
      { numRuns: 2000, seed: 1402 },
    );
    fc.assert(
      fc.property(
        message,
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
        fc.nat(),
        (m, edits, cut) => {
          const bytes = encodeReplicaMessage(m).slice();
          for (const [at, x] of edits) bytes[at % bytes.length] = x;
          const decoded = decodeOrCoded(bytes);
          if (decoded !== undefined) expect(encodeReplicaMessage(decoded)).toEqual(bytes);
          decodeOrCoded(bytes.subarray(0, cut % (bytes.length + 1)));
        },
      ),
      { numRuns: 1500, seed: 1403 },
    );
  });
});
