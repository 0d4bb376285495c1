import { describe, expect, it } from "vitest";
import { createKvStore } from "../../bindings/engine/index.ts";
import { transactional, type Write } from "../../bindings/txn/index.ts";

// Transactions on a key-value store, on both engines: reads see own writes, others see nothing
// until commit, savepoints, rollback without trace, invariants, and the durable log hook.

const enc = new TextEncoder();
const dec = new TextDecoder();
const k = (s: string) => enc.encode(s);
const text = (v: Uint8Array | undefined) => (v === undefined ? undefined : dec.decode(v));
const dump = (entries: Iterable<[Uint8Array, Uint8Array]>) =>
  Object.fromEntries([...entries].map(([a, b]) => [dec.decode(a), dec.decode(b)]));

for (const engine of ["wasm", "ts"] as const) {
  describe(`KV transactions (${engine} store)`, () => {
    it("get / put / delete / savepoint / rollbackTo / commit", async () => {
      const store = await createKvStore(engine);
      store.put(k("a"), k("1"));
      store.put(k("gone"), k("x"));
      const db = transactional(store);
      const tx = db.begin();
      await tx.put(k("b"), k("2"));
      await tx.delete(k("gone"));
      expect(text(await tx.get(k("b")))).toBe("2");
      expect(await tx.get(k("gone"))).toBeUndefined();
      expect(text(store.get(k("gone")))).toBe("x"); // not applied before commit
      const sp = tx.savepoint();
      await tx.put(k("a"), k("changed"));
      await tx.put(k("c"), k("3"));
      tx.rollbackTo(sp);
      expect(text(await tx.get(k("a")))).toBe("1");
      expect(await tx.get(k("c"))).toBeUndefined();
      await tx.commit();
      expect(dump(store.entries())).toEqual({ a: "1", b: "2" });
      expect(store.depth).toBe(0);
      expect(db.committed).toBe(1);
    });

    it("a rollback leaves no trace, and a waiting reader sees only committed values", async () => {
      const store = await createKvStore(engine);
      store.put(k("a"), k("1"));
      const db = transactional(store);
      const writer = db.begin();
      await writer.put(k("a"), k("dirty"));
      const reader = db.begin();
      const read = reader.get(k("a")); // waits for the writer's exclusive lock
      expect(db.locks.waiters(Buffer.from("a").toString("hex")).length).toBe(1);
      writer.rollback();
      expect(text(await read)).toBe("1");
      reader.rollback();
      expect(dump(store.entries())).toEqual({ a: "1" });
      expect(store.depth).toBe(0);
    });

    it("commit returns after the log has the writes; a failing log rolls back with no trace", async () => {
      const store = await createKvStore(engine);
      const logged: string[][] = [];
      let fail = false;
      const db = transactional(store, {
        log: async (writes: readonly Write<Uint8Array, Uint8Array>[]) => {
          await Promise.resolve();
          if (fail) throw new Error("injected: log write failed");
          logged.push(writes.map((w) => `${dec.decode(w.key)}=${text(w.value)}`));
        },
      });
      await db.transaction(async (tx) => {
        await tx.put(k("x"), k("1"));
        await tx.put(k("y"), k("2"));
      });
      expect(logged).toEqual([["x=1", "y=2"]]);
      fail = true;
      await expect(db.transaction(async (tx) => tx.put(k("x"), k("9")))).rejects.toThrow("injected");
      expect(dump(store.entries())).toEqual({ x: "1", y: "2" });
      expect(db.locks.holders(Buffer.from("x").toString("hex")).size).toBe(0);
    });

    it("registered invariants are checked before commit (TX_INVARIANT)", async () => {
      const store = await createKvStore(engine);
      const db = transactional(store);
      db.registerInvariant("values are digits", (changes) =>
        changes.every((c) => c.after === undefined || /^\d+$/.test(dec.decode(c.after))),
      );
      await expect(db.transaction((tx) => tx.put(k("a"), k("abc")))).rejects.toMatchObject({
        code: "TX_INVARIANT",
      });
      await db.transaction((tx) => tx.put(k("a"), k("42")));
      expect(dump(store.entries())).toEqual({ a: "42" });
    });
  });
}

describe("KV transactions: lock timeouts", () => {
  it("a waiter gives up after lockTimeoutMs with LOCK_TIMEOUT and is rolled back; transaction() retries it", async () => {
    const { ManualClock } = await import("../../bindings/txn/index.ts");
    const clock = new ManualClock();
    const store = await createKvStore("ts");
    const db = transactional(store, { clock, lockTimeoutMs: 50 });
    const holder = db.begin();
    await holder.put(k("a"), k("held"));
    const waiter = db.begin();
    const read = waiter.get(k("a")).then(
      () => "granted",
      (e) => e.code,
    );
    clock.advance(49);
    expect(waiter.active).toBe(true);
    clock.advance(1);
    expect(await read).toBe("LOCK_TIMEOUT");
    expect(waiter.active).toBe(false);
    // With retries: the first attempt times out, the holder commits, the second attempt succeeds.
    let attempts = 0;
    const retried = db.transaction(
      async (tx) => {
        attempts++;
        return text(await tx.get(k("a")));
      },
      { retries: 1 },
    );
    clock.advance(50);
    await new Promise((resolve) => setImmediate(resolve));
    await holder.commit();
    expect(await retried).toBe("held");
    expect(attempts).toBe(2);
  });
});

describe("KV transactions: bounds", () => {
  it("a transaction may lock at most keysMax keys (BAD_ARGUMENT past the bound, keys already held still work)", async () => {
    const store = await createKvStore("ts");
    const db = transactional(store, { keysMax: 3 });
    const tx = db.begin();
    for (const key of ["a", "b", "c"]) await tx.get(k(key));
    await tx.put(k("a"), k("1")); // already locked: within the bound
    await expect(tx.get(k("d"))).rejects.toMatchObject({ code: "BAD_ARGUMENT" });
    await tx.commit();
    expect(dump(store.entries())).toEqual({ a: "1" });
  });
});
