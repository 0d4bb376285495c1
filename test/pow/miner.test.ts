import { describe, expect, it } from "vitest";
import { createEngine } from "../../bindings/engine/index.ts";
import { encodeHeader, decodeHeader } from "../../bindings/chain/index.ts";
import { bitsToTarget, checkProofOfWork, mine, MinerPool } from "../../bindings/pow/index.ts";
import { ChainDbError } from "../../bindings/util/index.ts";

function header(bits: number, time = 1_700_000_000, nonce = 0): Uint8Array {
  return encodeHeader({
    version: 2,
    prevHash: new Uint8Array(32).fill(7),
    merkleRoot: new Uint8Array(32).fill(9),
    time,
    bits,
    nonce,
  });
}

async function rejection(p: Promise<unknown>): Promise<ChainDbError> {
  const error = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ChainDbError);
  return error as ChainDbError;
}

describe.each(["wasm", "ts"] as const)("mine (%s engine)", (ENGINE) => {
  it("mines in-thread and finds exactly the first solution from the start nonce", async () => {
    const h = header(0x1f00ffff);
    const result = await mine(h, { workers: 0, engine: ENGINE });
    const engine = await createEngine("ts");
    const first = engine.searchNonce(h, bitsToTarget(0x1f00ffff), 0, 2 ** 22);
    expect(result.nonce).toBe(first.nonce);
    expect(result.hashes).toBe(first.hashes);
    expect(checkProofOfWork(result.header).ok).toBe(true);
    expect(result.hash).toBe(checkProofOfWork(result.header).hash);
    expect(result.rolls).toBe(0);
  });

  it("mines with 2 workers and returns a valid proof of work", async () => {
    const result = await mine(header(0x1f00ffff, 1_700_000_001), { workers: 2, engine: ENGINE });
    expect(checkProofOfWork(result.header).ok).toBe(true);
    expect(result.workers).toBe(2);
    expect(result.hashes).toBeGreaterThan(0);
  });

  it("stops every worker once one finds a solution", async () => {
    const pool = await MinerPool.start(2, ENGINE);
    try {
      const h = header(0x1f00ffff, 1_700_000_002);
      const found = await pool.search(h, bitsToTarget(0x1f00ffff), 0, 2 ** 32, 1 << 12);
      expect(found.nonce).not.toBeNull();
      const after = pool.totalHashes();
      // An empty search is a round trip through every worker: each must have left its hashing
      // loop to answer it, and none may have hashed anything since the solution.
      const empty = await pool.search(h, bitsToTarget(0x1f00ffff), 0, 0, 1 << 12);
      expect(empty).toEqual({ nonce: null, hashes: 0 });
      expect(pool.totalHashes()).toBe(after);
    } finally {
      await pool.close();
    }
  });

  it("honours an AbortSignal and reports progress", async () => {
    for (const workers of [0, 2]) {
      const controller = new AbortController();
      const seen: number[] = [];
      const unreachable = new Uint8Array(32);
      unreachable[0] = 1; // target 1 (little-endian): no hash meets it in this test's life; a zero target is BAD_BITS
      const error = await rejection(
        mine(header(0x1d00ffff), {
          workers,
          engine: ENGINE,
          target: unreachable,
          signal: controller.signal,
          progressIntervalMs: 10,
          onProgress: (p) => {
            seen.push(p.hashes);
            if (p.hashes > 0) controller.abort(new Error("new block arrived"));
          },
        }),
      );
      expect(error.code).toBe("ABORTED");
      expect(seen.length).toBeGreaterThan(0);
      expect(seen.at(-1)).toBeGreaterThan(0);
    }
  });

  it("rolls the time field when the nonce space is exhausted, and never wraps the nonce", async () => {
    const bits = 0x2000ffff; // a solution about every 256 hashes
    const target = bitsToTarget(bits);
    const engine = await createEngine("ts");
    const tail = 2 ** 32 - 8;
    // Find, deterministically, a time whose last 8 nonces hold no solution.
    let time = 1_600_000_000;
    while (engine.searchNonce(header(bits, time), target, tail, 8).nonce !== null) time++;
    const result = await mine(header(bits, time, tail), { workers: 0, engine: ENGINE });
    expect(result.rolls).toBe(1);
    expect(decodeHeader(result.header).time).toBe(time + 1);
    expect(result.nonce).toBe(engine.searchNonce(header(bits, time + 1), target, 0, 4096).nonce);
    expect(checkProofOfWork(result.header).ok).toBe(true);

    const exhausted = await rejection(
      mine(header(bits, time, tail), { workers: 0, engine: ENGINE, maxRolls: 0 }),
    );
    expect(exhausted.code).toBe("NONCE_SPACE_EXHAUSTED");

    const custom = await mine(header(bits, time, tail), {
      workers: 0,
      engine: ENGINE,
      nextHeader: (h, roll) =>
        encodeHeader({ ...decodeHeader(h), merkleRoot: new Uint8Array(32).fill(roll) }),
    });
    expect(decodeHeader(custom.header).merkleRoot).toEqual(new Uint8Array(32).fill(1));
  });

  it("rejects bad input with typed errors", async () => {
    expect((await rejection(mine(new Uint8Array(79)))).code).toBe("BAD_LENGTH");
    expect((await rejection(mine(header(0x1d00ffff), { workers: -1 }))).code).toBe("BAD_RANGE");
    expect((await rejection(mine(header(0x1d00ffff), { target: new Uint8Array(31) }))).code).toBe(
      "BAD_LENGTH",
    );
    expect((await rejection(mine(header(0x1d00ffff), { startNonce: 2 ** 32 }))).code).toBe("BAD_RANGE");
    expect((await rejection(mine(header(0x1d00ffff), { workers: 2, engine: "gpu" as "wasm" }))).code).toBe(
      "BAD_ENGINE",
    );
    expect((await rejection(mine(header(0x1d00ffff), { signal: AbortSignal.abort() }))).code).toBe("ABORTED");
  });
});
