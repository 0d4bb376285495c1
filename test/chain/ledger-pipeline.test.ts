/**
 * Pipelined durable commit: `applyBlock`/`applyPacked` execute the block and return before its
 * fsync, which runs in the background; the promise resolves only once the block is durable, the
 * blocks of one fsync window share that fsync, an fsync error fails every block in flight and
 * closes the ledger, and `close` waits for the blocks in flight. Power loss is simulated with the
 * fault-injecting file system (crashMode "drop": nothing unsynced survives). Without the option,
 * each block is fsynced inside the call (the other ledger suites).
 */
import { afterAll, describe, expect, it, vi } from "vitest";
import * as fs from "node:fs";
import * as path from "node:path";
import { Ledger } from "../../bindings/chain/ledger.ts";
import { FaultFs } from "../../bindings/store/index.ts";
import { toHex } from "../../bindings/util/index.ts";
import { CRASH_CHAIN, applyNextBlock, crashGenesis } from "../helpers/crash-blocks.ts";

const opts = { chainId: CRASH_CHAIN, genesis: crashGenesis(), snapshotEvery: 4, pipelined: true };
const work = fs.mkdtempSync(path.join(process.cwd(), ".chaindb-tmp-pipeline-"));
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

/** Roots of the same blocks on an in-memory ledger, by height. */
async function referenceRoots(n: number): Promise<string[]> {
  const ref = await Ledger.open({ ...opts, pipelined: false });
  const roots = [toHex(ref.root())];
  for (let i = 0; i < n; i++) roots.push(toHex(await applyNextBlock(ref, 20)));
  return roots;
}

