/**
 * Crash tests of a paged ledger on both engines (state in pages, a 4 KB cache for ~560 accounts: see
 * test/helpers/paged-crash.ts), with the guarantees of the in-memory ledger's suites: after a
 * crash the ledger reopens at exactly a committed state, never below the last acknowledged block
 * and at most the one block in flight above it, with the root an in-memory ledger computes for
 * that height on the same blocks.
 * - On the fault-injecting file system (power loss: unsynced writes lost, torn or zeroed; directory
 *   entries not fsynced vanish), seeded crashes at every point of the open, the blocks, the page
 *   evictions and the checkpoints.
 * - Under SIGKILL of a child process that commits blocks in a loop.
 * Replay a FaultFs seed with the printed command; a SIGKILL run with CHAINDB_CRASH_SEED=<seed>.
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { Ledger } from "../../bindings/chain/ledger.ts";
import { FaultFs } from "../../bindings/store/index.ts";
import { toHex } from "../../bindings/util/index.ts";
import { applyNextBlock } from "../helpers/crash-blocks.ts";
import { prng } from "../helpers/ledger-fixtures.ts";
import { PAGED_CACHE_BYTES, pagedCrashOptions } from "../helpers/paged-crash.ts";
import { replay, seedRange } from "../helpers/seeds.ts";

const FILE = "test/store/paged-crash.test.ts";
const TXS = 60;

/** Roots by height of the in-memory reference ledger on the same genesis and blocks. */
function referenceRoots(snapshotEvery: number): (h: number) => Promise<string> {
  const roots: string[] = [];
  let reference: Ledger | undefined;
  return async (h) => {
    reference ??= await Ledger.open(pagedCrashOptions(snapshotEvery));
    if (roots.length === 0) roots.push(toHex(reference.root()));
    while (roots.length <= h) roots.push(toHex(await applyNextBlock(reference, TXS)));
    return roots[h]!;
  };
}

const ENGINES = ["ts", "wasm"] as const;

describe.each(ENGINES)("paged ledger (%s engine) on the fault-injecting file system", (engine) => {
  const opts = { ...pagedCrashOptions(3), cacheBytes: PAGED_CACHE_BYTES, engine };
  const rootAt = referenceRoots(3);

  it.each(seedRange(40, 400).map((s) => [s]))(
    "seed %i: a crash at any file operation reopens to a committed state",
    async (seed) => {
      const ffs = new FaultFs({ seed });
      const where = `seed ${seed}; ${replay(FILE, seed)}`;
      ffs.crashAfterOps(5 + ((seed * 53) % 155)); // a run of open + 10 blocks is ~160 operations
      let acked = 0;
      try {
        const ledger = await Ledger.open({ ...opts, dir: "/chain", filePort: ffs });
        expect(ledger.engine).toBe(engine);
        for (let i = 0; i < 10; i++) {
          await applyNextBlock(ledger, TXS);
          acked = ledger.height;
        }
      } catch (e) {
        expect(ffs.crashed, `${where}: ${(e as Error).message}`).toBe(true);
      }
      ffs.restart();
      let again: Ledger;
      try {
        again = await Ledger.open({ ...opts, dir: "/chain", filePort: ffs });
      } catch (e) {
        return expect.fail(`${where}: reopen failed: ${(e as Error).message}`);
      }
      expect(again.height, `${where}: lost acknowledged block ${acked}`).toBeGreaterThanOrEqual(acked);
      expect(again.height, where).toBeLessThanOrEqual(acked + 1);
      expect(toHex(again.root()), where).toBe(await rootAt(again.height));
      await applyNextBlock(again, TXS); // and it goes on
      expect(toHex(again.root()), where).toBe(await rootAt(again.height));
      await again.close();
    },
    60_000,
  );

  it("checkpoints compact the page log, and the compacted ledger reopens to the same root", async () => {
    const ffs = new FaultFs({ seed: 6 });
    const ledger = await Ledger.open({ ...opts, dir: "/chain", filePort: ffs });
    for (let i = 0; i < 9; i++) await applyNextBlock(ledger, TXS);
    const stats = ledger.pagedStats()!;
    expect(stats.logGeneration).toBeGreaterThan(0);
    expect(ffs.readdir("/chain").filter((n) => n.startsWith("state.pages"))).toEqual([
      `state.pages.${stats.logGeneration}`,
    ]);
    await ledger.close();
    const again = await Ledger.open({ ...opts, dir: "/chain", filePort: ffs });
    expect(again.height).toBe(9);
    expect(toHex(again.root())).toBe(await rootAt(9));
    await again.close();
  });

  it("a damaged page the checkpoint names is STORE_CORRUPT on first read, not a wrong state", async () => {
    const ffs = new FaultFs({ seed: 5 });
    const ledger = await Ledger.open({ ...opts, dir: "/chain", filePort: ffs });
    await ledger.close();
    ffs.flipBit("/chain/state.pages", 100, 3); // generation 0: no checkpoint after the genesis yet
    const again = await Ledger.open({ ...opts, dir: "/chain", filePort: ffs });
    let code: string | undefined;
    try {
      for (let i = 0; i < 6; i++) await applyNextBlock(again, TXS);
      again.exportAccounts();
    } catch (e) {
      code = (e as { code?: string }).code;
    }
    expect(code).toBe("STORE_CORRUPT");
  });
});

