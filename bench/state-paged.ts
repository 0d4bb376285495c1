/**
 * Ledgers larger than memory (issue 11 part 3): a durable paged ledger (`cacheBytes`) of N random
 * accounts is created from packed genesis records, runs `--blocks` blocks of 1000 transfers between
 * uniform random existing accounts, and is SIGKILLed; a fresh process then reopens it (checkpoint
 * + replay of the blocks after it) and must reach the killed process's height and root.
 * Reported per size: genesis time and rate, median block time (execute, root, durable commit),
 * peak RSS of the running and of the reopening process, disk per account (page log, checkpoint,
 * SQLite block log), page reads and writes per block, open/recovery time. With `--memory` the same
 * blocks also run on an in-memory wasm ledger in the same process for the side-by-side ratio.
 * `--engines ts,wasm` (the script's default) runs each size on both paged engines, one after the
 * other on the same blocks (the CLI runs the wasm engine).
 *
 * `nice -n 10 npx tsx bench/state-paged.ts --accounts 1M,10M --cache 1G --blocks 100`, or through
 * the CLI: `chaindb bench state --scale 1M,10M,50M --cache 6G` (a table and a log-axis chart).
 * Results: one JSON line per size on stdout (and `<out>/state-paged.json`).
 * @module
 */
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Ledger } from "../bindings/chain/index.ts";
import { PACKED_TRANSFER_SIZE as TX, packTransfer, type EngineName } from "../bindings/engine/index.ts";
import type { PagedStats } from "../bindings/store/index.ts";
import { ChainDbError, ErrorCode } from "../bindings/util/index.ts";
import { machineInfo } from "./lib.ts";
import { logChart } from "./text-chart.ts";

const BLOCK = 1000;
const fromAddr = new Uint8Array(32);
const toAddr = new Uint8Array(32);
const CHAIN = 77;
const SELF = fileURLToPath(import.meta.url);

function parseCount(s: string): number {
  const m = /^(\d+(?:\.\d+)?)([kKmMgG]?)$/.exec(s.trim());
  if (m === null) throw new Error(`bad count ${s}`);
  const mult = { "": 1, k: 1e3, K: 1e3, m: 1e6, M: 1e6, g: 1e9, G: 1e9 }[m[2]!]!;
  return Math.round(Number(m[1]) * mult);
}

/** "6G", "512M", "1048576" → bytes (binary units), 1 MiB to 1 TiB; `BAD_ARGUMENT` otherwise. */
export function parseBytes(s: string, option = "--cache"): number {
  const m = /^(\d+(?:\.\d+)?)([kKmMgG]?)$/.exec(s.trim());
  const mult = { "": 1, k: 1024, K: 1024, m: 1 << 20, M: 1 << 20, g: 1 << 30, G: 1 << 30 }[m?.[2] ?? ""]!;
  const bytes = m === null ? NaN : Math.round(Number(m[1]) * mult);
  if (!(bytes >= 2 ** 20 && bytes <= 2 ** 40))
    throw new ChainDbError(
      ErrorCode.BAD_ARGUMENT,
      `${option} expected a size from 1M to 1024G like 512M or 6G, got ${JSON.stringify(s)} (see chaindb bench --help)`,
    );
  return bytes;
}

/** splitmix32 of `x`: the words of address i are mix(i·8 + w), so any address is cheap to rebuild. */
function mix(x: number): number {
  let z = (x + 0x9e3779b9) >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
}

/** Address number `i` into out[o..o+32). */
function addressInto(i: number, out: Uint8Array, o: number): void {
  const dv = new DataView(out.buffer, out.byteOffset);
  for (let w = 0; w < 8; w++)
    dv.setUint32(
      o + 4 * w,
      mix(((i * 8 + w) ^ 0x5bd1e995) >>> 0) ^ mix(Math.floor(i / 0x20000000) + w),
      true,
    );
}

function genesisRecordsOf(n: number): Uint8Array {
  const recs = new Uint8Array(n * 48);
  const dv = new DataView(recs.buffer);
  for (let i = 0; i < n; i++) {
    addressInto(i, recs, i * 48);
    dv.setBigUint64(i * 48 + 32, 1_000_000_000n, true);
  }
  return recs;
}

function rand32(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>>= 0);
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
}

function rssMb(): number {
  return process.memoryUsage().rss / 2 ** 20;
}

function peakRssMb(): number {
  return process.resourceUsage().maxRSS / 1024;
}

function dirBytes(dir: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const f of fs.readdirSync(dir)) out[f] = fs.statSync(path.join(dir, f)).size;
  return out;
}

