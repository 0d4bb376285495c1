/**
 * `chaindb bench state --accounts 100k,1M,10M`: how the state's costs grow with the number of
 * accounts (issue 11). One child process per (engine, size), so each starts from a clean heap and
 * its RSS is its own. Per size: bulk genesis from packed 48-byte records (accounts/s, tree build
 * included), the same kind of 1000-transfer blocks (uniform random existing accounts; median
 * block after warm-up: execution, root, execution + root), proof size (inclusion and absence),
 * tree depth, memory per account (RSS growth, tree nodes); with `--durable` (the CLI's default,
 * `--memory-only` turns it off) also disk per account, create time and reopen (recovery) time.
 * Results go to `<out>/state-scale.json`, a Markdown table with two log-axis text charts (ms per
 * block; bytes per account and per proof) to stdout and `<out>/state-scale.md`, and an SVG chart
 * to `<out>/state-scale.svg`. Sizes beyond memory: `--scale` (bench/state-paged.ts).
 *
 * Run from sources: `npx tsx bench/state-scale.ts --accounts 100k,1M,4M,10M [--durable]`; the
 * exec+root ratio between two sizes in one process, blocks interleaved: `--pair 100k,10M`.
 * @module
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Ledger, decodeProof, encodeProof } from "../bindings/chain/index.ts";
import {
  ACCOUNT_RECORD_SIZE as REC,
  PACKED_AMOUNT,
  PACKED_FEE,
  PACKED_NONCE,
  PACKED_TO,
  PACKED_TRANSFER_SIZE as TX,
  RECORD_BALANCE,
  createLedgerState,
} from "../bindings/engine/index.ts";
import { ChainDbError, ErrorCode } from "../bindings/util/index.ts";
import { machineInfo } from "./lib.ts";
import { logChart } from "./text-chart.ts";

const BLOCK = 1000;
const WARMUP_BLOCKS = 5;
const MEASURED_BLOCKS = 21;
const PROOF_SAMPLES = 500;

/** One (engine, size) measurement. */
export interface ScalePoint {
  engine: "wasm" | "ts";
  accounts: number;
  genesisMs: number;
  genesisRate: number;
  blockMs: number;
  execMs: number;
  rootMs: number;
  transfersPerSec: number;
  proofBytesMean: number;
  proofBytesMedian: number;
  proofBytesMax: number;
  absenceBytesMean: number;
  depthMean: number;
  depthMax: number;
  /** What a 16-ary tree of the same keys would need (from the measured binary depths). */
  hexaryProofBytesMean: number;
  binaryCompressionsPerLeaf: number;
  hexaryCompressionsPerLeaf: number;
  rssBytesPerAccount: number;
  treeNodes: number;
  durable?: { createMs: number; diskBytesPerAccount: number; reopenMs: number };
}

/** Fewest and most accounts a size may name (60M: past the issue's 50M scale run, under 24 GiB on disk). */
export const COUNT_MIN = 1000;
export const COUNT_MAX = 60e6;

/**
 * Parses "100k,1M,10M" into counts for `option` (named in the error); `BAD_ARGUMENT` with the
 * usage hint for a malformed or out-of-range size.
 */
export function parseCounts(text: string, option = "--accounts"): number[] {
  return text.split(",").map((part) => {
    const m = /^(\d+(?:\.\d+)?)([kKmM]?)$/.exec(part.trim());
    const n = m === null ? NaN : Number(m[1]) * (m[2] === "" ? 1 : m[2]!.toLowerCase() === "k" ? 1e3 : 1e6);
    if (!Number.isInteger(n) || n < COUNT_MIN || n > COUNT_MAX)
      throw new ChainDbError(
        ErrorCode.BAD_ARGUMENT,
        `${option} expected account counts from 1k to 60M like 100k,1M,10M, got ${JSON.stringify(part)} (see chaindb bench --help)`,
      );
    return n;
  });
}

/** xorshift32 words: fast deterministic addresses (48-byte records: address, balance 2^40, nonce 0). */
export function genesisRecords(n: number, seed: number): Uint8Array {
  const recs = new Uint8Array(n * REC);
  const w = new Uint32Array(recs.buffer);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    const o = i * 12;
    for (let j = 0; j < 8; j++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      w[o + j] = x >>> 0;
    }
    w[o + 8] = 0;
    w[o + 9] = 1 << 8; // balance 2^40, little-endian
    w[o + 10] = 0;
    w[o + 11] = 0;
  }
  return recs;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

