/**
 * Proof-of-work benchmark: hashes per second of the same sha256d nonce search over an 80-byte
 * header (Bitcoin block 100000, with an unreachable target so every nonce is tried), side by side
 * in one run: wasm engine, ts engine, node:crypto (two calls per nonce), @noble/hashes with the
 * midstate, then the wasm miner pool with 1 and 2 workers.
 * @module
 */
import { createHash } from "node:crypto";
import * as nodeCrypto from "node:crypto";
import { sha256 } from "@noble/hashes/sha2.js";
import { createEngine } from "../bindings/engine/index.ts";
import { MinerPool } from "../bindings/pow/index.ts";
import { fromHex } from "../bindings/util/index.ts";
import {
  consume,
  measure,
  suiteResult,
  formatRate,
  type CaseSpec,
  type SuiteOptions,
  type SuiteResult,
  type TargetCheck,
} from "./lib.ts";

const HEADER = fromHex(
  "0100000050120119172a610421a6c3011dd330d9df07b63616c2cc1f1cd00200000000006657a9252aacd5c0b2940996ecff952228c3067cc38d4885efb5a4ac4247e9f337221b4d4c86041b0f2b5710",
);
// Nothing hashes to ≤ 0 in practice: every nonce of the range is tried, as at real difficulty.
const UNREACHABLE = new Uint8Array(32);

/** Runs the suite and returns its results. */
export async function run(options: SuiteOptions): Promise<SuiteResult> {
  const wasm = await createEngine("wasm");
  const ts = await createEngine("ts");
  const pools = [await MinerPool.start(1, "wasm"), await MinerPool.start(2, "wasm")];
  try {
    let cursor = 0;
    // Each call searches a fresh range so no engine can reuse work between calls.
    const next = (n: number) => ((cursor = (cursor + n) % 2 ** 31), cursor);
    const specs: CaseSpec[] = [
      engineCase("wasm", "wasm engine", 1 << 16, (n) =>
        consume(wasm.searchNonce(HEADER, UNREACHABLE, next(n), n).hashes),
      ),
      engineCase("ts", "ts engine", 1 << 12, (n) =>
        consume(ts.searchNonce(HEADER, UNREACHABLE, next(n), n).hashes),
      ),
      engineCase("node-crypto", "node:crypto ×2 per nonce", 1 << 11, (n) =>
        consume(nodeCryptoSearch(next(n), n)),
      ),
      engineCase("noble", "@noble/hashes midstate", 1 << 11, (n) => consume(nobleSearch(next(n), n))),
      ...pools.map((pool) => poolCase(pool, options.quick ? 1 << 17 : 1 << 20, next)),
    ];
    const cases = await measure(specs, {
      rounds: options.quick ? 2 : 7,
      timeMs: options.quick ? 100 : 1000,
      onProgress: options.onProgress,
    });
    return suiteResult("pow", "Proof of work: sha256d nonce search", options.quick, cases, targets(cases), [
      "One call searches a fixed nonce range with an unreachable target; rate = nonces / mean call time.",
      "Ratios compare medians of the same run; the machine is shared, so absolute figures drift.",
    ]);
  } finally {
    await Promise.all(pools.map((p) => p.close()));
  }
}

function engineCase(id: string, label: string, nonces: number, search: (count: number) => void): CaseSpec {
  return {
    id,
    label,
    group: "single thread",
    unit: "H/s",
    units: nonces,
    run: () => search(nonces),
    ...(id === "node-crypto" ? {} : { baseline: "node-crypto" }),
    params: { threads: 1 },
  };
}

function poolCase(pool: MinerPool, noncesPerWorker: number, next: (n: number) => number): CaseSpec {
  const n = noncesPerWorker * pool.size;
  return {
    id: `wasm-workers-${pool.size}`,
    label: `wasm miner, ${pool.size} worker${pool.size > 1 ? "s" : ""}`,
    group: "workers",
    unit: "H/s",
    units: n,
    run: async () => {
      const start = next(n);
      consume((await pool.search(HEADER, UNREACHABLE, start, start + n, 1 << 16)).hashes);
    },
    ...(pool.size > 1 ? { baseline: "wasm-workers-1" } : { baseline: "wasm" }),
    params: { workers: pool.size, engine: "wasm" },
  };
}

// node:crypto has no midstate API: two one-shot hashes per nonce, as a JS user would write it.
const oneShot: (data: Uint8Array) => Uint8Array =
  typeof (nodeCrypto as { hash?: unknown }).hash === "function"
    ? (data) =>
        (nodeCrypto as unknown as { hash(a: string, d: Uint8Array, e: string): Uint8Array }).hash(
          "sha256",
          data,
          "buffer",
        )
    : (data) => createHash("sha256").update(data).digest();

function nodeCryptoSearch(start: number, count: number): number {
  const header = HEADER.slice();
  const view = new DataView(header.buffer);
  let acc = 0;
  for (let i = 0; i < count; i++) {
    view.setUint32(76, start + i, true);
    acc ^= oneShot(oneShot(header))[31]!;
  }
  return acc;
}

const nobleMidstate = sha256.create().update(HEADER.subarray(0, 64));

function nobleSearch(start: number, count: number): number {
  const tail = HEADER.slice(64);
  const view = new DataView(tail.buffer);
  let acc = 0;
  for (let i = 0; i < count; i++) {
    view.setUint32(12, start + i, true);
    acc ^= sha256(nobleMidstate.clone().update(tail).digest())[31]!;
  }
  return acc;
}

function targets(cases: SuiteResult["cases"]): TargetCheck[] {
  const m = (id: string) => cases.find((c) => c.id === id)!.median;
  const ratio = (a: string, b: string) => m(a) / m(b);
  const checks: [string, string, number, number, (v: number) => string][] = [
    ["wasm nonce search, one thread", "≥ 4 MH/s", m("wasm"), 4e6, (v) => `${formatRate(v)}H/s`],
    ["wasm vs node:crypto per nonce", "≥ 12×", ratio("wasm", "node-crypto"), 12, (v) => `${v.toFixed(1)}×`],
    ["wasm vs @noble/hashes midstate", "≥ 8×", ratio("wasm", "noble"), 8, (v) => `${v.toFixed(1)}×`],
    ["ts engine vs @noble/hashes midstate", "≥ 1×", ratio("ts", "noble"), 1, (v) => `${v.toFixed(2)}×`],
    [
      "2 workers vs 1 worker",
      "≥ 1.7×",
      ratio("wasm-workers-2", "wasm-workers-1"),
      1.7,
      (v) => `${v.toFixed(2)}×`,
    ],
  ];
  return checks.map(([name, want, value, min, fmt]) => ({
    name,
    want,
    measured: fmt(value),
    pass: value >= min,
  }));
}
