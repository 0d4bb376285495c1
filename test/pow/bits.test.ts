/**
 * Compact bits ↔ target exactly as Bitcoin Core's arith_uint256 SetCompact/GetCompact
 * (vectors from src/test/arith_uint256_tests.cpp `bignum_SetCompact`), work (pow.cpp
 * GetBlockProof), difficulty (rpc/blockchain.cpp GetDifficulty, vectors from
 * src/test/blockchain_tests.cpp) and CheckProofOfWork.
 * @module
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeHeader, encodeHeader, headerWithNonce } from "../../bindings/chain/index.ts";
import {
  MAINNET_POW_LIMIT_BITS,
  bigIntToTarget,
  bitsToTarget,
  bitsToTargetBigInt,
  chainWork,
  checkProofOfWork,
  decodeCompact,
  difficulty,
  encodeCompact,
  hashMeetsTarget,
  targetToBigInt,
  targetToBits,
  workFromTarget,
} from "../../bindings/pow/index.ts";
import { fromHex } from "../../bindings/util/index.ts";
import { HEADER_VECTORS, expectCode } from "../helpers/engine.suite.ts";

const hex = (n: bigint): string => n.toString(16).padStart(64, "0");
/** [display name in hex, bits], for readable test names. */
const named = (bits: number): [string, number] => [`0x${bits.toString(16).padStart(8, "0")}`, bits];

/** [bits, SetCompact value (hex), GetCompact(negative) of that value, negative, overflow] */
const SET_COMPACT: [number, string, number, boolean, boolean][] = [
  [0x00000000, "0", 0, false, false],
  [0x00123456, "0", 0, false, false],
  [0x01003456, "0", 0, false, false],
  [0x02000056, "0", 0, false, false],
  [0x03000000, "0", 0, false, false],
  [0x04000000, "0", 0, false, false],
  [0x00923456, "0", 0, false, false],
  [0x01803456, "0", 0, false, false],
  [0x02800056, "0", 0, false, false],
  [0x03800000, "0", 0, false, false],
  [0x04800000, "0", 0, false, false],
  [0x01123456, "12", 0x01120000, false, false],
  [0x01fedcba, "7e", 0x01fe0000, true, false],
  [0x02123456, "1234", 0x02123400, false, false],
  [0x03123456, "123456", 0x03123456, false, false],
  [0x04123456, "12345600", 0x04123456, false, false],
  [0x04923456, "12345600", 0x04923456, true, false],
  [0x05009234, "92340000", 0x05009234, false, false],
  [0x20123456, "1234560000000000000000000000000000000000000000000000000000000000", 0x20123456, false, false],
];

describe("SetCompact / GetCompact (Bitcoin Core bignum_SetCompact vectors)", () => {
  it.each(SET_COMPACT.map((r) => [named(r[0])[0], ...r] as const))(
    "%s",
    (_name, bits, value, compact, negative, overflow) => {
      const c = decodeCompact(bits);
      expect(hex(c.target)).toBe(value.padStart(64, "0"));
      expect([c.negative, c.overflow]).toEqual([negative, overflow]);
      expect(encodeCompact(c.target, negative)).toBe(compact);
    },
  );

  it("0xff123456 overflows and is not negative", () => {
    expect(decodeCompact(0xff123456)).toMatchObject({ negative: false, overflow: true });
  });

  it("GetCompact never sets the sign bit: 0x80 encodes as 0x02008000", () => {
    expect(encodeCompact(0x80n)).toBe(0x02008000);
    expect(targetToBits(0x800000n)).toBe(0x04008000);
    expect(targetToBits(0x7fffffn)).toBe(0x037fffff);
  });
});

describe("bitsToTarget: every exponent 0..0x20", () => {
  const mantissas = [0x123456, 0x7fffff, 0x000001, 0x00ffff, 0x010000];
  for (const m of mantissas) {
    it(`mantissa 0x${m.toString(16).padStart(6, "0")}`, () => {
      for (let e = 0; e <= 0x20; e++) {
        const bits = (e << 24) | m;
        const expected = e <= 3 ? BigInt(m >>> (8 * (3 - e))) : BigInt(m) << BigInt(8 * (e - 3));
        expect(bitsToTargetBigInt(bits), `exponent ${e}`).toBe(expected);
        expect(targetToBigInt(bitsToTarget(bits)), `exponent ${e}`).toBe(expected);
        // GetCompact gives the shortest form of the same value: it decodes back unchanged.
        const again = targetToBits(expected);
        expect(bitsToTargetBigInt(again), `exponent ${e}`).toBe(expected);
        if (m === 0x123456 && e >= 3) expect(again).toBe(bits);
      }
    });
  }

  it("a zero mantissa decodes to target 0 at any exponent (allowed to decode)", () => {
    for (let e = 0; e <= 0xff; e++) expect(bitsToTargetBigInt((e << 24) >>> 0)).toBe(0n);
    expect(bitsToTarget(0x1d000000)).toEqual(new Uint8Array(32));
  });
});

