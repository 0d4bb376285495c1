/**
 * Group commit on the shared append log (`AppendLog.commit`): commits that overlap one fsync
 * window share it, each resolves only once its record is durable (a power loss before the fsync
 * fails it and drops the record), an fsync error fails every waiter of its group and stops the
 * log, and a disk that ignores fsync is caught by the same durability check (the self-test).
 * The 2PC file log and the replica store use it with `groupCommit: true`.
 */
import { describe, expect, it, vi } from "vitest";
import { AppendLog, FaultFs, withoutFsync, type FilePort } from "../../bindings/store/index.ts";
import { FileTwoPcLog } from "../../bindings/txn/index.ts";
import { FileReplicaStore } from "../../bindings/replication/index.ts";

const FILE = "/logs/group.log";
const record = (i: number) => new Uint8Array(40).fill(i & 0xff);

/** A fault file system with the logs' directory in place (mkdir is durable at once there). */
function faultFs(seed: number): FaultFs {
  const disk = new FaultFs({ seed, crashMode: "drop" });
  disk.mkdir("/logs");
  return disk;
}

function reopen(port: FilePort): Uint8Array[] {
  const records: Uint8Array[] = [];
  AppendLog.open(FILE, "test", (p) => records.push(p.slice()), { port }).close();
  return records;
}

/**
 * `n` concurrent commits, then a power loss right after the last one resolved: true when every
 * resolved commit's record survived (what a correct disk guarantees).
 */
async function acknowledgedSurvive(disk: FaultFs, port: FilePort, n: number): Promise<boolean> {
  const log = AppendLog.open(FILE, "test", () => {}, { port });
  const acked: number[] = [];
  await Promise.all(
    Array.from({ length: n }, (_, i) => {
      log.append(record(i));
      return log.commit().then(() => void acked.push(i));
    }),
  );
  disk.restart(); // power loss: what was not fsynced is gone
  const survived = reopen(disk).length;
  return acked.every((i) => i < survived);
}

describe("append log group commit", () => {
  it("100 overlapping commits share two fsyncs and all survive a power loss", async () => {
    const disk = faultFs(1);
    const log = AppendLog.open(FILE, "test", () => {}, { port: disk });
    const fsyncs = vi.spyOn(disk, "fsync");
    const order: number[] = [];
    const commits = Array.from({ length: 100 }, (_, i) => {
      log.append(record(i));
      return log.commit().then(() => void order.push(i));
    });
    await Promise.all(commits);
    // The first commit's fsync started alone; the 99 that came while it ran share the next one.
    expect(fsyncs).toHaveBeenCalledTimes(2);
    expect(order).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(log.syncedSize).toBe(log.size);
    disk.restart();
    const records = reopen(disk);
    expect(records).toHaveLength(100);
    expect(records[99]).toEqual(record(99));
  });

  it("a commit never resolves before its fsync: a power loss first fails it and drops its record", async () => {
    const disk = faultFs(2);
    const log = AppendLog.open(FILE, "test", () => {}, { port: disk });
    log.append(record(1));
    await log.commit();
    log.append(record(2));
    const pending = log.commit();
    disk.crash(); // before the background fsync ran
    await expect(pending).rejects.toMatchObject({ code: "STORE_IO" });
    disk.restart();
    expect(reopen(disk)).toEqual([record(1)]);
  });

  it("an fsync error fails every waiter of the group with STORE_IO and stops the log", async () => {
    const disk = faultFs(3);
    const log = AppendLog.open(FILE, "test", () => {}, { port: disk });
    disk.inject({ op: "fsync", nth: 1, code: "EIO" });
    const results = await Promise.allSettled(
      [1, 2, 3].map((i) => {
        log.append(record(i));
        return log.commit();
      }),
    );
    for (const r of results) expect(r).toMatchObject({ status: "rejected", reason: { code: "STORE_IO" } });
    expect(() => log.append(record(4))).toThrow(expect.objectContaining({ code: "STORE_IO" }));
    await expect(log.commit()).rejects.toMatchObject({ code: "STORE_IO" });
    log.close();
  });

  it("self-test: the durability check catches a disk that ignores fsync", async () => {
    const good = faultFs(4);
    expect(await acknowledgedSurvive(good, good, 20)).toBe(true);
    const broken = faultFs(4);
    expect(await acknowledgedSurvive(broken, withoutFsync(broken), 20)).toBe(false);
  });

  it("close waits for the running fsync before it lets the descriptor go, and syncs the rest", async () => {
    const disk = faultFs(5);
    const log = AppendLog.open(FILE, "test", () => {}, { port: disk });
    log.append(record(1));
    const first = log.commit();
    log.append(record(2));
    const second = log.commit();
    log.close();
    expect(() => log.append(record(3))).toThrow(expect.objectContaining({ code: "CLOSED" }));
    await Promise.all([first, second]);
    disk.restart();
    expect(reopen(disk)).toEqual([record(1), record(2)]);
  });

  it("the 2PC file log with groupCommit: overlapping syncs share fsyncs and survive, compaction still runs", async () => {
    const disk = faultFs(6);
    const log = FileTwoPcLog.open("/logs/c.2pc.log", {
      port: disk,
      groupCommit: true,
      compactMinBytes: 4096,
    });
    const before = log.syncs;
    const syncs: Promise<void>[] = [];
    for (let i = 0; i < 50; i++) {
      log.put(`2pc/tx${i}`, new Uint8Array(64).fill(i));
      syncs.push(Promise.resolve(log.sync()));
    }
    await Promise.all(syncs);
    expect(log.syncs - before).toBe(2);
    // Rewrites of the same keys grow the file past 4× its live records: a later sync compacts.
    for (let round = 0; round < 10; round++) {
      for (let i = 0; i < 50; i++) log.put(`2pc/tx${i}`, new Uint8Array(64).fill(round));
      await log.sync();
    }
    expect(log.compactions).toBeGreaterThan(0);
    log.close();
    disk.restart();
    const again = FileTwoPcLog.open("/logs/c.2pc.log", { port: disk });
    expect(again.keys("2pc/")).toHaveLength(50);
    expect(again.get("2pc/tx7")).toEqual(new Uint8Array(64).fill(9));
    again.close();
  });

  it("the replica store with groupCommit: a write resolves once durable and reloads after a power loss", async () => {
    const disk = faultFs(7);
    const store = new FileReplicaStore("/r", disk, { groupCommit: true });
    await store.load();
    const entry = (i: number) => ({
      epoch: 1,
      proposer: new Uint8Array(32).fill(i),
      transfers: new Uint8Array(0),
    });
    await store.write({
      kind: "persist",
      meta: { epoch: 1, votedFor: "a", commit: 0 },
      append: { from: 1, entries: [entry(1), entry(2)] },
    });
    await store.write({ kind: "persist", append: { from: 3, entries: [entry(3)] } });
    await store.close();
    disk.restart();
    const again = new FileReplicaStore("/r", disk, { groupCommit: true });
    const { entries } = await again.load();
    expect(entries.map((e) => e.proposer[0])).toEqual([1, 2, 3]);
    await again.close();
  });
});
