/**
 * The stores' value lifecycle, on both engines: values that change size in place and out of
 * place, overwrites and deletes under nested checkpoints, copies that never alias the store, and
 * (ts store) an arena that compacts its dead bytes instead of growing without bound.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { createKvStore, type KvStore } from "../../bindings/engine/index.ts";
import { TsKvStore } from "../../bindings/engine/kv-ts.ts";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const key = (i: number) => new Uint8Array([i & 0xff, i >>> 8, 7, 7]);
/** A value of `len` bytes whose content names (i, len, round). */
function value(i: number, len: number, round: number): Uint8Array {
  const v = new Uint8Array(len);
  for (let j = 0; j < len; j++) v[j] = (i * 31 + len * 7 + round * 13 + j) & 0xff;
  return v;
}

function contents(s: KvStore): Map<string, string> {
  return new Map([...s.entries()].map(([k, v]) => [hex(k), hex(v)]));
}

for (const engine of ["ts", "wasm"] as const) {
  describe(`${engine} store: value lifecycle`, () => {
    it("copies in and out: neither the caller's array nor a returned copy can change the store", async () => {
      const s = await createKvStore(engine);
      const v = value(1, 40, 0);
      const buf = Buffer.alloc(64, 9); // a pooled-style view at an odd offset
      const k = buf.subarray(3, 35);
      s.put(k, v);
      v.fill(0);
      buf.fill(1);
      expect(s.get(new Uint8Array(32).fill(9))).toEqual(value(1, 40, 0));
      s.get(new Uint8Array(32).fill(9))!.fill(5);
      expect(s.get(new Uint8Array(32).fill(9))).toEqual(value(1, 40, 0));
      for (const [, x] of s.entries()) x.fill(3);
      expect(s.get(new Uint8Array(32).fill(9))).toEqual(value(1, 40, 0));
    });

    it("size-changing overwrites and deletes under nested checkpoints roll back exactly", async () => {
      const s = await createKvStore(engine);
      const lens = [0, 1, 16, 33, 300, 4000];
      for (let i = 0; i < 200; i++) s.put(key(i), value(i, lens[i % lens.length]!, 0));
      const base = contents(s);
      s.checkpoint();
      for (let i = 0; i < 200; i += 2) s.put(key(i), value(i, lens[(i + 1) % lens.length]!, 1));
      const mid = contents(s);
      s.checkpoint();
      for (let i = 0; i < 200; i += 3) s.delete(key(i));
      for (let i = 200; i < 260; i++) s.put(key(i), value(i, 20, 2));
      for (let i = 0; i < 200; i += 5) s.put(key(i), value(i, 2000, 3));
      s.clear();
      s.put(key(1), value(1, 5, 4));
      s.rollback();
      expect(contents(s)).toEqual(mid);
      s.rollback();
      expect(contents(s)).toEqual(base);
      // at depth 0, overwrites of every size keep the content right
      for (let round = 5; round < 40; round++)
        for (let i = 0; i < 200; i += 7) s.put(key(i), value(i, lens[(i + round) % lens.length]!, round));
      for (let i = 0; i < 200; i += 7)
        expect(s.get(key(i))).toEqual(value(i, lens[(i + 39) % lens.length]!, 39));
      expect(s.size).toBe(200);
    });

    it("random sizes, overwrites, deletes and checkpoints agree with a Map model", async () => {
      type Op = [kind: number, k: number, len: number];
      const ops = fc.array(
        fc.tuple(
          fc.integer({ min: 0, max: 9 }),
          fc.integer({ min: 0, max: 60 }),
          fc.integer({ min: 0, max: 700 }),
        ),
        { maxLength: 300 },
      );
      await fc.assert(
        fc.asyncProperty(ops, async (list: Op[]) => {
          const s = await createKvStore(engine);
          let model = new Map<string, string>();
          const stack: Array<Map<string, string>> = [];
          list.forEach(([kind, k, len], round) => {
            if (kind <= 4) {
              s.put(key(k), value(k, len, round));
              model.set(hex(key(k)), hex(value(k, len, round)));
            } else if (kind <= 6) expect(s.delete(key(k))).toBe(model.delete(hex(key(k))));
            else if (kind === 7) {
              stack.push(new Map(model));
              s.checkpoint();
            } else if (stack.length > 0) {
              const snapshot = stack.pop()!;
              if (kind === 8) {
                s.rollback();
                model = snapshot;
              } else s.release();
            }
          });
          expect(contents(s)).toEqual(model);
          expect(s.size).toBe(model.size);
        }),
        { numRuns: 120, seed: 0xa7e4a },
      );
    }, 60_000);
  });
}

describe("ts store arena", () => {
  it("compacts dead bytes: 100,000 overwrites of 100 keys keep the arena bounded", () => {
    const s = new TsKvStore();
    for (let round = 0; round < 1000; round++)
      for (let i = 0; i < 100; i++) s.put(key(i), value(i, 200 + ((round + i) % 2) * 300, round));
    // 100 live values of at most 500 bytes: 50 KB live; without compaction the arena passes 30 MB
    expect(s.arenaBytes).toBeLessThanOrEqual(256 * 1024);
    for (let i = 0; i < 100; i++) expect(s.get(key(i))).toEqual(value(i, 200 + ((999 + i) % 2) * 300, 999));
  });

  it("does not compact while a checkpoint is open: the journal's old values survive", () => {
    const s = new TsKvStore();
    for (let i = 0; i < 50; i++) s.put(key(i), value(i, 100, 0));
    s.checkpoint();
    for (let round = 1; round < 400; round++)
      for (let i = 0; i < 50; i++) s.put(key(i), value(i, 100 + (round % 3), round));
    s.rollback();
    for (let i = 0; i < 50; i++) expect(s.get(key(i))).toEqual(value(i, 100, 0));
    const grown = s.arenaBytes;
    for (let round = 1; round < 400; round++) s.put(key(0), value(0, 100 + (round % 3), round));
    expect(s.arenaBytes).toBeLessThanOrEqual(grown); // the dead bytes were compacted, not added to
    expect(s.get(key(0))).toEqual(value(0, 100 + (399 % 3), 399));
    for (let i = 1; i < 50; i++) expect(s.get(key(i))).toEqual(value(i, 100, 0));
  });
});
