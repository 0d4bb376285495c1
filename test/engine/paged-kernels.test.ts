/**
 * The paged state's 4-lane kernels (assembly/paged.ts) against the ts engine's word-layout hashes
 * (bindings/engine/sha256-block.ts): paths, leaves and nodes for every count 1..9 (full groups of
 * four and short last groups), both destinations of a job, and the heap above the pages, updated
 * from a list of buckets and rebuilt whole, against a naive combine in TypeScript.
 */
import { describe, expect, it } from "vitest";
import { instantiateCore } from "../../bindings/engine/core.ts";
import { leafDigest, nodeDigest, pathDigest } from "../../bindings/engine/sha256-block.ts";
import { crc32c } from "../../bindings/store/append-log.ts";
import { prng } from "../helpers/ledger-fixtures.ts";

const rand = prng(31);
const bytes = (n: number) => Uint8Array.from({ length: n }, () => Math.floor(rand() * 256));
const u32 = (b: Uint8Array, o: number) => new DataView(b.buffer, b.byteOffset).getUint32(o, true);

describe("paged kernels", () => {
  it("paths, leaves and nodes equal the ts engine's word-layout digests, 1..9 at a time", async () => {
    const core = await instantiateCore();
    for (let n = 1; n <= 9; n++) {
      const src = core.pagedAlloc(88 * n);
      const out = core.pagedAlloc(64 * n);
      const jobs = core.pagedAlloc(12 * n);
      const input = bytes(88 * n);
      new Uint8Array(core.memory.buffer).set(input, src);
      const before = core.pagedHashCount();
      core.pagedPaths(src, 88, n, out);
      expect(core.pagedHashCount() - before).toBe(n);
      let mem = new Int32Array(core.memory.buffer);
      const want = new Int32Array(8);
      for (let i = 0; i < n; i++) {
        pathDigest(input, 88 * i, want, 0);
        expect(Array.from(mem.subarray((out >> 2) + 8 * i, (out >> 2) + 8 * i + 8))).toEqual(
          Array.from(want),
        );
      }
      // Leaves of records at src + 88·i, to out + 32·i and (every other job) out + 32·(n + i).
      const jv = new Uint32Array(core.memory.buffer, jobs, 3 * n);
      for (let i = 0; i < n; i++)
        jv.set([src + 88 * i, out + 32 * i, i % 2 === 0 ? out + 32 * (n + i) : 0], 3 * i);
      core.pagedLeaves(jobs, n);
      mem = new Int32Array(core.memory.buffer);
      for (let i = 0; i < n; i++) {
        const o = 88 * i;
        leafDigest(
          input,
          o,
          u32(input, o + 32),
          u32(input, o + 36),
          u32(input, o + 40),
          u32(input, o + 44),
          want,
          0,
        );
        expect(Array.from(mem.subarray((out >> 2) + 8 * i, (out >> 2) + 8 * i + 8))).toEqual(
          Array.from(want),
        );
        if (i % 2 === 0)
          expect(Array.from(mem.subarray((out >> 2) + 8 * (n + i), (out >> 2) + 8 * (n + i) + 8))).toEqual(
            Array.from(want),
          );
      }
      // Nodes of 64-byte messages at src + 88·i.
      for (let i = 0; i < n; i++) jv.set([src + 88 * i, out + 32 * i, 0], 3 * i);
      const words = new Int32Array(input.buffer.slice(0));
      core.pagedNodes(jobs, n);
      mem = new Int32Array(core.memory.buffer);
      for (let i = 0; i < n; i++) {
        nodeDigest(words, 22 * i, want, 0);
        expect(Array.from(mem.subarray((out >> 2) + 8 * i, (out >> 2) + 8 * i + 8))).toEqual(
          Array.from(want),
        );
      }
    }
  });

  it("the heap above the pages: updated from changed buckets and rebuilt whole, as a naive combine", async () => {
    const core = await instantiateCore();
    const bits = 6;
    const B = 1 << bits;
    const top = core.pagedAlloc(2 * B * 32);
    const cnt = core.pagedAlloc(2 * B * 4);
    const list = core.pagedAlloc(B * 4);
    const ref = new Int32Array(2 * B * 8);
    const refCnt = new Uint32Array(2 * B);
    const combine = () => {
      for (let i = B - 1; i >= 1; i--) {
        const c0 = refCnt[2 * i]!;
        const c1 = refCnt[2 * i + 1]!;
        refCnt[i] = c0 + c1;
        if (c0 + c1 === 0) ref.fill(0, 8 * i, 8 * i + 8);
        else if (c0 + c1 === 1)
          ref.copyWithin(8 * i, 8 * (c0 === 1 ? 2 * i : 2 * i + 1), 8 * (c0 === 1 ? 2 * i : 2 * i + 1) + 8);
        else nodeDigest(ref, 16 * i, ref, 8 * i);
      }
    };
    const setBucket = (b: number) => {
      const c = Math.floor(rand() * 3);
      refCnt[B + b] = c;
      for (let w = 0; w < 8; w++) ref[8 * (B + b) + w] = c === 0 ? 0 : Math.floor(rand() * 2 ** 32) | 0;
    };
    for (let b = 0; b < B; b++) setBucket(b);
    combine();
    const sync = () => {
      new Int32Array(core.memory.buffer, top, 2 * B * 8).set(ref.subarray(0), 0);
      new Uint32Array(core.memory.buffer, cnt, 2 * B).set(refCnt);
    };
    const view = () => Array.from(new Int32Array(core.memory.buffer, top + 32, 8));
    sync();
    new Int32Array(core.memory.buffer, top + 32, (B - 1) * 8).fill(0); // the heap above the buckets
    core.pagedTopAll(top, cnt, bits);
    expect(view()).toEqual(Array.from(ref.subarray(8, 16)));
    expect(new Uint32Array(core.memory.buffer, cnt, 2)[1]).toBe(refCnt[1]);
    for (let round = 0; round < 5; round++) {
      const changed = [...new Set(Array.from({ length: 1 + round * 3 }, () => Math.floor(rand() * B)))].sort(
        (a, b) => a - b,
      );
      for (const b of changed) setBucket(b);
      new Int32Array(core.memory.buffer, top, 2 * B * 8).set(ref.subarray(8 * B), 8 * B);
      new Uint32Array(core.memory.buffer, cnt, 2 * B).set(refCnt.subarray(B), B);
      new Uint32Array(core.memory.buffer, list, changed.length).set(changed.map((b) => B + b));
      core.pagedTopUpdate(top, cnt, list, changed.length, bits);
      combine();
      expect(view()).toEqual(Array.from(ref.subarray(8, 16)));
      expect(Array.from(new Int32Array(core.memory.buffer, top, 2 * B * 8).subarray(8))).toEqual(
        Array.from(ref.subarray(8)),
      );
    }
  });
});

describe("the paged CRC-32C", () => {
  it("equals append-log.ts crc32c for every length 0..40 and chained, in the core's memory", async () => {
    const core = await instantiateCore();
    const data = bytes(4096);
    const at = core.pagedAlloc(4096 + 8);
    new Uint8Array(core.memory.buffer).set(data, at + 3); // an odd offset
    for (let len = 0; len <= 40; len++)
      expect(core.pagedCrc32c(at + 3, len, 0) >>> 0).toBe(crc32c(data.subarray(0, len)));
    const seed = crc32c(data.subarray(100));
    expect(core.pagedCrc32c(at + 3, 4096, seed) >>> 0).toBe(crc32c(data, seed));
    // RFC 3720 §B.4: 32 bytes of zeros.
    new Uint8Array(core.memory.buffer).fill(0, at, at + 32);
    expect(core.pagedCrc32c(at, 32, 0) >>> 0).toBe(0x8a9136aa);
  });
});
