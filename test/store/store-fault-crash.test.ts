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

/** One seed: blocks until the file system crashes (or an error is injected), then a reopen. */
async function crashOnce(seed: number, fault?: { op: FaultOp; code: "EIO" | "ENOSPC" }) {
  const fs = new FaultFs({ seed });
  let acked = 0;
  let ledger: Ledger | undefined;
  const where =
    fault === undefined
      ? `seed ${seed}; ${replay(FILE, seed)}`
      : `${fault.code} on ${fault.op} number ${seed}; replay: npx vitest run ${FILE} -t "${fault.op} ${fault.code}"`;
  if (fault === undefined) fs.crashAfterOps(5 + ((seed * 37) % 120));
  try {
    ledger = await Ledger.open({ ...opts, dir: "/chain", filePort: fs });
    if (fault !== undefined) fs.inject({ ...fault, nth: seed, pathIncludes: "/chain/ledger.sqlite" }); // the seed-th operation of the blocks
    for (let i = 0; i < 12; i++) {
      await applyNextBlock(ledger, 20);
      acked = ledger.height;
    }
  } catch (e) {
    const code = (e as { code?: string }).code;
    expect(
      ["STORE_IO", "STORE_CORRUPT", "CLOSED"].includes(code ?? "") || fault === undefined,
      `${where}: ${(e as Error).message}`,
    ).toBe(true);
    if (fault !== undefined) expect(code, where).toBe("STORE_IO");
  }
  fs.restart();
  const again = await reopen(fs, seed, fault ? "an injected error" : "a crash");
  expect(again.height, `${where}: lost acknowledged block ${acked}`).toBeGreaterThanOrEqual(acked);
  expect(again.height, where).toBeLessThanOrEqual(acked + 1);
  // A failed write (before the commit record): the block that got the error is not committed.
  // (A failed fsync leaves the outcome unknown, as a crash does: either is allowed there.)
  if (fault?.op === "write")
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
});
