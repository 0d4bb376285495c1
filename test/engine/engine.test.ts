/**
 * Runs the shared engine suite against both engines, then checks them against each other.
 * @module
 */
import { describe, expect, it } from "vitest";
import { createEngine, ENGINE_NAMES, type EngineName } from "../../bindings/engine/index.ts";
import { engineSuite, prng, randomBytes } from "../helpers/engine.suite.ts";

/** The slow suite (CHAINDB_SLOW set) runs ten times the trials and longer windows. */
const slow = Boolean(process.env.CHAINDB_SLOW);

describe.each(ENGINE_NAMES as EngineName[])("engine %s", (name) => {
  engineSuite(() => createEngine(name));

  it("reports its own name", async () => {
    expect((await createEngine(name)).name).toBe(name);
  });

  it("creates stores and ledger states of its own kind, each independent", async () => {
    const engine = await createEngine(name);
    const [a, b] = await Promise.all([engine.createKvStore(), engine.createKvStore()]);
    a.put(new Uint8Array([1]), new Uint8Array([2]));
    expect([a.engine, a.size, b.size]).toEqual([name, 1, 0]);
    const state = await engine.createLedgerState();
    expect([state.engine, state.accountCount]).toEqual([name, 0]);
  });
});

describe("wasm and ts engines agree", () => {
  it("on the first solution in seeded random ranges", async () => {
    const [wasm, ts] = await Promise.all([createEngine("wasm"), createEngine("ts")]);
    const rand = prng(0x0dd5);
    for (let trial = 0; trial < (slow ? 400 : 40); trial++) {
      const header = randomBytes(rand, 80);
      const target = new Uint8Array(32).fill(0xff);
      target[31] = rand() & (trial % 2 ? 0x07 : 0x00);
      target[30] = rand() & 0xff;
      const start = rand() % (2 ** 32 - 5000);
      expect(wasm.searchNonce(header, target, start, 5000), `trial ${trial}`).toEqual(
        ts.searchNonce(header, target, start, 5000),
      );
    }
  });

  it("over long windows at hard targets (solutions after 60k..260k hashes, and none)", async () => {
    const [wasm, ts] = await Promise.all([createEngine("wasm"), createEngine("ts")]);
    const rand = prng(0x1077);
    const count = slow ? 3_000_000 : 300_000;
    for (let trial = 0; trial < 4; trial++) {
      const header = randomBytes(rand, 80);
      const target = new Uint8Array(32).fill(0xff);
      target[31] = 0;
      target[30] = 0;
      target[29] = trial < 2 ? 0x01 : 0x80 + trial; // about 1 in 2^23 or 2^17 nonces solve
      const start = rand() % (2 ** 32 - count);
      expect(wasm.searchNonce(header, target, start, count), `trial ${trial}`).toEqual(
        ts.searchNonce(header, target, start, count),
      );
    }
  });

  it("on sha256, sha256Many and merkle roots of seeded inputs", async () => {
    const [wasm, ts] = await Promise.all([createEngine("wasm"), createEngine("ts")]);
    const rand = prng(0xa9ee);
    const msgs = Array.from({ length: 40 }, (_, i) => randomBytes(rand, i % 5 === 0 ? 64 : rand() % 600));
    expect(wasm.sha256Many(msgs)).toEqual(ts.sha256Many(msgs));
    for (const m of msgs) expect(wasm.sha256d(m)).toEqual(ts.sha256d(m));
    for (let n = 1; n <= 33; n++) {
      const leaves = Array.from({ length: n }, () => randomBytes(rand, 32));
      expect(wasm.merkleRoot(leaves), `${n} leaves`).toEqual(ts.merkleRoot(leaves));
    }
  });
});