/** Block `h` of 1000 transfers between random genesis accounts (nonces tracked in `nonces`). */
function makeBlock(n: number, h: number, nonces: Map<number, bigint>): Uint8Array {
  const r = rand32(h * 2654435761);
  const packed = new Uint8Array(BLOCK * TX);
  for (let i = 0; i < BLOCK; i++) {
    const from = r() % n;
    let to = r() % n;
    if (to === from) to = (to + 1) % n;
    const nonce = nonces.get(from) ?? 0n;
    nonces.set(from, nonce + 1n);
    addressInto(from, fromAddr, 0);
    addressInto(to, toAddr, 0);
    packTransfer(packed, i, fromAddr, toAddr, 1n, 1n, nonce);
  }
  return packed;
}

/** The child that creates the ledger, runs the blocks, prints its result and waits for SIGKILL. */
async function runPhase(
  dir: string,
  n: number,
  cache: number,
  blocks: number,
  every: number,
  memory: boolean,
  engine: EngineName,
) {
  const proposer = new Uint8Array(32);
  addressInto(0, proposer, 0);
  const rssBefore = rssMb();
  const t0 = performance.now();
  // The records are garbage once the ledgers are open: addresses are rebuilt from their number.
  const ledger = await Ledger.open({
    dir,
    chainId: CHAIN,
    genesis: [],
    genesisRecords: genesisRecordsOf(n),
    cacheBytes: cache,
    snapshotEvery: every,
    engine,
  });
  const genesisMs = performance.now() - t0;
  const state = { stats: () => ledger.pagedStats()! };
  const afterGenesis = { rss: rssMb(), peak: peakRssMb(), stats: state.stats() };
  const mem = memory
    ? await Ledger.open({ chainId: CHAIN, genesis: [], genesisRecords: genesisRecordsOf(n) })
    : undefined;
  const nonces = new Map<number, bigint>();
  const times: number[] = [];
  const exec: number[] = [];
  const root: number[] = [];
  const commit: number[] = [];
  const memTimes: number[] = [];
  // CPU time of the process per block (user + system): on a shared machine it moves less with the
  // other load than the wall time does.
  const cpu: number[] = [];
  let reads = 0;
  let writes = 0;
  let last: PagedStats = state.stats();
  for (let h = 1; h <= blocks; h++) {
    const packed = makeBlock(n, h, nonces);
    const t = performance.now();
    const c = process.cpuUsage();
    await ledger.applyPacked(packed, BLOCK, { proposer });
    times.push(performance.now() - t);
    const dc = process.cpuUsage(c);
    cpu.push((dc.user + dc.system) / 1000);
    exec.push(ledger.lastBlockTimings.applyMs);
    root.push(ledger.lastBlockTimings.rootMs);
    commit.push(ledger.lastBlockTimings.commitMs);
    if (mem !== undefined) {
      const tm = performance.now();
      await mem.applyPacked(packed, BLOCK, { proposer });
      memTimes.push(performance.now() - tm);
    }
    const s = state.stats();
    if (h > blocks / 2) {
      reads += s.pageReads - last.pageReads;
      writes += s.pageWrites - last.pageWrites;
    }
    last = s;
  }
  const rootHex = Buffer.from(ledger.root()).toString("hex");
  if (mem !== undefined && Buffer.from(mem.root()).toString("hex") !== rootHex)
    throw new Error("paged root differs from memory root");
  const half = Math.max(1, blocks - Math.floor(blocks / 2));
  const result = {
    accounts: n,
    engine: ledger.engine,
    cacheBytes: cache,
    pageBits: last.pageBits,
    genesisMs,
    genesisRate: n / (genesisMs / 1000),
    rssBeforeGenesisMb: rssBefore,
    rssAfterGenesisMb: afterGenesis.rss,
    blockMsMedian: median(times),
    blockCpuMsMedian: median(cpu),
    execMsMedian: median(exec),
    rootMsMedian: median(root),
    commitMsMedian: median(commit),
    memoryBlockMsMedian: memory ? median(memTimes) : undefined,
    pageReadsPerBlock: reads / half,
    pageWritesPerBlock: writes / half,
    cachedMb: last.cachedBytes / 2 ** 20,
    topMb: last.topBytes / 2 ** 20,
    rssEndMb: rssMb(),
    peakRssMb: peakRssMb(),
    height: ledger.height,
    root: rootHex,
  };
  process.stdout.write(`RAN ${JSON.stringify(result)}\n`);
  // Profiling a run alone (node --cpu-prof): exit so the profile is written.
  if (process.env.CHAINDB_PAGED_EXIT === "1") process.exit(0);
  // Wait for the parent's SIGKILL: the ledger is never closed.
  setInterval(() => {}, 1 << 30);
}

