/**
 * What the report's summary and WASM-vs-TS section show, taken from a run's cases: for each hot
 * path the wasm engine, the ts engine and the best peer measured in the same run (as multiples of
 * the ts engine), the headline ratios, and every 2-worker ratio (for the parallel ceiling beside it).
 * @module
 */
import { formatQuantity, type CaseResult } from "./lib.ts";
import type { BenchRun } from "./lib.ts";

/** One bar of a hot-path chart. */
export interface HotPathRow {
  who: string;
  rate: number;
  /** rate / the ts engine's rate. */
  ratio: number;
  kind: "wasm" | "ts" | "peer";
  /** What the peer does not do that the engines do (e.g. no root). */
  note?: string;
}

/** A hot path: its rows (wasm, ts, best peer) and why wasm and ts differ. */
export interface HotPath {
  name: string;
  unit: string;
  rows: HotPathRow[];
  why: string;
}

interface PathSpec {
  name: string;
  suite: string;
  wasm: string;
  ts: string;
  peers: string[];
  /** Shown when the peers do less than the engines (e.g. no root). */
  peerNote?: string;
  why: string;
}

const PATHS: PathSpec[] = [
  {
    name: "sha256d nonce search",
    suite: "pow",
    wasm: "wasm",
    ts: "ts",
    peers: ["node-crypto", "noble"],
    why: "WASM hashes four nonces at once in 128-bit SIMD lanes (i32x4) from a shared midstate; TypeScript has no SIMD, so its unrolled compression does one nonce at a time in 32-bit scalar operations (V8 also lacks a vector rotate, so WASM pays two shifts and an OR per rotate and still wins by the lane count).",
  },
  {
    name: "KV store: random get",
    suite: "store",
    wasm: "get-wasm-store",
    ts: "get-ts-store",
    peers: ["get-map", "get-map-copy", "get-sqlite-memory", "get-sqlite-durable", "get-lmdb"],
    why: "Both stores probe an open-addressing table over flat bytes (no per-entry objects for the GC to trace, no hashing of a JS string) and return one fresh copy of the value; WASM hashes and compares the key 8 bytes per load, TypeScript a byte per bounds-checked typed-array load. The Map peer builds a hex string per call but returns its stored array without a copy.",
  },
  {
    name: "KV store: load (puts)",
    suite: "store",
    wasm: "load-wasm-store",
    ts: "load-ts-store",
    peers: ["load-map", "load-map-copy", "load-sqlite-memory", "load-sqlite-durable", "load-lmdb"],
    why: "Both stores append key and value to flat memory and write a table slot, allocating nothing per entry (the ts store's arena doubles as it fills, WASM's linear memory grows); the Map peer allocates a hex string per key and keeps the caller's array without copying it.",
  },
  {
    name: "state: execution only",
    suite: "state",
    wasm: "uniform-wasm-exec",
    ts: "uniform-ts-exec",
    peers: ["uniform-peer-naive-map", "uniform-peer-tuned-map", "uniform-peer-sqlite-memory"],
    why: "Both engines keep one flat record per account behind an open-addressing table; WASM adds u64s natively and hashes and compares an address 8 bytes per unchecked load, while TypeScript splits every u64 into two u32 halves with explicit carries and reads the address a byte per bounds-checked typed-array load. The Map peers build a hex string per lookup and hash it.",
  },
  {
    name: "state: execution + root per block",
    suite: "state",
    wasm: "uniform-wasm-root",
    ts: "uniform-ts-root",
    peers: ["uniform-peer-tuned-map", "uniform-peer-naive-map", "uniform-peer-sqlite-memory"],
    peerNote: "execution only: no peer computes a root",
    why: "The root rehashes every touched path with SHA-256: WASM runs the compression on i32 locals in linear memory; TypeScript's runs on JS numbers with |0 coercions and typed-array bounds checks.",
  },
  {
    name: "durable commit (root + fsync per block)",
    suite: "state",
    wasm: "uniform-wasm-durable",
    ts: "uniform-ts-durable",
    peers: ["uniform-peer-sqlite-durable", "uniform-peer-lmdb"],
    peerNote: "no root",
    why: "Both engines write the same SQLite block log with one fsync per block; the fsync and SQLite take a fixed share, so the gap between the engines shrinks to what remains of execution and root.",
  },
];