const KILLS = process.env.CHAINDB_SLOW ? 30 : 8;
const CHILD = fileURLToPath(new URL("../helpers/paged-crash-child.ts", import.meta.url));
const work = fs.mkdtempSync(path.join(process.cwd(), ".chaindb-tmp-paged-crash-"));
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

interface Round {
  opened: number;
  engine?: string;
  acked: number;
  ackedRoots: Map<number, string>;
}

/** Runs the child until it acknowledged `killAfter` commits, then SIGKILLs it (bounded wait). */
function runChild(dir: string, engine: string, killAfter: number, delayMs: number): Promise<Round> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", CHILD, dir, engine], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    const round: Round = { opened: -1, acked: -1, ackedRoots: new Map() };
    let buffered = "";
    let stderr = "";
    let killing = false;
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`child did not reach ${killAfter} commits in 60 s; stderr: ${stderr}`));
    }, 60_000);
    child.stderr.on("data", (d) => (stderr += d));
    child.stdout.on("data", (d) => {
      buffered += d;
      const lines = buffered.split("\n");
      buffered = lines.pop()!;
      for (const line of lines) {
        const [what, h, root] = line.split(" ");
        if (what === "opened") {
          round.opened = Number(h);
          round.engine = root!;
        }
        if (what === "committed") {
          round.acked = Number(h);
          round.ackedRoots.set(Number(h), root!);
        }
        if (!killing && round.acked >= killAfter) {
          killing = true;
          if (delayMs === 0) child.kill("SIGKILL");
          else setTimeout(() => child.kill("SIGKILL"), delayMs);
        }
      }
    });
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      if (signal === "SIGKILL" && killing) resolve(round);
      else reject(new Error(`child exited early (code ${code}, signal ${signal}); stderr: ${stderr}`));
    });
  });
}

describe.each(ENGINES)("paged ledger (%s engine) under SIGKILL", (engine) => {
  it(
    `${KILLS} kills of a ledger ~25 times its cache: reopen gives exactly a committed state`,
    async () => {
      const seed = Number(process.env.CHAINDB_CRASH_SEED ?? 0xbeef);
      const rand = prng(seed);
      const dir = path.join(work, `ledger-${engine}`);
      const rootAt = referenceRoots(5);
      let height = 0;
      for (let k = 0; k < KILLS; k++) {
        const killAfter = height + 1 + Math.floor(rand() * 6);
        const delayMs = rand() < 0.4 ? 0 : Math.floor(rand() * 8);
        const round = await runChild(dir, engine, killAfter, delayMs);
        const where = `seed ${seed} kill ${k} (replay: CHAINDB_CRASH_SEED=${seed} npx vitest run ${FILE})`;
        expect(round.opened, where).toBe(height);
        expect(round.engine, where).toBe(engine);
        for (const [h, r] of round.ackedRoots) expect(r, where).toBe(await rootAt(h));
        const reopened = await Ledger.open({
          ...pagedCrashOptions(5),
          dir,
          cacheBytes: PAGED_CACHE_BYTES,
          engine,
        });
        expect(reopened.height, where).toBeGreaterThanOrEqual(round.acked);
        expect(reopened.height, where).toBeLessThanOrEqual(round.acked + 1);
        expect(toHex(reopened.root()), where).toBe(await rootAt(reopened.height));
        height = reopened.height;
        await reopened.close();
      }
      expect(height).toBeGreaterThanOrEqual(KILLS);
    },
    KILLS * 20_000,
  );
});
