import { describe, expect, it } from "vitest";
import { LockManager, ManualClock, compatible, type LockMode } from "../../bindings/txn/index.ts";

interface Tracked {
  state: "pending" | "granted" | "rejected";
  code?: string;
}

function track(p: Promise<void>): Tracked {
  const t: Tracked = { state: "pending" };
  p.then(
    () => (t.state = "granted"),
    (e: { code?: string }) => {
      t.state = "rejected";
      t.code = e.code;
    },
  );
  return t;
}

// The lock manager settles promises synchronously; one macrotask turn lets their handlers run.
const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

describe("LockManager", () => {
  it("follows the S/X compatibility matrix", async () => {
    const modes: LockMode[] = ["S", "X"];
    for (const held of modes) {
      for (const wanted of modes) {
        const lm = new LockManager();
        await lm.acquire(1, "k", held);
        const granted = lm.tryAcquire(2, "k", wanted);
        expect(granted, `${held} held, ${wanted} wanted`).toBe(held === "S" && wanted === "S");
        expect(compatible(held, wanted)).toBe(granted);
        const third = track(lm.acquire(3, "k", wanted, { timeoutMs: 0 }));
        await flush();
        expect(third).toEqual(granted ? { state: "granted" } : { state: "rejected", code: "LOCK_TIMEOUT" });
        lm.checkInvariants();
      }
    }
  });

  it("grants in FIFO order, several shared requests together, and lets nobody barge past a waiter", async () => {
    const lm = new LockManager();
    await lm.acquire("t1", "k", "S");
    const t2 = track(lm.acquire("t2", "k", "X"));
    const t3 = track(lm.acquire("t3", "k", "S")); // compatible with t1, but t2 is queued first
    const t4 = track(lm.acquire("t4", "k", "S"));
    await flush();
    expect([t2.state, t3.state, t4.state]).toEqual(["pending", "pending", "pending"]);
    expect(lm.waiters("k").map((w) => w.txId)).toEqual(["t2", "t3", "t4"]);
    lm.releaseAll("t1");
    await flush();
    expect([t2.state, t3.state, t4.state]).toEqual(["granted", "pending", "pending"]);
    lm.releaseAll("t2");
    await flush();
    expect([t3.state, t4.state]).toEqual(["granted", "granted"]);
    expect(lm.holders("k")).toEqual(
      new Map([
        ["t3", "S"],
        ["t4", "S"],
      ]),
    );
    lm.checkInvariants();
  });

  it("upgrades S to X at once for a sole holder, and queues an upgrade ahead of ordinary waiters", async () => {
    const lm = new LockManager();
    await lm.acquire(1, "a", "S");
    await lm.acquire(1, "a", "X");
    expect(lm.heldMode(1, "a")).toBe("X");
    await lm.acquire(1, "a", "S"); // X covers S
    expect(lm.heldMode(1, "a")).toBe("X");

    await lm.acquire(1, "b", "S");
    await lm.acquire(2, "b", "S");
    const t3 = track(lm.acquire(3, "b", "X"));
    const up = track(lm.acquire(1, "b", "X"));
    expect(lm.waiters("b")).toEqual([
      { txId: 1, mode: "X", upgrade: true },
      { txId: 3, mode: "X", upgrade: false },
    ]);
    lm.releaseAll(2);
    await flush();
    expect([up.state, t3.state]).toEqual(["granted", "pending"]);
    expect(lm.holders("b")).toEqual(new Map([[1, "X"]]));
    lm.releaseAll(1);
    await flush();
    expect(t3.state).toBe("granted");
    lm.checkInvariants();
  });

  it("breaks the upgrade deadlock (two S holders both upgrading) by aborting the younger", async () => {
    const lm = new LockManager();
    await lm.acquire("old", "k", "S");
    await lm.acquire("young", "k", "S");
    const oldUp = track(lm.acquire("old", "k", "X"));
    const youngUp = track(lm.acquire("young", "k", "X"));
    await flush();
    expect(youngUp).toEqual({ state: "rejected", code: "TX_DEADLOCK" });
    expect(oldUp.state).toBe("pending");
    await expect(lm.acquire("young", "other", "S")).rejects.toMatchObject({ code: "TX_ABORTED" });
    lm.releaseAll("young"); // the victim rolls back
    await flush();
    expect(oldUp.state).toBe("granted");
    expect(lm.stats.deadlocks).toBe(1);
    lm.checkInvariants();
  });

  it("breaks a 3-cycle by aborting the youngest, even when the oldest closes the cycle", async () => {
    const lm = new LockManager();
    await lm.acquire(1, "a", "X");
    await lm.acquire(2, "b", "X");
    await lm.acquire(3, "c", "X");
    const w3 = track(lm.acquire(3, "a", "X"));
    const w2 = track(lm.acquire(2, "c", "S"));
    await flush();
    expect([w3.state, w2.state]).toEqual(["pending", "pending"]);
    const w1 = track(lm.acquire(1, "b", "X")); // 1 → 2 → 3 → 1
    await flush();
    expect(w3).toEqual({ state: "rejected", code: "TX_DEADLOCK" });
    expect([w1.state, w2.state]).toEqual(["pending", "pending"]);
    lm.checkInvariants();
    lm.releaseAll(3);
    await flush();
    expect(w2.state).toBe("granted");
    lm.releaseAll(2);
    await flush();
    expect(w1.state).toBe("granted");
    lm.checkInvariants();
  });

  it("times out a waiter on the injected clock and grants those queued behind it", async () => {
    const clock = new ManualClock();
    const lm = new LockManager({ clock, lockTimeoutMs: 1_000 });
    await lm.acquire(1, "k", "S");
    const x = track(lm.acquire(2, "k", "X", { timeoutMs: 100 }));
    const s = track(lm.acquire(3, "k", "S")); // default timeout: 1000 ms
    clock.advance(99);
    await flush();
    expect([x.state, s.state]).toEqual(["pending", "pending"]);
    clock.advance(1);
    await flush();
    expect(x).toEqual({ state: "rejected", code: "LOCK_TIMEOUT" });
    expect(s.state).toBe("granted");
    expect(clock.pending).toBe(0); // the granted request's timer was cancelled
    expect(lm.stats.timeouts).toBe(1);
    lm.checkInvariants();
  });

  it("times out on real timers too", async () => {
    const lm = new LockManager();
    await lm.acquire(1, "k", "X");
    const t0 = performance.now();
    await expect(lm.acquire(2, "k", "S", { timeoutMs: 20 })).rejects.toMatchObject({ code: "LOCK_TIMEOUT" });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(19);
  });

  it("rejects a waiter whose transaction releases everything, bounds the wait queue, and keeps byte and string keys apart", async () => {
    const lm = new LockManager({ waitersMax: 1 });
    await lm.acquire(1, "ab", "X");
    await lm.acquire(2, new Uint8Array([0xab]), "X"); // bytes never collide with the string "ab"
    const w = track(lm.acquire(2, "ab", "S"));
    await expect(lm.acquire(3, "ab", "S")).rejects.toMatchObject({ code: "LOCK_QUEUE_FULL" });
    await expect(lm.acquire(2, "zz", "S")).rejects.toMatchObject({ code: "BAD_ARGUMENT" }); // one waiting request per tx
    lm.releaseAll(2);
    await flush();
    expect(w).toEqual({ state: "rejected", code: "TX_ABORTED" });
    expect(lm.holders(new Uint8Array([0xab])).size).toBe(0);
    await expect(lm.acquire(1, "ab", "Y" as LockMode)).rejects.toMatchObject({ code: "BAD_ARGUMENT" });
    lm.checkInvariants();
  });
});

