/**
 * Ledger state benchmark (issue 3). 1,000,000 accounts (100,000 with --quick); pre-verified
 * transfers in blocks of 1,000 (3 rounds × 100 blocks per case; 3 × 10 with --quick, after 5
 * warm-up blocks), uniform and hot-set (90% of transfers within 1% of the accounts); the wasm and
 * ts engines each three ways, and the peer ledgers (bench/peers.ts), side by side in rounds on the
 * same blocks:
 *   exec     — the transfers applied in memory, root not recomputed;
 *   root     — exec plus the state root of every block;
 *   durable  — root plus the block and its changes written to SQLite and fsynced, per block;
 *   pipelined (wasm) — durable, with two blocks in flight: block n+1 executes while block n's
 *              fsync runs off the thread (`applyPacked` called before the last one resolved);
 *   pipelined-2t (wasm) — the same on the threaded core with 2 threads (`threads: 2`: execution
 *              and the root on both), the fastest durable configuration.
 * Then: recovery (reopen the durable ledgers: snapshot + replay of every block's changes, one
 * root at the end) and the signed pipeline (decode + verify ed25519 + apply + root + commit),
 * with the share of time of each stage.
 * Run alone: `npx tsx bench/state.bench.ts [--quick]` (writes bench/results/state.json).
 * @module
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { stateThreadRows } from "./state-threads.ts";
import { Ledger, keyPairFromSeed, signTransfer } from "../bindings/chain/index.ts";
import {
  ACCOUNT_RECORD_SIZE as REC,
  PACKED_AMOUNT,
  PACKED_FEE,
  PACKED_NONCE,
  PACKED_TO,
  PACKED_TRANSFER_SIZE as TX,
  RECORD_BALANCE,
  createLedgerState,
  type LedgerState,
} from "../bindings/engine/index.ts";
import { lastRecoveryStats } from "../bindings/store/index.ts";
import {
  LEDGER_PEERS,
  lmdbUnavailable,
  openLedgerPeer,
  type LedgerPeer,
  type LedgerPeerId,
} from "./peers.ts";
import {
  consume,
  formatQuantity,
  formatRate,
  median,
  suiteResult,
  writeSuiteResult,
  type CaseResult,
  type SuiteOptions,
  type SuiteResult,
  type TargetCheck,
} from "./lib.ts";

const BLOCK = 1000;

type Workload = "uniform" | "hot";
type Mode = "exec" | "root" | "durable" | "pipelined" | "pipelined-2t";

interface Setup {
  accounts: number;
  depth: number;
  addresses: Uint8Array;
  genesis: Uint8Array;
  tmp: string;
}

/** A seeded xorshift32. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => ((x ^= x << 13), (x ^= x >>> 17), (x ^= x << 5), (x >>> 0) / 4294967296);
}

function makeSetup(accounts: number, depth: number): Setup {
  const r = rng(7);
  const addresses = new Uint8Array(accounts * 32);
  const words = new Uint32Array(addresses.buffer);
  for (let i = 0; i < words.length; i++) words[i] = r() * 4294967296;
  const genesis = new Uint8Array(accounts * REC);
  const dv = new DataView(genesis.buffer);
  for (let i = 0; i < accounts; i++) {
    genesis.set(addresses.subarray(i * 32, i * 32 + 32), i * REC);
    dv.setBigUint64(i * REC + RECORD_BALANCE, 1n << 40n, true);
  }
  return {
    accounts,
    depth,
    addresses,
    genesis,
    tmp: fs.mkdtempSync(path.join(os.tmpdir(), "chaindb-bench-state-")),
  };
}

/** Generates the blocks of one workload; nonces follow the (shared) history of its cases. */
function blockSource(setup: Setup, workload: Workload): (count: number) => Uint8Array[] {
  const r = rng(workload === "uniform" ? 11 : 13);
  const nonces = new Uint32Array(setup.accounts);
  const hot = Math.max(2, Math.floor(setup.accounts / 100));
  const pick = () => Math.floor(r() * (workload === "hot" && r() < 0.9 ? hot : setup.accounts));
  const a = setup.addresses;
  return (count) =>
    Array.from({ length: count }, () => {
      const block = new Uint8Array(BLOCK * TX);
      const dv = new DataView(block.buffer);
      for (let i = 0; i < BLOCK; i++) {
        const from = pick();
        let to = pick();
        if (to === from) to = (to + 1) % setup.accounts;
        block.set(a.subarray(from * 32, from * 32 + 32), i * TX);
        block.set(a.subarray(to * 32, to * 32 + 32), i * TX + PACKED_TO);
        dv.setUint32(i * TX + PACKED_AMOUNT, 1 + (i & 15), true);
        dv.setUint32(i * TX + PACKED_FEE, 1, true);
        dv.setUint32(i * TX + PACKED_NONCE, nonces[from]!++, true);
      }
      return block;
    });
}

