/**
 * The WebAssembly SHA-256 paths against each other and against node:crypto: the 4-lane v128 path
 * (sha256ManyInput, sha256Pairs4, sha256dPairs4) against the scalar path for many lengths and seeded
 * random contents, the pointer-level sha256Bytes, and the streaming API over a 1,000,000-byte
 * message fed in irregular chunks.
 * @module
 */
import { createHash } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import type { CoreExports } from "../../bindings/engine/core-abi.ts";
import { instantiateCore } from "../../bindings/engine/core.ts";
import { createWasmEngine } from "../../bindings/engine/wasm.ts";
import { at, toHex } from "../../bindings/util/index.ts";
import { prng, randomBytes } from "../helpers/engine.suite.ts";
import { xorAt } from "../helpers/bytes.ts";

const sha256 = (data: Uint8Array): Uint8Array => new Uint8Array(createHash("sha256").update(data).digest());
const sha256d = (data: Uint8Array): Uint8Array => sha256(sha256(data));

let x: CoreExports;
let input: number;
let output: number;
const mem = (): Uint8Array => new Uint8Array(x.memory.buffer);

beforeAll(async () => {
  x = await instantiateCore();
  input = x.inputPtr();
  output = x.outputPtr();
});

/** The digests of sha256ManyInput: four equal-length messages go through the 4-lane path. */
function many(messages: Uint8Array[]): Uint8Array[] {
  const length = messages[0]!.length;
  messages.forEach((m, i) => mem().set(m, input + i * length));
  x.sha256ManyInput(length, messages.length);
  const digests = input + messages.length * length;
  return messages.map((_, i) => mem().slice(digests + 32 * i, digests + 32 * i + 32));
}

/** The scalar one-shot path. */
function scalar(message: Uint8Array): Uint8Array {
  mem().set(message, input);
  x.sha256Input(message.length);
  return mem().slice(output, output + 32);
}

// Every length up to 300 crosses each padding case (tail < 56, 56..63, exact blocks) several times;
// then block boundaries up to the longest four messages that fit with their digests (16 KiB − 32).
const LENGTHS = [
  ...Array.from({ length: 301 }, (_, i) => i),
  447,
  448,
  511,
  512,
  1000,
  1023,
  1024,
  1025,
  4096,
  4151,
  16351,
  16352,
];

describe("4-lane SHA-256 (sha256ManyInput)", () => {
  it("equals the scalar path and node:crypto in every lane, for lengths 0..300 and up to 16 KiB − 32", () => {
    const rand = prng(0x51d);
    for (const length of LENGTHS) {
      const messages = [0, 1, 2, 3].map(() => randomBytes(rand, length));
      const got = many(messages).map(toHex);
      const want = messages.map((m) => toHex(sha256(m)));
      expect(got, `length ${length}`).toEqual(want);
      expect(
        messages.map((m) => toHex(scalar(m))),
        `scalar, length ${length}`,
      ).toEqual(want);
    }
  });

  it("keeps the lanes independent: changing one message changes only its digest", () => {
    const rand = prng(0x1a4e);
    for (const length of [1, 55, 64, 100, 200]) {
      const messages = [0, 1, 2, 3].map(() => randomBytes(rand, length));
      const before = many(messages).map(toHex);
      for (let lane = 0; lane < 4; lane++) {
        const changed = messages.map((m) => m.slice());
        xorAt(at(changed, lane), rand() % length, 1 << (rand() % 8));
        const after = many(changed).map(toHex);
        after.forEach((digest, i) => {
          if (i === lane) expect(digest).not.toBe(before[i]);
          else expect(digest).toBe(before[i]);
        });
        expect(after[lane]).toBe(toHex(sha256(changed[lane]!)));
      }
    }
  });

  it("hashes batches of 1..11 messages: groups of four in the lanes, the rest scalar", () => {
    const rand = prng(0xba7c);
    for (let count = 1; count <= 11; count++) {
      for (const length of [0, 32, 64, 65, 200]) {
        const messages = Array.from({ length: count }, () => randomBytes(rand, length));
        expect(many(messages).map(toHex), `${count} × ${length}`).toEqual(
          messages.map((m) => toHex(sha256(m))),
        );
      }
    }
  });

  it("aborts with a message when the messages and digests do not fit the input buffer", () => {
    expect(() => x.sha256ManyInput(x.inputSize() / 4 - 31, 4)).toThrow(/do not fit the input buffer/);
    expect(() => x.sha256ManyInput(2 ** 32 - 8, 1)).toThrow(/do not fit the input buffer/);
    expect(() => x.sha256Input(x.inputSize() + 1)).toThrow(/input longer than the static input buffer/);
  });
});