describe("GetCompact properties (fast-check, seeded)", () => {
  const target = fc.bigInt({ min: 0n, max: (1n << 256n) - 1n });
  const shifted = fc
    .tuple(fc.bigInt({ min: 1n, max: (1n << 64n) - 1n }), fc.integer({ min: 0, max: 192 }))
    .map(([m, s]) => m << BigInt(s));

  it("encoding truncates to the top 23 mantissa bits: decode(encode(t)) ≤ t, within one unit of the last kept byte", () => {
    fc.assert(
      fc.property(fc.oneof(target, shifted), (t) => {
        const bits = targetToBits(t);
        const back = bitsToTargetBigInt(bits); // never negative, never overflowing
        const size = bits >>> 24;
        expect(back <= t).toBe(true);
        expect(t - back < (size > 3 ? 1n << BigInt(8 * (size - 3)) : 1n)).toBe(true);
        expect(targetToBits(back)).toBe(bits); // a decoded target re-encodes to the same bits
      }),
      { seed: 0xb175, numRuns: 500 },
    );
  });
});

describe("bitsToTarget rejects negative and overflowing bits with BAD_BITS", () => {
  it.each([0x04923456, 0x01fedcba, 0x1d800001, 0x20ffffff, 0x03800001].map(named))(
    "negative %s",
    (_name, bits) => {
      expectCode(() => bitsToTarget(bits), "BAD_BITS");
      expectCode(() => chainWork(bits), "BAD_BITS");
    },
  );

  it.each([0xff123456, 0x21010000, 0x22000100, 0x23000001].map(named))("overflow %s", (_name, bits) => {
    expectCode(() => bitsToTarget(bits), "BAD_BITS");
  });

  it("the largest non-overflowing forms at sizes 0x21, 0x22 decode", () => {
    expect(bitsToTargetBigInt(0x2100ffff)).toBe(0xffffn << 240n);
    expect(bitsToTargetBigInt(0x220000ff)).toBe(0xffn << 248n);
    expect(bitsToTargetBigInt(0x23000000)).toBe(0n); // zero mantissa never overflows
  });

  it("non-u32 bits are typed errors", () => {
    expectCode(() => bitsToTarget(2 ** 32), "BAD_RANGE");
    expectCode(() => bitsToTarget(-1), "BAD_RANGE");
    expectCode(() => bitsToTarget(1.5), "BAD_ARGUMENT");
  });
});

describe("target byte codec", () => {
  it("targets are 32 bytes little-endian: byte 31 most significant", () => {
    const t = bitsToTarget(MAINNET_POW_LIMIT_BITS); // 0x00000000ffff0000…
    expect(t[26]).toBe(0xff);
    expect(t[27]).toBe(0xff);
    expect(t.subarray(28)).toEqual(new Uint8Array(4));
    expect(bigIntToTarget(1n)[0]).toBe(1);
    expect(targetToBigInt(bigIntToTarget((1n << 256n) - 1n))).toBe((1n << 256n) - 1n);
  });

  it("rejects out-of-range bigints and wrong lengths", () => {
    expectCode(() => bigIntToTarget(1n << 256n), "BAD_RANGE");
    expectCode(() => bigIntToTarget(-1n), "BAD_RANGE");
    expectCode(() => targetToBigInt(new Uint8Array(31)), "BAD_LENGTH");
    expectCode(() => targetToBits(new Uint8Array(33)), "BAD_LENGTH");
  });
});