interface Runner {
  id: string;
  label: string;
  engine: "wasm" | "ts";
  mode: Mode;
  rates: number[];
  applied: number;
  applyBlock(block: Uint8Array, proposer: Uint8Array): Promise<number>;
  /** Waits for the blocks still in flight (pipelined); returns their applied transfers. */
  drain?(): Promise<number>;
  ledger?: Ledger;
  dir?: string;
}

async function makeRunner(
  setup: Setup,
  workload: Workload,
  engine: "wasm" | "ts",
  mode: Mode,
): Promise<Runner> {
  const base = { id: `${workload}-${engine}-${mode}`, engine, mode, rates: [] as number[], applied: 0 };
  const what = {
    exec: "execution",
    root: "execution + root per block",
    durable: "root + fsync per block",
    pipelined: "root + fsync per block, pipelined (next block runs during the fsync)",
    "pipelined-2t": "root + fsync per block, pipelined, 2 threads in the core",
  }[mode];
  const label = `${engine}, ${workload}: ${what}`;
  if (mode === "exec" || mode === "root") {
    const state: LedgerState = await createLedgerState(engine);
    state.load(setup.genesis);
    state.root();
    return {
      ...base,
      label,
      async applyBlock(block, proposer) {
        state.begin();
        const statuses = state.apply(block, BLOCK, proposer);
        if (mode === "root") consume(state.root()[0]!);
        state.commit();
        return statuses.reduce((n, s) => n + (s === 0 ? 1 : 0), 0);
      },
    };
  }
  const dir = fs.mkdtempSync(path.join(setup.tmp, `${workload}-${engine}-`));
  const genesis = Array.from({ length: setup.accounts }, (_, i) => ({
    address: setup.addresses.subarray(i * 32, i * 32 + 32),
    balance: 1n << 40n,
  }));
  // No snapshot during the run: recovery then replays every block of the log.
  const ledger = await Ledger.open({
    dir,
    engine,
    chainId: 1,
    genesis,
    snapshotEvery: 1_000_000_000,
    pipelined: mode === "pipelined" || mode === "pipelined-2t",
    threads: mode === "pipelined-2t" ? 2 : 0,
  });
  const ok = (r: { statuses: string[] }) => r.statuses.reduce((n, s) => n + (s === "ok" ? 1 : 0), 0);
  if (mode === "durable") {
    return {
      ...base,
      label,
      ledger,
      dir,
      async applyBlock(block, proposer) {
        return ok(await ledger.applyPacked(block, BLOCK, { proposer }));
      },
    };
  }
  // Two blocks in flight: this block executes (applyPacked runs it before returning) while the
  // last one's fsync runs; then the last one is awaited.
  let inFlight: ReturnType<Ledger["applyPacked"]> | undefined;
  return {
    ...base,
    label,
    ledger,
    dir,
    async applyBlock(block, proposer) {
      const last = inFlight;
      inFlight = ledger.applyPacked(block, BLOCK, { proposer });
      return last === undefined ? 0 : ok(await last);
    },
    async drain() {
      const last = inFlight;
      inFlight = undefined;
      return last === undefined ? 0 : ok(await last);
    },
  };
}

function toCase(r: Runner, workload: Workload, setup: Setup): CaseResult {
  return {
    id: r.id,
    label: r.label,
    group: `${workload}: ${r.mode}`,
    scale: r.mode,
    unit: "transfers/s",
    samples: r.rates,
    median: median(r.rates),
    min: Math.min(...r.rates),
    max: Math.max(...r.rates),
    // pipelined against the same engine's durable row; other wasm rows against the ts engine
    ...(r.mode === "pipelined" || r.mode === "pipelined-2t"
      ? { baseline: r.id.replace(`-${r.mode}`, "-durable") }
      : r.engine === "wasm"
        ? { baseline: r.id.replace("-wasm-", "-ts-") }
        : {}),
    params: {
      engine: r.engine,
      mode: r.mode,
      workload,
      accounts: setup.accounts,
      block: BLOCK,
      applied: r.applied,
    },
  };
}

