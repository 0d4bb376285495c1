/**
 * Shared pieces of the decoder fuzzers (test/fuzz/*.test.ts): seeded run counts (wider under
 * CHAINDB_SLOW), mutations of valid encodings, and the one property every decoder must hold —
 * it returns a value or throws a `ChainDbError` with an expected code; never another exception,
 * never a slow call, never a result larger than its input (allocation bounded by input length).
 *
 * Replay a failure: fast-check prints the seed and path; `CHAINDB_FUZZ_SEED=<seed>` reruns it.
 */
import fc from "fast-check";
import { expect } from "vitest";
import { ChainDbError, toHex } from "../../bindings/util/index.ts";
import { xorAt } from "../helpers/bytes.ts";

/** True under `npm run test:slow`. */
export const SLOW = Boolean(process.env.CHAINDB_SLOW);
/** Seed of every fuzz property (override to replay a failure). */
export const SEED = Number(process.env.CHAINDB_FUZZ_SEED ?? 20261207);

/** fast-check parameters: `n` runs in CI, 5× that under CHAINDB_SLOW (wider stalls vitest's worker RPC). */
export function params(n: number, salt: number): fc.Parameters<unknown> {
  return { numRuns: SLOW ? n * 5 : n, seed: SEED + salt, endOnFailure: true };
}

/** One decode call may take this long at most (a hang or a quadratic path shows here). */
const CALL_MS_MAX = 1000;

/** The outcome of one decode call. */
export type Outcome<T> = { ok: true; value: T } | { ok: false; code: string };

/**
 * Runs `decode(bytes)`: returns the value, or the code of the `ChainDbError` it threw, which must
 * be one of `codes`. Any other exception fails the test with the input in hex. The byte arrays of
 * the result may total at most `copies` × the input (a decoder that keeps its input beside the
 * fields it decoded from it holds 2 copies).
 */
export function decodeOrCode<T>(
  decode: (bytes: Uint8Array) => T,
  bytes: Uint8Array,
  codes: readonly string[],
  copies = 1,
): Outcome<T> {
  const start = performance.now();
  let outcome: Outcome<T>;
  try {
    outcome = { ok: true, value: decode(bytes) };
  } catch (error) {
    if (!(error instanceof ChainDbError)) {
      throw new Error(`decoder threw ${String(error)} (not a ChainDbError) on ${hexOf(bytes)}`, {
        cause: error,
      });
    }
    expect(codes, `code of "${error.message}"`).toContain(error.code);
    outcome = { ok: false, code: error.code };
  }
  const ms = performance.now() - start;
  expect(ms, `decode of ${bytes.length} bytes took ${ms.toFixed(0)} ms`).toBeLessThan(CALL_MS_MAX);
  if (outcome.ok)
    expect(payloadBytes(outcome.value), "decoded bytes exceed the input").toBeLessThanOrEqual(
      copies * bytes.length,
    );
  return outcome;
}

function hexOf(bytes: Uint8Array): string {
  return bytes.length <= 512 ? toHex(bytes) : `${toHex(bytes.subarray(0, 512))}… (${bytes.length} bytes)`;
}

/** Total length of the byte arrays inside a decoded value (what decoding allocated from input). */
export function payloadBytes(value: unknown, seen = new Set<unknown>()): number {
  if (value === null || typeof value !== "object" || seen.has(value)) return 0;
  // One array held in several places (a proof's shared empty-subtree hash) is memory held once.
  if (value instanceof Uint8Array) return (seen.add(value), value.length);
  seen.add(value);
  let total = 0;
  for (const v of Array.isArray(value) ? value : Object.values(value)) total += payloadBytes(v, seen);
  return total;
}

/** One edit of a byte string. */
type Mutation =
  | { op: "flip"; at: number; bit: number }
  | { op: "set"; at: number; byte: number }
  | { op: "u32"; at: number; value: number }
  | { op: "truncate"; at: number }
  | { op: "insert"; at: number; bytes: Uint8Array }
  | { op: "delete"; at: number; count: number }
  | { op: "copy"; from: number; to: number; count: number };

