/**
 * Fuzzing of the consensus decoders: `decodeMessage` (proposal, vote, commit certificate,
 * evidence) and the block codec `decodeBlock` (with its commit and evidence sections). Random
 * bytes and mutated valid encodings: a decoder returns a value or throws `BAD_MESSAGE`, and
 * whatever it accepts is canonical (re-encoding gives the same bytes, so one message has one
 * encoding and a signature cannot be carried by a second byte string).
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  VoteType,
  decodeBlock,
  decodeMessage,
  encodeBlock,
  encodeMessage,
} from "../../bindings/consensus/index.ts";
import { toHex } from "../../bindings/util/index.ts";
import { blockArb, messageArb } from "./arbitraries.ts";
import { Tally, decodeOrCode, hostileBytes, params } from "./harness.ts";

const CODES = ["BAD_MESSAGE"];

describe("consensus decodeMessage", () => {
  it("round-trips every valid message", () => {
    fc.assert(
      fc.property(messageArb, (m) => {
        expect(decodeMessage(encodeMessage(m))).toEqual(m);
      }),
      params(300, 1),
    );
  });

  it("returns a canonical message or throws BAD_MESSAGE on random and mutated bytes", () => {
    const tally = new Tally();
    fc.assert(
      fc.property(hostileBytes(messageArb.map(encodeMessage)), (bytes) => {
        const o = decodeOrCode(decodeMessage, bytes, CODES);
        tally.add(o);
        if (o.ok) expect(toHex(encodeMessage(o.value))).toBe(toHex(bytes));
      }),
      params(3000, 2),
    );
    tally.expectBoth();
  });

  it("rejects a value or a certificate larger than its limits before reading them", () => {
    // A proposal header claiming a 4 GiB value in a 200-byte message.
    const p = encodeMessage({
      kind: "proposal",
      height: 1,
      round: 0,
      validRound: -1,
      valueId: new Uint8Array(32),
      value: new Uint8Array(0),
      proposer: new Uint8Array(32),
      signature: new Uint8Array(64),
    });
    const huge = p.slice();
    new DataView(huge.buffer).setUint32(huge.length - 4, 0xffffffff, true);
    expect(() => decodeMessage(huge)).toThrow(expect.objectContaining({ code: "BAD_MESSAGE" }));
    const commit = new Uint8Array([3, ...p, 0xff, 0xff, 0xff, 0xff]);
    expect(() => decodeMessage(commit)).toThrow(expect.objectContaining({ code: "BAD_MESSAGE" }));
  });
});

describe("regressions the fuzzers found", () => {
  it("a nil vote must carry a zero id (one vote, one encoding)", () => {
    const nil = encodeMessage({
      kind: "vote",
      type: VoteType.Precommit,
      height: 3,
      round: 0,
      valueId: null,
      validator: new Uint8Array(32),
      signature: new Uint8Array(64),
    });
    const malleated = nil.slice();
    malleated[16] = 2; // inside the id field, which the nil flag says is absent
    expect(() => decodeMessage(malleated)).toThrow(expect.objectContaining({ code: "BAD_MESSAGE" }));
  });

  it("a block height beyond 2^53 - 1 is refused, not rounded", () => {
    const bytes = encodeBlock({
      height: 1,
      parent: new Uint8Array(32),
      lastCommit: null,
      evidence: [],
      txs: new Uint8Array(0),
      stateRoot: new Uint8Array(32),
    });
    bytes[7] = 0xa3;
    expect(() => decodeBlock(bytes)).toThrow(expect.objectContaining({ code: "BAD_MESSAGE" }));
  });
});

describe("consensus decodeBlock", () => {
  it("round-trips every valid block", () => {
    fc.assert(
      fc.property(blockArb, (b) => {
        expect(decodeBlock(encodeBlock(b))).toEqual(b);
      }),
      params(200, 3),
    );
  });

  it("returns a canonical block or throws BAD_MESSAGE on random and mutated bytes", () => {
    const tally = new Tally();
    fc.assert(
      fc.property(hostileBytes(blockArb.map(encodeBlock), 2048), (bytes) => {
        const o = decodeOrCode(decodeBlock, bytes, CODES);
        tally.add(o);
        if (o.ok) expect(toHex(encodeBlock(o.value))).toBe(toHex(bytes));
      }),
      params(2000, 4),
    );
    tally.expectBoth();
  });
});