/** Blocks every case applies once, unmeasured, before the rounds (JIT warm-up). */
const WARMUP_BLOCKS = 5;

/** A peer ledger under measurement. */
interface PeerRunner {
  peer: LedgerPeer;
  rates: number[];
  applied: number;
}

/**
 * Measures one workload: the engines' cases (wasm and ts, three modes each) and the peer ledgers
 * apply the same blocks, side by side in rounds (one process, the same machine load), after a
 * warm-up block set that every case applies unmeasured.
 */
async function runWorkload(
  setup: Setup,
  workload: Workload,
  rounds: number,
  blocksPerRound: number,
  options: SuiteOptions,
): Promise<{ cases: CaseResult[]; recovery: CaseResult[] }> {
  const source = blockSource(setup, workload);
  const warmup = source(Math.min(WARMUP_BLOCKS, blocksPerRound));
  const roundBlocks = Array.from({ length: rounds }, () => source(blocksPerRound));
  const runners: Runner[] = [];
  for (const engine of ["wasm", "ts"] as const)
    for (const mode of [
      "exec",
      "root",
      "durable",
      ...(engine === "wasm" ? ["pipelined", "pipelined-2t"] : []),
    ] as Mode[]) {
      options.onProgress?.(`${workload}: setting up ${engine} ${mode} (${setup.accounts} accounts)`);
      runners.push(await makeRunner(setup, workload, engine, mode));
    }
  const unavailable = await lmdbUnavailable();
  const peers: PeerRunner[] = [];
  const proposer = setup.addresses.subarray(0, 32);
  try {
    for (const id of LEDGER_PEERS.filter((x) => x !== "lmdb" || unavailable === undefined)) {
      options.onProgress?.(`${workload}: loading peer ${id} (${setup.accounts} accounts)`);
      const dir = path.join(setup.tmp, `${workload}-${id}`);
      peers.push({ peer: await openLedgerPeer(id, setup.genesis, dir), rates: [], applied: 0 });
    }
    for (const [round, blocks] of [warmup, ...roundBlocks].entries()) {
      const what = round === 0 ? "warm-up" : `round ${round}/${rounds}`;
      for (const r of runners) {
        options.onProgress?.(`${workload} ${what}: ${r.label}`);
        const t = performance.now();
        for (const b of blocks) r.applied += await r.applyBlock(b, proposer);
        r.applied += (await r.drain?.()) ?? 0;
        if (round > 0) r.rates.push((blocks.length * BLOCK * 1000) / (performance.now() - t));
      }
      for (const p of peers) {
        options.onProgress?.(`${workload} ${what}: peer ${p.peer.label}`);
        const t = performance.now();
        for (const b of blocks)
          p.applied += p.peer.applyBlock(b, BLOCK, proposer).reduce((n, st) => n + (st === 0 ? 1 : 0), 0);
        if (round > 0) p.rates.push((blocks.length * BLOCK * 1000) / (performance.now() - t));
      }
    }
  } finally {
    for (const p of peers) await p.peer.close();
  }
  const total = (warmup.length + rounds * blocksPerRound) * BLOCK;
  for (const { label, applied } of [...runners, ...peers.map((p) => ({ ...p, label: p.peer.label }))])
    if (applied !== total) throw new Error(`${label}: applied ${applied} of ${total}`);
  const cases = runners.map((r) => toCase(r, workload, setup));
  for (const p of peers) cases.push(peerCase(p.peer.id, p.peer.label, p.peer.does, p.rates, workload, setup));
  if (unavailable !== undefined)
    cases.push({ ...peerCase("lmdb", "lmdb durable", "", [], workload, setup), unavailable });
  return { cases, recovery: await recoverAll(runners, setup, workload, options) };
}