/** u32 values that sit on the edges of length and count checks. */
const EDGE_U32 = [
  0, 1, 2, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff,
];

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant("flip" as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({
    op: fc.constant("set" as const),
    at: fc.nat(),
    byte: fc.oneof(fc.constantFrom(0, 1, 0x7f, 0x80, 0xff), fc.integer({ min: 0, max: 255 })),
  }),
  fc.record({
    op: fc.constant("u32" as const),
    at: fc.nat(),
    value: fc.oneof(fc.constantFrom(...EDGE_U32), fc.nat({ max: 0xffffffff })),
  }),
  fc.record({ op: fc.constant("truncate" as const), at: fc.nat() }),
  fc.record({
    op: fc.constant("insert" as const),
    at: fc.nat(),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 40 }),
  }),
  fc.record({ op: fc.constant("delete" as const), at: fc.nat(), count: fc.integer({ min: 1, max: 40 }) }),
  fc.record({
    op: fc.constant("copy" as const),
    from: fc.nat(),
    to: fc.nat(),
    count: fc.integer({ min: 1, max: 200 }),
  }),
);

function apply(bytes: Uint8Array, m: Mutation): Uint8Array {
  const n = bytes.length;
  const pos = (x: number, room = 0) => (n + room === 0 ? 0 : x % (n + room));
  switch (m.op) {
    case "flip": {
      if (n === 0) return bytes;
      const out = bytes.slice();
      xorAt(out, pos(m.at), 1 << m.bit);
      return out;
    }
    case "set": {
      if (n === 0) return bytes;
      const out = bytes.slice();
      out[pos(m.at)] = m.byte;
      return out;
    }
    case "u32": {
      if (n < 4) return bytes;
      const out = bytes.slice();
      new DataView(out.buffer).setUint32(m.at % (n - 3), m.value, true);
      return out;
    }
    case "truncate":
      return bytes.slice(0, pos(m.at));
    case "insert": {
      const at = pos(m.at, 1);
      return concat(bytes.subarray(0, at), m.bytes, bytes.subarray(at));
    }
    case "delete": {
      const at = pos(m.at);
      return concat(bytes.subarray(0, at), bytes.subarray(at + m.count));
    }
    case "copy": {
      if (n === 0) return bytes;
      const from = pos(m.from),
        to = pos(m.to);
      const out = bytes.slice();
      out.set(bytes.subarray(from, Math.min(n, from + m.count)).subarray(0, n - to), to);
      return out;
    }
  }
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((k, p) => k + p.length, 0));
  let at = 0;
  for (const p of parts) (out.set(p, at), (at += p.length));
  return out;
}

/** A valid encoding from `valid`, with 1..`edits` mutations applied. */
export function mutatedFrom(valid: fc.Arbitrary<Uint8Array>, edits = 4): fc.Arbitrary<Uint8Array> {
  return fc
    .tuple(valid, fc.array(mutationArb, { minLength: 1, maxLength: edits }))
    .map(([bytes, ms]) => ms.reduce(apply, bytes));
}

/** Random bytes, mutations of valid encodings, and the valid encodings themselves. */
export function hostileBytes(valid: fc.Arbitrary<Uint8Array>, maxLength = 1024): fc.Arbitrary<Uint8Array> {
  return fc.oneof(
    { weight: 2, arbitrary: fc.uint8Array({ maxLength }) },
    { weight: 6, arbitrary: mutatedFrom(valid) },
    { weight: 1, arbitrary: valid },
  );
}

/** Counts decoded and rejected inputs so a run that never reaches the success path is noticed. */
export class Tally {
  ok = 0;
  rejected = 0;
  /** Records one outcome. */
  add(o: Outcome<unknown>): void {
    if (o.ok) this.ok++;
    else this.rejected++;
  }
  /** Both paths were exercised. */
  expectBoth(): void {
    expect(this.ok, "no input decoded: the fuzzer never reached the success path").toBeGreaterThan(0);
    expect(this.rejected, "no input was rejected").toBeGreaterThan(0);
  }
}
