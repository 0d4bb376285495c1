import { describe, expect, it } from "vitest";
import { ProtocolDriver, type DriverOptions } from "../../bindings/protocol/index.ts";
import { ChainDbError } from "../../bindings/util/index.ts";

/** A toy core: input n → effects persist n, send n, and a "validate" whose answer is a follow-up. */
type Eff =
  | { kind: "persist"; n: number }
  | { kind: "send"; n: number }
  | { kind: "ask"; n: number }
  | { kind: "answer"; n: number }
  | { kind: "throw" };

const core = (n: number): Eff[] => [
  { kind: "persist", n },
  { kind: "ask", n },
  { kind: "send", n },
];

/** A world that records what happened, with a disk whose persist resolves on a later turn. */
function world(options: Partial<DriverOptions<number, Eff>> = {}, asyncPersist = true) {
  const log: string[] = [];
  let durable = -1;
  const driver = new ProtocolDriver<number, Eff>({
    handle: (n) => core(n),
    apply: (e) => {
      switch (e.kind) {
        case "persist":
          log.push(`persist ${e.n}`);
          if (!asyncPersist) return void (durable = e.n);
          return new Promise<void>((resolve) =>
            setTimeout(() => {
              durable = e.n;
              log.push(`durable ${e.n}`);
              resolve();
            }, 1),
          );
        case "send":
          // Persist before send: the record of this input is on disk when its message leaves.
          log.push(`send ${e.n} (durable ${durable})`);
          return;
        case "ask":
          return [{ kind: "answer", n: e.n }];
        case "answer":
          log.push(`answer ${e.n}`);
          return;
        case "throw":
          throw new Error("disk on fire");
      }
    },
    ...options,
  });
  return { driver, log };
}

