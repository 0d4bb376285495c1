/**
 * Shared benchmark machinery: every case of a suite is measured side by side in rounds (each
 * round runs every case once, with tinybench's warm-up), so that drift on a shared machine hits
 * all cases alike; a case reports the median and min–max of its per-round rates, and its ratio
 * to a baseline measured in the same run (TigerBeetle `src/testing/bench.zig` spirit).
 * @module
 */
import { Bench } from "tinybench";
import { cpus } from "node:os";
import { mkdirSync, writeFileSync } from "node:fs";
import { runtimeVersion } from "../bindings/runtime/index.ts";

/** One measured case: a rate (units per second) per round. */
export interface CaseResult {
  id: string;
  label: string;
  /** Chart grouping, e.g. "single thread" or "workers". */
  group: string;
  /** Unit of the rate, e.g. "H/s" or "transfers/s". */
  unit: string;
  /** Rate of each round, in `unit`. */
  samples: number[];
  median: number;
  min: number;
  max: number;
  /** Id of the case this one is compared with, and the ratio of medians. */
  baseline?: string;
  ratio?: number;
  /** Free-form parameters (workers, engine, size …) for charts and tables. */
  params?: Record<string, string | number>;
  /** Charts whose cases share this key (within a suite) share one scale; default: the unit. */
  scale?: string;
  /** Set when the case could not run here (e.g. a native peer that does not load): why. */
  unavailable?: string;
}

/** A target from an issue, checked against the measured figures. */
export interface TargetCheck {
  name: string;
  want: string;
  measured: string;
  pass: boolean;
}

/** A suite's results. */
/** The combined results file. */
/** The machine's parallel ceiling in this run: a CPU-bound loop, 2 threads vs 1 (see `parallelCeiling`). */
export interface CeilingResult {
  /** One ratio per round: half the rounds before the first suite, half after the last. */
  samples: number[];
  median: number;
  min: number;
  max: number;
}

/** The combined results file. */
export interface BenchRun {
  machine: MachineInfo;
  date: string;
  quick: boolean;
  suites: SuiteResult[];
  /** Absent in results written before the ceiling was measured by the runner. */
  ceiling?: CeilingResult;
}

export interface SuiteResult {
  suite: string;
  title: string;
  machine: MachineInfo;
  date: string;
  quick: boolean;
  cases: CaseResult[];
  targets: TargetCheck[];
  notes: string[];
}

/** What the numbers were measured on. */
export interface MachineInfo {
  cpu: string;
  cores: number;
  runtime: string;
  platform: string;
}

/** Options every suite accepts. */
export interface SuiteOptions {
  quick: boolean;
  /** Progress lines ("case 3/6: wasm engine, round 2/5"); default: silent. */
  onProgress?: (message: string) => void;
}

/** A case to measure: `run` does `units` units of work per call (e.g. nonces hashed). */
export interface CaseSpec {
  id: string;
  label: string;
  group: string;
  unit: string;
  units: number;
  run: () => unknown;
  baseline?: string;
  params?: Record<string, string | number>;
}

/** The machine and runtime of this run. */
export function machineInfo(): MachineInfo {
  const list = cpus();
  return {
    cpu: list[0]?.model.trim() ?? "unknown",
    cores: list.length,
    runtime: runtimeVersion(),
    platform: `${process.platform} ${process.arch}`,
  };
}

/** Median of numbers (sorted copy). */
export function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length === 0 ? NaN : s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Sink for results, so the work of a case cannot be optimised away. */
export let sink = 0;
/** The p-th percentile (nearest rank) of `values`; 0 for none. */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

/** A case from its samples: median, min and max computed, the baseline named if any. */
export function caseFromSamples(
  id: string,
  label: string,
  group: string,
  unit: string,
  samples: number[],
  params: Record<string, string | number>,
  baseline?: string,
): CaseResult {
  return {
    id,
    label,
    group,
    unit,
    samples,
    median: median(samples),
    min: Math.min(...samples),
    max: Math.max(...samples),
    params,
    ...(baseline ? { baseline } : {}),
  };
}

/** Adds a value to the sink. */
export function consume(value: number): void {
  sink = (sink + value) | 0;
}

/** Measures every case in `rounds` rounds of `timeMs` each, side by side. */
export async function measure(
  specs: CaseSpec[],
  opts: { rounds: number; timeMs: number; onProgress?: (m: string) => void },
): Promise<CaseResult[]> {
  const samples = new Map<string, number[]>(specs.map((s) => [s.id, []]));
  for (let round = 1; round <= opts.rounds; round++) {
    opts.onProgress?.(`round ${round}/${opts.rounds}`);
    const bench = new Bench({ time: opts.timeMs, warmupTime: Math.min(200, opts.timeMs / 2), iterations: 3 });
    for (const spec of specs) bench.add(spec.id, spec.run);
    await bench.run();
    for (const task of bench.tasks) {
      const result = task.result;
      if (result.state !== "completed")
        throw new Error(
          `benchmark case ${task.name} ${result.state}: ${"error" in result ? String(result.error) : ""}`,
        );
      const spec = specs.find((s) => s.id === task.name)!;
      samples.get(spec.id)!.push((spec.units * 1000) / result.latency.mean);
    }
  }
  const results = specs.map((spec) => summarize(spec, samples.get(spec.id)!));
  for (const r of results) {
    const base = results.find((b) => b.id === r.baseline);
    if (base) r.ratio = r.median / base.median;
  }
  return results;
}