/** The child that reopens the killed ledger. */
async function reopenPhase(dir: string, n: number, cache: number, every: number, engine: EngineName) {
  // The ledger checks the genesis it is opened with: the same records again (not timed).
  const genesisRecords = genesisRecordsOf(n);
  const t0 = performance.now();
  const ledger = await Ledger.open({
    dir,
    chainId: CHAIN,
    genesis: [],
    genesisRecords,
    cacheBytes: cache,
    snapshotEvery: every,
    engine,
  });
  const openMs = performance.now() - t0;
  const result = {
    openMs,
    height: ledger.height,
    root: Buffer.from(ledger.root()).toString("hex"),
    rssMb: rssMb(),
    peakRssMb: peakRssMb(),
  };
  await ledger.close();
  process.stdout.write(`OPENED ${JSON.stringify(result)}\n`);
}

/** Runs this script as a child with `args`; resolves with the line starting with `tag` (then SIGKILLs it). */
function child(args: string[], tag: string, kill: boolean): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    // process.execArgv carries the loader (tsx) when run from sources and nothing from dist.
    const c = spawn(process.execPath, [...process.execArgv, "--max-old-space-size=8192", SELF, ...args], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let buf = "";
    let got: Record<string, unknown> | undefined;
    c.stdout.on("data", (d) => {
      buf += d;
      const lines = buf.split("\n");
      buf = lines.pop()!;
      for (const line of lines) {
        if (!line.startsWith(`${tag} `)) continue;
        got = JSON.parse(line.slice(tag.length + 1)) as Record<string, unknown>;
        if (kill) c.kill("SIGKILL");
      }
    });
    c.on("exit", (code, signal) => {
      if (got !== undefined) resolve(got);
      else reject(new Error(`child ${args.join(" ")} ended (code ${code}, signal ${signal}) without ${tag}`));
    });
  });
}

/** Options of {@link runPagedScale}. */
export interface PagedScaleOptions {
  accounts: number[];
  cacheBytes: number;
  blocks: number;
  /** Checkpoint every this many blocks (default 50). */
  every?: number;
  /** Where the ledgers are made (default the OS temporary directory); each is removed after. */
  dir?: string;
  memory?: boolean;
  /** Paged engines to run each size on, one after the other (default ["wasm"]). */
  engines?: readonly EngineName[];
  log?: (line: string) => void;
}

/** One size of the paged scale run: the running child's result, disk, and the reopening child's. */
export type PagedResult = Record<string, unknown> & {
  accounts: number;
  diskBytesPerAccount: number;
  reopen: Record<string, unknown>;
};

/**
 * Per size, in child processes: create the paged ledger and run the blocks (then SIGKILL), reopen
 * in a fresh process and check height and root. Throws if a reopen reaches another state.
 */
