/**
 * `chaindb bench state --genesis 1M,10M`: bulk genesis from packed 48-byte account records
 * (issue 11 part 4, target ≥ 1M accounts/s). Each (engine, size) runs `--rounds` times (default 3)
 * in a fresh child process, engines and sizes interleaved round by round so load drift hits all
 * alike; the report gives the median. Per run: the load (records into the account table) and the
 * tree build (the first root), accounts/s over both, and where the time went that no profile
 * shows: minor page faults (first touch of fresh memory) times the cost of one, calibrated in
 * the same child by touching a fresh 64 MiB WebAssembly memory page by page.
 *
 * Run from sources: `npx tsx bench/state-genesis.ts --genesis 1M,10M [--rounds 3] [--ts-max 1M]`.
 * @module
 */
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { createLedgerState } from "../bindings/engine/index.ts";
import { genesisRecords, parseCounts } from "./state-scale.ts";

/** One genesis run. */
export interface GenesisRun {
  engine: "wasm" | "ts";
  accounts: number;
  loadMs: number;
  treeMs: number;
  rate: number;
  pageFaults: number;
  /** Estimated: page faults × the calibrated cost of one. */
  faultMs: number;
  faultUs: number;
}

/** Microseconds per first touch of a fresh 4 KiB page of WebAssembly memory, measured here. */
function faultCostUs(): number {
  const pages = 1024; // 64 KiB WebAssembly pages: 64 MiB
  const memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
  const u8 = new Uint8Array(memory.buffer);
  const f0 = process.resourceUsage().minorPageFault;
  const t0 = performance.now();
  for (let i = 0; i < u8.length; i += 4096) u8[i] = 1;
  const ms = performance.now() - t0;
  const faults = Math.max(1, process.resourceUsage().minorPageFault - f0);
  return (ms * 1000) / faults;
}

/** Measures one genesis in this process. */
export async function measureGenesis(engine: "wasm" | "ts", n: number): Promise<GenesisRun> {
  const records = genesisRecords(n, 0x9e3779b9 ^ n);
  const faultUs = faultCostUs();
  const state = await createLedgerState(engine);
  const f0 = process.resourceUsage().minorPageFault;
  const t0 = performance.now();
  state.load(records);
  const t1 = performance.now();
  const root = state.root();
  const t2 = performance.now();
  const pageFaults = process.resourceUsage().minorPageFault - f0;
  if (state.accountCount !== n || root.length !== 32) throw new Error("genesis lost accounts");
  return {
    engine,
    accounts: n,
    loadMs: t1 - t0,
    treeMs: t2 - t1,
    rate: (n * 1000) / (t2 - t0),
    pageFaults,
    faultMs: (pageFaults * faultUs) / 1000,
    faultUs,
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

/** Options of {@link runGenesisBench}. */
export interface GenesisBenchOptions {
  accounts: number[];
  rounds?: number;
  /** The ts engine runs up to this size (default 1M). */
  tsMax?: number;
  log?: (line: string) => void;
}

/** Runs every (engine, size) `rounds` times in child processes; prints a table of medians. */
export function runGenesisBench(options: GenesisBenchOptions): GenesisRun[] {
  const log = options.log ?? ((s: string) => process.stderr.write(`${s}\n`));
  const self = fileURLToPath(import.meta.url);
  const runs: GenesisRun[] = [];
  for (let round = 0; round < (options.rounds ?? 3); round++) {
    for (const n of options.accounts) {
      for (const engine of ["wasm", "ts"] as const) {
        if (engine === "ts" && n > (options.tsMax ?? 1_000_000)) continue;
        const r = spawnSync(process.execPath, [...process.execArgv, self, "--child", `${engine}:${n}`], {
          encoding: "utf8",
          stdio: ["ignore", "pipe", "inherit"],
        });
        const line = r.stdout.trim().split("\n").pop() ?? "";
        if (r.status !== 0 || !line.startsWith("{")) {
          log(`  ${engine} ${n}: failed (exit ${r.status})`);
          continue;
        }
        const run = JSON.parse(line) as GenesisRun;
        log(`  round ${round + 1}: ${engine} ${n}: ${Math.round(run.rate)} accounts/s`);
        runs.push(run);
      }
    }
  }
  console.log(formatGenesis(runs));
  return runs;
}

/** Medians per (engine, size) as a Markdown table. */
export function formatGenesis(runs: GenesisRun[]): string {
  const rows = [
    "| engine | accounts | runs | accounts/s | load ms | tree ms | page faults | est. fault ms (µs each) | rate without faults |",
    "|---|---|---|---|---|---|---|---|---|",
  ];
  const keys = [...new Set(runs.map((r) => `${r.engine}:${r.accounts}`))];
  for (const key of keys) {
    const rs = runs.filter((r) => `${r.engine}:${r.accounts}` === key);
    const m = (f: (r: GenesisRun) => number) => median(rs.map(f));
    const total = m((r) => r.loadMs + r.treeMs);
    const faultMs = m((r) => r.faultMs);
    rows.push(
      `| ${rs[0]!.engine} | ${rs[0]!.accounts} | ${rs.length} | ${Math.round(m((r) => r.rate))} | ${m((r) => r.loadMs).toFixed(0)} | ${m((r) => r.treeMs).toFixed(0)} | ${m((r) => r.pageFaults)} | ${faultMs.toFixed(0)} (${m((r) => r.faultUs).toFixed(1)}) | ${Math.round((rs[0]!.accounts * 1000) / Math.max(1, total - faultMs))} |`,
    );
  }
  rows.push("", "target: ≥ 1M accounts/s (issue 11); medians of the runs, interleaved round by round");
  return rows.join("\n");
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const { values } = parseArgs({
    options: {
      child: { type: "string" },
      genesis: { type: "string", default: "1M" },
      rounds: { type: "string", default: "3" },
      "ts-max": { type: "string" },
    },
  });
  if (values.child !== undefined) {
    const [engine, n] = values.child.split(":") as ["wasm" | "ts", string];
    process.stdout.write(`${JSON.stringify(await measureGenesis(engine, Number(n)))}\n`);
  } else {
    runGenesisBench({
      accounts: parseCounts(values.genesis),
      rounds: Number(values.rounds),
      ...(values["ts-max"] !== undefined ? { tsMax: parseCounts(values["ts-max"])[0]! } : {}),
    });
  }
}
