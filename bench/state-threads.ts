/**
 * Serial against parallel execution of a block's transfers, on both engines: the same blocks on
 * the wasm engine's single-threaded build (serial) and threaded build with 1 and 2 threads
 * (assembly/parallel.ts), and on the ts engine serially and with 1 and 2 threads over
 * SharedArrayBuffers (bindings/engine/state-ts-par.ts, the same algorithm), for execution only
 * (begin, apply, commit) and execution + root, on uniform, hot-set and two-account blocks, and the
 * state root alone (its share of execution + root: the root's hashing runs on all threads,
 * commit.ts commitRoot; 2 threads are compared with 1 there). The machine's own parallel ceiling
 * (a CPU-bound loop, 2 threads vs 1) is measured in the same run, before and after, and printed
 * beside every parallel ratio. Cases run interleaved block by block (rotating who goes first),
 * as bench/execution.bench.ts does; after every round all roots, wasm and ts, must match. Used
 * by `chaindb bench execution` and `bench state`.
 * @module
 */
import { createLedgerState, type EngineName, type LedgerState } from "../bindings/engine/index.ts";
import { PACKED_AMOUNT, PACKED_FEE, PACKED_NONCE, PACKED_TO } from "../bindings/engine/index.ts";
import { toHex } from "../bindings/util/index.ts";
import { consume, median, parallelCeiling, type CaseResult, type TargetCheck } from "./lib.ts";

const TX = 88;
const BLOCK = 1000;
type Workload = "uniform" | "hot" | "two";
type Pipeline = "exec" | "root";
/** What a row measures: a pipeline, or the state root alone (timed inside the "root" pipeline). */
type Measure = Pipeline | "rootonly";

/** Options of {@link stateThreadRows}. */
export interface StateThreadOptions {
  accounts: number;
  rounds: number;
  blocksPerRound: number;
  onProgress?: (m: string) => void;
}

/** What the rows add to a suite. */
export interface StateThreadRows {
  cases: CaseResult[];
  targets: TargetCheck[];
  notes: string[];
}

function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => ((x ^= x << 13), (x ^= x >>> 17), (x ^= x << 5), (x >>> 0) / 4294967296);
}

function genesis(accounts: number): Uint8Array {
  const r = rng(5);
  const records = new Uint8Array(accounts * 48);
  const dv = new DataView(records.buffer);
  for (let i = 0; i < accounts; i++) {
    for (let j = 0; j < 8; j++) dv.setUint32(i * 48 + j * 4, r() * 4294967296, true);
    dv.setBigUint64(i * 48 + 32, 1n << 40n, true);
  }
  return records;
}

/** Blocks of a workload over the genesis accounts; nonces follow the one history all cases replay. */
function blockSource(records: Uint8Array, workload: Workload): () => Uint8Array {
  const accounts = records.length / 48;
  const r = rng(workload === "uniform" ? 11 : workload === "hot" ? 13 : 17);
  const nonces = new Uint32Array(accounts);
  const pick = (): number =>
    workload === "hot" && r() < 0.9
      ? Math.floor(r() * Math.max(2, Math.floor(accounts / 100)))
      : Math.floor(r() * accounts);
  return () => {
    const block = new Uint8Array(BLOCK * TX);
    const dv = new DataView(block.buffer);
    for (let i = 0; i < BLOCK; i++) {
      const from = workload === "two" ? i & 1 : pick();
      let to = workload === "two" ? 1 - from : pick();
      if (to === from) to = (to + 1) % accounts;
      block.set(records.subarray(from * 48, from * 48 + 32), i * TX);
      block.set(records.subarray(to * 48, to * 48 + 32), i * TX + PACKED_TO);
      dv.setUint32(i * TX + PACKED_AMOUNT, 1 + (i & 15), true);
      dv.setUint32(i * TX + PACKED_FEE, 1, true);
      dv.setUint32(i * TX + PACKED_NONCE, nonces[from]!++, true);
    }
    return block;
  };
}

const MEASURES: Record<Measure, string> = {
  exec: "execution only",
  root: "execution + root",
  rootonly: `state root per block of ${BLOCK}`,
};

interface Case {
  id: string;
  label: string;
  engine: EngineName;
  threads: number;
  state?: LedgerState;
  rates: Record<Measure, number[]>;
}

