/**
 * Fuzzing of the chain's fixed-layout decoders — `decodeHeader`, `decodeTransfer`, `decodeProof`
 * (and `verifyProof` over it) — and of the consensus chain's transactions: `decodeStakingTx`,
 * `decodeChainTx` (transfer or staking, chain id and signature checked) and `decodeBlockTxs`.
 * Random bytes and mutated valid encodings: each returns a value or throws a coded
 * `ChainDbError`; what it accepts re-encodes to the same bytes where an encoder exists.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import {
  decodeHeader,
  decodeProof,
  decodeTransfer,
  encodeHeader,
  encodeProof,
  hashFromHex,
  keyPairFromSeed,
  signTransfer,
  verifyProof,
  type BlockHeader,
} from "../../bindings/chain/index.ts";
import {
  decodeBlockTxs,
  decodeChainTx,
  decodeStakingTx,
  encodeBlockTxs,
  signStakingTx,
  STAKING_KINDS,
  type StakingKind,
} from "../../bindings/selection/index.ts";
import { fromHex, toHex } from "../../bindings/util/index.ts";
import { Tally, decodeOrCode, hostileBytes, params } from "./harness.ts";

const keys = [1, 2, 3].map((i) => keyPairFromSeed(new Uint8Array(32).fill(i)));
const bytes32 = fc.uint8Array({ minLength: 32, maxLength: 32 });
const u64 = fc.oneof(fc.bigInt({ min: 0n, max: 1000n }), fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }));
const CHAIN_ID = 7;

const headerArb: fc.Arbitrary<BlockHeader> = fc.record({
  version: fc.integer({ min: -0x80000000, max: 0x7fffffff }),
  prevHash: bytes32,
  merkleRoot: bytes32,
  time: fc.nat({ max: 0xffffffff }),
  bits: fc.nat({ max: 0xffffffff }),
  nonce: fc.nat({ max: 0xffffffff }),
});

const transferArb = fc
  .record({
    key: fc.nat({ max: 2 }),
    chainId: fc.constantFrom(CHAIN_ID, 0, 0xffffffff),
    to: bytes32,
    amount: u64,
    fee: u64,
    nonce: u64,
  })
  .filter((t) => t.amount + t.fee < 1n << 64n)
  .map(({ key, ...fields }) => signTransfer(keys[key]!, fields));

const kindArb = fc.constantFrom(...(Object.keys(STAKING_KINDS) as StakingKind[]));
const stakingArb = fc
  .record({
    key: fc.nat({ max: 2 }),
    kind: kindArb,
    chainId: fc.constantFrom(CHAIN_ID, 1),
    amount: fc.bigInt({ min: 1n, max: 1n << 40n }),
    fee: fc.bigInt({ min: 0n, max: 1n << 40n }),
    nonce: u64,
    ballot: fc.uniqueArray(bytes32, { minLength: 1, maxLength: 8, selector: toHex }),
  })
  .map(({ key, kind, amount, ballot, ...rest }) =>
    signStakingTx(keys[key]!, {
      ...rest,
      kind,
      amount: kind === "stake" || kind === "unbond" ? amount : 0n,
      candidates: kind === "vote" ? ballot : [],
    }),
  );

const blockTxsArb = fc
  .record({
    feeRecipient: bytes32,
    txs: fc.array(fc.oneof(transferArb, stakingArb, fc.uint8Array({ minLength: 1, maxLength: 300 })), {
      maxLength: 6,
    }),
  })
  .map(encodeBlockTxs);

/**
 * A valid format-2 proof (inclusion with its 48-byte leaf, or absence): a depth, and siblings of
 * which some are the empty hash (left out of the encoding, marked in its bitmap).
 */
const proofArb = fc
  .record({
    depth: fc.integer({ min: 0, max: 30 }),
    leaf: fc.option(fc.uint8Array({ minLength: 48, maxLength: 48 }), { nil: undefined }),
    fill: fc.uint8Array({ minLength: 32 * 30, maxLength: 32 * 30 }),
    empty: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
  })
  .map(({ depth, leaf, fill, empty }) => {
    const siblings = fill.slice(0, 32 * depth);
    for (let i = 0; i < depth; i++) {
      if ((empty >>> i) & 1) siblings.fill(0, i * 32, i * 32 + 32);
      else siblings[i * 32] = siblings[i * 32]! | 1; // never all zero by chance
    }
    return encodeProof({ depth, leaf, siblings });
  });

