// The benchmark report, checked in a real headless browser (Debian's chromium): the page loads
// from a file with the network off, and every chart is laid out with visible bars.
// Run by `npm run test:browser` (and by .ci/run, which installs chromium first).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { chromium, type Browser } from "playwright-core";
import { renderReport } from "../../bench/report.ts";
import { suiteResult, machineInfo, type CaseResult } from "../../bench/lib.ts";
import type { BenchRun } from "../../bench/index.ts";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

function fakeCase(id: string, group: string, median: number, baseline?: string): CaseResult {
  return { id, label: id, group, unit: "H/s", samples: [median * 0.9, median, median * 1.1], median, min: median * 0.9, max: median * 1.1, ...(baseline ? { baseline, ratio: 2 } : {}) };
}

function sampleRun(): BenchRun {
  const pow = suiteResult("pow", "Proof of work <&> escaping", true, [
    fakeCase("wasm", "single thread", 4.5e6, "node-crypto"),
    fakeCase("node-crypto", "single thread", 3e5),
    fakeCase("workers-1", "workers", 4.4e6),
    fakeCase("workers-2", "workers", 8.1e6, "workers-1"),
  ], [{ name: "wasm ≥ 4 MH/s", want: "≥ 4 MH/s", measured: "4.5 MH/s", pass: true }]);
  return { machine: machineInfo(), date: "2026-11-26T00:00:00.000Z", quick: true, suites: [pow] };
}

describe("benchmark report in headless chromium", () => {
  let browser: Browser;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`chromium not found at ${CHROMIUM}: apt-get install chromium (or set CHROMIUM_PATH)`);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
  });

  afterAll(async () => {
    await browser?.close();
  });

  it("renders every chart with visible bars and the escaped title", async () => {
    const dir = mkdtempSync(join(tmpdir(), "chaindb-report-"));
    const file = join(dir, "report.html");
    writeFileSync(file, renderReport(sampleRun()));
    const page = await browser.newPage();
    const requests: string[] = [];
    page.on("request", (r) => void (r.url().startsWith("file:") || requests.push(r.url())));
    await page.goto(pathToFileURL(file).href);
    const charts = await page.$$eval("svg.chart", (svgs) =>
      svgs.map((svg) => ({
        width: svg.getBoundingClientRect().width,
        bars: [...svg.querySelectorAll("rect")].map((r) => r.getBoundingClientRect().width),
      })),
    );
    // Two groups (single thread, workers) plus the ratio chart.
    expect(charts).toHaveLength(3);
    for (const chart of charts) {
      expect(chart.width).toBeGreaterThan(300);
      expect(chart.bars.length).toBeGreaterThan(0);
      for (const w of chart.bars) expect(w).toBeGreaterThan(0);
    }
    expect(await page.textContent("h2")).toBe("Proof of work <&> escaping");
    expect(await page.$$eval("table.figures tr", (rows) => rows.length)).toBe(5);
    const png = await page.screenshot({ fullPage: true });
    expect(png.length).toBeGreaterThan(10_000);
    expect(requests).toEqual([]);
    await page.close();
  });
});
