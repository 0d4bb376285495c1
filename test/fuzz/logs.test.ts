/**
 * Fuzzing of what a node reads back from its own disk and its sync peers: the consensus WAL's
 * records (`decodeRecord`), the append log's frame scanner (`scanFrames`, every log's reader), and
 * a block-sync request's height (`readHeight`). Random and mutated valid encodings: each gives a
 * value or a coded `ChainDbError` (`WAL_CORRUPT`, `STORE_CORRUPT`, `BAD_MESSAGE`, `BAD_RANGE`),
 * never another exception, a hang or a result larger than its input.
 */
import { describe, it } from "vitest";
import fc from "fast-check";
import { decodeRecord, encodeRecord, type WalRecord } from "../../bindings/consensus/index.ts";
import { readHeight } from "../../bindings/consensus/sync.ts";
import {
  LOG_HEADER_BYTES,
  bytesSource,
  encodeFrame,
  logHeader,
  scanFrames,
} from "../../bindings/store/index.ts";
import { messageArb } from "./arbitraries.ts";
import { Tally, decodeOrCode, hostileBytes, params } from "./harness.ts";

const idArb = fc.option(fc.uint8Array({ minLength: 32, maxLength: 32 }), { nil: null });

/** A state record (the engine's height, round, step, lock and valid value). */
const stateRecordArb: fc.Arbitrary<WalRecord> = fc.record({
  type: fc.constant("state" as const),
  height: fc.oneof(fc.integer({ min: 1, max: 1000 }), fc.maxSafeNat()),
  round: fc.integer({ min: 0, max: 2 ** 31 }),
  step: fc.constantFrom(0 as const, 1 as const, 2 as const),
  lockedRound: fc.integer({ min: -1, max: 1000 }),
  lockedId: idArb,
  validRound: fc.integer({ min: -1, max: 1000 }),
  validId: idArb,
});

/** A message record (an own proposal or vote), from the consensus codec's arbitraries. */
const messageRecordArb: fc.Arbitrary<WalRecord> = messageArb
  .filter((m) => m.kind === "proposal" || m.kind === "vote")
  .map((message) => ({ type: "message", message }) as WalRecord);

const recordBytesArb = fc.oneof(stateRecordArb, messageRecordArb).map(encodeRecord);

/** A whole log file: the header, then frames whose payloads are random records. */
const logFileArb = fc
  .array(fc.uint8Array({ minLength: 1, maxLength: 64 }), { maxLength: 6 })
  .map((payloads) => {
    const parts = [logHeader("FUZZ")];
    let end = LOG_HEADER_BYTES;
    for (const p of payloads) {
      const frame = encodeFrame(p, end);
      parts.push(frame);
      end += frame.length;
    }
    return Uint8Array.from(parts.flatMap((x) => [...x]));
  });

describe("what a node reads back", () => {
  it("decodeRecord: a WAL record or WAL_CORRUPT", () => {
    const tally = new Tally();
    fc.assert(
      fc.property(hostileBytes(recordBytesArb, 600), (bytes) => {
        tally.add(decodeOrCode(decodeRecord, bytes, ["WAL_CORRUPT"], 2));
      }),
      params(1500, 31),
    );
    tally.expectBoth();
  });

  it("scanFrames: the valid prefix of a log, or STORE_CORRUPT / NOT_CHAINDB", () => {
    const tally = new Tally();
    fc.assert(
      fc.property(hostileBytes(logFileArb, 700), (bytes) => {
        const payloads: Uint8Array[] = [];
        tally.add(
          decodeOrCode(
            (b) => {
              const recovery = scanFrames(
                bytesSource(b),
                LOG_HEADER_BYTES,
                (p) => payloads.push(p),
                "fuzz.log",
              );
              return { recovery, payloads };
            },
            bytes,
            ["STORE_CORRUPT", "NOT_CHAINDB"],
          ),
        );
      }),
      params(1500, 32),
    );
    tally.expectBoth();
  });

  it("readHeight: a block-sync request's height, or BAD_MESSAGE / BAD_RANGE", () => {
    const tally = new Tally();
    const valid = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map((h) => {
      const b = new Uint8Array(8);
      new DataView(b.buffer).setBigUint64(0, h, true);
      return b;
    });
    fc.assert(
      fc.property(hostileBytes(valid, 24), (bytes) => {
        tally.add(decodeOrCode(readHeight, bytes, ["BAD_MESSAGE", "BAD_RANGE"]));
      }),
      params(1000, 33),
    );
    tally.expectBoth();
  });
});