/** Blocks of uniform random transfers between existing accounts (nonces tracked per sender). */
function makeBlocks(records: Uint8Array, n: number, count: number, seed: number): Uint8Array[] {
  const nonces = new Map<number, number>();
  let x = seed >>> 0 || 1;
  const next = () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) % n;
  };
  return Array.from({ length: count }, () => {
    const block = new Uint8Array(BLOCK * TX);
    const dv = new DataView(block.buffer);
    for (let i = 0; i < BLOCK; i++) {
      const from = next();
      let to = next();
      if (to === from) to = (to + 1) % n;
      block.set(records.subarray(from * REC, from * REC + RECORD_BALANCE), i * TX);
      block.set(records.subarray(to * REC, to * REC + RECORD_BALANCE), i * TX + PACKED_TO);
      dv.setBigUint64(i * TX + PACKED_AMOUNT, 1n, true);
      dv.setBigUint64(i * TX + PACKED_FEE, 1n, true);
      const nonce = nonces.get(from) ?? 0;
      dv.setBigUint64(i * TX + PACKED_NONCE, BigInt(nonce), true);
      nonces.set(from, nonce + 1);
    }
    return block;
  });
}

function dirBytes(dir: string): number {
  return fs.readdirSync(dir).reduce((sum, f) => sum + fs.statSync(path.join(dir, f)).size, 0);
}

/** Measures one (engine, size) in this process. */
export async function measurePoint(
  engine: "wasm" | "ts",
  n: number,
  durable: boolean,
  log: (s: string) => void,
): Promise<ScalePoint> {
  const records = genesisRecords(n, 0x9e3779b9 ^ n);
  const blocks = makeBlocks(records, n, WARMUP_BLOCKS + MEASURED_BLOCKS, 12345);
  globalThis.gc?.();
  const rss0 = process.memoryUsage().rss;
  const t0 = performance.now();
  const state = await createLedgerState(engine);
  let lastShown = t0;
  state.load(records, (done, total) => {
    if (performance.now() - lastShown > 2000) {
      lastShown = performance.now();
      log(`  ${engine} ${n}: loaded ${done}/${total}`);
    }
  });
  state.root();
  const genesisMs = performance.now() - t0;
  const proposer = records.slice(0, 32);
  const exec: number[] = [];
  const root: number[] = [];
  for (const [b, block] of blocks.entries()) {
    const a = performance.now();
    state.begin();
    const statuses = state.apply(block, BLOCK, proposer);
    const m = performance.now();
    state.root();
    const z = performance.now();
    state.commit();
    if (statuses.some((s) => s !== 0)) throw new Error(`block ${b}: a transfer was rejected`);
    if (b >= WARMUP_BLOCKS) {
      exec.push(m - a);
      root.push(z - m);
    }
  }
  const rssBytesPerAccount = (process.memoryUsage().rss - rss0) / n;
  const inclusion: number[] = [];
  const absence: number[] = [];
  const depths: number[] = [];
  const absent = genesisRecords(PROOF_SAMPLES, 77);
  for (let i = 0; i < PROOF_SAMPLES; i++) {
    const k = Math.floor((i * n) / PROOF_SAMPLES);
    const p = encodeProof(state.proofMaterial(records.subarray(k * REC, k * REC + RECORD_BALANCE)));
    inclusion.push(p.length);
    depths.push(decodeProof(p).depth);
    absence.push(encodeProof(state.proofMaterial(absent.subarray(i * REC, i * REC + RECORD_BALANCE))).length);
  }
  const mean = (xs: number[]) => xs.reduce((s, v) => s + v, 0) / xs.length;
  const blockMs = median(exec.map((e, i) => e + root[i]!));
  const point: ScalePoint = {
    engine,
    accounts: n,
    genesisMs,
    genesisRate: (n * 1000) / genesisMs,
    blockMs,
    execMs: median(exec),
    rootMs: median(root),
    transfersPerSec: (BLOCK * 1000) / blockMs,
    proofBytesMean: mean(inclusion),
    proofBytesMedian: median(inclusion),
    proofBytesMax: Math.max(...inclusion),
    absenceBytesMean: mean(absence),
    depthMean: mean(depths),
    depthMax: Math.max(...depths),
    // A 16-ary node holds 16 children: a leaf alone below binary depth d sits at nibble ceil(d/4);
    // its proof carries 15 siblings per level and a node hashes 512 bytes (8 blocks + padding).
    hexaryProofBytesMean: 4 + 48 + mean(depths.map((d) => Math.ceil(d / 4) * 15 * 32)),
    binaryCompressionsPerLeaf: mean(depths) * 2 + 2,
    hexaryCompressionsPerLeaf: mean(depths.map((d) => Math.ceil(d / 4))) * 9 + 2,
    rssBytesPerAccount,
    treeNodes: state.nodeCount,
  };
  if (durable) point.durable = await measureDurable(engine, n, records, blocks.slice(0, 10), log);
  return point;
}

