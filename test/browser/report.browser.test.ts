// The benchmark report, checked in a real headless browser (Debian's chromium): the page loads
// from a file with the network off; every chart is laid out with visible bars that start at the
// same x whatever their labels; no text is clipped by its SVG viewport; table cells do not wrap;
// numbers and units are spaced; charts of one unit share one scale; the summary comes first with
// the machine's parallel ceiling beside every 2-worker ratio.
// Run by `npm run test:browser` (and by .ci/run, which installs chromium first).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { chromium, type Browser, type Page } from "playwright-core";
import { renderReport } from "../../bench/report.ts";
import { suiteResult, machineInfo, type CaseResult } from "../../bench/lib.ts";
import type { BenchRun } from "../../bench/index.ts";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

function fakeCase(
  id: string,
  group: string,
  unit: string,
  median: number,
  extra: Partial<CaseResult> = {},
): CaseResult {
  return {
    id,
    label: extra.label ?? id,
    group,
    unit,
    samples: [median * 0.9, median, median * 1.1],
    median,
    min: median * 0.9,
    max: median * 1.1,
    ...extra,
  };
}

const LONG =
  "wasm, signed: decode + verify ed25519 + apply + root + commit (durable), with a label long enough that it must wrap onto a second line in the chart";

function sampleRun(): BenchRun {
  const pow = suiteResult(
    "pow",
    "Proof of work <&> escaping",
    true,
    [
      fakeCase("wasm", "single thread", "H/s", 4.5e6, { baseline: "node-crypto", ratio: 15 }),
      fakeCase("ts", "single thread", "H/s", 1.9e6, { baseline: "node-crypto", ratio: 6.3 }),
      fakeCase("node-crypto", "single thread", "H/s", 3e5),
      fakeCase("noble", "single thread", "H/s", 9e5),
      fakeCase("wasm-workers-1", "workers", "H/s", 4.4e6, { params: { workers: 1 } }),
      fakeCase("wasm-workers-2", "workers", "H/s", 8.1e6, {
        baseline: "wasm-workers-1",
        ratio: 1.84,
        params: { workers: 2 },
      }),
    ],
    [{ name: "wasm ≥ 4 MH/s", want: "≥ 4 MH/s", measured: "4.5 MH/s", pass: true }],
  );
  const consensus = suiteResult("consensus", "Consensus", true, [
    fakeCase("blocks-4", "4 validators", "blocks/s", 23.6),
    fakeCase("blocks-7", "7 validators", "blocks/s", 9.0),
  ]);
  const state = suiteResult(
    "state",
    "Ledger state",
    true,
    [
      fakeCase("uniform-wasm-exec", "uniform: exec", "transfers/s", 1.36e6, { scale: "exec" }),
      fakeCase("uniform-ts-exec", "uniform: exec", "transfers/s", 1.2e5, { scale: "exec" }),
      fakeCase("uniform-peer-tuned-map", "uniform: exec", "transfers/s", 2.7e5, {
        scale: "exec",
        label: "peer tuned Map<hex, slot> + typed arrays, uniform",
      }),
      fakeCase("uniform-peer-lmdb", "uniform: durable", "transfers/s", 0, {
        scale: "durable",
        samples: [],
        unavailable: "lmdb could not be loaded: no prebuilt binary for this platform",
      }),
      fakeCase("signed", "signed pipeline", "transfers/s", 2.1e4, { label: LONG }),
    ],
    [
      {
        name: "wasm execution only vs the tuned Map ledger in this run, uniform",
        want: "≥ 5.00×",
        measured: "5.04×",
        pass: true,
      },
      {
        name: "ts execution only vs the tuned Map ledger in this run, uniform",
        want: "≥ 1.00×",
        measured: "0.44×",
        pass: false,
      },
    ],
  );
  const execution = suiteResult("execution", "Block execution", true, [
    fakeCase("two-exec-serial", "two: exec", "tx/s", 9.1e5, { params: { workers: 0 } }),
    fakeCase("two-exec-par2", "two: exec", "tx/s", 6.2e5, {
      baseline: "two-exec-serial",
      ratio: 0.68,
      params: { workers: 2 },
    }),
  ]);
  return {
    machine: machineInfo(),
    date: "2026-11-26T00:00:00.000Z",
    quick: true,
    suites: [pow, consensus, state, execution],
    ceiling: { samples: [1.5, 1.6, 1.7, 1.6], median: 1.6, min: 1.5, max: 1.7 },
  };
}