/** The hot paths present in a run (a path whose suite did not run, or lacks a case, is left out). */
export function hotPaths(run: BenchRun): HotPath[] {
  const out: HotPath[] = [];
  for (const spec of PATHS) {
    const cases = run.suites.find((s) => s.suite === spec.suite)?.cases ?? [];
    const find = (id: string) => cases.find((c) => c.id === id && !c.unavailable && c.median > 0);
    const wasm = find(spec.wasm);
    const ts = find(spec.ts);
    if (!wasm || !ts) continue;
    const peer = spec.peers
      .map(find)
      .filter((c): c is CaseResult => c !== undefined)
      .sort((a, b) => b.median - a.median)[0];
    const rows: HotPathRow[] = [
      { who: "wasm engine", rate: wasm.median, ratio: wasm.median / ts.median, kind: "wasm" },
      { who: "ts engine", rate: ts.median, ratio: 1, kind: "ts" },
    ];
    if (peer)
      rows.push({
        who: peerName(peer),
        rate: peer.median,
        ratio: peer.median / ts.median,
        kind: "peer",
        ...(spec.peerNote ? { note: spec.peerNote } : {}),
      });
    out.push({ name: spec.name, unit: wasm.unit, rows, why: spec.why });
  }
  return out;
}

function peerName(c: CaseResult): string {
  return c.label
    .replace(/^peer /, "")
    .replace(/, (uniform|hot)$/, "")
    .replace(/: (load|random get)$/, "");
}

/** A headline row of the summary: one hot path, its engines, the best peer and the two ratios. */
export interface Headline {
  path: string;
  wasm: string;
  ts: string;
  wasmOverTs: string;
  peer: string;
  peerRate: string;
  /** The faster chaindb engine over the best peer. */
  chaindbOverPeer: string;
  /** Set when the peer does less than the engines (e.g. no root). */
  peerNote?: string;
}

/** WASM vs TS per hot path, and chaindb (its faster engine) vs the best peer. */
export function headlines(paths: HotPath[]): Headline[] {
  return paths.map((p) => {
    const [wasm, ts, peer] = p.rows;
    const best = Math.max(wasm!.rate, ts!.rate);
    return {
      path: p.name,
      wasm: formatQuantity(wasm!.rate, p.unit),
      ts: formatQuantity(ts!.rate, p.unit),
      wasmOverTs: `${wasm!.ratio.toFixed(2)}×`,
      peer: peer?.who ?? "none in this run",
      peerRate: peer ? formatQuantity(peer.rate, p.unit) : "",
      chaindbOverPeer: peer ? `${(best / peer.rate).toFixed(2)}×` : "",
      ...(peer?.note ? { peerNote: peer.note } : {}),
    };
  });
}

/** A 2-worker ratio of the run. */
export interface ParallelRow {
  what: string;
  ratio: number;
  detail: string;
}

/** Every case with 2 or more workers and a ratio to a baseline (serial or 1 worker). */
export function parallelRows(run: BenchRun): ParallelRow[] {
  const out: ParallelRow[] = [];
  for (const suite of run.suites) {
    for (const c of suite.cases) {
      if (Number(c.params?.workers ?? 0) < 2 || c.ratio === undefined || !c.baseline || c.unit.trim() === "×")
        continue;
      const base = suite.cases.find((b) => b.id === c.baseline);
      out.push({
        what: `${suite.suite}: ${c.label}`,
        ratio: c.ratio,
        detail: `${formatQuantity(c.median, c.unit)} vs ${base ? `${base.label} ${formatQuantity(base.median, base.unit)}` : c.baseline}`,
      });
    }
  }
  return out;
}
