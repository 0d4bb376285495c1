// The ledger's crash suite on the fault-injecting file system: SQLite (through the VFS on the
// FilePort) writes to a FaultFs that crashes after a seeded number of file operations; unsynced
// writes are lost, torn or zeroed and directory entries not fsynced vanish. After each crash the
// ledger reopens at exactly a committed state: never below the last acknowledged block, at most
// the one block in flight above it, with the root of that height; an injected EIO or ENOSPC is a
// coded error (STORE_IO) and leaves the same guarantee. A SIGKILL test (store-crash.test.ts) keeps
// the page cache; this one proves the fsyncs.
import { describe, expect, it } from "vitest";
import { Ledger } from "../../bindings/chain/ledger.ts";
import { FaultFs, type FaultOp } from "../../bindings/store/index.ts";
import { toHex } from "../../bindings/util/index.ts";
import { CRASH_CHAIN, applyNextBlock, crashGenesis } from "../helpers/crash-blocks.ts";
import { replay, seedRange } from "../helpers/seeds.ts";

const FILE = "test/store/store-fault-crash.test.ts";
const opts = { chainId: CRASH_CHAIN, genesis: crashGenesis(), snapshotEvery: 3 };
const roots: string[] = [];

let reference: Ledger | undefined;

/** Root at height `h` of the reference ledger (in memory, same blocks). */
async function rootAt(h: number): Promise<string> {
  reference ??= await Ledger.open(opts);
  if (roots.length === 0) roots.push(toHex(reference.root()));
  while (roots.length <= h) roots.push(toHex(await applyNextBlock(reference, 20)));
  return roots[h]!;
}

/** Opens the ledger on `fs`, or fails the seed with its replay command. */
async function reopen(fs: FaultFs, seed: number, what: string): Promise<Ledger> {
  try {
    return await Ledger.open({ ...opts, dir: "/chain", filePort: fs });
  } catch (e) {
    return expect.fail(
      `seed ${seed}: reopen after ${what} failed: ${(e as Error).message}; ${replay(FILE, seed)}`,
    );
  }
}

/**
 * Applies 12 blocks: each awaited before the next, or pipelined (two in flight: a block executes
 * while the previous one's fsync runs). `acked` follows the blocks whose promise resolved;
 * `failedWrite` is the height of a block whose call failed before it was written.
 */
async function applyBlocks(
  ledger: Ledger,
  pipelined: boolean,
  progress: { acked: number; failedWrite?: number },
): Promise<void> {
  if (!pipelined) {
    for (let i = 0; i < 12; i++) {
      progress.failedWrite = ledger.height + 1;
      await applyNextBlock(ledger, 20);
      progress.acked = ledger.height;
    }
    return;
  }
  const outstanding: Promise<unknown>[] = [];
  let inFlight: Promise<unknown> | undefined;
  try {
    for (let i = 0; i < 12; i++) {
      const height = ledger.height + 1;
      const block = applyNextBlock(ledger, 20).then(
        () => void (progress.acked = Math.max(progress.acked, height)),
        (e: unknown) => {
          if (ledger.height < height) progress.failedWrite ??= height; // never written
          throw e;
        },
      );
      outstanding.push(block);
      block.catch(() => {}); // handled here: the loop awaits it next, or the finally settles it
      await inFlight;
      inFlight = block;
    }
    await inFlight;
  } finally {
    await Promise.allSettled(outstanding); // every rejection handled before the crash is checked
  }
}

/** One seed: blocks until the file system crashes (or an error is injected), then a reopen. */
async function crashOnce(seed: number, fault?: { op: FaultOp; code: "EIO" | "ENOSPC" }, pipelined = false) {
  const fs = new FaultFs({ seed });
  const progress: { acked: number; failedWrite?: number } = { acked: 0 };
  let ledger: Ledger | undefined;
  const where =
    fault === undefined
      ? `seed ${seed}; ${replay(FILE, seed)}`
      : `${fault.code} on ${fault.op} number ${seed}; replay: npx vitest run ${FILE} -t "${fault.op} ${fault.code}"`;
  if (fault === undefined) fs.crashAfterOps(5 + ((seed * 37) % 120));
  try {
    ledger = await Ledger.open({ ...opts, dir: "/chain", filePort: fs, pipelined });
    if (fault !== undefined) fs.inject({ ...fault, nth: seed, pathIncludes: "/chain/ledger.sqlite" }); // the seed-th operation of the blocks
    await applyBlocks(ledger, pipelined, progress);
  } catch (e) {
    const code = (e as { code?: string }).code;
    expect(
      ["STORE_IO", "STORE_CORRUPT", "CLOSED"].includes(code ?? "") || fault === undefined,
      `${where}: ${(e as Error).message}`,
    ).toBe(true);
    if (fault !== undefined) expect(code, where).toBe("STORE_IO");
    await ledger?.close(); // lets the files go (a crashed or failed ledger closed itself already)
  }
  fs.restart();
  const again = await reopen(fs, seed, fault ? "an injected error" : "a crash");
  const acked = progress.acked;
  expect(again.height, `${where}: lost acknowledged block ${acked}`).toBeGreaterThanOrEqual(acked);
  expect(again.height, where).toBeLessThanOrEqual(acked + (pipelined ? 2 : 1));
  // A failed write (before the commit record): the block that got the error is not committed.
  // (A failed fsync leaves the outcome unknown, as a crash does: either is allowed there.)
  if (fault?.op === "write" && progress.failedWrite !== undefined)
    expect(again.height, `${where}: a block whose call failed is durable`).toBeLessThan(progress.failedWrite);
  if (fault?.op === "write" && !pipelined)
    expect(again.height, `${where}: a block whose call failed is durable`).toBe(acked);
  expect(toHex(again.root()), where).toBe(await rootAt(again.height));
  await applyNextBlock(again, 20); // and it goes on
  await again.close();
  return { crashed: fs.crashes, acked, height: again.height };
}

describe("ledger crash suite on the fault-injecting file system", () => {
  it.each(seedRange(120, 2000).map((s) => [s]))(
    "seed %i: a crash at any file operation reopens to a committed state",
    async (seed) => {
      await crashOnce(seed);
    },
    60_000,
  );

  it.each([
    ["write", "EIO"],
    ["write", "ENOSPC"],
    ["fsync", "EIO"],
  ] as const)(
    "an injected %s %s on each of the first 24 operations is STORE_IO; the ledger reopens to a committed state",
    async (op, code) => {
      for (let seed = 1; seed <= 24; seed++) await crashOnce(seed, { op: op as FaultOp, code });
    },
    60_000,
  );

  it.each(seedRange(120, 2000).map((s) => [s]))(
    "pipelined, seed %i: a power loss at any file operation with two blocks in flight reopens to a committed state",
    async (seed) => {
      await crashOnce(seed, undefined, true);
    },
    60_000,
  );

  it.each([
    ["write", "EIO"],
    ["fsync", "EIO"],
  ] as const)(
    "pipelined: an injected %s %s on each of the first 24 operations fails the blocks in flight with STORE_IO",
    async (op, code) => {
      for (let seed = 1; seed <= 24; seed++) await crashOnce(seed, { op: op as FaultOp, code }, true);
    },
    60_000,
  );
});