async function measureDurable(
  engine: "wasm" | "ts",
  n: number,
  records: Uint8Array,
  blocks: Uint8Array[],
  log: (s: string) => void,
) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "chaindb-scale-"));
  try {
    const proposer = records.slice(0, 32);
    const t0 = performance.now();
    const ledger = await Ledger.open({
      dir,
      engine,
      chainId: 1,
      genesis: [],
      genesisRecords: records,
      snapshotEvery: 1_000_000,
    });
    const createMs = performance.now() - t0;
    for (const block of blocks) await ledger.applyPacked(block, BLOCK, { proposer });
    const root = ledger.root();
    await ledger.close();
    const diskBytesPerAccount = dirBytes(dir) / n;
    log(`  ${engine} ${n}: durable created in ${createMs.toFixed(0)} ms, reopening`);
    const t1 = performance.now();
    const again = await Ledger.open({ dir, engine, chainId: 1, genesis: [], genesisRecords: records });
    const reopenMs = performance.now() - t1;
    if (Buffer.compare(again.root(), root) !== 0) throw new Error("reopen gave another root");
    await again.close();
    return { createMs, diskBytesPerAccount, reopenMs };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** A log-x SVG chart of the per-size costs (ms per block, root ms, proof bytes / 100). */
export function scaleChart(points: ScalePoint[]): string {
  const W = 640,
    H = 360,
    L = 60,
    R = 20,
    T = 30,
    B = 50;
  const xs = points.map((p) => Math.log10(p.accounts));
  const [x0, x1] = [Math.min(...xs) - 0.1, Math.max(...xs) + 0.1];
  const series: Array<[string, string, (p: ScalePoint) => number]> = [
    ["exec + root ms/block", "#1f77b4", (p) => p.blockMs],
    ["root ms/block", "#ff7f0e", (p) => p.rootMs],
    ["proof bytes / 100", "#2ca02c", (p) => p.proofBytesMean / 100],
    ["µs per genesis account", "#d62728", (p) => (1000 / p.genesisRate) * 1000],
  ];
  const ymax = Math.max(1, ...points.flatMap((p) => series.map(([, , f]) => f(p)))) * 1.1;
  const px = (x: number) => L + ((x - x0) / (x1 - x0)) * (W - L - R);
  const py = (y: number) => H - B - (y / ymax) * (H - T - B);
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">`,
  ];
  parts.push(`<text x="${L}" y="18">chaindb state cost vs accounts (log axis)</text>`);
  parts.push(
    `<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="#000"/><line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="#000"/>`,
  );
  for (const p of points)
    parts.push(
      `<text x="${px(Math.log10(p.accounts)) - 15}" y="${H - B + 15}">${p.accounts >= 1e6 ? `${p.accounts / 1e6}M` : `${p.accounts / 1e3}k`}</text>`,
    );
  for (let i = 0; i <= 4; i++)
    parts.push(`<text x="5" y="${py((ymax * i) / 4) + 4}">${((ymax * i) / 4).toFixed(1)}</text>`);
  series.forEach(([name, color, f], k) => {
    for (const engine of ["wasm", "ts"] as const) {
      const pts = points.filter((p) => p.engine === engine);
      if (pts.length === 0) continue;
      const d = pts.map((p) => `${px(Math.log10(p.accounts)).toFixed(1)},${py(f(p)).toFixed(1)}`).join(" ");
      parts.push(
        `<polyline fill="none" stroke="${color}" stroke-width="2" ${engine === "ts" ? 'stroke-dasharray="4 3"' : ""} points="${d}"/>`,
      );
    }
    parts.push(`<text x="${L + 10 + k * 145}" y="${H - 12}" fill="${color}">${name}</text>`);
  });
  parts.push(`<text x="${W - 170}" y="${T + 10}">solid wasm, dashed ts</text></svg>`);
  return parts.join("\n");
}

/** Options of {@link runStateScale}. */
export interface StateScaleOptions {
  accounts: number[];
  /** The ts engine is measured up to this size (default 1M). */
  tsMax?: number;
  durable?: boolean;
  out?: string;
  log?: (line: string) => void;
}