describe("sha256Pairs4 and sha256dPairs4 (four 64-byte messages, as a Merkle tree hashes nodes)", () => {
  it("equal node:crypto for seeded random pairs, into another buffer and in place", () => {
    const rand = prng(0x9a125);
    for (let trial = 0; trial < 64; trial++) {
      const pairs = randomBytes(rand, 256);
      const pair = (i: number) => pairs.subarray(64 * i, 64 * i + 64);
      const single = [0, 1, 2, 3].map((i) => toHex(sha256(pair(i)))).join("");
      const double = [0, 1, 2, 3].map((i) => toHex(sha256d(pair(i)))).join("");

      mem().set(pairs, input);
      x.sha256Pairs4(input, output);
      expect(toHex(mem().slice(output, output + 128))).toBe(single);
      x.sha256dPairs4(input, output);
      expect(toHex(mem().slice(output, output + 128))).toBe(double);

      // In place: the digests overwrite the first half of their own input.
      x.sha256dPairs4(input, input);
      expect(toHex(mem().slice(input, input + 128))).toBe(double);
      mem().set(pairs, input);
      x.sha256Pairs4(input, input);
      expect(toHex(mem().slice(input, input + 128))).toBe(single);
    }
  });
});

describe("sha256Bytes and sha256dBytes (scalar, at any address)", () => {
  it("equal node:crypto at unaligned addresses, lengths across block boundaries, dst overlapping src", () => {
    const rand = prng(0xb17e5);
    for (const length of [0, 1, 31, 32, 55, 56, 63, 64, 65, 80, 119, 120, 128, 1000, 4097]) {
      const data = randomBytes(rand, length);
      const src = input + 1 + (rand() % 15);
      const dst = input + 8192 + (rand() % 7);
      mem().set(data, src);
      x.sha256Bytes(src, length, dst);
      expect(toHex(mem().slice(dst, dst + 32)), `sha256 ${length}`).toBe(toHex(sha256(data)));
      x.sha256dBytes(src, length, dst);
      expect(toHex(mem().slice(dst, dst + 32)), `sha256d ${length}`).toBe(toHex(sha256d(data)));
      x.sha256Bytes(src, length, src);
      expect(toHex(mem().slice(src, src + 32)), `in place ${length}`).toBe(toHex(sha256(data)));
    }
  });
});

describe("streaming SHA-256 (sha256Init / sha256Update / sha256Final)", () => {
  /** Feeds `data` in seeded random chunks of 1 byte .. the whole input buffer. */
  function streamed(data: Uint8Array, seed: number, double = false): Uint8Array {
    const rand = prng(seed);
    x.sha256Init();
    for (let i = 0; i < data.length;) {
      const n = Math.min(
        data.length - i,
        rand() % 3 === 0 ? 1 + (rand() % 70) : 1 + (rand() % x.inputSize()),
      );
      mem().set(data.subarray(i, i + n), input);
      x.sha256Update(n);
      i += n;
    }
    if (double) x.sha256dFinal();
    else x.sha256Final();
    return mem().slice(output, output + 32);
  }

  it("hashes one million 'a' (FIPS 180-4 example) fed in irregular chunks", () => {
    const million = new Uint8Array(1_000_000).fill(0x61);
    const want = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";
    for (const seed of [1, 2, 3]) expect(toHex(streamed(million, seed))).toBe(want);
  });

  it("equals node:crypto on a seeded random 1,000,000-byte message, single and double", () => {
    const data = randomBytes(prng(0x5eed), 1_000_000);
    expect(toHex(streamed(data, 7))).toBe(toHex(sha256(data)));
    expect(toHex(streamed(data, 8, true))).toBe(toHex(sha256d(data)));
  });

  it("is not disturbed by one-shot hashes between updates", () => {
    const data = randomBytes(prng(0xd15), 5000);
    x.sha256Init();
    mem().set(data.subarray(0, 100), input);
    x.sha256Update(100);
    x.sha256Bytes(input + 4096, 77, input + 8192); // uses its own state and buffer
    mem().set(data.subarray(100), input);
    x.sha256Update(data.length - 100);
    x.sha256Final();
    expect(toHex(mem().slice(output, output + 32))).toBe(toHex(sha256(data)));
  });
});

describe("the wasm engine's sha256Many", () => {
  it("returns node:crypto's digests in order for mixed lengths (SIMD groups, leftovers, long messages)", async () => {
    const engine = await createWasmEngine(x);
    const rand = prng(0x3a17);
    const lengths = [
      64, 64, 64, 64, 64, 64, 0, 0, 0, 0, 100, 7, 100, 100, 100, 20_000, 20_000, 20_000, 20_000, 70_000, 5,
    ];
    const messages = lengths.map((n) => randomBytes(rand, n));
    expect(engine.sha256Many(messages).map(toHex)).toEqual(messages.map((m) => toHex(sha256(m))));
    expect(engine.sha256Many([])).toEqual([]);
  });
});