export async function runPagedScale(options: PagedScaleOptions): Promise<PagedResult[]> {
  const every = options.every ?? 50;
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const results: PagedResult[] = [];
  for (const n of options.accounts)
    for (const engine of options.engines ?? ["wasm"]) {
      log(
        `state scale (paged ${engine}, cache ${options.cacheBytes} B): ${n} accounts, ${options.blocks} blocks`,
      );
      const dir = fs.mkdtempSync(path.join(options.dir ?? os.tmpdir(), "chaindb-paged-"));
      try {
        const common = [
          "--cache",
          String(options.cacheBytes),
          "--every",
          String(every),
          "--dir",
          dir,
          "--engines",
          engine,
        ];
        const size = ["--accounts", String(n)];
        const runArgs = ["--phase", "run", ...size, "--blocks", String(options.blocks), ...common];
        const ran = await child([...runArgs, ...(options.memory ? ["--memory"] : [])], "RAN", true);
        const disk = dirBytes(dir);
        const total = Object.values(disk).reduce((a, b) => a + b, 0);
        const opened = await child(["--phase", "reopen", ...size, ...common], "OPENED", false);
        if (opened.height !== ran.height || opened.root !== ran.root)
          throw new Error(
            `reopen after SIGKILL: height ${String(opened.height)} root ${String(opened.root)}, killed at ${String(ran.height)} ${String(ran.root)}`,
          );
        const result = { ...ran, accounts: n, disk, diskBytesPerAccount: total / n, reopen: opened };
        results.push(result);
        log(JSON.stringify(result));
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }
  return results;
}

const num = (v: unknown) => (typeof v === "number" ? v : NaN);

/** The paged results as a Markdown table and two log-axis text charts (ms per block, bytes per account). */
export function formatPaged(results: readonly PagedResult[]): string {
  const rows = [
    "| accounts | cache MiB | genesis s | block ms (exec / root / commit) | page reads/block | peak RSS MiB | disk B/acc | reopen after SIGKILL ms | reopen peak RSS MiB | engine | genesis accounts/s | block CPU ms |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|",
  ];
  for (const r of results)
    rows.push(
      `| ${r.accounts} | ${(num(r.cacheBytes) / 2 ** 20).toFixed(0)} | ${(num(r.genesisMs) / 1000).toFixed(1)} | ${num(r.blockMsMedian).toFixed(1)} (${num(r.execMsMedian).toFixed(1)} / ${num(r.rootMsMedian).toFixed(1)} / ${num(r.commitMsMedian).toFixed(1)}) | ${num(r.pageReadsPerBlock).toFixed(0)} | ${num(r.peakRssMb).toFixed(0)} | ${r.diskBytesPerAccount.toFixed(0)} | ${num(r.reopen.openMs).toFixed(0)} | ${num(r.reopen.peakRssMb).toFixed(0)} | ${String(r.engine)} | ${num(r.genesisRate).toFixed(0)} | ${num(r.blockCpuMsMedian).toFixed(1)} |`,
    );
  const engines = [...new Set(results.map((r) => String(r.engine)))];
  const of = (f: (r: PagedResult) => number, engine = engines[0]) =>
    results.filter((r) => String(r.engine) === engine).map((r) => ({ x: r.accounts, y: f(r) }));
  const block = logChart({
    title: "paged ledger: ms per 1000-transfer block (median) against accounts",
    // One block and one root series per engine (marks o, r for the first; O, R for the second).
    series: engines.flatMap((e, k) => [
      {
        name: `${e} block (exec+root+commit)`,
        mark: k === 0 ? "o" : "O",
        points: of((r) => num(r.blockMsMedian), e),
      },
      { name: `${e} root`, mark: k === 0 ? "r" : "R", points: of((r) => num(r.rootMsMedian), e) },
    ]),
  });
  const bytes = logChart({
    title: "paged ledger: bytes per account against accounts",
    series: [
      { name: "disk", mark: "d", points: of((r) => r.diskBytesPerAccount) },
      // Growth over the process before genesis: the node runtime's own ~80 MiB is no per-account cost.
      {
        name: "peak RSS growth",
        mark: "m",
        points: of((r) => ((num(r.peakRssMb) - num(r.rssBeforeGenesisMb)) * 2 ** 20) / r.accounts),
      },
    ],
  });
  return [...rows, "", "```", block, "", bytes, "```"].join("\n");
}

/** `chaindb bench state --scale …`: runs, prints the table and charts, writes state-paged.json and .md. */
export async function runPagedScaleReport(
  options: PagedScaleOptions & { out: string },
): Promise<PagedResult[]> {
  const results = await runPagedScale(options);
  const stamped = results.map((r) => ({ ...r, machine: machineInfo(), date: new Date().toISOString() }));
  const report = formatPaged(results);
  fs.mkdirSync(options.out, { recursive: true });
  fs.writeFileSync(path.join(options.out, "state-paged.json"), JSON.stringify(stamped, null, 2));
  fs.writeFileSync(path.join(options.out, "state-paged.md"), `# chaindb bench state --scale\n\n${report}\n`);
  console.log(report);
  return results;
}

async function main() {
  const { values } = parseArgs({
    options: {
      accounts: { type: "string", default: "1M" },
      cache: { type: "string", default: "1G" },
      blocks: { type: "string", default: "100" },
      every: { type: "string", default: "50" },
      dir: { type: "string" },
      out: { type: "string" },
      phase: { type: "string" },
      memory: { type: "boolean", default: false },
      engines: { type: "string", default: "ts,wasm" },
    },
  });
  const engines = values.engines!.split(",").map((e) => {
    if (e !== "ts" && e !== "wasm") throw new Error(`bad engine ${e}`);
    return e;
  });
  const cache = parseBytes(values.cache!);
  const blocks = Number(values.blocks);
  const every = Number(values.every);
  if (values.phase === "run")
    return runPhase(
      values.dir!,
      parseCount(values.accounts!),
      cache,
      blocks,
      every,
      values.memory!,
      engines[0]!,
    );
  if (values.phase === "reopen")
    return reopenPhase(values.dir!, parseCount(values.accounts!), cache, every, engines[0]!);
  const results = await runPagedScale({
    accounts: values.accounts!.split(",").map(parseCount),
    cacheBytes: cache,
    blocks,
    every,
    memory: values.memory!,
    engines,
    ...(values.dir !== undefined ? { dir: values.dir } : {}),
  });
  const stamped = results.map((r) => ({ ...r, machine: machineInfo(), date: new Date().toISOString() }));
  for (const r of stamped) process.stdout.write(`${JSON.stringify(r)}\n`);
  process.stderr.write(`${formatPaged(results)}\n`);
  if (values.out !== undefined)
    fs.writeFileSync(path.join(values.out, "state-paged.json"), JSON.stringify(stamped, null, 2));
}

// Run as a script (or as one of its own children), not when the CLI imports runPagedScale.
if (process.argv[1] !== undefined && SELF === path.resolve(process.argv[1])) await main();
