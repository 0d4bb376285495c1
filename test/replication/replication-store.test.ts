// The replica's file store on the shared durable log: entries and meta round-trip, a torn tail is
// cut, a checksum miss followed by valid entries is STORE_CORRUPT (it used to drop every later
// entry silently), the epoch/vote record survives a crash only because its directory is fsynced,
// and a seeded crash suite on the fault-injecting file system: nothing a resolved write made
// durable is lost or contradicted after restart.
import { mkdtempSync, rmSync, readFileSync, writeFileSync, appendFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { FileReplicaStore, encodeEntry } from "../../bindings/replication/index.ts";
import { META_COMMIT_STRIDE } from "../../bindings/replication/store.ts";
import type { DurableMeta, Entry, PersistEffect } from "../../bindings/replication/types.ts";
import { FaultFs, LOG_HEADER_BYTES, encodeFrame } from "../../bindings/store/index.ts";
import { replay, seedRange } from "../helpers/seeds.ts";

const dir = mkdtempSync(join(tmpdir(), "chaindb-replica-store-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const entry = (epoch: number, tag: number): Entry => ({
  epoch,
  proposer: new Uint8Array(32).fill(tag & 0xff),
  transfers: new Uint8Array(157 * (tag % 3)).fill(tag & 0xff),
});
const hex = (e: Entry) => Buffer.from(encodeEntry(e)).toString("hex");

describe("FileReplicaStore", () => {
  it("round-trips entries and meta, truncates, and cuts a torn tail", async () => {
    const d = join(dir, "a");
    const store = new FileReplicaStore(d);
    expect(await store.load()).toEqual({ meta: { epoch: 0, votedFor: "", commit: 0 }, entries: [] });
    await store.write({
      kind: "persist",
      append: { from: 1, entries: [entry(1, 1), entry(1, 2), entry(1, 3)] },
      meta: { epoch: 1, votedFor: "n1", commit: 1 },
    });
    await store.write({ kind: "persist", truncateFrom: 2, append: { from: 2, entries: [entry(2, 4)] } });
    await store.close();
    appendFileSync(join(d, "replica.log"), encodeFrame(encodeEntry(entry(2, 5)), 0).subarray(0, 20));
    const again = new FileReplicaStore(d);
    const { meta, entries } = await again.load();
    expect(meta).toEqual({ epoch: 1, votedFor: "n1", commit: 1 });
    expect(entries.map(hex)).toEqual([entry(1, 1), entry(2, 4)].map(hex));
    await again.close();
  });

  it("a checksum miss followed by valid entries is STORE_CORRUPT, not a silent truncation of every later entry", async () => {
    const d = join(dir, "b");
    const store = new FileReplicaStore(d);
    await store.load();
    for (let i = 1; i <= 5; i++)
      await store.write({ kind: "persist", append: { from: i, entries: [entry(1, i)] } });
    await store.close();
    const file = join(d, "replica.log");
    const bytes = readFileSync(file);
    bytes[LOG_HEADER_BYTES + 16 + 3]! ^= 1; // a bit of entry 1's body
    writeFileSync(file, bytes);
    await expect(new FileReplicaStore(d).load()).rejects.toMatchObject({ code: "STORE_CORRUPT" });
    expect(readFileSync(file).length).toBe(bytes.length);
  });

  it("the epoch/vote record survives a crash: its rename is made durable by a directory fsync", async () => {
    const fs = new FaultFs({ seed: 1, crashMode: "drop" });
    const store = new FileReplicaStore("/r", fs);
    await store.load();
    await store.write({ kind: "persist", meta: { epoch: 3, votedFor: "n2", commit: 0 } });
    fs.restart();
    expect((await new FileReplicaStore("/r", fs).load()).meta).toEqual({
      epoch: 3,
      votedFor: "n2",
      commit: 0,
    });
    const dirSyncs = new FaultFs({ seed: 1, crashMode: "drop" });
    const counting = new FileReplicaStore("/r", dirSyncs);
    await counting.load();
    dirSyncs.inject({ op: "fsyncDir", nth: 1, code: "EIO" });
    await expect(
      counting.write({ kind: "persist", meta: { epoch: 4, votedFor: "", commit: 0 } }),
    ).rejects.toMatchObject({ code: "STORE_IO" });
  });

  it("a malformed meta.json is STORE_CORRUPT", async () => {
    const d = join(dir, "c");
    await new FileReplicaStore(d).load();
    writeFileSync(join(d, "meta.json"), '{"epoch": 1');
    await expect(new FileReplicaStore(d).load()).rejects.toMatchObject({ code: "STORE_CORRUPT" });
  });
});

/** A seeded workload of persist effects, as the replica's core issues them. */
function workload(seed: number): PersistEffect[] {
  let s = seed >>> 0;
  const next = (n: number) => ((s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x9e3779b9) >>> 0), s % n);
  const out: PersistEffect[] = [];
  let height = 0;
  let epoch = 1;
  for (let i = 0; i < 30; i++) {
    const kind = next(10);
    if (kind < 6) {
      const n = 1 + next(3);
      out.push({
        kind: "persist",
        append: {
          from: height + 1,
          entries: Array.from({ length: n }, (_, j) => entry(epoch, seed * 100 + i * 3 + j)),
        },
      });
      height += n;
    } else if (kind < 8 && height > 1) {
      const from = 1 + next(height);
      epoch++;
      out.push({
        kind: "persist",
        truncateFrom: from,
        append: { from, entries: [entry(epoch, seed * 100 + i * 3)] },
        meta: { epoch, votedFor: `n${next(3)}`, commit: 0 },
      });
      height = from;
    } else {
      epoch++;
      out.push({
        kind: "persist",
        meta: { epoch, votedFor: `n${next(3)}`, commit: Math.max(0, height - 1) },
      });
    }
  }
  return out;
}