describe("LockManager: one request closing many cycles", () => {
  it("breaks every cycle through the requester (six victims), and the requester gets its lock", async () => {
    // R (oldest) holds X on k1..k6; each younger Ai holds S on "hot" and waits for R's ki.
    // R's request for X on "hot" then closes six cycles R -> Ai -> R at once.
    const lm = new LockManager();
    for (let i = 1; i <= 6; i++) await lm.acquire("R", `k${i}`, "X");
    const outcomes: Promise<string>[] = [];
    for (let i = 1; i <= 6; i++) {
      await lm.acquire(`A${i}`, "hot", "S");
      outcomes.push(
        lm.acquire(`A${i}`, `k${i}`, "X").then(
          () => "granted",
          (e) => e.code,
        ),
      );
    }
    const r = lm.acquire("R", "hot", "X");
    // The victims release their locks (as a rolled-back transaction does), then R is granted.
    const codes = await Promise.all(outcomes);
    expect(codes).toEqual(Array(6).fill("TX_DEADLOCK"));
    for (let i = 1; i <= 6; i++) lm.releaseAll(`A${i}`);
    await r;
    expect(lm.heldMode("R", "hot")).toBe("X");
    expect(lm.stats.deadlocks).toBe(6);
    lm.checkInvariants();
  });

  it("picks the youngest of the shortest cycle, not of a long path that ends in one", async () => {
    // T1 -> T2 -> T1 is the deadlock; T3 (youngest) waits on T2 without closing a cycle.
    const lm = new LockManager();
    await lm.acquire("T1", "a", "X");
    await lm.acquire("T2", "b", "X");
    await lm.acquire("T3", "c", "X");
    const t3 = lm.acquire("T3", "b", "X").then(
      () => "granted",
      (e) => e.code,
    );
    const t1 = lm.acquire("T1", "b", "X").then(
      () => "granted",
      (e) => e.code,
    );
    const t2 = lm.acquire("T2", "a", "X").then(
      () => "granted",
      (e) => e.code,
    );
    expect(await t2).toBe("TX_DEADLOCK");
    lm.releaseAll("T2");
    expect(await t3).toBe("granted"); // FIFO: T3 queued for b before T1
    lm.releaseAll("T3");
    expect(await t1).toBe("granted");
    expect(lm.stats.deadlocks).toBe(1);
  });
});
