/**
 * The WebAssembly nonce search (assembly/pow.ts through bindings/engine/wasm.ts): the Bitcoin
 * genesis block found at its exact nonce, solutions in every SIMD lane and at the last nonce of a
 * range, lanes past the end of a range never reported (also where they wrap past 2^32), ranges
 * ending exactly at 2^32, the full 256-bit comparison behind the 32-bit early test, seeded easy
 * targets against a node:crypto brute force, and views of memory re-created after it grows.
 * @module
 */
import { createHash } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import type { Engine } from "../../bindings/engine/index.ts";
import { compileCoreAt, instantiateCore } from "../../bindings/engine/core.ts";
import { createWasmEngine, SEARCH_CHUNK } from "../../bindings/engine/wasm.ts";
import { ChainDbError, ErrorCode, fromHex, toHex } from "../../bindings/util/index.ts";
import { prng, randomBytes } from "../helpers/engine.suite.ts";

const sha256 = (data: Uint8Array): Uint8Array => new Uint8Array(createHash("sha256").update(data).digest());
const sha256d = (data: Uint8Array): Uint8Array => sha256(sha256(data));

const GENESIS = fromHex(
  "0100000000000000000000000000000000000000000000000000000000000000000000003ba3edfd7a7b12b27ac72c3e67768f617fc81bc3888a51323a9fb8aa4b1e5e4a29ab5f49ffff001d1dac2b7c",
);
const GENESIS_NONCE = 2083236893;
/** bits 0x1d00ffff: 0x00ffff · 256^(0x1d − 3), as 32 little-endian bytes. */
const GENESIS_TARGET = (() => {
  const t = new Uint8Array(32);
  t[26] = 0xff;
  t[27] = 0xff;
  return t;
})();
const NONCE_SPACE = 2 ** 32;

/** The header with `nonce` (u32 little-endian at 76). */
function withNonce(header: Uint8Array, nonce: number): Uint8Array {
  const h = header.slice();
  new DataView(h.buffer).setUint32(76, nonce, true);
  return h;
}

/** `a ≤ b` as 256-bit little-endian integers. */
function leqLE(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 31; i >= 0; i--) if (a[i] !== b[i]) return a[i]! < b[i]!;
  return true;
}

/** The reference search: node:crypto, one nonce at a time. */
function bruteForce(header: Uint8Array, target: Uint8Array, start: number, count: number) {
  for (let n = start; n < start + count; n++) {
    if (leqLE(sha256d(withNonce(header, n)), target)) return { nonce: n, hashes: n - start + 1 };
  }
  return { nonce: null, hashes: count };
}

/** A 256-bit little-endian value minus one (the value must not be zero). */
function minusOne(value: Uint8Array): Uint8Array {
  const out = value.slice();
  for (let i = 0; i < 32; i++) {
    if (out[i]! > 0) {
      out[i]!--;
      break;
    }
    out[i] = 0xff;
  }
  return out;
}

let engine: Engine;
beforeAll(async () => {
  engine = await createWasmEngine(await instantiateCore());
});

