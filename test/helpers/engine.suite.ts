/**
 * The ONE engine suite, run against every engine by test/engine/engine.test.ts (differential testing, as
 * noble-hashes runs one suite per platform). References: FIPS 180-4 example vectors, node:crypto,
 * Bitcoin mainnet headers (test/vectors/bitcoin-headers.json) and Bitcoin's merkle algorithm.
 * @module
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import type { Engine } from "../../bindings/engine/index.ts";
import { ChainDbError, fromHex, reverseBytes, toHex } from "../../bindings/util/index.ts";

/** One header of test/vectors/bitcoin-headers.json. */
export interface HeaderVector {
  height: number;
  header: string;
  hash: string;
  version: number;
  time: number;
  bits: string;
  nonce: number;
}

/** The real Bitcoin mainnet headers used as vectors. */
export const HEADER_VECTORS: HeaderVector[] = JSON.parse(
  readFileSync(new URL("../vectors/bitcoin-headers.json", import.meta.url), "utf8"),
).headers;

/** mulberry32: a tiny seeded PRNG, so every random input is replayable from its seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** `n` seeded pseudo-random bytes. */
export function randomBytes(rand: () => number, n: number): Uint8Array {
  return Uint8Array.from({ length: n }, () => rand() & 0xff);
}

const nodeSha256 = (data: Uint8Array): Uint8Array =>
  new Uint8Array(createHash("sha256").update(data).digest());
const nodeSha256d = (data: Uint8Array): Uint8Array => nodeSha256(nodeSha256(data));

/** `a ≤ b` as 256-bit little-endian integers (the reference for the PoW comparison). */
function leqLE(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 31; i >= 0; i--) if (a[i] !== b[i]) return a[i]! < b[i]!;
  return true;
}

/** Reference nonce search: node:crypto per nonce, no shortcuts. */
export function referenceSearch(
  header: Uint8Array,
  target: Uint8Array,
  start: number,
  count: number,
): { nonce: number | null; hashes: number } {
  const h = header.slice();
  const view = new DataView(h.buffer);
  for (let i = 0; i < count; i++) {
    view.setUint32(76, start + i, true);
    if (leqLE(nodeSha256d(h), target)) return { nonce: start + i, hashes: i + 1 };
  }
  return { nonce: null, hashes: count };
}

/** Reference merkle root: Bitcoin's algorithm, written the obvious way over node:crypto. */
function referenceMerkle(leaves: Uint8Array[]): Uint8Array {
  let level = leaves;
  while (level.length > 1) {
    const next: Uint8Array[] = [];
    for (let i = 0; i < level.length; i += 2) {
      const right = level[i + 1] ?? level[i]!;
      next.push(nodeSha256d(new Uint8Array([...level[i]!, ...right])));
    }
    level = next;
  }
  return level[0]!;
}

/** Asserts that `fn` throws a ChainDbError with `code`. */
export function expectCode(fn: () => unknown, code: string): void {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  expect(thrown, `expected ChainDbError ${code}`).toBeInstanceOf(ChainDbError);
  expect((thrown as ChainDbError).code).toBe(code);
}

const ascii = (s: string): Uint8Array => new TextEncoder().encode(s);

