/**
 * Token buckets over an injected clock (the classic leaky-bucket-as-meter, RFC 2697's single rate):
 * a bucket holds up to `burst` tokens, gains `perSecond` a second, and an action that costs more
 * tokens than it holds is refused. {@link RateLimiter} keeps one bucket per key (peer, client
 * address) with a bound on the keys.
 * @module
 */
import { ChainDbError, ErrorCode } from "./errors.ts";

/** A rate: tokens a second, and the most that can be saved up. */
export interface Rate {
  readonly perSecond: number;
  readonly burst: number;
}

function checkRate(rate: Rate): void {
  if (!(rate.perSecond > 0) || !Number.isFinite(rate.perSecond))
    throw new ChainDbError(
      ErrorCode.BAD_RANGE,
      `"perSecond" expected a positive number, got ${rate.perSecond}`,
    );
  if (!(rate.burst >= 1) || !Number.isFinite(rate.burst))
    throw new ChainDbError(ErrorCode.BAD_RANGE, `"burst" expected a number ≥ 1, got ${rate.burst}`);
}

/** One token bucket; `now()` in milliseconds, never going backwards (a step back is ignored). */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    readonly rate: Rate,
    private readonly now: () => number,
  ) {
    checkRate(rate);
    this.tokens = rate.burst;
    this.last = now();
  }

  /** Takes `cost` tokens if the bucket holds them; false (taking none) otherwise. */
  take(cost = 1): boolean {
    this.refill();
    if (this.tokens < cost) return false;
    this.tokens -= cost;
    return true;
  }

  /** Milliseconds until `cost` tokens are there (0: now; Infinity: never, cost above the burst). */
  waitMs(cost = 1): number {
    this.refill();
    if (cost > this.rate.burst) return Infinity;
    return this.tokens >= cost ? 0 : Math.ceil(((cost - this.tokens) / this.rate.perSecond) * 1000);
  }

  /** Whether the bucket is full (it then equals a new one and may be forgotten). */
  get full(): boolean {
    this.refill();
    return this.tokens >= this.rate.burst;
  }

  private refill(): void {
    const t = this.now();
    if (t > this.last)
      this.tokens = Math.min(this.rate.burst, this.tokens + ((t - this.last) / 1000) * this.rate.perSecond);
    this.last = Math.max(this.last, t);
  }
}

/**
 * One bucket per key, at most `keysMax` keys. To make room it forgets a full bucket (no loss:
 * a full bucket equals a new one), else the least recently created one.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, TokenBucket>();
  /** Actions refused since creation. */
  refused = 0;

  constructor(
    readonly rate: Rate,
    private readonly now: () => number,
    readonly keysMax = 10_000,
  ) {
    checkRate(rate);
  }

  /** Takes `cost` tokens from `key`'s bucket; false (and counted) when it lacks them. */
  take(key: string, cost = 1): boolean {
    const ok = this.bucket(key).take(cost);
    if (!ok) this.refused++;
    return ok;
  }

  /** Milliseconds until `key` may act again at `cost`. */
  waitMs(key: string, cost = 1): number {
    return this.buckets.get(key)?.waitMs(cost) ?? 0;
  }

  /** Keys tracked now. */
  get size(): number {
    return this.buckets.size;
  }

  private bucket(key: string): TokenBucket {
    let b = this.buckets.get(key);
    if (b !== undefined) return b;
    if (this.buckets.size >= this.keysMax) this.forgetOne();
    this.buckets.set(key, (b = new TokenBucket(this.rate, this.now)));
    return b;
  }

  private forgetOne(): void {
    // A bounded scan from the oldest (the likeliest to be full again), then the oldest goes.
    let scanned = 0;
    for (const [k, b] of this.buckets) {
      if (b.full) return void this.buckets.delete(k);
      if (++scanned >= 64) break;
    }
    this.buckets.delete(this.buckets.keys().next().value!);
  }
}
