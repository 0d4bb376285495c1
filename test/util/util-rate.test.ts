// Token buckets on an injected clock, the keyed limiter's bound on keys, and the consensus inbox's
// order and bounds on its own.
import { describe, expect, it } from "vitest";
import { RateLimiter, TokenBucket } from "../../bindings/util/index.ts";
import { Inbox } from "../../bindings/consensus/index.ts";

describe("TokenBucket", () => {
  it("spends its burst, refills at its rate, never above the burst, and ignores a clock step back", () => {
    let now = 1000;
    const b = new TokenBucket({ perSecond: 10, burst: 5 }, () => now);
    for (let i = 0; i < 5; i++) expect(b.take()).toBe(true);
    expect(b.take()).toBe(false);
    expect(b.waitMs()).toBe(100);
    now += 99;
    expect(b.take()).toBe(false);
    now += 1;
    expect(b.take()).toBe(true);
    now += 60_000;
    expect(b.full).toBe(true);
    for (let i = 0; i < 5; i++) expect(b.take()).toBe(true);
    expect(b.take()).toBe(false);
    now -= 5000; // a clock going back refills nothing
    expect(b.take()).toBe(false);
    expect(b.waitMs(6)).toBe(Infinity);
    expect(b.take(3)).toBe(false);
  });

  it("refuses nonsense rates with coded errors", () => {
    expect(() => new TokenBucket({ perSecond: 0, burst: 1 }, () => 0)).toThrow(
      expect.objectContaining({ code: "BAD_RANGE" }),
    );
    expect(() => new TokenBucket({ perSecond: 1, burst: 0.5 }, () => 0)).toThrow(
      expect.objectContaining({ code: "BAD_RANGE" }),
    );
    expect(() => new RateLimiter({ perSecond: Number.NaN, burst: 1 }, () => 0)).toThrow(
      expect.objectContaining({ code: "BAD_RANGE" }),
    );
  });
});

describe("RateLimiter", () => {
  it("keeps one bucket per key and counts refusals", () => {
    let now = 0;
    const r = new RateLimiter({ perSecond: 1, burst: 2 }, () => now);
    expect([r.take("a"), r.take("a"), r.take("a"), r.take("b")]).toEqual([true, true, false, true]);
    expect(r.refused).toBe(1);
    expect(r.waitMs("a")).toBe(1000);
    now = 1000;
    expect(r.take("a")).toBe(true);
  });

  it("tracks at most keysMax keys, forgetting a full bucket first, else the oldest", () => {
    let now = 0;
    const r = new RateLimiter({ perSecond: 1, burst: 2 }, () => now, 3);
    r.take("a", 2);
    r.take("b", 2);
    r.take("c", 1);
    now = 500; // nobody is full yet: the oldest, "a", goes
    r.take("d", 2);
    expect(r.size).toBe(3);
    expect(r.take("a", 2)).toBe(true); // "a" forgotten: a new bucket ("b" is forgotten for it)
    now = 10_000; // everyone full: the first full one goes
    for (let i = 0; i < 100; i++) r.take(`k${i}`);
    expect(r.size).toBe(3);
  });
});

describe("Inbox", () => {
  it("runs steps one at a time in order, never inside the caller's stack", async () => {
    const log: string[] = [];
    const inbox = new Inbox(
      {},
      (e) => log.push(`error ${String(e)}`),
      () => false,
    );
    const slow = (name: string) => async () => {
      log.push(`${name} start`);
      await new Promise<void>((resolve) => queueMicrotask(resolve));
      log.push(`${name} end`);
    };
    inbox.offer("p", 1, slow("a"));
    inbox.push(slow("b"));
    inbox.offer("q", 1, () => void log.push("c"));
    inbox.push(() => {
      throw new Error("boom");
    });
    inbox.push(() => void log.push("d"));
    expect(log).toEqual([]);
    await inbox.idle();
    expect(log).toEqual(["a start", "a end", "b start", "b end", "c", "error Error: boom", "d"]);
    expect(inbox.size).toBe(0);
  });

  it("drops peer messages beyond the event, per-peer and byte bounds, never internal events", async () => {
    let ran = 0;
    const inbox = new Inbox(
      { eventsMax: 10, peerEventsMax: 4, bytesMax: 100 },
      () => {},
      () => false,
    );
    const step = () => void ran++;
    expect([1, 2, 3, 4, 5].map(() => inbox.offer("p", 1, step))).toEqual([true, true, true, true, false]);
    expect(inbox.offer("q", 97, step)).toBe(false); // 4 + 97 > 100 bytes
    expect(inbox.offer("q", 96, step)).toBe(true);
    for (let i = 0; i < 5; i++) inbox.offer(`r${i}`, 0, step);
    expect(inbox.size).toBe(10);
    expect(inbox.offer("s", 0, step)).toBe(false); // the event bound
    inbox.push(step); // internal: beyond the bound, still queued
    expect(inbox.size).toBe(11);
    expect(inbox.dropped).toBe(3);
    await inbox.idle();
    expect(ran).toBe(11);
    expect(inbox.offer("p", 100, step)).toBe(true); // everything was released
  });
});