describe("work and difficulty", () => {
  it("work = 2^256 / (target + 1)", () => {
    expect(chainWork(0x1d00ffff)).toBe(0x100010001n); // 4295032833, difficulty-1 work
    expect(workFromTarget((1n << 256n) - 1n)).toBe(1n);
    expect(workFromTarget(bigIntToTarget(1n))).toBe(1n << 255n);
    expect(workFromTarget(0n)).toBe(0n); // a zero target carries no work, as GetBlockProof
    expect(chainWork(0x1d000000)).toBe(0n);
  });

  it("harder bits carry more work", () => {
    expect(chainWork(0x1b04864c)).toBeGreaterThan(chainWork(0x1d00ffff));
    expect(Number(chainWork(0x1b04864c)) / Number(chainWork(0x1d00ffff))).toBeCloseTo(
      difficulty(0x1b04864c),
      3,
    );
  });

  it.each(
    [
      [0x1d00ffff, 1],
      [0x1b04864c, 14484.1623612254],
      [0x1f111111, 0.000001],
      [0x1ef88f6f, 0.000016],
      [0x1df88f6f, 0.004023],
      [0x1cf88f6f, 1.029916],
      [0x12345678, 5913134931067755359633408.0],
    ].map(([bits, d]) => [...named(bits!), d!] as const),
  )("difficulty(%s) as Bitcoin's GetDifficulty", (_name, bits, expected) => {
    const d = difficulty(bits);
    expect(Math.abs(d - expected)).toBeLessThan(Math.max(0.00001, expected * 1e-9));
  });
});

describe("checkProofOfWork", () => {
  it.each(HEADER_VECTORS.map((v) => [v.height, v] as const))(
    "mainnet block %i passes, also under the mainnet pow limit",
    (_h, v) => {
      const r = checkProofOfWork(fromHex(v.header), { powLimit: MAINNET_POW_LIMIT_BITS });
      expect(r).toMatchObject({ ok: true, reason: "ok", hash: v.hash });
      expect(r.target).toEqual(bitsToTarget(Number(v.bits)));
      expect(checkProofOfWork(decodeHeader(fromHex(v.header))).ok).toBe(true);
    },
  );

  it("a changed nonce fails with high-hash", () => {
    const v = HEADER_VECTORS[0]!;
    expect(checkProofOfWork(headerWithNonce(fromHex(v.header), v.nonce + 1))).toMatchObject({
      ok: false,
      reason: "high-hash",
    });
  });

  it("a zero target is rejected even though it decodes (as Bitcoin's CheckProofOfWork)", () => {
    const h = decodeHeader(fromHex(HEADER_VECTORS[0]!.header));
    const r = checkProofOfWork(encodeHeader({ ...h, bits: 0x1d000000 }));
    expect(r).toMatchObject({ ok: false, reason: "zero-target" });
    expect(r.target).toEqual(new Uint8Array(32));
  });

  it("negative or overflowing bits fail with bad-bits and no target", () => {
    const h = decodeHeader(fromHex(HEADER_VECTORS[0]!.header));
    expect(checkProofOfWork(encodeHeader({ ...h, bits: 0x2080ffff }))).toMatchObject({
      ok: false,
      reason: "bad-bits",
      target: null,
    });
    expect(checkProofOfWork(encodeHeader({ ...h, bits: 0xff123456 }))).toMatchObject({
      ok: false,
      reason: "bad-bits",
      target: null,
    });
  });

  it("an easy target above the pow limit fails only when a limit is given", () => {
    const h = decodeHeader(fromHex(HEADER_VECTORS[0]!.header));
    const easy = encodeHeader({ ...h, bits: 0x207fffff }); // regtest-style: about half of all hashes pass
    let nonce = 0;
    while (!checkProofOfWork(headerWithNonce(easy, nonce)).ok) nonce++;
    const solved = headerWithNonce(easy, nonce);
    expect(checkProofOfWork(solved, { powLimit: MAINNET_POW_LIMIT_BITS })).toMatchObject({
      ok: false,
      reason: "above-pow-limit",
    });
    expect(checkProofOfWork(solved, { powLimit: 1n << 255n })).toMatchObject({ ok: true });
  });

  it("hashMeetsTarget compares little-endian: byte 31 decides first", () => {
    const a = new Uint8Array(32);
    const b = new Uint8Array(32);
    a[0] = 0xff;
    b[31] = 0x01;
    expect(hashMeetsTarget(a, b)).toBe(true);
    expect(hashMeetsTarget(b, a)).toBe(false);
    expect(hashMeetsTarget(a, a)).toBe(true);
    expectCode(() => hashMeetsTarget(new Uint8Array(31), b), "BAD_LENGTH");
  });

  it("rejects a wrong-length header with BAD_LENGTH", () => {
    expectCode(() => checkProofOfWork(new Uint8Array(81)), "BAD_LENGTH");
  });
});