describe("benchmark report in headless chromium", () => {
  let browser: Browser;
  let page: Page;
  const requests: string[] = [];

  beforeAll(async () => {
    if (!existsSync(CHROMIUM))
      throw new Error(`chromium not found at ${CHROMIUM}: apt-get install chromium (or set CHROMIUM_PATH)`);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
    const dir = mkdtempSync(join(tmpdir(), "chaindb-report-"));
    const file = join(dir, "report.html");
    writeFileSync(file, renderReport(sampleRun()));
    page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    page.on("request", (r) => void (r.url().startsWith("file:") || requests.push(r.url())));
    await page.goto(pathToFileURL(file).href);
  });

  afterAll(async () => {
    await browser?.close();
  });

  it("renders every chart with visible bars, the escaped title, and no network request", async () => {
    const charts = await page.$$eval("svg.chart", (svgs) =>
      svgs.map((svg) => ({
        width: svg.getBoundingClientRect().width,
        bars: [...svg.querySelectorAll("rect.bar")].map((r) => r.getBoundingClientRect().width),
      })),
    );
    // WASM vs TS: sha256d and state execution (2); pow: 2 groups + ratios; consensus 2; state 3;
    // execution 1 + ratios.
    expect(charts).toHaveLength(12);
    for (const chart of charts) {
      expect(chart.width).toBeGreaterThan(300);
      for (const w of chart.bars) expect(w).toBeGreaterThan(0);
    }
    expect(await page.textContent("section.suite h2")).toBe("Proof of work <&> escaping");
    expect(await page.$$eval("section.suite[data-suite=pow] table.figures tr", (rows) => rows.length)).toBe(
      7,
    );
    const png = await page.screenshot({ fullPage: true });
    expect(png.length).toBeGreaterThan(10_000);
    expect(requests).toEqual([]);
  });

  it("clips no text: every text box lies inside its SVG viewport", async () => {
    const outside = await page.$$eval("svg.chart", (svgs) =>
      svgs.flatMap((svg) => {
        const box = svg.getBoundingClientRect();
        return [...svg.querySelectorAll("text")].flatMap((t) => {
          const r = t.getBoundingClientRect();
          const inside =
            r.left >= box.left - 0.5 &&
            r.right <= box.right + 0.5 &&
            r.top >= box.top - 0.5 &&
            r.bottom <= box.bottom + 0.5;
          return inside
            ? []
            : [
                `${svg.getAttribute("aria-label")}: "${t.textContent}" ${r.left.toFixed(0)}–${r.right.toFixed(0)} outside ${box.left.toFixed(0)}–${box.right.toFixed(0)}`,
              ];
        });
      }),
    );
    expect(outside).toEqual([]);
    // The long label was wrapped, not cut: all of its words are on the page, in two or more lines.
    const lines = await page.$$eval(
      "svg.chart text",
      (ts, long) =>
        ts
          .filter((t) => t.textContent!.includes(long as string))
          .map((t) => t.querySelectorAll("tspan").length),
      "decode + verify ed25519",
    );
    expect(lines.length).toBe(1);
    expect(lines[0]).toBeGreaterThanOrEqual(2);
  });

  it("starts every bar of a linear chart at the same x, whatever the label width", async () => {
    const starts = await page.$$eval("svg.chart[data-scale=linear]", (svgs) =>
      svgs.flatMap((svg) =>
        [...svg.querySelectorAll("rect.bar")].map(
          (r) => r.getBoundingClientRect().left - svg.getBoundingClientRect().left,
        ),
      ),
    );
    expect(starts.length).toBeGreaterThan(8);
    for (const x of starts) expect(x).toBeCloseTo(starts[0]!, 1);
  });

  it("draws charts of one unit in a suite on one scale, with an axis", async () => {
    const bars = await page.$$eval("section[data-suite=consensus] svg.chart", (svgs) =>
      svgs.map((svg) => ({
        width: svg.querySelector("rect.bar")!.getBoundingClientRect().width,
        ticks: [...svg.querySelectorAll(".axis text")].map((t) => t.textContent),
      })),
    );
    expect(bars).toHaveLength(2);
    // 9.0 blocks/s draws 9.0 / 23.6 as long as 23.6 blocks/s in the other chart.
    expect(bars[1]!.width / bars[0]!.width).toBeCloseTo(9.0 / 23.6, 2);
    expect(bars[0]!.ticks).toEqual(bars[1]!.ticks);
    expect(bars[0]!.ticks).toContain("blocks/s");
  });

  it("keeps table cells on one line and spaces numbers from units", async () => {
    const wrapped = await page.$$eval("td, th", (cells) =>
      cells.flatMap((cell) => {
        const range = document.createRange();
        range.selectNodeContents(cell);
        const tops = new Set([...range.getClientRects()].map((r) => Math.round(r.top)));
        return tops.size > 1 ? [cell.textContent] : [];
      }),
    );
    expect(wrapped).toEqual([]);
    // Element by element: the page's whole textContent would join neighbours ("25" + "blocks/s").
    const texts = await page.$$eval("td, th, li, p, svg text", (els) => els.map((e) => e.textContent!));
    expect(texts.filter((t) => /\d(blocks|tx|transfers|ops|trips)\//.test(t))).toEqual([]);
    const text = texts.join("\n");
    expect(text).toContain("23.6 blocks/s");
    expect(text).toContain("1.36 M transfers/s");
    expect(text).toContain("4.50 MH/s");
  });

  it("opens with a summary: headline ratios, the parallel ceiling beside each 2-worker ratio, the missed targets", async () => {
    expect(await page.textContent("h2")).toBe("Summary");
    const headlines = await page.$$eval("table.headlines tr", (rows) =>
      rows.slice(1).map((r) => [...r.querySelectorAll("td")].map((c) => c.textContent)),
    );
    expect(headlines).toEqual([
      ["sha256d nonce search", "4.50 MH/s", "1.90 MH/s", "2.37×", "noble", "900.0 kH/s", "5.00×"],
      [
        "state: execution only",
        "1.36 M transfers/s",
        "120.0 k transfers/s",
        "11.33×",
        "tuned Map<hex, slot> + typed arrays",
        "270.0 k transfers/s",
        "5.04×",
      ],
    ]);
    const parallel = await page.$$eval("table.parallel tr", (rows) =>
      rows.slice(1).map((r) => [...r.querySelectorAll("td")].map((c) => c.textContent)),
    );
    expect(parallel.map((p) => p.slice(0, 3))).toEqual([
      ["pow: wasm-workers-2", "1.84×", "1.60×"],
      ["execution: two-exec-par2", "0.68×", "1.60×"],
    ]);
    expect(await page.textContent("section.summary")).toMatch(/below 1× means/);
    expect(await page.$$eval("ul.missed li", (li) => li.map((l) => l.textContent))).toEqual([
      "state: ts execution only vs the tuned Map ledger in this run, uniform (want ≥ 1.00×, measured 0.44×)",
    ]);
    expect(await page.textContent("section[data-suite=state]")).toContain(
      "not measured: lmdb could not be loaded",
    );
  });
});
