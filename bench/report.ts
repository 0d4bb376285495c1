/**
 * The HTML report: one self-contained page (inline CSS and SVG, no scripts, no network) with a
 * bar chart per suite and group (median bar, min–max whisker), a chart of ratios to baselines, the
 * target checks, and a table of every figure.
 * @module
 */
import { formatRate, type BenchRun, type CaseResult, type SuiteResult } from "./lib.ts";

const BAR_HEIGHT = 22;
// About 6.6 px per character of the 12 px labels: wide enough for the longest label of a chart.
const labelWidth = (labels: string[]) => Math.min(560, Math.max(160, Math.ceil(6.6 * Math.max(...labels.map((l) => l.length))) + 12));
const PLOT_WIDTH = 420;
const VALUE_WIDTH = 150;

/** Renders the whole report. */
export function renderReport(run: BenchRun): string {
  const m = run.machine;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>chaindb benchmark report</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:2em auto;max-width:960px;color:#222}
h1{font-size:1.6em}h2{margin-top:2em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}
td:first-child,th:first-child{text-align:left}.met{color:#176f2c}.miss{color:#b3261e;font-weight:bold}
svg text{font:12px system-ui,sans-serif}.note{color:#555}
</style></head><body>
<h1>chaindb benchmark report</h1>
<p>${esc(m.cpu)} · ${m.cores} cores · ${esc(m.platform)} · ${esc(m.runtime)} · ${esc(run.date)}${run.quick ? " · <b>quick run</b> (short samples: indicative only)" : ""}</p>
<p class="note">Every comparison is measured side by side in the same run, in rounds; bars show the median, whiskers the min–max over rounds.</p>
${run.suites.map(renderSuite).join("\n")}
</body></html>
`;
}

function renderSuite(suite: SuiteResult): string {
  const groups = new Map<string, CaseResult[]>();
  for (const c of suite.cases) {
    const key = `${c.group} (${c.unit})`;
    groups.set(key, [...(groups.get(key) ?? []), c]);
  }
  const charts = [...groups].map(([title, cases]) => chart(`${suite.suite}: ${title}`, cases, (c) => [c.median, c.min, c.max], (v) => `${formatRate(v)}${cases[0]!.unit}`));
  const ratioCases = suite.cases.filter((c) => c.ratio !== undefined);
  if (ratioCases.length) {
    const byId = new Map(suite.cases.map((c) => [c.id, c]));
    const ratioChart = chart(
      `${suite.suite}: ratio to baseline (medians)`,
      ratioCases.map((c) => ({ ...c, label: `${c.label} / ${byId.get(c.baseline!)?.label ?? c.baseline}` })),
      (c) => [c.ratio!, c.ratio!, c.ratio!],
      (v) => `${v.toFixed(2)}×`,
      1,
    );
    charts.push(ratioChart);
  }
  return `<section class="suite" data-suite="${esc(suite.suite)}">
<h2>${esc(suite.title)}</h2>
${charts.join("\n")}
${targetsTable(suite)}
${figuresTable(suite)}
${suite.notes.map((n) => `<p class="note">${esc(n)}</p>`).join("\n")}
</section>`;
}

function chart(title: string, cases: CaseResult[], values: (c: CaseResult) => [number, number, number], fmt: (v: number) => string, reference?: number): string {
  const max = Math.max(...cases.map((c) => values(c)[2]), reference ?? 0) || 1;
  const LABEL_WIDTH = labelWidth(cases.map((c) => c.label));
  const x = (v: number) => LABEL_WIDTH + (v / max) * PLOT_WIDTH;
  const height = cases.length * (BAR_HEIGHT + 6) + 30;
  const width = LABEL_WIDTH + PLOT_WIDTH + VALUE_WIDTH;
  const rows = cases.map((c, i) => {
    const [mid, lo, hi] = values(c);
    const y = 24 + i * (BAR_HEIGHT + 6);
    const cy = y + BAR_HEIGHT / 2;
    return `<g class="bar"><text x="${LABEL_WIDTH - 6}" y="${cy + 4}" text-anchor="end">${esc(c.label)}</text>
<rect x="${LABEL_WIDTH}" y="${y}" width="${Math.max(1, x(mid) - LABEL_WIDTH).toFixed(1)}" height="${BAR_HEIGHT}" fill="#4a78c2"/>
<line x1="${x(lo).toFixed(1)}" x2="${x(hi).toFixed(1)}" y1="${cy}" y2="${cy}" stroke="#111" stroke-width="1.5"/>
<text x="${(x(hi) + 6).toFixed(1)}" y="${cy + 4}">${esc(fmt(mid))}</text></g>`;
  });
  const ref = reference === undefined ? "" : `<line x1="${x(reference)}" x2="${x(reference)}" y1="18" y2="${height - 4}" stroke="#b3261e" stroke-dasharray="4 3"/>`;
  return `<figure><svg class="chart" role="img" aria-label="${esc(title)}" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" xmlns="http://www.w3.org/2000/svg">
<text x="0" y="14" font-weight="bold">${esc(title)}</text>${ref}
${rows.join("\n")}
</svg></figure>`;
}

function targetsTable(suite: SuiteResult): string {
  if (!suite.targets.length) return "";
  const rows = suite.targets.map((t) => `<tr><td>${esc(t.name)}</td><td>${esc(t.want)}</td><td>${esc(t.measured)}</td><td class="${t.pass ? "met" : "miss"}">${t.pass ? "met" : "missed"}</td></tr>`);
  return `<table class="targets"><tr><th>target</th><th>want</th><th>measured</th><th></th></tr>${rows.join("")}</table>`;
}

function figuresTable(suite: SuiteResult): string {
  const rows = suite.cases.map(
    (c) =>
      `<tr><td>${esc(c.label)}</td><td>${formatRate(c.median)}${esc(c.unit)}</td><td>${formatRate(c.min)}–${formatRate(c.max)}</td><td>${c.ratio === undefined ? "" : c.ratio.toFixed(2) + "×"}</td><td>${c.samples.map((s) => formatRate(s)).join(", ")}</td></tr>`,
  );
  return `<table class="figures"><tr><th>case</th><th>median</th><th>min–max</th><th>ratio</th><th>samples</th></tr>${rows.join("")}</table>`;
}

function esc(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}