/** Reopens every durable ledger from its files and times the recovery. */
async function recoverAll(
  runners: Runner[],
  setup: Setup,
  workload: Workload,
  options: SuiteOptions,
): Promise<CaseResult[]> {
  const recovery: CaseResult[] = [];
  for (const r of runners.filter((x) => x.ledger !== undefined && x.mode.startsWith("pipelined")))
    await r.ledger!.close(); // the same log as the durable row's: one recovery case per engine
  for (const r of runners.filter((x) => x.ledger !== undefined && x.mode === "durable")) {
    const height = r.ledger!.height;
    const root = r.ledger!.root();
    await r.ledger!.close();
    options.onProgress?.(`${workload}: recovering ${r.engine} (${height} blocks)`);
    // The genesis is part of the chain's identity: reopen with the same one (built before timing).
    const genesis = Array.from({ length: setup.accounts }, (_, i) => ({
      address: setup.addresses.subarray(i * 32, i * 32 + 32),
      balance: 1n << 40n,
    }));
    const t0 = performance.now();
    const again = await Ledger.open({ dir: r.dir!, engine: r.engine, chainId: 1, genesis });
    const ms = performance.now() - t0;
    if (again.height !== height || Buffer.compare(again.root(), root) !== 0)
      throw new Error(`${r.label}: recovery mismatch`);
    await again.close();
    const stats = lastRecoveryStats()!;
    const replayRate = (stats.blocksReplayed * BLOCK * 1000) / stats.replayMs;
    const openRate = (height * BLOCK * 1000) / ms;
    recovery.push({
      id: `${workload}-${r.engine}-recovery`,
      label: `${r.engine}, ${workload}: recovery, log replay (${stats.blocksReplayed} blocks)`,
      group: `${workload}: recovery`,
      unit: "transfers/s",
      samples: [replayRate],
      median: replayRate,
      min: replayRate,
      max: replayRate,
      params: {
        engine: r.engine,
        blocks: stats.blocksReplayed,
        records: stats.recordsReplayed,
        replayMs: Math.round(stats.replayMs),
        snapshotMs: Math.round(stats.snapshotMs),
        rootMs: Math.round(stats.rootMs),
        openMs: Math.round(ms),
      },
    });
    recovery.push({
      id: `${workload}-${r.engine}-reopen`,
      label: `${r.engine}, ${workload}: whole reopen (checks + snapshot + replay + one root)`,
      group: `${workload}: recovery`,
      unit: "transfers/s",
      samples: [openRate],
      median: openRate,
      min: openRate,
      max: openRate,
      params: { engine: r.engine, blocks: height, openMs: Math.round(ms) },
    });
  }
  return recovery;
}

function peerCase(
  id: LedgerPeerId,
  label: string,
  does: string,
  rates: number[],
  workload: Workload,
  setup: Setup,
): CaseResult {
  const mode: Mode = id === "sqlite-durable" || id === "lmdb" ? "durable" : "exec";
  return {
    id: `${workload}-peer-${id}`,
    label: `peer ${label}, ${workload}`,
    group: `${workload}: ${mode}`,
    scale: mode,
    unit: "transfers/s",
    samples: rates,
    median: rates.length ? median(rates) : 0,
    min: rates.length ? Math.min(...rates) : 0,
    max: rates.length ? Math.max(...rates) : 0,
    params: { peer: id, mode, workload, accounts: setup.accounts, block: BLOCK, does },
  };
}

