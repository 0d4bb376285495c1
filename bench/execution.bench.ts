/**
 * Serial vs parallel block execution (issue 4), side by side in one run on identical blocks:
 * the serial executor (the ledger's own pipeline) and the parallel executor with 1 and 2 workers
 * (signatures verified on the workers, execution on the ledger's engine: the default), plus 2
 * workers that also execute disjoint groups on the workers (`parallelExecution: true`, Sealevel-style
 * scheduling) to show what that path costs. Workloads: uniform transfers over 1,000,000 accounts (100,000 with --quick), a hot set
 * (90% of transfers among 1% of the accounts), and two accounts. Two pipelines: execution only
 * (pre-verified, packed) and the full signed pipeline (decode + ed25519 verify + apply + root).
 * Every case keeps its own in-memory wasm ledger; after each round all state roots must match.
 * Timing is by hand (performance.now around each block, cases interleaved block by block), not tinybench: its big sample
 * arrays made Map operations ~10× slower afterwards in this process (bench/concurrency.bench.ts).
 * Run alone: `npx tsx bench/execution.bench.ts [--quick]`.
 * @module
 */
import { Ledger, keyPairFromSeed, signTransfer, type KeyPair } from "../bindings/chain/index.ts";
import { ParallelExecutor, SerialExecutor, type BlockExecutor } from "../bindings/concurrency/index.ts";
import {
  PACKED_AMOUNT,
  PACKED_FEE,
  PACKED_NONCE,
  PACKED_TO,
  PACKED_TRANSFER_SIZE as TX,
} from "../bindings/engine/index.ts";
import { toHex } from "../bindings/util/index.ts";
import {
  consume,
  formatTable,
  median,
  parallelCeiling,
  suiteResult,
  writeSuiteResult,
  type CaseResult,
  type SuiteOptions,
  type SuiteResult,
  type TargetCheck,
} from "./lib.ts";
import { stateThreadRows } from "./state-threads.ts";

const BLOCK = 1000;
const CHAIN = 11;
const KEYED = 256; // signing accounts (the signed pipeline needs their secret keys)
type Workload = "uniform" | "hot" | "two";
type Pipeline = "exec" | "signed";

interface Case {
  id: string;
  label: string;
  executor: BlockExecutor;
  ledger?: Ledger;
  rates: Record<Pipeline, number[]>;
  workers: number;
  /** Signed blocks only, as one stream through `executeBlocks` (block n+1 verified while n commits). */
  streamed?: boolean;
}

/** A seeded xorshift32. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => ((x ^= x << 13), (x ^= x >>> 17), (x ^= x << 5), (x >>> 0) / 4294967296);
}

interface World {
  accounts: number;
  addresses: Uint8Array[];
  keys: KeyPair[];
  genesis: { address: Uint8Array; balance: bigint }[];
}

function makeWorld(accounts: number): World {
  const r = rng(5);
  const keys = Array.from({ length: KEYED }, (_, i) =>
    keyPairFromSeed(new Uint8Array(32).fill(0).map((_, j) => (i * 31 + j * 7 + 1) & 0xff)),
  );
  const addresses = keys.map((k) => k.publicKey);
  for (let i = KEYED; i < accounts; i++) {
    const a = new Uint8Array(32);
    const w = new Uint32Array(a.buffer);
    for (let j = 0; j < 8; j++) w[j] = r() * 4294967296;
    addresses.push(a);
  }
  return {
    accounts,
    addresses,
    keys,
    genesis: addresses.map((address) => ({ address, balance: 1n << 40n })),
  };
}

/** Blocks of one workload; nonces follow the history every case replays identically. */
function blockSource(world: World, workload: Workload) {
  const r = rng(workload === "uniform" ? 11 : workload === "hot" ? 13 : 17);
  const nonces = new Map<number, number>();
  const pickIn = (n: number) => Math.floor(r() * n);
  const pick = (n: number) =>
    workload === "two"
      ? pickIn(2)
      : workload === "hot" && r() < 0.9
        ? pickIn(Math.max(2, Math.floor(n / 100)))
        : pickIn(n);
  const pair = (senders: number) => {
    const from = pick(senders);
    let to = workload === "two" ? 1 - from : pick(world.accounts);
    if (to === from) to = (to + 1) % world.accounts;
    const nonce = nonces.get(from) ?? 0;
    nonces.set(from, nonce + 1);
    return { from, to, nonce };
  };
  return {
    packed(): Uint8Array {
      const block = new Uint8Array(BLOCK * TX);
      const dv = new DataView(block.buffer);
      for (let i = 0; i < BLOCK; i++) {
        const { from, to, nonce } = pair(world.accounts);
        block.set(world.addresses[from]!, i * TX);
        block.set(world.addresses[to]!, i * TX + PACKED_TO);
        dv.setUint32(i * TX + PACKED_AMOUNT, 1 + (i & 15), true);
        dv.setUint32(i * TX + PACKED_FEE, 1, true);
        dv.setUint32(i * TX + PACKED_NONCE, nonce, true);
      }
      return block;
    },
    signed(): Uint8Array[] {
      return Array.from({ length: BLOCK }, (_, i) => {
        const { from, to, nonce } = pair(KEYED);
        return signTransfer(world.keys[from]!, {
          chainId: CHAIN,
          to: world.addresses[to]!,
          amount: 1 + (i & 15),
          fee: 1,
          nonce,
        });
      });
    },
  };
}