/** The durable state a model store holds after `effects`. */
function apply(state: { meta: DurableMeta; entries: string[] }, e: PersistEffect) {
  const entries =
    e.truncateFrom !== undefined ? state.entries.slice(0, e.truncateFrom - 1) : state.entries.slice();
  if (e.append !== undefined) entries.push(...e.append.entries.map(hex));
  return { meta: e.meta ?? state.meta, entries };
}

describe("replica store crash suite (fault-injecting file system)", () => {
  const FILE = "test/replication/replication-store.test.ts";
  it.each(seedRange(300, 5000).map((s) => [s]))(
    "seed %i: acknowledged writes survive any crash point",
    async (seed) => {
      const fs = new FaultFs({ seed, crashAfterOps: 3 + (seed % 97) });
      const effects = workload(seed);
      let acked = { meta: { epoch: 0, votedFor: "", commit: 0 } as DurableMeta, entries: [] as string[] };
      let inFlight: PersistEffect | undefined;
      const store = new FileReplicaStore("/replica", fs);
      try {
        await store.load();
        for (const e of effects) {
          inFlight = e;
          await store.write(e);
          acked = apply(acked, e);
          inFlight = undefined;
        }
      } catch (e) {
        expect((e as { code?: string }).code, `seed ${seed}: ${replay(FILE, seed)}`).toBe("STORE_IO");
      }
      fs.restart();
      const got = await new FileReplicaStore("/replica", fs)
        .load()
        .catch((e: Error) => expect.fail(`seed ${seed}: reopen failed: ${e.message}; ${replay(FILE, seed)}`));
      const after = inFlight === undefined ? acked : apply(acked, inFlight);
      const entries = got.entries.map(hex);
      // Either nothing of the write in flight landed, or some of it did: never less than acknowledged.
      // Epoch and vote exactly as acknowledged (or as in flight); the commit hint a lower bound.
      const sameVote = (m: DurableMeta) => got.meta.epoch === m.epoch && got.meta.votedFor === m.votedFor;
      expect(
        sameVote(acked.meta) || sameVote(after.meta),
        `seed ${seed}: meta ${JSON.stringify(got.meta)}, acknowledged ${JSON.stringify(acked.meta)}; ${replay(FILE, seed)}`,
      ).toBe(true);
      expect(got.meta.commit, `seed ${seed}: ${replay(FILE, seed)}`).toBeLessThanOrEqual(
        Math.max(acked.meta.commit, after.meta.commit),
      );
      expect(got.meta.commit, `seed ${seed}: ${replay(FILE, seed)}`).toBeGreaterThanOrEqual(
        Math.min(acked.meta.commit, after.meta.commit) - META_COMMIT_STRIDE,
      );
      const floor = inFlight?.truncateFrom !== undefined ? inFlight.truncateFrom - 1 : acked.entries.length;
      const isAcked = entries.join() === acked.entries.join();
      const partOfInFlight =
        after.entries.slice(0, entries.length).join() === entries.join() && entries.length >= floor;
      expect(
        isAcked || partOfInFlight,
        `seed ${seed}: ${entries.length} entries, acknowledged ${acked.entries.length}; ${replay(FILE, seed)}`,
      ).toBe(true);
    },
  );
});
