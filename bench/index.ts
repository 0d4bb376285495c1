/**
 * The benchmark runner behind `chaindb bench [suite ...] [--quick] [--out <dir>]`: runs the named
 * suites (all by default) one after another, shows progress, and writes each suite's JSON, a
 * combined results.json and a self-contained report.html.
 * @module
 */
import { mkdirSync, writeFileSync } from "node:fs";
import {
  formatTable,
  machineInfo,
  median,
  missedTargets,
  parallelCeiling,
  writeSuiteResult,
  type BenchRun,
  type SuiteOptions,
  type SuiteResult,
} from "./lib.ts";

export type { BenchRun, CeilingResult } from "./lib.ts";
export { runStateScale, parseCounts } from "./state-scale.ts";
export { runGenesisBench } from "./state-genesis.ts";
export { runPagedScaleReport, parseBytes } from "./state-paged.ts";
import { renderReport } from "./report.ts";

/** A suite the runner knows: its name, what it measures, and how to load it. */
export interface SuiteEntry {
  name: string;
  description: string;
  /** Whether it reports 2-worker ratios (then the run measures the machine's parallel ceiling). */
  parallel?: boolean;
  load: () => Promise<{ run(options: SuiteOptions): Promise<SuiteResult> }>;
}

/** Every suite, in the order `chaindb bench` runs them. */
export const SUITES: readonly SuiteEntry[] = [
  {
    name: "pow",
    description: "sha256d nonce search: wasm vs ts vs node:crypto vs noble; 1 and 2 workers",
    parallel: true,
    load: () => import("./pow.bench.ts"),
  },
  {
    name: "store",
    description: "key-value store: wasm vs ts vs sqlite-wasm, load and random gets",
    load: () => import("./store.bench.ts"),
  },
  {
    name: "state",
    description: "ledger transfers: execution, state root, durable; wasm vs ts; signed pipeline",
    load: () => import("./state.bench.ts"),
  },
  {
    name: "concurrency",
    description: "lock manager cost and cross-thread handoff latency",
    load: () => import("./concurrency.bench.ts"),
  },
  {
    name: "execution",
    description:
      "block execution: serial vs parallel (1 and 2 workers); uniform, hot set, two accounts; execution only and signed",
    parallel: true,
    load: () => import("./execution.bench.ts"),
  },
  {
    name: "replication",
    description:
      "single-primary replication: tx/s, commit latency p50/p99 and failover, sync vs async, SimNetwork vs TCP",
    load: () => import("./replication.bench.ts"),
  },
  {
    name: "consensus",
    description:
      "Tendermint: blocks/s, tx/s and commit latency p50/p99 for 4, 7, 13, 21, 49 validators on the SimNetwork, 4 and 7 over TCP loopback (fsynced WALs); one validator down",
    load: () => import("./consensus.bench.ts"),
  },
  {
    name: "2pc",
    description:
      "two-phase commit: distributed tx/s and latency p50/p99, 3 participants, SimNetwork (zero latency) and TCP loopback with fsync, vs one ledger; group commit with 1 to 1,000 clients",
    load: () => import("./2pc.bench.ts"),
  },
];

/** Options of {@link runBench}. */
export interface RunBenchOptions {
  quick?: boolean;
  /** Output directory; default `bench/results`. */
  out?: string;
  /** Progress and tables go here; default: stderr for progress, stdout for tables. */
  log?: (line: string) => void;
  progress?: (line: string) => void;
}

/** Runs suites by name (all when `names` is empty) and writes the results; returns them. */
export async function runBench(names: readonly string[], options: RunBenchOptions = {}): Promise<BenchRun> {
  const selected = selectSuites(names);
  const out = options.out ?? "bench/results";
  const log = options.log ?? ((line: string) => console.log(line));
  const progress = options.progress ?? ((line: string) => process.stderr.write(`${line}\n`));
  const run: BenchRun = {
    machine: machineInfo(),
    date: new Date().toISOString(),
    quick: options.quick ?? false,
    suites: [],
  };
  const startedAt = performance.now();
  // Only runs with 2-worker ratios need the ceiling; quick runs take one round before and after.
  const ceilingRounds = selected.some((s) => s.parallel) ? (run.quick ? 1 : 3) : 0;
  if (ceilingRounds)
    progress(
      `parallel ceiling: a CPU-bound loop on 1 and 2 threads (${ceilingRounds} rounds now, ${ceilingRounds} after the suites)`,
    );
  const ceiling = ceilingRounds ? await parallelCeiling(ceilingRounds) : [];
  for (const [i, entry] of selected.entries()) {
    const prefix = `[${i + 1}/${selected.length}] ${entry.name}`;
    const suiteStart = performance.now();
    progress(`${prefix}: ${entry.description}`);
    const suite = await entry.load();
    const onProgress = (m: string) =>
      progress(
        `${prefix} ${clock(performance.now() - startedAt)}: ${m}${eta(m, performance.now() - suiteStart)}`,
      );
    const result = await suite.run({ quick: run.quick, onProgress });
    writeSuiteResult(result, out);
    run.suites.push(result);
    log(formatTable(result));
    log("");
  }
  if (ceilingRounds) {
    ceiling.push(...(await parallelCeiling(ceilingRounds)));
    run.ceiling = {
      samples: ceiling,
      median: median(ceiling),
      min: Math.min(...ceiling),
      max: Math.max(...ceiling),
    };
    log(
      `parallel ceiling (CPU-bound loop, 2 threads vs 1, this run): ${run.ceiling.median.toFixed(2)}× (${run.ceiling.min.toFixed(2)}–${run.ceiling.max.toFixed(2)})`,
    );
  }
  mkdirSync(out, { recursive: true });
  writeFileSync(`${out}/results.json`, JSON.stringify(run, null, 2) + "\n");
  writeFileSync(`${out}/report.html`, renderReport(run));
  log(`wrote ${out}/results.json and ${out}/report.html`);
  const missed = missedTargets(run.suites);
  const total = run.suites.reduce((n, x) => n + x.targets.length, 0);
  log(
    missed.length === 0
      ? `targets: all ${total} met`
      : `targets: ${missed.length} of ${total} missed:\n${missed.map((m) => `  MISS ${m}`).join("\n")}`,
  );
  return run;
}

/** Exit status of `chaindb bench`: 1 with `--check` when a target was missed, else 0. */
export function benchExitCode(run: BenchRun, check: boolean): 0 | 1 {
  return check && missedTargets(run.suites).length > 0 ? 1 : 0;
}

function clock(ms: number): string {
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

// Suites report "round r/R"; the rounds of a suite take about equally long, so the time left in
// the suite is the mean round time so far times the rounds still to run.
function eta(message: string, suiteElapsedMs: number): string {
  const m = /round (\d+)\/(\d+)/.exec(message);
  if (!m) return "";
  const done = Number(m[1]) - 1;
  const total = Number(m[2]);
  if (done < 1) return "";
  return ` (about ${clock((suiteElapsedMs / done) * (total - done))} left in this suite)`;
}

/** Resolves suite names; an unknown name is an error listing the known ones. */
export function selectSuites(names: readonly string[]): SuiteEntry[] {
  if (names.length === 0) return [...SUITES];
  return names.map((name) => {
    const entry = SUITES.find((s) => s.name === name);
    if (!entry)
      throw new RangeError(
        `unknown benchmark suite "${name}": expected one of ${SUITES.map((s) => s.name).join(", ")}`,
      );
    return entry;
  });
}