/** Runs every (engine, size) in a child process and writes the JSON and the chart. */
export async function runStateScale(options: StateScaleOptions): Promise<ScalePoint[]> {
  const log = options.log ?? ((s: string) => process.stderr.write(`${s}\n`));
  const points: ScalePoint[] = [];
  const self = fileURLToPath(import.meta.url);
  for (const engine of ["wasm", "ts"] as const) {
    for (const n of options.accounts) {
      if (engine === "ts" && n > (options.tsMax ?? 1_000_000)) continue;
      log(`state scale: ${engine}, ${n} accounts`);
      const args = [
        ...process.execArgv,
        "--expose-gc",
        "--max-old-space-size=8192",
        self,
        "--child",
        `${engine}:${n}`,
        ...(options.durable ? ["--durable"] : []),
      ];
      const r = spawnSync(process.execPath, args, {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "inherit"],
        maxBuffer: 1 << 20,
      });
      const line = r.stdout.trim().split("\n").pop() ?? "";
      if (r.status !== 0 || !line.startsWith("{")) {
        log(`  ${engine} ${n}: failed (exit ${r.status}); skipped`);
        continue;
      }
      const p = JSON.parse(line) as ScalePoint;
      points.push(p);
      log(
        `  ${engine} ${n}: ${p.blockMs.toFixed(2)} ms/block (root ${p.rootMs.toFixed(2)}), ${Math.round(p.transfersPerSec)} transfers/s, proof ${Math.round(p.proofBytesMean)} B, genesis ${Math.round(p.genesisRate)}/s, ${Math.round(p.rssBytesPerAccount)} B/account`,
      );
    }
  }
  const out = options.out ?? "bench/results";
  fs.mkdirSync(out, { recursive: true });
  fs.writeFileSync(
    path.join(out, "state-scale.json"),
    JSON.stringify({ machine: machineInfo(), date: new Date().toISOString(), block: BLOCK, points }, null, 2),
  );
  fs.writeFileSync(path.join(out, "state-scale.svg"), scaleChart(points));
  const report = formatScale(points);
  fs.writeFileSync(path.join(out, "state-scale.md"), `# chaindb bench state --accounts\n\n${report}\n`);
  console.log(report);
  log(`wrote ${path.join(out, "state-scale.json")}, state-scale.md and state-scale.svg`);
  return points;
}

/** The results as a Markdown table, the two log-axis text charts and the issue's targets. */
export function formatScale(points: ScalePoint[]): string {
  const rows = [
    "| engine | accounts | exec+root ms/block | root ms | transfers/s | proof B median (max) | absence B | genesis acc/s | open ms | RSS B/acc | disk B/acc | durable open ms | reopen ms |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
  ];
  for (const p of points) {
    const d = p.durable;
    rows.push(
      `| ${p.engine} | ${p.accounts} | ${p.blockMs.toFixed(2)} | ${p.rootMs.toFixed(2)} | ${Math.round(p.transfersPerSec)} | ${Math.round(p.proofBytesMedian)} (${p.proofBytesMax}) | ${Math.round(p.absenceBytesMean)} | ${Math.round(p.genesisRate)} | ${p.genesisMs.toFixed(0)} | ${Math.round(p.rssBytesPerAccount)} | ${d ? d.diskBytesPerAccount.toFixed(0) : "–"} | ${d ? d.createMs.toFixed(0) : "–"} | ${d ? d.reopenMs.toFixed(0) : "–"} |`,
    );
  }
  rows.push("", "```", ...scaleTextCharts(points), "```");
  const wasm = points.filter((p) => p.engine === "wasm").sort((a, b) => a.accounts - b.accounts);
  if (wasm.length >= 2) {
    const lo = wasm[0]!,
      hi = wasm[wasm.length - 1]!;
    rows.push(
      "",
      `exec+root rate at ${hi.accounts} / at ${lo.accounts}: ${(hi.transfersPerSec / lo.transfersPerSec).toFixed(2)}× (target ≥ 0.5×)`,
    );
    rows.push(
      `proof at ${hi.accounts}: median ${Math.round(hi.proofBytesMedian)} B, mean ${Math.round(hi.proofBytesMean)} B, max ${hi.proofBytesMax} B (target ≤ 1536 B); a 16-ary tree: ~${Math.round(hi.hexaryProofBytesMean)} B`,
    );
    rows.push(
      `compressions per changed leaf at ${hi.accounts}: binary ${hi.binaryCompressionsPerLeaf.toFixed(1)}, 16-ary ${hi.hexaryCompressionsPerLeaf.toFixed(1)}`,
    );
    rows.push(
      `genesis load: ${wasm.map((p) => `${Math.round(p.genesisRate / 1000)}k/s at ${p.accounts}`).join(", ")} (target ≥ 1M/s)`,
    );
  }
  return rows.join("\n");
}

