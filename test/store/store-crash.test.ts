/**
 * Crash test: a child process commits blocks in a loop and is killed with SIGKILL at random
 * moments (20 kills), once awaiting each block and once pipelined (two blocks in flight: the
 * next executes while the last one's fsync runs). After each kill the ledger reopens to exactly
 * the state of a committed block (its root equals the root of that height computed in memory),
 * never loses a block whose promise had resolved, and is at most the blocks in flight ahead. Replay a failure with
 * CHAINDB_CRASH_SEED=<seed>.
 */
import { afterAll, describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { Ledger } from "../../bindings/chain/ledger.ts";
import { toHex } from "../../bindings/util/index.ts";
import { CRASH_CHAIN, applyNextBlock, crashGenesis } from "../helpers/crash-blocks.ts";
import { prng } from "../helpers/ledger-fixtures.ts";

// 20 kills by default (the minimum); test:slow runs 60.
const KILLS = process.env.CHAINDB_SLOW ? 60 : 20;
const CHILD = fileURLToPath(new URL("../helpers/crash-child.ts", import.meta.url));
const work = fs.mkdtempSync(path.join(process.cwd(), ".chaindb-tmp-crash-"));
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

/** `serial`: each block awaited before the next; `pipelined`: two blocks in flight. */
type Mode = "serial" | "pipelined";
/** Blocks a child may have written but not acknowledged when it is killed. */
const IN_FLIGHT: Record<Mode, number> = { serial: 1, pipelined: 2 };

interface Round {
  opened: number;
  acked: number;
  ackedRoots: Map<number, string>;
}

/** Runs the child until it has acknowledged `killAfter` commits, then SIGKILLs it (bounded wait). */
function runChild(
  dir: string,
  engine: string,
  killAfter: number,
  delayMs: number,
  mode: Mode,
): Promise<Round> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", CHILD, dir, engine, mode], {
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
        if (what === "opened") round.opened = Number(h);
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

describe.each(["serial", "pipelined"] as const)("crash recovery under SIGKILL (%s commits)", (mode) => {
  it(
    `${KILLS} kills: reopen gives exactly a committed state, never losing an acknowledged block`,
    async () => {
      const seed = Number(process.env.CHAINDB_CRASH_SEED ?? 0xc0ffee);
      const rand = prng(seed);
      const dir = path.join(work, `ledger-${mode}`);
      const opts = { chainId: CRASH_CHAIN, genesis: crashGenesis(), snapshotEvery: 7 };
      const reference = await Ledger.open(opts);
      const roots = [toHex(reference.root())];
      const rootAt = async (h: number) => {
        while (roots.length <= h) roots.push(toHex(await applyNextBlock(reference)));
        return roots[h]!;
      };
      let height = 0;
      let inFlightCommitted = 0;
      for (let k = 0; k < KILLS; k++) {
        const engine = k % 4 === 3 ? "ts" : "wasm";
        const killAfter = height + 1 + Math.floor(rand() * 4);
        const delayMs = rand() < 0.4 ? 0 : Math.floor(rand() * 8);
        const round = await runChild(dir, engine, killAfter, delayMs, mode);
        const where = `seed ${seed} kill ${k} (replay: CHAINDB_CRASH_SEED=${seed} npx vitest run test/store/store-crash.test.ts -t ${mode})`;
        expect(round.opened, where).toBe(height);
        for (const [h, r] of round.ackedRoots) expect(r, where).toBe(await rootAt(h));
        const reopened = await Ledger.open({ ...opts, dir });
        expect(reopened.height, where).toBeGreaterThanOrEqual(round.acked);
        expect(reopened.height, where).toBeLessThanOrEqual(round.acked + IN_FLIGHT[mode]);
        expect(toHex(reopened.root()), where).toBe(await rootAt(reopened.height));
        if (reopened.height > round.acked) inFlightCommitted++;
        height = reopened.height;
        await reopened.close();
      }
      expect(height).toBeGreaterThanOrEqual(KILLS);
      console.log(
        `crash test (${mode}): ${KILLS} kills, final height ${height}, an in-flight block found committed after ${inFlightCommitted} kills`,
      );
    },
    KILLS * 15_000,
  ); // each kill cycle is a child start, some commits and a reopen: seconds on a loaded 2-core machine
});
