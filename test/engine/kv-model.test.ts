/**
 * Model test: random operation sequences (with nested checkpoints and rollbacks) drive the wasm
 * store and the ts store side by side against a plain Map with a stack of snapshots.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { createKvStore, type KvStore } from "../../bindings/engine/index.ts";

type Op =
  | { op: "put"; key: Uint8Array; value: Uint8Array }
  | { op: "get" | "has" | "delete"; key: Uint8Array }
  | { op: "clear" | "checkpoint" | "rollback" | "release" | "iterate" };

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

// Few distinct short keys so that puts overwrite and deletes hit; some long keys too.
const keyArb = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: 0, max: 40 }).map((i) => new Uint8Array([i])) },
  { weight: 2, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 40 }) },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 1000, maxLength: 1024 }) },
);
const valueArb = fc.oneof(
  { weight: 10, arbitrary: fc.uint8Array({ maxLength: 48 }) },
  { weight: 2, arbitrary: fc.uint8Array({ minLength: 100, maxLength: 3000 }) },
  { weight: 1, arbitrary: fc.constant(new Uint8Array(65536).fill(7)) },
);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 12, arbitrary: fc.record({ op: fc.constant("put" as const), key: keyArb, value: valueArb }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constantFrom("get" as const, "has" as const), key: keyArb }) },
  { weight: 5, arbitrary: fc.record({ op: fc.constant("delete" as const), key: keyArb }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("clear" as const) }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant("checkpoint" as const) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constantFrom("rollback" as const, "release" as const) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant("iterate" as const) }) },
);

function contents(store: KvStore): Map<string, string> {
  const out = new Map<string, string>();
  for (const [k, v] of store.entries()) {
    expect(out.has(hex(k))).toBe(false); // every entry exactly once
    out.set(hex(k), hex(v));
  }
  return out;
}

function runOps(stores: KvStore[], ops: Op[]): void {
  let model = new Map<string, string>();
  const snapshots: Array<Map<string, string>> = [];
  for (const o of ops) {
    switch (o.op) {
      case "put":
        model.set(hex(o.key), hex(o.value));
        for (const s of stores) s.put(o.key, o.value);
        break;
      case "get":
        for (const s of stores) {
          const v = s.get(o.key);
          expect(v === undefined ? undefined : hex(v)).toBe(model.get(hex(o.key)));
        }
        break;
      case "has":
        for (const s of stores) expect(s.has(o.key)).toBe(model.has(hex(o.key)));
        break;
      case "delete": {
        const present = model.delete(hex(o.key));
        for (const s of stores) expect(s.delete(o.key)).toBe(present);
        break;
      }
      case "clear":
        model.clear();
        for (const s of stores) s.clear();
        break;
      case "checkpoint":
        snapshots.push(new Map(model));
        for (const s of stores) expect(s.checkpoint()).toBe(snapshots.length);
        break;
      case "rollback":
      case "release": {
        const op = o.op as "rollback" | "release";
        if (snapshots.length === 0) {
          for (const s of stores)
            expect(() => s[op]()).toThrow(expect.objectContaining({ code: "NO_CHECKPOINT" }));
          break;
        }
        if (op === "rollback") model = snapshots.pop()!;
        else snapshots.pop();
        for (const s of stores) s[op]();
        break;
      }
      case "iterate":
        for (const s of stores) expect(contents(s)).toEqual(model);
        break;
    }
    for (const s of stores) {
      expect(s.size).toBe(model.size);
      expect(s.depth).toBe(snapshots.length);
    }
  }
  for (const s of stores) expect(contents(s)).toEqual(model);
}

describe("kv store model test (wasm and ts against a Map)", () => {
  it("random operation sequences agree with the model", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { maxLength: 120 }), async (ops) => {
        const stores = [await createKvStore("wasm"), await createKvStore("ts")];
        runOps(stores, ops);
      }),
      { numRuns: 150, seed: 0x5eed },
    );
  }, 120_000);

  it("many keys: growth, deletes of most keys and rollback of a large change set", async () => {
    for (const engine of ["wasm", "ts"] as const) {
      const s = await createKvStore(engine);
      const key = (i: number) => new Uint8Array(new Uint32Array([i, i * 7]).buffer);
      for (let i = 0; i < 20000; i++) s.put(key(i), key(i + 1));
      s.checkpoint();
      for (let i = 0; i < 20000; i += 2) s.delete(key(i));
      for (let i = 20000; i < 30000; i++) s.put(key(i), new Uint8Array(3));
      expect(s.size).toBe(20000);
      s.rollback();
      expect(s.size).toBe(20000);
      for (let i = 0; i < 20000; i++) expect(s.get(key(i))).toEqual(key(i + 1));
      expect(s.has(key(20000))).toBe(false);
      // delete nearly everything: remaining lookups still find their keys (no tombstones)
      for (let i = 0; i < 19990; i++) expect(s.delete(key(i))).toBe(true);
      for (let i = 19990; i < 20000; i++) expect(s.get(key(i))).toEqual(key(i + 1));
      expect(s.size).toBe(10);
    }
  }, 120_000);

  it("rejects bad keys and values with typed errors", async () => {
    for (const engine of ["wasm", "ts"] as const) {
      const s = await createKvStore(engine);
      expect(() => s.put(new Uint8Array(0), new Uint8Array(1))).toThrow(
        expect.objectContaining({ code: "BAD_LENGTH" }),
      );
      expect(() => s.put(new Uint8Array(1025), new Uint8Array(1))).toThrow(
        expect.objectContaining({ code: "BAD_LENGTH" }),
      );
      expect(() => s.put(new Uint8Array(1), new Uint8Array(65537))).toThrow(
        expect.objectContaining({ code: "BAD_LENGTH" }),
      );
      expect(() => s.get("x" as unknown as Uint8Array)).toThrow(
        expect.objectContaining({ code: "BAD_ARGUMENT" }),
      );
      expect(s.size).toBe(0);
    }
  });
});