/** Runs every case on the same blocks, round by round; checks the roots after each round. */
async function runWorkload(
  world: World,
  workload: Workload,
  engine: "wasm" | "ts",
  cases: Case[],
  opts: { rounds: number; blocks: Record<Pipeline, number>; pipelines: readonly Pipeline[] },
  progress: (m: string) => void,
): Promise<boolean> {
  const proposer = new Uint8Array(32).fill(0xfe);
  for (const c of cases) c.ledger = await Ledger.open({ chainId: CHAIN, genesis: world.genesis, engine });
  const source = blockSource(world, workload);
  let rootsMatch = true;
  for (let round = 0; round < opts.rounds; round++) {
    for (const pipeline of opts.pipelines) {
      progress(`${workload} (${engine}), ${pipeline}: round ${round + 1}/${opts.rounds}`);
      const blocks = Array.from({ length: opts.blocks[pipeline] }, () =>
        pipeline === "exec" ? source.packed() : source.signed(),
      );
      // Block by block, every case in turn (rotating who goes first): drift on the shared machine
      // then hits every case alike; whole-round timing per case swung medians of identical code
      // paths by 2× here.
      const spent = cases.map(() => 0);
      const streamed = pipeline === "signed" ? cases.filter((c) => c.streamed === true) : [];
      // Streams take whole rounds; before the block-by-block cases on even rounds, after on odd.
      if (round % 2 === 0) await runStreams(cases, streamed, blocks as Uint8Array[][], proposer, spent);
      for (const [j, b] of blocks.entries()) {
        for (let k = 0; k < cases.length; k++) {
          const index = (k + j + round) % cases.length;
          const c = cases[index]!;
          if (c.streamed === true) continue;
          const t0 = performance.now();
          const result =
            pipeline === "exec"
              ? await c.executor.executePacked(c.ledger!, b as Uint8Array, BLOCK, { proposer })
              : await c.executor.execute(c.ledger!, b as Uint8Array[], { proposer });
          spent[index]! += performance.now() - t0;
          consume(result.root[0]!);
        }
      }
      if (round % 2 === 1) await runStreams(cases, streamed, blocks as Uint8Array[][], proposer, spent);
      cases.forEach((c, i) => {
        if (c.streamed === true && pipeline === "exec") return;
        c.rates[pipeline].push((blocks.length * BLOCK * 1000) / spent[i]!);
      });
      const roots = new Set(cases.map((c) => toHex(c.ledger!.root())));
      rootsMatch &&= roots.size === 1;
    }
  }
  for (const c of cases) await c.ledger!.close();
  return rootsMatch;
}

/** Runs the signed blocks through each streamed case's `executeBlocks`, adding its time to `spent`. */
async function runStreams(
  cases: Case[],
  streamed: Case[],
  blocks: Uint8Array[][],
  proposer: Uint8Array,
  spent: number[],
): Promise<void> {
  for (const c of streamed) {
    const executor = c.executor as ParallelExecutor;
    const t0 = performance.now();
    for await (const result of executor.executeBlocks(
      c.ledger!,
      blocks.map((transfers) => ({ transfers, options: { proposer } })),
    ))
      consume(result.root[0]!);
    spent[cases.indexOf(c)]! += performance.now() - t0;
  }
}

function caseResults(workload: string, cases: Case[]): CaseResult[] {
  const out: CaseResult[] = [];
  for (const pipeline of ["exec", "signed"] as const) {
    for (const c of cases) {
      const rates = c.rates[pipeline];
      if (rates.length === 0) continue;
      out.push({
        id: `${workload}-${pipeline}-${c.id}`,
        label: `${workload}, ${pipeline === "exec" ? "execution only" : "signed pipeline"}: ${c.label}`,
        group: `${workload}: ${pipeline}`,
        scale: pipeline,
        unit: "tx/s",
        samples: rates,
        median: median(rates),
        min: Math.min(...rates),
        max: Math.max(...rates),
        params: { workload, pipeline, workers: c.workers, block: BLOCK },
        ...(c.id === "serial" ? {} : { baseline: `${workload}-${pipeline}-serial` }),
      });
    }
  }
  for (const r of out) {
    const base = out.find((b) => b.id === r.baseline);
    if (base) r.ratio = r.median / base.median;
  }
  return out;
}