describe("header, transfer and proof decoders", () => {
  it("decodeHeader: a header that re-encodes to its bytes, or BAD_LENGTH", () => {
    const tally = new Tally();
    fc.assert(
      fc.property(hostileBytes(headerArb.map(encodeHeader), 200), (bytes) => {
        const o = decodeOrCode(decodeHeader, bytes, ["BAD_LENGTH"]);
        tally.add(o);
        if (o.ok) expect(toHex(encodeHeader(o.value))).toBe(toHex(bytes));
      }),
      params(2000, 10),
    );
    tally.expectBoth();
  });

  it("decodeTransfer: a transfer or BAD_LENGTH / BAD_TRANSFER", () => {
    const tally = new Tally();
    fc.assert(
      fc.property(hostileBytes(transferArb, 400), (bytes) => {
        tally.add(decodeOrCode(decodeTransfer, bytes, ["BAD_LENGTH", "BAD_TRANSFER"]));
      }),
      params(1500, 11),
    );
    tally.expectBoth();
  });

  it("decodeProof and verifyProof: a proof (false for a wrong one) or BAD_PROOF", () => {
    const tally = new Tally();
    const root = new Uint8Array(32).fill(7), // not the empty tree's root (0^32), which a depth-0 absence proof proves
      address = new Uint8Array(32).fill(5);
    fc.assert(
      fc.property(hostileBytes(proofArb, 1200), fc.boolean(), (bytes, present) => {
        // Empty siblings decode to one shared constant (the empty-subtree hash), not to bytes per
        // entry: leave them out of the size bound.
        const o = decodeOrCode(
          (b) => {
            const d = decodeProof(b);
            return { ...d, siblings: d.siblings.filter((x) => x.some((y) => y !== 0)) };
          },
          bytes,
          ["BAD_PROOF"],
        );
        tally.add(o);
        const v = decodeOrCode(
          (b) => verifyProof(root, address, present ? { balance: 1n, nonce: 0n } : undefined, b),
          bytes,
          ["BAD_PROOF"],
        );
        expect(v.ok).toBe(o.ok);
        if (v.ok) expect(v.value).toBe(false);
      }),
      params(2000, 12),
    );
    tally.expectBoth();
  });
});

describe("hex text", () => {
  it("fromHex and hashFromHex: bytes that print back as the same digits, or BAD_HEX / BAD_LENGTH", () => {
    const tally = new Tally();
    const hexish = fc.oneof(
      fc.string({ maxLength: 80 }),
      fc.stringMatching(/^(0x)?[0-9a-fA-F]{0,70}$/),
      headerArb.map(encodeHeader).map(toHex),
    );
    fc.assert(
      fc.property(hexish, (text) => {
        const o = decodeOrCode(() => fromHex(text), new Uint8Array(text.length), ["BAD_HEX"]);
        tally.add(o);
        if (o.ok) expect(toHex(o.value)).toBe(text.replace(/^0[xX]/, "").toLowerCase());
        decodeOrCode(() => hashFromHex(text), new Uint8Array(text.length), ["BAD_HEX", "BAD_LENGTH"]);
      }),
      params(2000, 16),
    );
    tally.expectBoth();
  });
});

describe("consensus chain transactions", () => {
  it("decodeStakingTx: a staking transaction or BAD_LENGTH / BAD_TRANSFER / OVERFLOW", () => {
    const tally = new Tally();
    fc.assert(
      fc.property(hostileBytes(stakingArb, 600), (bytes) => {
        tally.add(decodeOrCode(decodeStakingTx, bytes, ["BAD_LENGTH", "BAD_TRANSFER", "OVERFLOW"]));
      }),
      params(1500, 13),
    );
    tally.expectBoth();
  });

  it("decodeChainTx: a signed transaction of this chain, or a coded refusal", () => {
    const tally = new Tally();
    const codes = ["BAD_LENGTH", "BAD_TRANSFER", "OVERFLOW", "WRONG_CHAIN", "BAD_SIGNATURE"];
    fc.assert(
      fc.property(hostileBytes(fc.oneof(transferArb, stakingArb), 600), (bytes) => {
        const o = decodeOrCode((b) => decodeChainTx(b, CHAIN_ID), bytes, codes, 2);
        tally.add(o);
        if (o.ok) expect(o.value.tx.chainId).toBe(CHAIN_ID);
      }),
      params(1000, 14),
    );
    tally.expectBoth();
  });

  it("decodeBlockTxs: a list that re-encodes to its bytes, or BAD_LENGTH / BAD_MESSAGE / BAD_RANGE", () => {
    const tally = new Tally();
    fc.assert(
      fc.property(hostileBytes(blockTxsArb, 2000), (bytes) => {
        const o = decodeOrCode(decodeBlockTxs, bytes, ["BAD_LENGTH", "BAD_MESSAGE", "BAD_RANGE"]);
        tally.add(o);
        if (o.ok) expect(toHex(encodeBlockTxs(o.value))).toBe(toHex(bytes));
      }),
      params(1500, 15),
    );
    tally.expectBoth();
  });
});