describe("ProtocolDriver", () => {
  it("applies effects in order, follow-ups after those waiting, inputs in arrival order", async () => {
    const { driver, log } = world();
    driver.push(1);
    driver.push(2);
    expect(driver.state).toBe("running");
    await driver.idle();
    expect(driver.state).toBe("idle");
    expect(log).toEqual([
      "persist 1",
      "durable 1",
      "send 1 (durable 1)",
      "answer 1",
      "persist 2",
      "durable 2",
      "send 2 (durable 2)",
      "answer 2",
    ]);
  });

  it("persists before it sends, even when the send is pushed while the persist is awaited", async () => {
    const { driver, log } = world({ start: "microtask" });
    driver.push(1);
    expect(log).toEqual([]); // microtask start: nothing runs inside the caller's stack
    await Promise.resolve();
    driver.push(2); // arrives while persist 1 is in flight
    await driver.idle();
    const sends = log.filter((l) => l.startsWith("send"));
    expect(sends).toEqual(["send 1 (durable 1)", "send 2 (durable 2)"]);
  });

  it("runs synchronous effects without yielding (a simulation replays as a plain loop)", () => {
    const { driver, log } = world({}, false);
    driver.push(7);
    expect(driver.state).toBe("idle");
    expect(log).toEqual(["persist 7", "send 7 (durable 7)", "answer 7"]);
  });

  it("bounds the inbox: peer inputs dropped and counted, internal ones refused with INBOX_FULL", async () => {
    const { driver } = world({
      limits: { eventsMax: 3, sourceEventsMax: 2, bytesMax: 100, internalEventsMax: 2 },
    });
    driver.push(0); // starts running (its persist is awaited), so what follows waits
    expect(driver.offer(1, "a", 10)).toBe(true);
    expect(driver.offer(2, "a", 10)).toBe(true);
    expect(driver.offer(3, "a", 10)).toBe(false); // per-source bound
    expect(driver.offer(4, "b", 81)).toBe(false); // bytes bound
    expect(driver.offer(5, "b", 80)).toBe(true);
    expect(driver.offer(6, "c", 0)).toBe(false); // events bound
    expect(driver.dropped).toBe(3);
    expect(driver.push(7)).toBe(true);
    expect(driver.push(8)).toBe(true);
    expect(() => driver.push(9)).toThrow(expect.objectContaining({ code: "INBOX_FULL" }));
    expect(driver.size).toBe(5);
    await driver.idle();
    expect(driver.size).toBe(0);
    // Drained: the bounds are free again.
    expect(driver.offer(3, "a", 90)).toBe(true);
    await driver.idle();
  });

  it("fails with the cause on a thrown effect, runs nothing more, refuses new input", async () => {
    const failures: unknown[] = [];
    const log: string[] = [];
    const driver = new ProtocolDriver<Eff[], Eff>({
      handle: (effects) => effects,
      apply: (e) => {
        if (e.kind === "throw") throw new Error("disk on fire");
        log.push(e.kind);
      },
      onFailure: (cause) => failures.push(cause),
    });
    driver.push([{ kind: "send", n: 1 }, { kind: "throw" }, { kind: "send", n: 2 }]);
    driver.push([{ kind: "send", n: 3 }]);
    await driver.idle();
    expect(driver.state).toBe("failed");
    expect((driver.failure as Error).message).toBe("disk on fire");
    expect(failures).toEqual([driver.failure]);
    expect(log).toEqual(["send"]);
    expect(driver.push([{ kind: "send", n: 4 }])).toBe(false);
    expect(log).toEqual(["send"]);
  });

  it("fails on a rejected (async) effect and on a throwing core", async () => {
    const a = new ProtocolDriver<number, number>({
      handle: (n) => [n],
      apply: () => Promise.reject(new Error("EIO")),
    });
    a.push(1);
    await a.idle();
    expect(a.state).toBe("failed");
    expect((a.failure as Error).message).toBe("EIO");
    const b = new ProtocolDriver<number, number>({
      handle: () => {
        throw new Error("core bug");
      },
      apply: () => {},
    });
    b.push(1);
    expect(b.state).toBe("failed");
    expect((b.failure as Error).message).toBe("core bug");
  });

  it("an input causing more than effectsMax effects is the coded failure EFFECT_LIMIT, not a silent stop", () => {
    let applied = 0;
    // Each effect asks for another: a core that never settles.
    const driver = new ProtocolDriver<number, number>({
      handle: (n) => [n],
      apply: (n) => (applied++, [n + 1]),
      limits: { effectsMax: 50 },
    });
    driver.push(0);
    expect(driver.state).toBe("failed");
    expect(driver.failure).toBeInstanceOf(ChainDbError);
    expect((driver.failure as ChainDbError).code).toBe("EFFECT_LIMIT");
    expect(applied).toBe(50);
  });

  it("the crash hook stops the driver before effect k, for every k", async () => {
    // The full run: 3 inputs × (persist, ask, send, answer) = 12 effects.
    const full = world();
    for (const n of [1, 2, 3]) full.driver.push(n);
    await full.driver.idle();
    expect(full.driver.effects).toBe(12);
    for (let k = 0; k <= 12; k++) {
      const seen: string[] = [];
      const { driver, log } = world({
        beforeEffect: (e, index) => (seen.push(`${index}:${e.kind}`), index !== k),
      });
      for (const n of [1, 2, 3]) driver.push(n);
      await driver.idle();
      expect(driver.state).toBe(k < 12 ? "stopped" : "idle");
      expect(driver.effects).toBe(k);
      expect(seen.length).toBe(Math.min(k + 1, 12));
      // Nothing after the crash point ran; everything before it did, in order.
      const applied = log.filter((l) => !l.startsWith("durable"));
      const fullApplied = full.log.filter((l) => !l.startsWith("durable"));
      expect(applied).toEqual(fullApplied.slice(0, applied.length));
      if (k < 12) expect(driver.push(9)).toBe(false);
    }
  });

  it("stop() while an effect is awaited lets it finish and starts no later effect", async () => {
    const { driver, log } = world();
    driver.push(1);
    expect(log).toEqual(["persist 1"]);
    driver.push(2);
    driver.stop();
    expect(driver.state).toBe("stopped");
    await driver.idle(); // resolves once the awaited persist settled
    expect(log).toEqual(["persist 1", "durable 1"]);
  });

  it('stop("input") lets the running input finish all its effects, drops the waiting ones', async () => {
    const { driver, log } = world();
    driver.push(1);
    driver.push(2);
    driver.stop("input");
    expect(driver.push(3)).toBe(false);
    await driver.idle();
    expect(driver.state).toBe("stopped");
    expect(log).toEqual(["persist 1", "durable 1", "send 1 (durable 1)", "answer 1"]);
  });

  it("runs a core's own effects (start, restore) as one input, after those waiting", () => {
    const { driver, log } = world({}, false);
    driver.pushEffects([{ kind: "send", n: 4 }]);
    expect(log).toEqual(["send 4 (durable -1)"]);
  });

  it("checks its limits", () => {
    expect(() => new ProtocolDriver({ handle: () => [], apply: () => {}, limits: { eventsMax: 0 } })).toThrow(
      expect.objectContaining({ code: "BAD_RANGE" }),
    );
  });
});