/** The signed pipeline on a durable wasm ledger: decode + verify + apply + root + commit. */
async function signedPipeline(
  setup: Setup,
  blocks: number,
  options: SuiteOptions,
): Promise<{ cases: CaseResult[]; shares: Record<string, number> }> {
  const signers = Array.from({ length: 1000 }, (_, i) => {
    const seed = new Uint8Array(32);
    new DataView(seed.buffer).setUint32(0, i + 1, true);
    return keyPairFromSeed(seed);
  });
  const recipients = 10_000;
  const genesis = [
    ...signers.map((k) => ({ address: k.publicKey, balance: 1n << 40n })),
    ...Array.from({ length: recipients }, (_, i) => ({
      address: setup.addresses.subarray(i * 32, i * 32 + 32),
      balance: 1n,
    })),
  ];
  const dir = fs.mkdtempSync(path.join(setup.tmp, "signed-"));
  const ledger = await Ledger.open({ dir, chainId: 2, genesis });
  const r = rng(17);
  const nonces = new Array<bigint>(signers.length).fill(0n);
  options.onProgress?.(`signed pipeline: signing ${blocks * BLOCK} transfers`);
  const signed = Array.from({ length: blocks }, () =>
    Array.from({ length: BLOCK }, () => {
      const s = Math.floor(r() * signers.length);
      const to = Math.floor(r() * recipients);
      return signTransfer(signers[s]!, {
        chainId: 2,
        to: setup.addresses.subarray(to * 32, to * 32 + 32),
        amount: 5n,
        fee: 1n,
        nonce: nonces[s]!++,
      });
    }),
  );
  const totals = { verifyMs: 0, applyMs: 0, rootMs: 0, commitMs: 0 };
  const rates: number[] = [];
  for (const block of signed) {
    const t = performance.now();
    const result = await ledger.applyBlock(block, { proposer: signers[0]!.publicKey });
    rates.push((BLOCK * 1000) / (performance.now() - t));
    if (result.statuses.some((s) => s !== "ok")) throw new Error("signed pipeline: a transfer was rejected");
    for (const k of Object.keys(totals) as Array<keyof typeof totals>)
      totals[k] += ledger.lastBlockTimings[k];
  }
  await ledger.close();
  const sum = totals.verifyMs + totals.applyMs + totals.rootMs + totals.commitMs;
  const shares = {
    "decode + verify": totals.verifyMs / sum,
    apply: totals.applyMs / sum,
    root: totals.rootMs / sum,
    commit: totals.commitMs / sum,
  };
  return {
    cases: [
      {
        id: "signed-pipeline",
        label: "wasm, signed: decode + verify + apply + root + commit (durable)",
        group: "signed pipeline",
        unit: "transfers/s",
        samples: rates,
        median: median(rates),
        min: Math.min(...rates),
        max: Math.max(...rates),
        params: Object.fromEntries(
          Object.entries(shares).map(([k, v]) => [`share ${k}`, Number(v.toFixed(4))]),
        ),
      },
    ],
    shares,
  };
}

function targets(cases: CaseResult[], shares: Record<string, number>): TargetCheck[] {
  const m = (id: string) => cases.find((c) => c.id === id)?.median ?? NaN;
  const atLeast = (
    name: string,
    want: string,
    value: number,
    min: number,
    fmt: (v: number) => string,
  ): TargetCheck => ({
    name,
    want,
    measured: fmt(value),
    pass: value >= min,
  });
  const rate = (v: number) => formatQuantity(v, "transfers/s");
  const times = (v: number) => `${v.toFixed(2)}×`;
  const tuned = m("uniform-peer-tuned-map");
  const wasmOverTs = m("uniform-wasm-root") / m("uniform-ts-root");
  return [
    atLeast(
      "ts execution only vs the tuned Map ledger in this run, uniform",
      "≥ 1.00×",
      m("uniform-ts-exec") / tuned,
      1,
      times,
    ),
    atLeast(
      "wasm execution only vs the tuned Map ledger in this run, uniform",
      "≥ 5.00×",
      m("uniform-wasm-exec") / tuned,
      5,
      times,
    ),
    {
      name: "wasm / ts, execution + root per block, uniform",
      want: "≤ 5.00×",
      measured: times(wasmOverTs),
      pass: wasmOverTs <= 5,
    },
    atLeast(
      "wasm execution + root per block, uniform (absolute, issue 3)",
      "≥ 250 k transfers/s",
      m("uniform-wasm-root"),
      250_000,
      rate,
    ),
    atLeast(
      "wasm durable (root + fsync per block), uniform (absolute, issue 3)",
      "≥ 200 k transfers/s",
      m("uniform-wasm-durable"),
      200_000,
      rate,
    ),
    atLeast(
      "wasm durable, pipelined commit (the fsync overlaps the next block), uniform (absolute, issue 12)",
      "≥ 200 k transfers/s",
      m("uniform-wasm-pipelined"),
      200_000,
      rate,
    ),
    atLeast(
      "wasm durable, pipelined commit, 2 threads in the core, uniform (absolute, issue 12)",
      "≥ 200 k transfers/s",
      m("uniform-wasm-pipelined-2t"),
      200_000,
      rate,
    ),
    atLeast(
      "signed pipeline: share of time in decode + signature verification",
      "≥ 85%",
      shares["decode + verify"]!,
      0.85,
      (v) => `${(v * 100).toFixed(1)}%`,
    ),
    atLeast(
      "recovery: log replay, wasm, uniform (root once at the end, timed apart; absolute, issue 3)",
      "≥ 1 M transfers/s",
      m("uniform-wasm-recovery"),
      1_000_000,
      rate,
    ),
  ];
}

