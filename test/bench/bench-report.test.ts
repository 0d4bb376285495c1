// The report's numbers and the `--check` exit: values and units are spaced as people write them,
// the hot-path rows take the best peer measured in the same run, every 2-worker ratio is found
// for the parallel ceiling, and `chaindb bench --check` exits 1 only when a target was missed.
import { describe, expect, it } from "vitest";
import { formatQuantity, machineInfo, missedTargets, suiteResult, type CaseResult } from "../../bench/lib.ts";
import { benchExitCode, type BenchRun } from "../../bench/index.ts";
import { headlines, hotPaths, parallelRows } from "../../bench/report-data.ts";
import { renderReport } from "../../bench/report.ts";

function c(id: string, unit: string, median: number, extra: Partial<CaseResult> = {}): CaseResult {
  return {
    id,
    label: extra.label ?? id,
    group: "g",
    unit,
    samples: [median],
    median,
    min: median,
    max: median,
    ...extra,
  };
}

function run(pass: boolean): BenchRun {
  const store = suiteResult(
    "store",
    "Store",
    true,
    [
      c("get-wasm-store", "ops/s", 2e6),
      c("get-ts-store", "ops/s", 1e6),
      c("get-map", "ops/s", 1.2e6, { label: "peer Map<string, Uint8Array>: random get" }),
      c("get-lmdb", "ops/s", 0, { unavailable: "lmdb could not be loaded" }),
      c("get-sqlite-memory", "ops/s", 3e5),
    ],
    [{ name: "ts store vs Map", want: "≥ 1.00×", measured: pass ? "1.10×" : "0.83×", pass }],
  );
  const execution = suiteResult("execution", "Execution", true, [
    c("u-serial", "tx/s", 1e6, { params: { workers: 0 } }),
    c("u-par1", "tx/s", 9e5, { baseline: "u-serial", ratio: 0.9, params: { workers: 1 } }),
    c("u-par2", "tx/s", 1.4e6, { baseline: "u-serial", ratio: 1.4, params: { workers: 2 } }),
    c("calibration-spin", "×", 1.6, { params: { workers: 2 } }),
  ]);
  return {
    machine: machineInfo(),
    date: "2026-12-07T00:00:00.000Z",
    quick: true,
    suites: [store, execution],
  };
}

describe("formatQuantity", () => {
  it("spaces numbers from units and joins an SI prefix to a symbol unit only", () => {
    expect(formatQuantity(110.5, "blocks/s")).toBe("110.5 blocks/s");
    expect(formatQuantity(1.36e6, "transfers/s")).toBe("1.36 M transfers/s");
    expect(formatQuantity(4.52e6, "H/s")).toBe("4.52 MH/s");
    expect(formatQuantity(12.34, "ms")).toBe("12.3 ms");
    expect(formatQuantity(2.154, "×")).toBe("2.15×");
    expect(formatQuantity(2.5e4, " ops/s")).toBe("25.0 k ops/s");
  });
});

describe("report data", () => {
  it("compares wasm and ts per hot path with the best peer that ran, skipping unavailable ones", () => {
    const paths = hotPaths(run(true));
    expect(paths.map((p) => p.name)).toEqual(["KV store: random get"]);
    expect(paths[0]!.rows.map((r) => [r.kind, r.who, r.ratio])).toEqual([
      ["wasm", "wasm engine", 2],
      ["ts", "ts engine", 1],
      ["peer", "Map<string, Uint8Array>", 1.2],
    ]);
    expect(headlines(paths)).toEqual([
      {
        path: "KV store: random get",
        wasm: "2.00 M ops/s",
        ts: "1.00 M ops/s",
        wasmOverTs: "2.00×",
        peer: "Map<string, Uint8Array>",
        peerRate: "1.20 M ops/s",
        chaindbOverPeer: "1.67×",
      },
    ]);
  });

  it("lists every ratio of 2 or more workers (not 1 worker, not the calibration loop itself)", () => {
    expect(parallelRows(run(true)).map((p) => [p.what, p.ratio])).toEqual([["execution: u-par2", 1.4]]);
  });

  it("shows the unavailable peer as not measured instead of a bar", () => {
    const html = renderReport(run(true));
    expect(html).toContain("get-lmdb — not measured: lmdb could not be loaded");
    expect(html).toContain("not measured: lmdb could not be loaded</td>");
  });
});

describe("chaindb bench --check", () => {
  it("exits 1 with --check when a target is missed, 0 otherwise; misses are listed", () => {
    expect(missedTargets(run(false).suites)).toEqual([
      "store: ts store vs Map (want ≥ 1.00×, measured 0.83×)",
    ]);
    expect(benchExitCode(run(false), true)).toBe(1);
    expect(benchExitCode(run(false), false)).toBe(0);
    expect(benchExitCode(run(true), true)).toBe(0);
    expect(missedTargets(run(true).suites)).toEqual([]);
  });
});