/** Two text charts against accounts on a log axis: ms per block, and bytes per account. */
export function scaleTextCharts(points: readonly ScalePoint[]): string[] {
  const of = (engine: "wasm" | "ts", f: (p: ScalePoint) => number | undefined) =>
    points.filter((p) => p.engine === engine && f(p) !== undefined).map((p) => ({ x: p.accounts, y: f(p)! }));
  const ts = of("ts", (p) => p.blockMs);
  const block = logChart({
    title: "ms per 1000-transfer block (median) against accounts",
    series: [
      { name: "wasm exec+root", mark: "o", points: of("wasm", (p) => p.blockMs) },
      { name: "wasm root", mark: "r", points: of("wasm", (p) => p.rootMs) },
      ...(ts.length > 0 ? [{ name: "ts exec+root", mark: "t", points: ts }] : []),
    ],
  });
  const bytes = logChart({
    title: "bytes against accounts (wasm): per account (RSS, disk) and per proof",
    series: [
      { name: "RSS growth", mark: "m", points: of("wasm", (p) => p.rssBytesPerAccount) },
      { name: "disk (durable)", mark: "d", points: of("wasm", (p) => p.durable?.diskBytesPerAccount) },
      { name: "proof bytes (median)", mark: "p", points: of("wasm", (p) => p.proofBytesMedian) },
    ],
  });
  return [block, "", bytes];
}

/**
 * The issue's headline ratio measured fairly on a shared machine: states of `small` and `large`
 * accounts in one process, blocks alternating between them, so load drift hits both alike.
 * Returns exec + root ms per block (median after warm-up) of each and the rate ratio large/small.
 */
export async function measurePair(
  engine: "wasm" | "ts",
  small: number,
  large: number,
  log: (s: string) => void,
) {
  const sides = [];
  for (const n of [small, large]) {
    const records = genesisRecords(n, 0x9e3779b9 ^ n);
    const state = await createLedgerState(engine);
    const t0 = performance.now();
    state.load(records);
    state.root();
    log(`  pair: ${n} accounts loaded in ${(performance.now() - t0).toFixed(0)} ms`);
    sides.push({
      n,
      state,
      proposer: records.slice(0, 32),
      blocks: makeBlocks(records, n, WARMUP_BLOCKS + MEASURED_BLOCKS, 999),
      ms: [] as number[],
      rootMs: [] as number[],
    });
  }
  for (let b = 0; b < WARMUP_BLOCKS + MEASURED_BLOCKS; b++) {
    for (const side of sides) {
      const a = performance.now();
      side.state.begin();
      side.state.apply(side.blocks[b]!, BLOCK, side.proposer);
      const m = performance.now();
      side.state.root();
      side.state.commit();
      if (b >= WARMUP_BLOCKS) {
        side.ms.push(performance.now() - a);
        side.rootMs.push(performance.now() - m);
      }
    }
  }
  const [s, l] = sides.map((x) => ({ accounts: x.n, blockMs: median(x.ms), rootMs: median(x.rootMs) }));
  return { engine, small: s!, large: l!, rateRatio: s!.blockMs / l!.blockMs };
}

async function child(spec: string, durable: boolean): Promise<void> {
  const [engine, n] = spec.split(":") as ["wasm" | "ts", string];
  const point = await measurePoint(engine, Number(n), durable, (s) => process.stderr.write(`${s}\n`));
  process.stdout.write(`${JSON.stringify(point)}\n`);
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const { values } = parseArgs({
    options: {
      pair: { type: "string" },
      child: { type: "string" },
      accounts: { type: "string", default: "100k,1M" },
      durable: { type: "boolean", default: false },
      out: { type: "string" },
      "ts-max": { type: "string" },
    },
  });
  if (values.pair !== undefined) {
    const [small, large] = parseCounts(values.pair);
    const r = await measurePair("wasm", small!, large!, (x) => process.stderr.write(`${x}\n`));
    console.log(JSON.stringify(r));
  } else if (values.child !== undefined) await child(values.child, values.durable);
  else {
    await runStateScale({
      accounts: parseCounts(values.accounts),
      durable: values.durable,
      ...(values.out !== undefined ? { out: values.out } : {}),
      ...(values["ts-max"] !== undefined ? { tsMax: parseCounts(values["ts-max"])[0]! } : {}),
    });
  }
}
