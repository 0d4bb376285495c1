// `chaindb bench state --accounts … | --scale …` (issue 11 part 5): its arguments (a bad size is one
// line with BAD_ARGUMENT and the usage hint, checked before anything runs), the log-axis text chart
// (exact output for fixed input), and a tiny run of each mode end to end in real processes.
import { afterEach, describe, expect, it, vi } from "vitest";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { main } from "../../bindings/cli/main.ts";
import { ChainDbError } from "../../bindings/util/index.ts";
import { parseBytes } from "../../bench/state-paged.ts";
import { parseCounts } from "../../bench/state-scale.ts";
import { logChart, niceCeil, shortNumber } from "../../bench/text-chart.ts";

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  vi.spyOn(process.stdout, "write").mockImplementation((s) => (out.push(String(s)), true));
  vi.spyOn(process.stderr, "write").mockImplementation((s) => (err.push(String(s)), true));
  return { out: () => out.join(""), err: () => err.join("") };
}

afterEach(() => void vi.restoreAllMocks());

const world = { loadBench: () => import("../../bench/index.ts") };

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (error) {
    return error instanceof ChainDbError ? error.code : `not a ChainDbError: ${String(error)}`;
  }
  return undefined;
}

describe("size arguments", () => {
  it("reads counts with k and M suffixes", () => {
    expect(parseCounts("100k,1M,10M")).toEqual([100_000, 1_000_000, 10_000_000]);
    expect(parseCounts("1.5M, 1000")).toEqual([1_500_000, 1000]);
    expect(parseBytes("6G")).toBe(6 * 2 ** 30);
    expect(parseBytes("512M")).toBe(512 * 2 ** 20);
  });

  it.each(["5x", "", "999", "61M", "1.0001k", "-1k", "1e6"])("refuses the count %j", (bad) => {
    expect(codeOf(() => parseCounts(`100k,${bad}`))).toBe("BAD_ARGUMENT");
  });

  it.each(["0", "1000", "2T", "lots", "1025G"])("refuses the cache size %j", (bad) => {
    expect(codeOf(() => parseBytes(bad))).toBe("BAD_ARGUMENT");
  });

  it.each([
    [
      ["state", "--accounts", "100k,lots"],
      /--accounts expected account counts .*"lots" \(see chaindb bench --help\)/,
    ],
    [["state", "--accounts", "500"], /--accounts expected .*"500" \(see chaindb bench --help\)/],
    [["state", "--scale", "1M,70M"], /--scale expected .*"70M" \(see chaindb bench --help\)/],
    [
      ["state", "--scale", "1M", "--cache", "6T"],
      /--cache expected a size .*"6T" \(see chaindb bench --help\)/,
    ],
    [["state", "--scale", "1M", "--blocks", "0"], /--blocks expected an integer in 1\.\.100000/],
    [
      ["pow", "--accounts", "1k"],
      /--accounts and --scale measure the state suite only, got pow \(see chaindb bench --help\)/,
    ],
  ])("chaindb bench %j: exit 2, one coded line, nothing run", async (args, message) => {
    const io = capture();
    const code = await main(["bench", ...args], world);
    expect(code).toBe(2);
    expect(io.err()).toMatch(message);
    expect(io.err()).toMatch(/^chaindb: .* \[BAD_ARGUMENT\]\n$/);
    expect(io.err().split("\n")).toHaveLength(2);
    expect(io.out()).toBe("");
  });

  it("--help lists the scale options with their defaults", async () => {
    const io = capture();
    expect(await main(["bench", "--help"], world)).toBe(0);
    for (const option of ["--accounts <n,n,...>", "--memory-only", "--scale <n,n,...>", "--blocks N"])
      expect(io.out()).toContain(option);
    expect(io.out()).toMatch(/--cache <bytes> .*\(default: 1G\)/);
    expect(io.out()).toContain("chaindb bench state --scale 1M,10M,50M --cache 6G");
  });
});

