/**
 * A small seeded pseudo-random generator for simulations: sfc32 (Chris Doty-Humphrey's "small
 * fast counter", PractRand-tested) seeded through splitmix32, so any 32-bit seed replays exactly.
 * Not for keys or nonces that an adversary could predict.
 * @module
 */
import { aint, assert } from "../util/index.ts";

/** Deterministic random numbers from a 32-bit seed. */
export class Random {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  /** A generator for `seed` (an integer; only its low 32 bits matter). */
  constructor(seed: number) {
    aint(seed, -(2 ** 53), 2 ** 53, "seed");
    let s = seed >>> 0;
    const split = (): number => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = split();
    this.b = split();
    this.c = split();
    this.d = split();
    for (let i = 0; i < 12; i++) this.u32();
  }

  /** A uniform 32-bit unsigned integer. */
  u32(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t;
  }

  /** A uniform float in [0, 1). */
  float(): number {
    return this.u32() / 2 ** 32;
  }

  /** A uniform integer in [min, max] (inclusive). */
  int(min: number, max: number): number {
    assert(Number.isInteger(min) && Number.isInteger(max) && min <= max, `bad int range [${min}, ${max}]`);
    return min + Math.floor(this.float() * (max - min + 1));
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return p > 0 && this.float() < p;
  }

  /** A uniformly chosen element of a non-empty array. */
  pick<T>(items: readonly T[]): T {
    assert(items.length > 0, "pick from an empty array");
    return items[this.int(0, items.length - 1)]!;
  }

  /** An exponentially distributed float with the given mean. */
  exponential(mean: number): number {
    return -Math.log(1 - this.float()) * mean;
  }

  /** A Fisher–Yates shuffled copy of `items`. */
  shuffle<T>(items: readonly T[]): T[] {
    const out = items.slice();
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.int(0, i);
      [out[i], out[j]] = [out[j]!, out[i]!];
    }
    return out;
  }

  /** An independent generator derived from this one (one per node, so adding a node's draws does not shift another's). */
  fork(): Random {
    return new Random(this.u32());
  }
}