/** Runs the suite and returns its results. */
export async function run(options: SuiteOptions): Promise<SuiteResult> {
  const accounts = options.quick ? 100_000 : 1_000_000;
  const depth = options.quick ? 17 : 20;
  // 3 × 100 blocks per case: the issue's 1,000 blocks per case took over 25 minutes on this shared
  // 2-core machine (the ts cases dominate); CHAINDB_STATE_BLOCKS sets the blocks per round.
  const rounds = 3; // a median of 3: two rounds gave a mean, and a slow round halved a ratio
  const blocksPerRound = Number(process.env.CHAINDB_STATE_BLOCKS ?? (options.quick ? 10 : 100));
  const setup = makeSetup(accounts, depth);
  try {
    const cases: CaseResult[] = [];
    for (const workload of ["uniform", "hot"] as const) {
      const { cases: c, recovery } = await runWorkload(setup, workload, rounds, blocksPerRound, options);
      cases.push(...c, ...recovery);
    }
    const signed = await signedPipeline(setup, options.quick ? 5 : 20, options);
    cases.push(...signed.cases);
    const core = await stateThreadRows({
      accounts,
      rounds,
      blocksPerRound: options.quick ? 10 : 20,
      onProgress: options.onProgress,
    });
    for (const c of cases) {
      const base = cases.find((b) => b.id === c.baseline);
      if (base) c.ratio = c.median / base.median;
    }
    return suiteResult(
      "state",
      "Ledger state: transfers per second",
      options.quick,
      [...cases, ...core.cases],
      [...targets(cases, signed.shares), ...core.targets],
      [
        ...core.notes,
        `${accounts} accounts (sparse Merkle state tree), blocks of ${BLOCK} pre-verified transfers; ${rounds} rounds × ${blocksPerRound} blocks per case.`,
        "Every case of a workload applies the same blocks in the same order; wasm ratios are against the ts engine.",
        `All cases of a workload (both engines' three modes and the peers) run side by side in rounds, after ${WARMUP_BLOCKS} warm-up blocks every case applies unmeasured; they share one heap, so a peer's garbage may be collected during another case.`,
        "Hot-set: 90% of transfers pick both ends within 1% of the accounts.",
        `Signed pipeline shares: ${Object.entries(signed.shares)
          .map(([k, v]) => `${k} ${(v * 100).toFixed(1)}%`)
          .join(", ")}.`,
        "Peers (same blocks, same rules: nonce, balance, fee to the proposer; no root, no signatures): naive Map<hex, {balance, nonce}> with BigInt; tuned Map<hex, slot> + Float64Arrays; sqlite-wasm in memory and durable (node:fs VFS, WAL, fsync per block), one transaction per block; lmdb, one synchronous write transaction per block.",
        "The machine is shared: absolute rates drift; compare ratios within one run.",
      ],
    );
  } finally {
    fs.rmSync(setup.tmp, { recursive: true, force: true });
  }
}

const invokedDirectly =
  typeof process !== "undefined" &&
  process.argv[1] !== undefined &&
  import.meta.url.endsWith(process.argv[1].split("/").pop()!);
if (invokedDirectly) {
  const result = await run({
    quick: process.argv.includes("--quick"),
    onProgress: (m) => process.stderr.write(`${m}\n`),
  });
  for (const c of result.cases)
    console.log(
      `${c.label.padEnd(80)} ${formatRate(c.median).padStart(9)}/s${c.ratio ? `  ${c.ratio.toFixed(2)}× ${c.id.includes("-pipelined") ? "durable" : "ts"}` : ""}`,
    );
  for (const t of result.targets)
    console.log(`${t.pass ? "met " : "MISS"} ${t.name}: want ${t.want}, measured ${t.measured}`);
  console.log(`wrote ${writeSuiteResult(result, "bench/results")}`);
}