/** The cases of one workload: each engine serially and on 1 and 2 threads. */
function makeCases(): Case[] {
  const rates = (): Record<Measure, number[]> => ({ exec: [], root: [], rootonly: [] });
  return [
    { id: "serial", label: "serial (build/release.wasm)", engine: "wasm", threads: 0, rates: rates() },
    { id: "t1", label: "threaded build, 1 thread", engine: "wasm", threads: 1, rates: rates() },
    { id: "t2", label: "threaded build, 2 threads", engine: "wasm", threads: 2, rates: rates() },
    { id: "ts", label: "ts engine, serial", engine: "ts", threads: 0, rates: rates() },
    { id: "ts-t1", label: "ts engine, 1 thread", engine: "ts", threads: 1, rates: rates() },
    { id: "ts-t2", label: "ts engine, 2 threads", engine: "ts", threads: 2, rates: rates() },
  ];
}

/** The case a case is compared with: the same engine's serial case (for the root alone, 2 threads against 1). */
function baseOf(c: Case, measure: Measure): string | undefined {
  const ts = c.engine === "ts";
  if (c.threads === 0) return undefined;
  if (measure === "rootonly" && c.threads === 2) return ts ? "ts-t1" : "t1";
  return ts ? "ts" : "serial";
}

async function runWorkload(
  records: Uint8Array,
  workload: Workload,
  opts: StateThreadOptions,
): Promise<{ cases: Case[]; rootsMatch: boolean; serialJobs: number }> {
  const cases = makeCases();
  const proposer = new Uint8Array(32).fill(0xfe);
  const next = blockSource(records, workload);
  let rootsMatch = true;
  let serialJobs: number;
  try {
    for (const c of cases) {
      opts.onProgress?.(
        `in-core parallel, ${workload}: loading ${c.label} (${records.length / 48} accounts)`,
      );
      c.state = await createLedgerState(c.engine, c.threads === 0 ? {} : { threads: c.threads });
      c.state.load(records);
      consume(c.state.root()[0]!);
    }
    for (let round = 0; round < opts.rounds; round++) {
      for (const pipeline of ["exec", "root"] as const) {
        opts.onProgress?.(`in-core parallel, ${workload}, ${pipeline}: round ${round + 1}/${opts.rounds}`);
        const blocks = Array.from({ length: opts.blocksPerRound }, next);
        const spent = cases.map(() => 0);
        const rooting = cases.map(() => 0);
        for (const [j, b] of blocks.entries()) {
          for (let k = 0; k < cases.length; k++) {
            const index = (k + j + round) % cases.length;
            const s = cases[index]!.state!;
            const t0 = performance.now();
            s.begin();
            consume(s.apply(b, BLOCK, proposer)[0]!);
            s.commit();
            const t1 = performance.now();
            if (pipeline === "root") consume(s.root()[0]!);
            const t2 = performance.now();
            spent[index]! += t2 - t0;
            rooting[index]! += t2 - t1;
          }
        }
        cases.forEach((c, i) => c.rates[pipeline].push((blocks.length * BLOCK * 1000) / spent[i]!));
        if (pipeline === "root")
          cases.forEach((c, i) => c.rates.rootonly.push((blocks.length * 1000) / rooting[i]!));
        rootsMatch &&= new Set(cases.map((c) => toHex(c.state!.root()))).size === 1;
      }
    }
    serialJobs = cases.reduce((n, c) => n + (c.state?.serialJobs ?? 0), 0);
  } finally {
    for (const c of cases) await c.state?.close?.();
  }
  return { cases, rootsMatch, serialJobs };
}

/**
 * The rows: per workload and pipeline, serial vs 1 vs 2 threads, each parallel ratio labelled
 * with the ceiling measured in the same run.
 */