function summarize(spec: CaseSpec, rates: number[]): CaseResult {
  const out: CaseResult = {
    id: spec.id,
    label: spec.label,
    group: spec.group,
    unit: spec.unit,
    samples: rates,
    median: median(rates),
    min: Math.min(...rates),
    max: Math.max(...rates),
  };
  if (spec.baseline) out.baseline = spec.baseline;
  if (spec.params) out.params = spec.params;
  return out;
}

/**
 * A value with its unit, spaced: `110.5 blocks/s`, `1.36 M transfers/s`, `4.52 MH/s` (an SI
 * prefix joins a symbol unit such as H/s), `12.3 ms`, `2.15×`.
 */
export function formatQuantity(value: number, unit: string): string {
  const u = unit.trim();
  if (u === "×") return `${value.toFixed(2)}×`;
  if (u === "ms" || u === "%") return `${formatRate(value)} ${u}`;
  const scaled = formatRate(value);
  const prefix = / [kMG]$/.test(scaled);
  if (prefix && /^[A-Z]/.test(u)) return `${scaled}${u}`;
  return `${scaled} ${u}`;
}

/** Human form of a rate: 4.52 M, 812 k … */
export function formatRate(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (value >= 1e9) return `${(value / 1e9).toFixed(2)} G`;
  if (value >= 1e6) return `${(value / 1e6).toFixed(2)} M`;
  if (value >= 1e3) return `${(value / 1e3).toFixed(1)} k`;
  return value.toFixed(1);
}

/** A plain-text table of a suite's cases and target checks. */
export function formatTable(result: SuiteResult): string {
  const rows = result.cases.map((c) => [
    c.label,
    c.unavailable === undefined ? formatQuantity(c.median, c.unit) : `not measured: ${c.unavailable}`,
    c.unavailable === undefined ? `${formatRate(c.min)}–${formatRate(c.max)}` : "",
    c.ratio === undefined
      ? ""
      : `${c.ratio.toFixed(2)}× ${result.cases.find((b) => b.id === c.baseline)?.label ?? ""}`,
  ]);
  const head = ["case", "median", "min–max", "ratio (medians, same run)"];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join("  ")
      .trimEnd();
  const lines = [
    `${result.title} — ${result.machine.cpu}, ${result.machine.runtime}, ${result.date}`,
    line(head),
    ...rows.map(line),
  ];
  if (result.targets.length) {
    lines.push("", "targets:");
    for (const t of result.targets)
      lines.push(`  ${t.pass ? "met " : "MISS"}  ${t.name}: want ${t.want}, measured ${t.measured}`);
  }
  for (const n of result.notes) lines.push(`note: ${n}`);
  return lines.join("\n");
}

/** The targets of a run that were missed, as `suite: name (want …, measured …)` lines. */
export function missedTargets(suites: readonly SuiteResult[]): string[] {
  return suites.flatMap((s) =>
    s.targets
      .filter((t) => !t.pass)
      .map((t) => `${s.suite}: ${t.name} (want ${t.want}, measured ${t.measured})`),
  );
}

// A CPU-bound loop (an LCG, no memory traffic) in worker threads; eval'd code, so no file is needed.
const SPIN = `
const { parentPort } = require("node:worker_threads");
parentPort.on("message", (n) => { let x = 1; for (let i = 0; i < n; i++) x = (x * 1103515245 + 12345) | 0; parentPort.postMessage(x); });
`;

/**
 * The machine's parallel ceiling right now: time of a CPU-bound loop on 1 thread over its time
 * split across 2 threads, once per round. Other work shares the cores, so this — not 2× — bounds
 * every 2-worker ratio measured in the same run.
 */
export async function parallelCeiling(rounds: number, work = 60_000_000): Promise<number[]> {
  const { Worker } = await import("node:worker_threads");
  const timed = async (threads: number) => {
    const ws = Array.from({ length: threads }, () => new Worker(SPIN, { eval: true }));
    try {
      const go = () =>
        Promise.all(
          ws.map((w) => new Promise((res) => (w.once("message", res), w.postMessage(work / threads)))),
        );
      await go(); // warm-up (and thread start)
      const t0 = performance.now();
      await go();
      return performance.now() - t0;
    } finally {
      await Promise.all(ws.map((w) => w.terminate()));
    }
  };
  const ratios: number[] = [];
  for (let r = 0; r < rounds; r++) ratios.push((await timed(1)) / (await timed(2)));
  return ratios;
}

/** Writes `<dir>/<suite>.json`. */
export function writeSuiteResult(result: SuiteResult, dir: string): string {
  mkdirSync(dir, { recursive: true });
  const path = `${dir}/${result.suite}.json`;
  writeFileSync(path, JSON.stringify(result, null, 2) + "\n");
  return path;
}

/** Builds a SuiteResult with machine and date filled in. */
export function suiteResult(
  suite: string,
  title: string,
  quick: boolean,
  cases: CaseResult[],
  targets: TargetCheck[] = [],
  notes: string[] = [],
): SuiteResult {
  return {
    suite,
    title,
    machine: machineInfo(),
    date: new Date().toISOString(),
    quick,
    cases,
    targets,
    notes,
  };
}
