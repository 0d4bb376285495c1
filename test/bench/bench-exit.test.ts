// `chaindb bench <suite> --quick` as CI runs it: it writes the suite's cases to results.json and
// the report, and ends on its own once they are written (a suite that leaves a socket, server or
// timer behind keeps the process alive, and the CLI does not call process.exit to hide it).
import { describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

// A suite's quick run takes a few seconds here (about 7 s for 2pc on the shared machine).
const RUN_BOUND_MS = 90_000;
// From "wrote …" to exit: nothing left but process teardown.
const EXIT_AFTER_WRITE_MS = 5_000;

interface BenchExit {
  code: number | null;
  /** Milliseconds from the "wrote results" line to the process exit; undefined if never written. */
  exitAfterWriteMs: number | undefined;
  stderr: string;
}

function bench(suite: string, out: string): Promise<BenchExit> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [
      "--import",
      "tsx",
      "bindings/cli/bin.ts",
      "bench",
      suite,
      "--quick",
      "--out",
      out,
    ]);
    let stdout = "";
    let stderr = "";
    let writtenAt: number | undefined;
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
      if (writtenAt === undefined && stdout.includes(`wrote ${out}/results.json`))
        writtenAt = performance.now();
    });
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => void (stderr += chunk));
    const kill = setTimeout(() => child.kill("SIGKILL"), RUN_BOUND_MS);
    child.on("close", (code) => {
      clearTimeout(kill);
      resolve({
        code,
        exitAfterWriteMs: writtenAt === undefined ? undefined : performance.now() - writtenAt,
        stderr,
      });
    });
  });
}

// Cases each suite must report (ids in <suite>.json and results.json) and a chart title the
// report must show: the consensus suite's TCP cases next to the SimNetwork ones.
const EXPECTED: Record<string, { cases: string[]; chart?: string }> = {
  replication: { cases: ["tcp-sync-tps"] },
  "2pc": { cases: ["tcp-2pc-tps"] },
  consensus: {
    cases: ["blocks-4", "blocks-tcp-4", "p99-tcp-4", "blocks-tcp-4-down", "blocks-tcp-7", "p50-tcp-7-down"],
    chart: "consensus: TCP loopback: one validator down (blocks/s)",
  },
};

// The suites that open sockets, files and timers on the system clock.
describe.each(["replication", "2pc", "consensus"])("chaindb bench %s --quick", (suite) => {
  it(
    "writes its cases and report, then exits by itself",
    async () => {
      const out = mkdtempSync(join(tmpdir(), "chaindb-bench-exit-"));
      try {
        const r = await bench(suite, out);
        expect(
          r.exitAfterWriteMs,
          `no results within ${RUN_BOUND_MS} ms\n${r.stderr.slice(-2000)}`,
        ).toBeDefined();
        expect(r.exitAfterWriteMs!, "the process outlived its results: a handle was left open").toBeLessThan(
          EXIT_AFTER_WRITE_MS,
        );
        expect(r.code, r.stderr.slice(-2000)).toBe(0);
        const run = JSON.parse(readFileSync(join(out, "results.json"), "utf8")) as {
          suites: { suite: string; cases: { id: string; median: number }[] }[];
        };
        const medians = new Map(
          run.suites.find((x) => x.suite === suite)!.cases.map((c) => [c.id, c.median]),
        );
        for (const id of EXPECTED[suite]!.cases) expect(medians.get(id), id).toBeGreaterThan(0);
        expect(existsSync(join(out, `${suite}.json`))).toBe(true);
        const chart = EXPECTED[suite]!.chart;
        if (chart) expect(readFileSync(join(out, "report.html"), "utf8")).toContain(`aria-label="${chart}"`);
      } finally {
        rmSync(out, { recursive: true, force: true });
      }
    },
    RUN_BOUND_MS + 10_000,
  );
});