describe("wasm nonce search on the Bitcoin genesis header", () => {
  it("the genesis header meets its own target (the vector is right)", () => {
    expect(toHex(sha256d(GENESIS).reverse())).toBe(
      "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f",
    );
    expect(leqLE(sha256d(GENESIS), GENESIS_TARGET)).toBe(true);
  });

  it("finds nonce 2083236893 exactly, over a range that spans several 64k chunks", () => {
    const before = 3 * SEARCH_CHUNK + 12345;
    expect(engine.searchNonce(GENESIS, GENESIS_TARGET, GENESIS_NONCE - before, before + 5000)).toEqual({
      nonce: GENESIS_NONCE,
      hashes: before + 1,
    });
  });

  it("ignores the header's own nonce field", () => {
    expect(engine.searchNonce(withNonce(GENESIS, 0), GENESIS_TARGET, GENESIS_NONCE - 10, 20)).toEqual({
      nonce: GENESIS_NONCE,
      hashes: 11,
    });
  });

  it("finds the solution in each of the four lanes of a group", () => {
    for (let lane = 0; lane < 4; lane++) {
      for (const count of [4, 5, 8, 13]) {
        expect(
          engine.searchNonce(GENESIS, GENESIS_TARGET, GENESIS_NONCE - lane, count),
          `lane ${lane}, count ${count}`,
        ).toEqual({
          nonce: GENESIS_NONCE,
          hashes: lane + 1,
        });
      }
    }
  });

  it("finds a solution at the last nonce of a range, for every count modulo 4", () => {
    for (const count of [1, 2, 3, 4, 97, 98, 99, 100, SEARCH_CHUNK + 3]) {
      expect(
        engine.searchNonce(GENESIS, GENESIS_TARGET, GENESIS_NONCE - count + 1, count),
        `count ${count}`,
      ).toEqual({
        nonce: GENESIS_NONCE,
        hashes: count,
      });
    }
  });

  it("never reports a solution just past the end of a range (hashed in a lane, outside the range)", () => {
    for (const count of [1, 2, 3, 5, 6, 7, 97, 98, 99, SEARCH_CHUNK + 1]) {
      expect(
        engine.searchNonce(GENESIS, GENESIS_TARGET, GENESIS_NONCE - count, count),
        `count ${count}`,
      ).toEqual({
        nonce: null,
        hashes: count,
      });
    }
  });

  it("returns no nonce and no hashes for count 0", () => {
    expect(engine.searchNonce(GENESIS, GENESIS_TARGET, GENESIS_NONCE, 0)).toEqual({ nonce: null, hashes: 0 });
  });
});

describe("wasm nonce search at the end of the nonce space", () => {
  it("searches ranges that end exactly at 2^32", () => {
    const rand = prng(0xe2d);
    const header = randomBytes(rand, 80);
    // Target = the hash of nonce 2^32 − 1, so at least the last nonce meets it.
    const target = sha256d(withNonce(header, NONCE_SPACE - 1));
    for (const count of [1, 2, 3, 4, 5, 1000]) {
      const start = NONCE_SPACE - count;
      const result = engine.searchNonce(header, target, start, count);
      expect(result, `count ${count}`).toEqual(bruteForce(header, target, start, count));
      expect(result.nonce).not.toBeNull();
    }
  });

  it("never reports a lane that wraps past 2^32 to nonce 0", () => {
    // A header where nonce 0 hashes lower than nonces 2^32−3 .. 2^32−1: with target = hash(nonce 0),
    // only the fourth lane of the last group (nonce 2^32, which wraps to 0) would meet it.
    const rand = prng(0x3a9);
    for (let found = 0, tries = 0; found < 5; tries++) {
      expect(tries).toBeLessThan(200);
      const header = randomBytes(rand, 80);
      const target = sha256d(withNonce(header, 0));
      if (bruteForce(header, target, NONCE_SPACE - 3, 3).nonce !== null) continue;
      found++;
      expect(engine.searchNonce(header, target, NONCE_SPACE - 3, 3)).toEqual({ nonce: null, hashes: 3 });
      expect(engine.searchNonce(header, target, 0, 1)).toEqual({ nonce: 0, hashes: 1 });
    }
  });

  it("refuses ranges beyond 2^32 with a ChainDbError instead of wrapping", () => {
    const call = (start: number, count: number) => () =>
      engine.searchNonce(GENESIS, GENESIS_TARGET, start, count);
    expect(call(NONCE_SPACE - 3, 4)).toThrow(ChainDbError);
    expect(call(NONCE_SPACE - 3, 4)).toThrow(expect.objectContaining({ code: ErrorCode.BAD_RANGE }));
    expect(call(NONCE_SPACE, 0)).toThrow(expect.objectContaining({ code: ErrorCode.BAD_NONCE }));
    expect(call(-1, 1)).toThrow(expect.objectContaining({ code: ErrorCode.BAD_NONCE }));
    expect(call(0, 1.5)).toThrow(expect.objectContaining({ code: ErrorCode.BAD_RANGE }));
  });
});