describe("logChart", () => {
  it("draws points, dots between them and decade ticks on a log axis", () => {
    const chart = logChart({
      title: "t",
      series: [
        {
          name: "a",
          mark: "a",
          points: [
            { x: 10_000, y: 2 },
            { x: 1000, y: 1 },
          ],
        },
      ],
      width: 21,
      height: 4,
    });
    expect(chart).toBe(
      [
        "t",
        "       2 |              ......a",
        "         |a.............",
        "         |",
        "       0 |",
        "         +---------------------",
        "          1k                 10k",
        "          accounts (log scale);  a a",
      ].join("\n"),
    );
  });

  it("marks a cell two series share with * and says so; leaves out x ≤ 0 and NaN", () => {
    const chart = logChart({
      title: "two",
      series: [
        {
          name: "block",
          mark: "o",
          points: [
            { x: 1e5, y: 4 },
            { x: 1e6, y: 4 },
            { x: 0, y: 9 },
          ],
        },
        {
          name: "root",
          mark: "r",
          points: [
            { x: 1e5, y: 4 },
            { x: 1e7, y: NaN },
          ],
        },
      ],
      width: 11,
      height: 3,
    });
    expect(chart).toBe(
      [
        "two",
        "       5 |*.........o",
        "         |",
        "       0 |",
        "         +-----------",
        "          100k      1M",
        "          accounts (log scale);  o block   r root   * several",
      ].join("\n"),
    );
  });

  it("says when there is nothing to draw; short labels and a 1-2-5 axis top", () => {
    expect(logChart({ title: "none", series: [{ name: "a", mark: "a", points: [] }] })).toBe(
      "none\n(no points)",
    );
    expect([1500, 2e6, 0.25, 50e6, 100_000].map(shortNumber)).toEqual(["1.5k", "2M", "0.25", "50M", "100k"]);
    expect([0, 0.7, 1, 1.01, 3, 7, 450].map(niceCeil)).toEqual([1, 1, 1, 2, 5, 10, 500]);
  });
});

// Asynchronous on purpose: a blocking spawn would stall vitest's own messaging.
function chaindb(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["--import", "tsx", "bindings/cli/bin.ts", ...args],
      { encoding: "utf8", timeout: 90_000 },
      (error, stdout, stderr) =>
        resolve({ code: error ? (typeof error.code === "number" ? error.code : null) : 0, stdout, stderr }),
    );
  });
}

describe("a tiny run end to end", () => {
  it("--accounts 1k,10k --quick and --scale 1k: tables, charts, JSON, reopen after SIGKILL", async () => {
    const dir = mkdtempSync(join(tmpdir(), "chaindb-bench-state-"));
    try {
      // Both at once: about 10 s each on the shared machine.
      const [mem, paged] = await Promise.all([
        chaindb("bench", "state", "--accounts", "1k,10k", "--quick", "--out", join(dir, "a")),
        chaindb("bench", "state", "--scale", "1k", "--blocks", "2", "--cache", "1M", "--out", join(dir, "b")),
      ]);
      expect(mem.code, mem.stderr.slice(-2000)).toBe(0);
      expect(mem.stdout).toContain("| engine | accounts | exec+root ms/block |");
      expect(mem.stdout).toContain("ms per 1000-transfer block (median) against accounts");
      const points = (
        JSON.parse(readFileSync(join(dir, "a", "state-scale.json"), "utf8")) as {
          points: {
            engine: string;
            accounts: number;
            proofBytesMedian: number;
            durable?: { reopenMs: number };
          }[];
        }
      ).points;
      expect(points.map((p) => `${p.engine}:${p.accounts}`)).toEqual(["wasm:1000", "wasm:10000"]);
      for (const p of points) {
        expect(p.proofBytesMedian).toBeGreaterThan(32);
        expect(p.durable?.reopenMs).toBeGreaterThan(0);
      }
      expect(readFileSync(join(dir, "a", "state-scale.md"), "utf8")).toContain("accounts (log scale)");

      expect(paged.code, paged.stderr.slice(-2000)).toBe(0);
      expect(paged.stdout).toContain("| accounts | cache MiB | genesis s |");
      expect(paged.stdout).toContain("paged ledger: bytes per account against accounts");
      const [run] = JSON.parse(readFileSync(join(dir, "b", "state-paged.json"), "utf8")) as {
        height: number;
        root: string;
        reopen: { height: number; root: string };
      }[];
      expect(run!.height).toBe(2);
      expect(run!.reopen).toMatchObject({ height: 2, root: run!.root });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