/** FIPS 180-4 / NIST CSRC SHA-256 example vectors. */
const NIST: [string, Uint8Array, string][] = [
  ["empty", ascii(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"],
  ["abc", ascii("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"],
  [
    "448-bit",
    ascii("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
  ],
  [
    "896-bit",
    ascii(
      "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
    ),
    "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1",
  ],
  [
    "one million a",
    new Uint8Array(1_000_000).fill(0x61),
    "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0",
  ],
];

/** Registers the shared engine tests; `getEngine` is called once before they run. */
export function engineSuite(getEngine: () => Promise<Engine> | Engine): void {
  let engine: Engine;
  beforeAll(async () => {
    engine = await getEngine();
  });

  describe("sha256", () => {
    it.each(NIST)("NIST vector: %s", (_name, message, digest) => {
      expect(toHex(engine.sha256(message))).toBe(digest);
    });

    it("matches node:crypto for every length 0..300 (seeded content)", () => {
      const rand = prng(0x5eed);
      for (let len = 0; len <= 300; len++) {
        const m = randomBytes(rand, len);
        expect(toHex(engine.sha256(m)), `length ${len}`).toBe(toHex(nodeSha256(m)));
      }
    });

    it("hashes a subarray view, not its whole buffer", () => {
      const big = randomBytes(prng(7), 200);
      const view = big.subarray(13, 13 + 100);
      expect(toHex(engine.sha256(view))).toBe(toHex(nodeSha256(view.slice())));
    });
  });

  describe("sha256d", () => {
    it("double SHA-256 of the empty string", () => {
      expect(toHex(engine.sha256d(new Uint8Array(0)))).toBe(
        "5df6e0e2761359d30a8275058e299fcc0381534545f55cf43e41983f5d4c9456",
      );
    });

    it("matches node:crypto twice for seeded lengths 0..200", () => {
      const rand = prng(0xd0d0);
      for (let len = 0; len <= 200; len += 7) {
        const m = randomBytes(rand, len);
        expect(toHex(engine.sha256d(m)), `length ${len}`).toBe(toHex(nodeSha256d(m)));
      }
    });
  });

  describe("sha256Many", () => {
    it("returns [] for no messages", () => {
      expect(engine.sha256Many([])).toEqual([]);
    });

    it.each([1, 3, 4, 5, 8, 9])("%i equal-length 64-byte messages match one-by-one hashing", (n) => {
      const rand = prng(n);
      const msgs = Array.from({ length: n }, () => randomBytes(rand, 64));
      expect(engine.sha256Many(msgs).map(toHex)).toEqual(msgs.map((m) => toHex(nodeSha256(m))));
    });

    it("mixed lengths (0..130) in one call", () => {
      const rand = prng(99);
      const msgs = Array.from({ length: 23 }, (_, i) => randomBytes(rand, (i * 37) % 131));
      expect(engine.sha256Many(msgs).map(toHex)).toEqual(msgs.map((m) => toHex(nodeSha256(m))));
    });

    it("rejects a non-Uint8Array message with a typed error", () => {
      expectCode(
        () => engine.sha256Many([new Uint8Array(4), "abcd" as unknown as Uint8Array]),
        "BAD_ARGUMENT",
      );
    });
  });

  describe("merkleRoot", () => {
    const txids100000 = [
      "8c14f0db3df150123e6f3dbbf30f8b955a8249b62ac1d1ff16284aefa3d06d87",
      "fff2525b8931402dd09222c50775608f75787bd2b87e56995a7bdd30f79702c4",
      "6359f0868171b1d194cbee1af2f16ea598ae8fad666d9b012c8ed2b79a236ec4",
      "e9a66845e05d5abc0ad04ec80f774a7e585c6e8db975962d069a522137b80c1d",
    ];

    it("Bitcoin block 100000: four txids give the merkle root in its header", () => {
      const header = fromHex(HEADER_VECTORS.find((v) => v.height === 100000)!.header);
      const leaves = txids100000.map((t) => reverseBytes(fromHex(t))); // txids are shown byte-reversed
      expect(toHex(engine.merkleRoot(leaves))).toBe(toHex(header.subarray(36, 68)));
    });

    it("one leaf is its own root (block 1: the coinbase txid is the merkle root)", () => {
      const header = fromHex(HEADER_VECTORS.find((v) => v.height === 1)!.header);
      const leaf = header.slice(36, 68);
      expect(toHex(engine.merkleRoot([leaf]))).toBe(toHex(leaf));
    });

    it.each([2, 3, 5, 6, 7, 11, 16, 17])(
      "%i leaves (odd levels duplicate the last) match the reference",
      (n) => {
        const rand = prng(1000 + n);
        const leaves = Array.from({ length: n }, () => randomBytes(rand, 32));
        const copies = leaves.map((l) => l.slice());
        expect(toHex(engine.merkleRoot(leaves))).toBe(toHex(referenceMerkle(leaves)));
        expect(leaves.map(toHex)).toEqual(copies.map(toHex)); // inputs untouched
      },
    );

    it("empty list, wrong leaf size and non-array input are typed errors", () => {
      expectCode(() => engine.merkleRoot([]), "BAD_ARGUMENT");
      expectCode(() => engine.merkleRoot([new Uint8Array(32), new Uint8Array(31)]), "BAD_LENGTH");
      expectCode(() => engine.merkleRoot("x" as unknown as Uint8Array[]), "BAD_ARGUMENT");
    });
  });

  describe("searchNonce on real Bitcoin headers", () => {
    it.each(HEADER_VECTORS.map((v) => [v.height, v] as const))(
      "block %i: hash and proof of work hold",
      (_h, v) => {
        const header = fromHex(v.header);
        const hash = engine.sha256d(header);
        expect(toHex(reverseBytes(hash))).toBe(v.hash);
        expect(new DataView(header.buffer).getUint32(76, true)).toBe(v.nonce);
        expect(leqLE(hash, bitsTarget(Number(v.bits)))).toBe(true);
      },
    );

    it.each(HEADER_VECTORS.map((v) => [v.height, v] as const))(
      "block %i: a window around the real nonce finds exactly it",
      (_h, v) => {
        const header = fromHex(v.header);
        header.fill(0, 76, 80); // the header's own nonce field must be ignored
        const start = Math.max(0, v.nonce - 1500);
        const count = Math.min(v.nonce + 1500, 2 ** 32) - start;
        const target = bitsTarget(Number(v.bits));
        expect(engine.searchNonce(header, target, start, count)).toEqual({
          nonce: v.nonce,
          hashes: v.nonce - start + 1,
        });
        // Just past the real nonce nothing in the window solves it at real difficulty.
        expect(engine.searchNonce(header, target, v.nonce + 1, 1000)).toEqual({ nonce: null, hashes: 1000 });
      },
    );

    it.each(HEADER_VECTORS.map((v) => [v.height, v] as const))(
      "block %i: the same from a pooled Buffer and an odd-offset view",
      (_h, v) => {
        // Regression: the ts engine wrote the trial nonce at byte 76 of Node's shared pool
        // (Buffer#slice shares memory, `new DataView(x.buffer)` ignored byteOffset) and found nothing.
        const zeroed = fromHex(v.header).fill(0, 76, 80);
        const pooled = Buffer.from(zeroed);
        const backing = new Uint8Array(85);
        const odd = backing.subarray(3, 83);
        odd.set(zeroed);
        const target = bitsTarget(Number(v.bits));
        for (const header of [pooled, odd]) {
          expect(engine.searchNonce(header, target, v.nonce - 10, 20)).toEqual({
            nonce: v.nonce,
            hashes: 11,
          });
          expect(toHex(header)).toBe(toHex(zeroed));
        }
        expect(toHex(backing.subarray(0, 3)) + toHex(backing.subarray(83))).toBe("0000000000");
      },
    );
  });

  describe("searchNonce against the reference", () => {
    it("first solution in seeded random ranges at easy targets", () => {
      const rand = prng(0xbeef);
      for (let trial = 0; trial < 24; trial++) {
        const header = randomBytes(rand, 80);
        const target = new Uint8Array(32).fill(0xff);
        target[31] = trial % 3 === 0 ? 0 : rand() & 0x3f; // about 1 in 4..1000 nonces solve
        target[30] = rand() & 0xff;
        const start = rand() % (2 ** 32 - 4000);
        const got = engine.searchNonce(header, target, start, 3000);
        expect(got, `trial ${trial}`).toEqual(referenceSearch(header, target, start, 3000));
      }
    });

    it("compares all 256 bits when the top 32 bits equal the target's", () => {
      const header = randomBytes(prng(42), 80);
      const nonce = 123_456_789;
      const hashed = header.slice();
      new DataView(hashed.buffer).setUint32(76, nonce, true);
      const hash = nodeSha256d(hashed);
      expect(engine.searchNonce(header, hash, nonce, 1)).toEqual({ nonce, hashes: 1 }); // hash == target
      const below = minusOne(hash);
      expect(engine.searchNonce(header, below, nonce, 1)).toEqual({ nonce: null, hashes: 1 });
      const lowByteOnly = hash.slice();
      lowByteOnly[0] = 0;
      lowByteOnly[1] = 0;
      if (toHex(lowByteOnly) !== toHex(hash))
        expect(engine.searchNonce(header, lowByteOnly, nonce, 1).nonce).toBe(null);
    });

    it("edge targets and ranges: all-ones, zero, empty range, the last nonces", () => {
      const header = randomBytes(prng(3), 80);
      expect(engine.searchNonce(header, new Uint8Array(32).fill(0xff), 77, 10)).toEqual({
        nonce: 77,
        hashes: 1,
      });
      expect(engine.searchNonce(header, new Uint8Array(32), 0, 500)).toEqual({ nonce: null, hashes: 500 });
      expect(engine.searchNonce(header, new Uint8Array(32).fill(0xff), 5, 0)).toEqual({
        nonce: null,
        hashes: 0,
      });
      expect(engine.searchNonce(header, new Uint8Array(32).fill(0xff), 2 ** 32 - 1, 1)).toEqual({
        nonce: 2 ** 32 - 1,
        hashes: 1,
      });
      const easy = new Uint8Array(32).fill(0xff);
      easy[31] = 0x0f;
      const start = 2 ** 32 - 300;
      expect(engine.searchNonce(header, easy, start, 300)).toEqual(referenceSearch(header, easy, start, 300));
    });

    it("does not modify the header or the target", () => {
      const header = randomBytes(prng(5), 80);
      const target = new Uint8Array(32).fill(0xff);
      target[31] = 0x01;
      const [h0, t0] = [toHex(header), toHex(target)];
      engine.searchNonce(header, target, 1000, 2000);
      expect([toHex(header), toHex(target)]).toEqual([h0, t0]);
    });
  });

  describe("searchNonce rejects bad input with typed errors", () => {
    const header = new Uint8Array(80);
    const target = new Uint8Array(32).fill(0xff);
    it("wrong header length", () => {
      expectCode(() => engine.searchNonce(new Uint8Array(79), target, 0, 1), "BAD_LENGTH");
      expectCode(() => engine.searchNonce(new Uint8Array(81), target, 0, 1), "BAD_LENGTH");
    });
    it("wrong target length", () => {
      expectCode(() => engine.searchNonce(header, new Uint8Array(31), 0, 1), "BAD_LENGTH");
    });
    it("a range beyond the 2^32 nonce space", () => {
      expectCode(() => engine.searchNonce(header, target, 2 ** 32 - 10, 11), "BAD_RANGE");
      expectCode(() => engine.searchNonce(header, target, 0, 2 ** 32 + 1), "BAD_RANGE");
      expectCode(() => engine.searchNonce(header, target, 0, -1), "BAD_RANGE");
    });
    it("non-integer or out-of-range start nonce", () => {
      expectCode(() => engine.searchNonce(header, target, 1.5, 1), "BAD_NONCE");
      expectCode(() => engine.searchNonce(header, target, -1, 1), "BAD_NONCE");
      expectCode(() => engine.searchNonce(header, target, 2 ** 32, 0), "BAD_NONCE");
      expectCode(() => engine.searchNonce(header, target, Number.NaN, 1), "BAD_NONCE");
    });
    it("non-Uint8Array header", () => {
      expectCode(() => engine.searchNonce([] as unknown as Uint8Array, target, 0, 1), "BAD_ARGUMENT");
    });
  });
}

/** The target of compact `bits` (plain formula; the exact codec is tested in bits.test.ts). */
function bitsTarget(bits: number): Uint8Array {
  const size = bits >>> 24;
  const value = BigInt(bits & 0x7fffff) << BigInt(8 * (size - 3));
  const out = new Uint8Array(32);
  let n = value;
  for (let i = 0; i < 32; i++, n >>= 8n) out[i] = Number(n & 0xffn);
  return out;
}

/** `x - 1` for a non-zero 256-bit little-endian value. */
function minusOne(x: Uint8Array): Uint8Array {
  const out = x.slice();
  for (let i = 0; i < 32; i++) {
    if (out[i]! > 0) {
      out[i]!--;
      return out;
    }
    out[i] = 0xff;
  }
  return out;
}
