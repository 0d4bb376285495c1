/**
 * Fuzzing of the replication and 2PC decoders outside the net layer: the proof-of-work block
 * (`decodeBlock` of replication/pow-block.ts, and `checkBlockStateless` on whatever it accepts),
 * the replica store's entry record (`decodeEntry`), and the two-phase commit messages
 * (`decodeTwoPcMessage`, bytes and shape-level mutations of its JSON objects). Each returns a
 * value or throws its coded `ChainDbError`.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { createEngine } from "../../bindings/engine/index.ts";
import { keyPairFromSeed, signTransfer } from "../../bindings/chain/index.ts";
import {
  checkBlockStateless,
  decodeBlock,
  decodeEntry,
  encodeBlock,
  encodeEntry,
  newHeader,
} from "../../bindings/replication/index.ts";
import { decodeTwoPcMessage, encodeTwoPcMessage, type TwoPcMessage } from "../../bindings/txn/index.ts";
import { encodeMessage, type MessageValue } from "../../bindings/net/index.ts";
import { toHex } from "../../bindings/util/index.ts";
import { Tally, decodeOrCode, hostileBytes, params } from "./harness.ts";

const engine = await createEngine("ts");
const key = keyPairFromSeed(new Uint8Array(32).fill(4));
const bytes32 = fc.uint8Array({ minLength: 32, maxLength: 32 });
const transferArb = fc
  .record({
    to: bytes32,
    amount: fc.bigInt({ min: 0n, max: 1n << 40n }),
    nonce: fc.bigInt({ min: 0n, max: 99n }),
  })
  .map((f) => signTransfer(key, { chainId: 3, fee: 1n, ...f }));

const powBlockArb = fc
  .record({
    transfers: fc.array(transferArb, { maxLength: 3 }),
    stateRoot: bytes32,
    parent: bytes32,
    time: fc.nat({ max: 0xffffffff }),
  })
  .map(({ transfers, stateRoot, parent, time }) =>
    encodeBlock({
      header: newHeader(engine, toHex(parent), transfers, stateRoot, 0x207fffff, time),
      stateRoot,
      transfers,
    }),
  );

describe("proof-of-work block decoder", () => {
  it("returns a block that re-encodes to its bytes, or BAD_MESSAGE; the stateless check never throws", () => {
    const tally = new Tally();
    fc.assert(
      fc.property(hostileBytes(powBlockArb, 1200), (bytes) => {
        const o = decodeOrCode((b) => decodeBlock(b, engine), bytes, ["BAD_MESSAGE"]);
        tally.add(o);
        if (!o.ok) return;
        expect(toHex(encodeBlock(o.value))).toBe(toHex(bytes));
        const why = checkBlockStateless(o.value, engine, 3, 0x207fffff);
        expect(why === undefined || typeof why === "string").toBe(true);
      }),
      params(1000, 20),
    );
    tally.expectBoth();
  });
});

describe("replica store entry record", () => {
  const entryArb = fc
    .record({
      epoch: fc.nat({ max: 0xffffffff }),
      proposer: bytes32,
      transfers: fc.array(transferArb, { maxLength: 3 }),
    })
    .map((e) => {
      const transfers = new Uint8Array(157 * e.transfers.length);
      e.transfers.forEach((t, i) => transfers.set(t, 157 * i));
      return encodeEntry({ epoch: e.epoch, proposer: e.proposer, transfers });
    });
  it("returns an entry that re-encodes to its bytes, or STORE_CORRUPT", () => {
    const tally = new Tally();
    fc.assert(
      fc.property(hostileBytes(entryArb, 700), (bytes) => {
        const o = decodeOrCode(decodeEntry, bytes, ["STORE_CORRUPT"]);
        tally.add(o);
        if (o.ok) expect(toHex(encodeEntry(o.value))).toBe(toHex(bytes));
      }),
      params(1500, 21),
    );
    tally.expectBoth();
  });
});

describe("2PC message decoder", () => {
  const txId = fc.string({ minLength: 1, maxLength: 20 });
  const messageArb: fc.Arbitrary<TwoPcMessage> = fc.oneof(
    fc.record({
      type: fc.constant("prepare" as const),
      tx: txId,
      participants: fc.uniqueArray(fc.string({ minLength: 1, maxLength: 8 }), { minLength: 1, maxLength: 5 }),
      ops: fc.array(
        fc.record({
          account: fc.string({ minLength: 1, maxLength: 64 }),
          delta: fc.bigInt({ min: -(1n << 64n), max: 1n << 64n }),
        }),
        { maxLength: 5 },
      ),
    }),
    fc.record({ type: fc.constant("vote" as const), tx: txId, yes: fc.boolean() }),
    fc.record({
      type: fc.constantFrom("commit" as const, "abort" as const, "ack" as const, "inquiry" as const),
      tx: txId,
    }),
  );
  /** Any codec value, nested a little: what a hostile peer can put in a field. */
  const { value: anyValue } = fc.letrec<{ value: MessageValue }>((tie) => ({
    value: fc.oneof(
      { depthSize: "small", withCrossShrink: true },
      fc.constant(null),
      fc.boolean(),
      fc.double(),
      fc.string({ maxLength: 200 }),
      fc.bigInt(),
      fc.uint8Array({ maxLength: 8 }),
      fc.array(tie("value"), { maxLength: 70 }),
      fc.dictionary(
        fc.constantFrom("account", "delta", "v", "tx", "type", "x", "__proto__", "$b", "$n"),
        tie("value"),
        { maxKeys: 3 },
      ),
    ),
  }));
  /** A valid message with some fields replaced by arbitrary values or removed. */
  const shapeMutated = fc
    .tuple(
      messageArb,
      fc.dictionary(
        fc.constantFrom("v", "tx", "type", "yes", "participants", "ops"),
        fc.option(anyValue, { nil: undefined }),
        { maxKeys: 2 },
      ),
    )
    .map(([m, patch]) =>
      encodeMessage({ ...(m as unknown as Record<string, MessageValue>), v: 1, ...patch }),
    );

  it("refuses a bigint type with BAD_MESSAGE (its error message once threw a TypeError)", () => {
    const bytes = encodeMessage({ type: 12n, tx: "t", v: 1 });
    expect(() => decodeTwoPcMessage(bytes)).toThrow(expect.objectContaining({ code: "BAD_MESSAGE" }));
  });

  it("round-trips every valid message", () => {
    fc.assert(
      fc.property(messageArb, (m) => {
        expect(decodeTwoPcMessage(encodeTwoPcMessage(m))).toEqual(m);
      }),
      params(300, 22),
    );
  });

  it("returns a well-formed message or BAD_MESSAGE on mutated bytes and mutated shapes", () => {
    const tally = new Tally();
    fc.assert(
      fc.property(fc.oneof(hostileBytes(messageArb.map(encodeTwoPcMessage), 600), shapeMutated), (bytes) => {
        const o = decodeOrCode(decodeTwoPcMessage, bytes, ["BAD_MESSAGE"]);
        tally.add(o);
        if (o.ok) expect(decodeTwoPcMessage(encodeTwoPcMessage(o.value))).toEqual(o.value);
      }),
      params(2000, 23),
    );
    tally.expectBoth();
  });
});