export async function stateThreadRows(opts: StateThreadOptions): Promise<StateThreadRows> {
  const before = await parallelCeiling(2);
  const records = genesis(opts.accounts);
  const out: CaseResult[] = [];
  const notes: string[] = [];
  for (const workload of ["uniform", "hot", "two"] as const) {
    const { cases, rootsMatch, serialJobs } = await runWorkload(records, workload, opts);
    notes.push(
      `in-core parallel, ${workload}: roots of all cases (wasm and ts) ${rootsMatch ? "match after every round" : "DIFFER"}`,
    );
    // The threaded core backs off to its serial path after jobs whose threads waited long
    // (another process on the cores): a count above 0 says the 2-thread rows ran under load.
    notes.push(`in-core parallel, ${workload}: ${serialJobs} jobs left to the calling thread under load`);
    for (const pipeline of ["exec", "root", "rootonly"] as const) {
      for (const c of cases) {
        const rates = c.rates[pipeline];
        const base = baseOf(c, pipeline);
        // The ts twin's rows chart apart: on the wasm rows' scale its bars would be slivers.
        const side = c.engine === "ts" ? "ts twin" : "in-core";
        out.push({
          id: `core-${workload}-${pipeline}-${c.id}`,
          label: `${side} ${workload}, ${MEASURES[pipeline]}: ${c.label}`,
          group: `${side} ${workload}: ${pipeline}`,
          scale: `${c.engine === "ts" ? "ts" : "core"}-${pipeline}`,
          unit: pipeline === "rootonly" ? "roots/s" : "tx/s",
          samples: rates,
          median: median(rates),
          min: Math.min(...rates),
          max: Math.max(...rates),
          params: {
            workload,
            pipeline,
            engine: c.engine,
            threads: c.threads,
            block: BLOCK,
            accounts: opts.accounts,
          },
          ...(base === undefined ? {} : { baseline: `core-${workload}-${pipeline}-${base}` }),
        });
      }
    }
  }
  const after = await parallelCeiling(2);
  const ceiling = median([...before, ...after]);
  for (const r of out) {
    const base = out.find((b) => b.id === r.baseline);
    if (!base) continue;
    r.ratio = r.median / base.median;
    if (r.params?.threads === 2) r.label += ` (ceiling ${ceiling.toFixed(2)}×)`;
  }
  out.push({
    id: "core-calibration-spin",
    label: "calibration: CPU-bound loop, 2 threads vs 1 (ceiling of the in-core and ts 2-thread ratios)",
    group: "calibration",
    unit: "×",
    samples: [...before, ...after],
    median: ceiling,
    min: Math.min(...before, ...after),
    max: Math.max(...before, ...after),
    params: { workers: 2 },
  });
  notes.push(
    `in-core parallel rows: ${opts.accounts} accounts, blocks of ${BLOCK}; machine ceiling ${ceiling.toFixed(2)}× (2 threads vs 1, CPU-bound loop, same run)`,
    `ts twin, 2 threads vs serial ts (ceiling ${ceiling.toFixed(2)}×): ${tsSummary(out)}`,
  );
  const ratio = (id: string): number => out.find((c) => c.id === id)?.ratio ?? NaN;
  const target = (name: string, id: string, want: number): TargetCheck => ({
    name: `${name} (ceiling ${ceiling.toFixed(2)}×)`,
    want: `≥ ${want}×`,
    measured: `${ratio(id).toFixed(2)}×`,
    pass: ratio(id) >= want,
  });
  const targets = [
    target("in-core execution only, uniform, 2 threads vs serial", "core-uniform-exec-t2", 1.6),
    target("in-core execution only, hot set, 2 threads vs serial", "core-hot-exec-t2", 1.3),
    target("in-core execution only, two accounts, 2 threads vs serial", "core-two-exec-t2", 0.95),
    target("state root per block, uniform, 2 threads vs 1", "core-uniform-rootonly-t2", 1.6),
  ];
  return { cases: out, targets, notes };
}

/** The ts twin's 2-thread ratios in one line (a note beside the wasm targets). */
function tsSummary(rows: CaseResult[]): string {
  const ratio = (id: string): string => {
    const r = rows.find((c) => c.id === id)?.ratio;
    return r === undefined ? "n/a" : `${r.toFixed(2)}×`;
  };
  return (["uniform", "hot", "two"] as const)
    .map(
      (w) =>
        `${w}: exec ${ratio(`core-${w}-exec-ts-t2`)}, exec + root ${ratio(`core-${w}-root-ts-t2`)}, root alone vs 1 thread ${ratio(`core-${w}-rootonly-ts-t2`)}`,
    )
    .join("; ");
}
