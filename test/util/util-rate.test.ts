// Token buckets on an injected clock and the keyed limiter's bound on keys (the inbox's order and
// bounds: test/protocol/driver.test.ts).
import { describe, expect, it } from "vitest";
import { RateLimiter, TokenBucket } from "../../bindings/util/index.ts";

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
