// The traced-simulation page in a real headless browser (Debian's chromium): a checker self-test
// seeds a violation (seed 4, the byzantine validator counted as correct), the page loads from a
// file with no network, lays out its space-time diagram, and shows the violation and its events.
// Run by `npm run test:browser` (and by .ci/run, which installs chromium first).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { chromium, type Browser } from "playwright-core";
import { simulateConsensus } from "../../bindings/consensus/index.ts";
import { TraceRecorder, renderTraceHtml } from "../../bindings/net/index.ts";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

describe("traced simulation page in headless chromium", () => {
  let browser: Browser;

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
  });

  afterAll(async () => {
    await browser?.close();
  });

  it("renders the diagram and shows the seeded violation with its events in red", async () => {
    const recorder = new TraceRecorder();
    const result = await simulateConsensus({
      seed: 4,
      validators: 4,
      byzantine: 1,
      mislabelByzantine: true,
      trace: recorder,
    });
    expect(result.violation?.invariant).toBe("accusation");
    const file = join(mkdtempSync(join(tmpdir(), "chaindb-trace-")), "trace.html");
    writeFileSync(file, renderTraceHtml(recorder.finish("checker self-test, seed 4")));

    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const requests: string[] = [];
    const errors: string[] = [];
    page.on("request", (r) => void (r.url().startsWith("file:") || requests.push(r.url())));
    page.on("pageerror", (e) => void errors.push(e.message));
    await page.goto(pathToFileURL(file).href);

    const svg = await page.$eval("svg.trace", (s) => ({
      width: s.getBoundingClientRect().width,
      height: s.getBoundingClientRect().height,
    }));
    expect(svg.width).toBeGreaterThan(900);
    expect(svg.height).toBeGreaterThan(200);
    const lanes = await page.$$eval("svg.trace g.lane", (gs) =>
      gs.map((g) => [g.getAttribute("data-node"), g.getBoundingClientRect().width]),
    );
    expect(lanes.map(([id]) => id)).toEqual(["n0", "n1", "n2", "n3"]);
    for (const [, width] of lanes) expect(width).toBeGreaterThan(800);
    expect(await page.$$eval("svg.trace g.msg.delivered", (gs) => gs.length)).toBe(
      recorder.trace.messages.filter((m) => m.fate === "delivered").length,
    );

    expect(await page.textContent(".violation-box")).toContain("violated: accusation");
    // The page scrolls the diagram to the violation: its line is inside the visible part.
    const seen = await page.evaluate(() => {
      const line = document.querySelector("g.violation line")!.getBoundingClientRect();
      const box = document.querySelector(".scroll")!.getBoundingClientRect();
      return { inside: line.left >= box.left && line.right <= box.right, height: line.height };
    });
    expect(seen.inside).toBe(true);
    expect(seen.height).toBeGreaterThan(150);
    const red = await page.$$eval("svg.trace g.offending line, svg.trace g.offending circle", (els) =>
      els.map((e) => getComputedStyle(e).stroke || e.getAttribute("stroke")),
    );
    expect(red.length).toBeGreaterThan(0);
    expect(red.filter((c) => c === "rgb(220, 38, 38)" || c === "rgb(127, 29, 29)").length).toBe(red.length);

    const png = await page.screenshot({ fullPage: true });
    expect(png.length).toBeGreaterThan(10_000);
    expect(requests).toEqual([]);
    expect(errors).toEqual([]);
    await page.close();
  });
});