describe("pipelined durable commit", () => {
  it("executes at once, resolves in order once durable, and shares fsyncs between blocks in flight", async () => {
    const disk = new FaultFs({ seed: 1, crashMode: "drop" });
    const ledger = await Ledger.open({ ...opts, dir: "/chain", filePort: disk });
    // The first write of a WAL also fsyncs its header (SQLite does, at every WAL restart).
    await applyNextBlock(ledger, 20);
    const fsyncs = vi.spyOn(disk, "fsync");
    const order: number[] = [];
    const blocks = [2, 3, 4].map((h) => applyNextBlock(ledger, 20).then(() => order.push(h)));
    // All three executed before any fsync ran: the next block does not wait for the last one's.
    expect(ledger.height).toBe(4);
    expect(ledger.durableHeight).toBe(1);
    expect(fsyncs).not.toHaveBeenCalled();
    await Promise.all(blocks);
    expect(order).toEqual([2, 3, 4]);
    expect(ledger.durableHeight).toBe(4);
    // One fsync started with block 2 written; blocks 3 and 4, written meanwhile, share the next.
    expect(fsyncs).toHaveBeenCalledTimes(2);
    await ledger.close();
    disk.restart(); // power loss: only what was fsynced survives
    const again = await Ledger.open({ ...opts, dir: "/chain", filePort: disk });
    expect(again.height).toBe(4);
    expect(toHex(again.root())).toBe((await referenceRoots(4))[4]);
    await again.close();
  });

  it("a block's promise never resolves before its fsync: a power loss first fails it, and it is gone", async () => {
    const disk = new FaultFs({ seed: 2, crashMode: "drop" });
    const ledger = await Ledger.open({ ...opts, dir: "/chain", filePort: disk });
    await applyNextBlock(ledger, 20); // durable
    const pending = applyNextBlock(ledger, 20);
    disk.crash(); // before the background fsync of block 2 ran
    await expect(pending).rejects.toMatchObject({ code: "STORE_IO" });
    expect(() => ledger.root()).toThrow(expect.objectContaining({ code: "CLOSED" }));
    await ledger.close();
    disk.restart();
    const again = await Ledger.open({ ...opts, dir: "/chain", filePort: disk });
    expect(again.height).toBe(1);
    expect(toHex(again.root())).toBe((await referenceRoots(1))[1]);
    await again.close();
  });

  it("an fsync error fails every block in flight with STORE_IO and closes the ledger", async () => {
    const disk = new FaultFs({ seed: 3, crashMode: "drop" });
    const ledger = await Ledger.open({ ...opts, dir: "/chain", filePort: disk });
    await applyNextBlock(ledger, 20); // durable; the WAL's header is fsynced with it
    disk.inject({ op: "fsync", nth: 1, code: "EIO", pathIncludes: "ledger.sqlite-wal" });
    const results = await Promise.allSettled([applyNextBlock(ledger, 20), applyNextBlock(ledger, 20)]);
    for (const r of results) {
      expect(r.status).toBe("rejected");
      expect((r as PromiseRejectedResult).reason).toMatchObject({ code: "STORE_IO" });
    }
    await expect(applyNextBlock(ledger, 20)).rejects.toMatchObject({ code: "CLOSED" });
    await expect(ledger.flush()).rejects.toMatchObject({ code: "STORE_IO" });
    await ledger.close();
    disk.restart();
    const again = await Ledger.open({ ...opts, dir: "/chain", filePort: disk });
    // A failed fsync leaves the outcome unknown, as a crash does (closing may checkpoint them):
    // never below the acknowledged block, and exactly the state of a committed height.
    expect(again.height).toBeGreaterThanOrEqual(1);
    expect(again.height).toBeLessThanOrEqual(3);
    expect(toHex(again.root())).toBe((await referenceRoots(3))[again.height]);
    await again.close();
  });

  it("close waits for the blocks in flight", async () => {
    const disk = new FaultFs({ seed: 4, crashMode: "drop" });
    const ledger = await Ledger.open({ ...opts, dir: "/chain", filePort: disk });
    const blocks = Array.from({ length: 5 }, () => applyNextBlock(ledger, 20));
    await ledger.close();
    await Promise.all(blocks);
    disk.restart();
    const again = await Ledger.open({ ...opts, dir: "/chain", filePort: disk });
    expect(again.height).toBe(5);
    expect(toHex(again.root())).toBe((await referenceRoots(5))[5]);
    await again.close();
  });

  it("without `pipelined`, a block is durable when its call returns", async () => {
    const disk = new FaultFs({ seed: 5, crashMode: "drop" });
    const ledger = await Ledger.open({ ...opts, pipelined: false, dir: "/chain", filePort: disk });
    const block = applyNextBlock(ledger, 20);
    expect(ledger.durableHeight).toBe(1);
    disk.crash();
    await block;
    disk.restart();
    const again = await Ledger.open({ ...opts, dir: "/chain", filePort: disk });
    expect(again.height).toBe(1);
    await again.close();
  });

  it("commitAccounts (the transactions' durable step) is pipelined too", async () => {
    const disk = new FaultFs({ seed: 6, crashMode: "drop" });
    const ledger = await Ledger.open({ ...opts, dir: "/chain", filePort: disk });
    await applyNextBlock(ledger, 20); // the WAL exists: no header fsync below
    const fsyncs = vi.spyOn(disk, "fsync");
    const record = (i: number, balance: bigint) => {
      const r = new Uint8Array(48);
      r.set(crashGenesis()[i]!.address);
      new DataView(r.buffer).setBigUint64(32, balance, true);
      return r;
    };
    const steps = [1n, 2n, 3n].map((b) => ledger.commitAccounts(record(0, b)));
    expect(ledger.height).toBe(4);
    expect(ledger.durableHeight).toBe(1);
    expect((await Promise.all(steps)).map((r) => r.height)).toEqual([2, 3, 4]);
    expect(fsyncs).toHaveBeenCalledTimes(2);
    await ledger.close();
    disk.restart();
    const again = await Ledger.open({ ...opts, dir: "/chain", filePort: disk });
    expect(again.height).toBe(4);
    expect(again.account(crashGenesis()[0]!.address)?.balance).toBe(3n);
    await again.close();
  });

  it("on real files: two blocks in flight over snapshots, flush, and exact recovery", async () => {
    const dir = path.join(work, "real");
    const ledger = await Ledger.open({ ...opts, dir });
    let inFlight: Promise<unknown> | undefined;
    for (let i = 0; i < 10; i++) {
      const block = applyNextBlock(ledger, 20);
      await inFlight;
      inFlight = block;
    }
    await ledger.flush();
    expect(ledger.durableHeight).toBe(10);
    const root = toHex(ledger.root());
    await ledger.close();
    const again = await Ledger.open({ ...opts, dir });
    expect(again.height).toBe(10);
    expect(toHex(again.root())).toBe(root);
    expect(root).toBe((await referenceRoots(10))[10]);
    await again.close();
  });
});