/** The suite: every workload and pipeline, serial vs parallel 1 and 2 workers. */
export async function run(options: SuiteOptions): Promise<SuiteResult> {
  const progress = options.onProgress ?? (() => {});
  const accounts = options.quick ? 100_000 : 1_000_000;
  const blocks = { exec: options.quick ? 10 : 30, signed: options.quick ? 2 : 4 };
  const rounds = options.quick ? 2 : 4;
  progress(`building ${accounts} accounts`);
  const world = makeWorld(accounts);
  const par1 = await ParallelExecutor.start({ workers: 1 });
  const par2 = await ParallelExecutor.start({ workers: 2 });
  const forced = await ParallelExecutor.start({ workers: 2, parallelExecution: true });
  const cases: CaseResult[] = [];
  const notes: string[] = [];
  const tsWorld = makeWorld(Math.min(accounts, 100_000));
  try {
    const runs = [
      { workload: "uniform", engine: "wasm", pipelines: ["exec", "signed"] },
      { workload: "hot", engine: "wasm", pipelines: ["exec", "signed"] },
      { workload: "two", engine: "wasm", pipelines: ["exec", "signed"] },
      { workload: "uniform", engine: "ts", pipelines: ["exec"] },
    ] as const;
    for (const { workload, engine, pipelines } of runs) {
      const set: Case[] = [
        {
          id: "serial",
          label: "serial",
          executor: new SerialExecutor(),
          workers: 0,
          rates: { exec: [], signed: [] },
        },
        {
          id: "par1",
          label: "parallel, 1 worker",
          executor: par1,
          workers: 1,
          rates: { exec: [], signed: [] },
        },
        {
          id: "par2",
          label: "parallel, 2 workers",
          executor: par2,
          workers: 2,
          rates: { exec: [], signed: [] },
        },
        {
          id: "par2-stream",
          label: "parallel, 2 workers, blocks streamed (executeBlocks)",
          executor: par2,
          workers: 2,
          rates: { exec: [], signed: [] },
          streamed: true,
        },
        {
          id: "par2-exec",
          label: "parallel, 2 workers, execution on the workers",
          executor: forced,
          workers: 2,
          rates: { exec: [], signed: [] },
        },
      ];
      const name = engine === "wasm" ? workload : `${workload}-ts`;
      const match = await runWorkload(
        engine === "wasm" ? world : tsWorld,
        workload,
        engine,
        set,
        { rounds, blocks, pipelines },
        progress,
      );
      notes.push(
        `${name} (${engine} engine): state roots of all cases ${match ? "match after every round" : "DIFFER"}`,
      );
      cases.push(...caseResults(name, set));
    }
  } finally {
    await Promise.all([par1.close(), par2.close(), forced.close()]);
  }
  // Execution on all threads, serial vs 1 vs 2 threads: inside the wasm core (assembly/parallel.ts)
  // and on the ts twin over SharedArrayBuffers (bindings/engine/state-ts-par.ts), same blocks.
  const core = await stateThreadRows({
    accounts,
    rounds,
    blocksPerRound: options.quick ? 10 : 20,
    onProgress: progress,
  });
  cases.push(...core.cases);
  notes.push(...core.notes);
  const scaling = await parallelCeiling(options.quick ? 3 : 5);
  cases.push({
    id: "calibration-spin",
    label: "calibration: CPU-bound loop, 2 threads vs 1 (the ceiling for any 2-worker ratio now)",
    group: "calibration",
    unit: "×",
    samples: scaling,
    median: median(scaling),
    min: Math.min(...scaling),
    max: Math.max(...scaling),
    params: { workers: 2 },
  });
  notes.push(
    `a CPU-bound loop gained ${median(scaling).toFixed(2)}× (median; ${Math.min(...scaling).toFixed(2)}–${Math.max(...scaling).toFixed(2)}) from a second thread during this run: the ceiling of every 2-worker ratio above`,
  );
  const ratio = (id: string) => cases.find((c) => c.id === id)?.ratio ?? NaN;
  const target = (name: string, id: string, want: number): TargetCheck => ({
    name,
    want: `≥ ${want}×`,
    measured: `${ratio(id).toFixed(2)}×`,
    pass: ratio(id) >= want,
  });
  const targets = [
    target("signed pipeline, uniform, 2 workers vs serial", "uniform-signed-par2", 1.7),
    target("signed pipeline, uniform, 2 workers streamed vs serial", "uniform-signed-par2-stream", 1.8),
    target("execution only, uniform, 2 workers vs serial", "uniform-exec-par2", 1.3),
    target("execution only, two accounts, 2 workers vs serial", "two-exec-par2", 0.9),
    ...core.targets,
  ];
  notes.push(
    `${accounts} accounts (uniform-ts: ${tsWorld.accounts}, ts engine, execution only), blocks of ${BLOCK}; the signed pipeline's senders are ${KEYED} keyed accounts (hot: 90% among 2 of them), recipients among all`,
  );
  notes.push("lock manager lock+unlock and Mutex handoff latency: see the concurrency suite");
  return suiteResult(
    "execution",
    "Block execution: serial vs parallel (tx/s)",
    options.quick,
    cases,
    targets,
    notes,
  );
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const result = await run({
    quick: process.argv.includes("--quick"),
    onProgress: (m) => process.stderr.write(`${m}\n`),
  });
  writeSuiteResult(result, "bench/results");
  console.log(formatTable(result));
}