describe("wasm nonce search against a node:crypto brute force", () => {
  it("agrees on seeded random headers, easy targets and ranges of any length", () => {
    const rand = prng(0xb4e7);
    for (let trial = 0; trial < 120; trial++) {
      const header = randomBytes(rand, 80);
      const target = new Uint8Array(32).fill(0xff);
      // From about 1 in 2 to 1 in 2^16 nonces meeting the target; some with the top 32 bits zero.
      target[31] = trial % 4 === 0 ? 0 : rand() >>> (25 + (trial % 7));
      if (trial % 4 === 0) target[30] = rand() & 0x3f;
      const count = rand() % 3000;
      const start = rand() % (NONCE_SPACE - count);
      expect(engine.searchNonce(header, target, start, count), `trial ${trial}`).toEqual(
        bruteForce(header, target, start, count),
      );
    }
  });

  it("decides with all 256 bits when the top 32 bits of hash and target are equal", () => {
    const rand = prng(0xf011);
    for (let trial = 0; trial < 20; trial++) {
      const header = randomBytes(rand, 80);
      const start = rand() % (NONCE_SPACE - 64);
      // The lowest hash of a window, as the target: met exactly (≤), missed by target − 1.
      const hashes = Array.from({ length: 64 }, (_, i) => sha256d(withNonce(header, start + i)));
      let best = 0;
      hashes.forEach((h, i) => {
        if (!leqLE(hashes[best]!, h)) best = i;
      });
      const target = hashes[best]!;
      expect(engine.searchNonce(header, target, start, 64)).toEqual({
        nonce: start + best,
        hashes: best + 1,
      });
      expect(engine.searchNonce(header, minusOne(target), start, 64)).toEqual({ nonce: null, hashes: 64 });
    }
  });
});

describe("the wasm binding after memory grows", () => {
  it("re-creates its views of memory and keeps hashing, searching and building merkle roots", async () => {
    const exports = await instantiateCore();
    const wasm = await createWasmEngine(exports);
    const rand = prng(0x96a);
    const data = randomBytes(rand, 100_000);
    const messages = Array.from({ length: 9 }, () => randomBytes(rand, 64));
    const leaves = Array.from({ length: 7 }, () => randomBytes(rand, 32));
    const run = () => ({
      sha256: toHex(wasm.sha256(data)),
      sha256d: toHex(wasm.sha256d(data.subarray(0, 80))),
      many: wasm.sha256Many(messages).map(toHex),
      search: wasm.searchNonce(GENESIS, GENESIS_TARGET, GENESIS_NONCE - 50, 100),
      merkle: toHex(wasm.merkleRoot(leaves)),
    });
    const before = run();
    expect(before.sha256).toBe(toHex(sha256(data)));
    expect(before.search).toEqual({ nonce: GENESIS_NONCE, hashes: 51 });

    for (let growth = 0; growth < 3; growth++) {
      const oldBuffer = exports.memory.buffer;
      const pagesBefore = oldBuffer.byteLength / 65536;
      expect(exports.growMemoryForTest(1 + growth)).toBe(pagesBefore);
      expect(oldBuffer.byteLength).toBe(0); // detached: a view kept across the call would be dead
      expect(exports.memory.buffer.byteLength).toBe((pagesBefore + 1 + growth) * 65536);
      expect(run()).toEqual(before);
    }
  });
});

describe("loading the core", () => {
  it("reports a missing build as WASM_UNAVAILABLE, telling to run the build", async () => {
    const missing = new URL("../../build/no-such-core.wasm", import.meta.url);
    await expect(compileCoreAt(missing)).rejects.toThrow(
      expect.objectContaining({
        code: ErrorCode.WASM_UNAVAILABLE,
        message: expect.stringMatching(/npm run build/),
      }),
    );
  });
});
