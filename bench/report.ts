/**
 * The HTML report: one self-contained page (inline CSS and SVG, no scripts, no network).
 *
 * Order: a summary (headline ratios: WASM vs TS per hot path, chaindb vs the best peer, serial vs
 * parallel beside the machine's measured parallel ceiling, missed targets), the WASM-vs-TS
 * section (one chart per hot path), then every suite with its charts, targets and figures.
 *
 * Charts are hand-written SVG rather than Vega-Lite: vega-lite 6 declares Node ≥ 22 in its
 * engines field (chaindb supports Node 20.19), rendering it to static SVG in Node pulls in a
 * canvas-free text-measuring fallback that guesses label widths anyway, and the charts here are
 * one shape (horizontal bars with an axis), which ~200 lines draw exactly as we want:
 * - every bar starts at the same x in every chart (labels sit above their bar, full width),
 *   so bar length never depends on label width;
 * - charts of one suite with the same scale key (default: the unit) share one axis, drawn with
 *   ticks and the unit; ratio charts use one logarithmic axis (1× in the middle) for the page;
 * - labels wrap at word boundaries to the chart width, so none is clipped
 *   (test/browser/report.browser.test.ts checks every text box against its SVG viewport).
 * @module
 */
import {
  formatQuantity,
  formatRate,
  missedTargets,
  type BenchRun,
  type CaseResult,
  type SuiteResult,
} from "./lib.ts";
import { headlines, hotPaths, parallelRows, type HotPath } from "./report-data.ts";

const WIDTH = 760;
const X0 = 8;
const X1 = 540;
const ROW = 40;
const BAR = 14;
const TOP = 26;
const AXIS = 34;
/** Conservative width of a 12 px system-ui character, for wrapping (real average: ~6.4 px). */
const CHAR_PX = 7.4;

/** A horizontal axis: where a value goes, where bars start, and its ticks. */
interface Scale {
  x(v: number): number;
  kind: "linear" | "log";
  /** Where bars start: 0 on a linear axis, 1× on a ratio axis. */
  origin: number;
  ticks: number[];
  tickLabel(v: number): string;
  unit: string;
}

/** Renders the whole report. */
export function renderReport(run: BenchRun): string {
  const m = run.machine;
  const paths = hotPaths(run);
  const ratioScale = logScale(paths.flatMap((p) => p.rows.map((r) => r.ratio)));
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>chaindb benchmark report</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:2em auto;max-width:1120px;padding:0 1em;color:#222}
h1{font-size:1.6em}h2{margin-top:2em;border-bottom:1px solid #ccc}h3{margin:1.4em 0 .3em}
.scroll{overflow-x:auto}table{border-collapse:collapse;margin:.6em 0}
td,th{border:1px solid #ddd;padding:3px 8px;text-align:right;white-space:nowrap}
td:first-child,th:first-child,td.text,th.text{text-align:left}.met{color:#176f2c}.miss{color:#b3261e;font-weight:bold}
svg text{font:12px system-ui,sans-serif;fill:#222}svg .tick{fill:#666}svg .title{font-weight:bold}
figure{margin:.8em 0}.note{color:#555}.why{margin:.2em 0 1.2em;max-width:760px}
</style></head><body>
<h1>chaindb benchmark report</h1>
<p>${esc(m.cpu)} · ${m.cores} cores · ${esc(m.platform)} · ${esc(m.runtime)} · ${esc(run.date)}${run.quick ? " · <b>quick run</b> (short samples: indicative only)" : ""}</p>
<p class="note">Every comparison is measured side by side in the same run; bars show the median, whiskers the min–max over rounds.</p>
${summary(run, paths)}
${wasmVsTs(paths, ratioScale)}
${run.suites.map((s) => renderSuite(s, run)).join("\n")}
</body></html>
`;
}

function summary(run: BenchRun, paths: HotPath[]): string {
  // Peer notes ("no root") go under the table, marked by a number, so the table stays narrow.
  const notes: string[] = [];
  const mark = (note: string | undefined) =>
    note === undefined
      ? ""
      : `<sup>${notes.includes(note) ? notes.indexOf(note) + 1 : notes.push(note)}</sup>`;
  const rows = headlines(paths).map(
    (h) =>
      `<tr><td>${esc(h.path)}</td><td>${esc(h.wasm)}</td><td>${esc(h.ts)}</td><td><b>${esc(h.wasmOverTs)}</b></td><td class="text">${esc(h.peer)}${mark(h.peerNote)}</td><td>${esc(h.peerRate)}</td><td><b>${esc(h.chaindbOverPeer)}</b></td></tr>`,
  );
  const footnotes = notes.map((n, i) => ` ${i + 1}: ${esc(n)}.`).join("");
  const par = parallelRows(run);
  const ceiling = run.ceiling;
  const parRows = par.map(
    (p) =>
      `<tr><td>${esc(p.what)}</td><td><b>${p.ratio.toFixed(2)}×</b></td><td>${ceiling ? `${ceiling.median.toFixed(2)}×` : "not measured"}</td><td class="text">${esc(p.detail)}</td></tr>`,
  );
  const missed = missedTargets(run.suites);
  const total = run.suites.reduce((n, s) => n + s.targets.length, 0);
  return `<section class="summary"><h2>Summary</h2>
${
  rows.length
    ? `<h3>WASM vs TS, and chaindb vs the best peer</h3><div class="scroll"><table class="headlines"><tr><th>hot path</th><th>wasm</th><th>ts</th><th>wasm ÷ ts</th><th class="text">best peer</th><th>peer</th><th>chaindb ÷ peer</th></tr>${rows.join("")}</table></div>
<p class="note">chaindb ÷ peer uses the faster of chaindb's two engines. Peers apply the same transfers with the same rules but compute no state root and check no signatures (see each suite's notes).${footnotes}</p>`
    : ""
}
${
  par.length
    ? `<h3>Serial vs parallel</h3><div class="scroll"><table class="parallel"><tr><th>workload</th><th>2 workers / baseline</th><th>machine ceiling</th><th class="text">measured as</th></tr>${parRows.join("")}</table></div>
<p class="why">The <b>machine ceiling</b> is what a CPU-bound loop with nothing shared gained from a second thread in this run${ceiling ? ` (${ceiling.median.toFixed(2)}× median, ${ceiling.min.toFixed(2)}–${ceiling.max.toFixed(2)} over ${ceiling.samples.length} rounds before and after the suites)` : ""}: other work shares this machine's cores, so no 2-worker ratio can exceed it. A ratio below 1× means handing work to the workers (copying blocks and state, messages, waiting for the slowest) cost more than the second thread gave: expected when little of the block is parallel (two accounts: every transfer conflicts) or when the ceiling itself is near 1×.</p>`
    : ""
}
<h3>Targets</h3>
<p>${missed.length === 0 ? `All ${total} targets met.` : `${missed.length} of ${total} targets missed (\`chaindb bench --check\` exits 1 on a miss):`}</p>
${missed.length ? `<ul class="missed">${missed.map((x) => `<li class="miss">${esc(x)}</li>`).join("")}</ul>` : ""}
</section>`;
}

function wasmVsTs(paths: HotPath[], scale: Scale): string {
  if (!paths.length) return "";
  const figures = paths.map((p) => {
    const who = (r: HotPath["rows"][number]) =>
      r.kind === "peer" ? `best peer: ${r.who}${r.note ? ` (${r.note})` : ""}` : r.who;
    const cases = p.rows.map((r) => ({
      label: `${who(r)}: ${formatQuantity(r.rate, p.unit)}`,
      value: r.ratio,
    }));
    return `<h3>${esc(p.name)}</h3>${chart(`${p.name}: × the ts engine`, cases, scale, "1.0× = the ts engine in this run")}<p class="why">${esc(p.why)}</p>`;
  });
  return `<section class="wasm-vs-ts"><h2>WASM vs TypeScript, per hot path</h2>
<p class="note">Each chart: the wasm engine, the ts engine and the best peer on the same work, as multiples of the ts engine in the same run (one logarithmic axis for all charts; 1× is the ts engine).</p>
${figures.join("\n")}
</section>`;
}

function renderSuite(suite: SuiteResult, run: BenchRun): string {
  const groups = new Map<string, CaseResult[]>();
  for (const c of suite.cases) groups.set(c.group, [...(groups.get(c.group) ?? []), c]);
  const scales = new Map<string, Scale>();
  for (const c of suite.cases.filter((x) => !x.unavailable)) {
    const key = scaleKey(c);
    if (scales.has(key)) continue;
    const peers = suite.cases.filter((x) => scaleKey(x) === key && !x.unavailable);
    scales.set(key, linearScale(Math.max(...peers.map((x) => x.max)), c.unit));
  }
  const charts = [...groups].map(([group, cases]) => {
    const scale = scales.get(scaleKey(cases[0]!)) ?? linearScale(1, cases[0]!.unit);
    const rows = cases.map((c) => ({
      label: c.label,
      value: c.median,
      lo: c.min,
      hi: c.max,
      unavailable: c.unavailable,
      text: formatQuantity(c.median, c.unit),
    }));
    return chart(`${suite.suite}: ${group} (${cases[0]!.unit.trim()})`, rows, scale);
  });
  const ratioCases = suite.cases.filter(
    (c) => c.ratio !== undefined && Number.isFinite(c.ratio) && c.ratio > 0,
  );
  if (ratioCases.length) {
    const byId = new Map(suite.cases.map((c) => [c.id, c]));
    const rows = ratioCases.map((c) => ({
      label: `${c.label} / ${byId.get(c.baseline!)?.label ?? c.baseline}`,
      value: c.ratio!,
    }));
    charts.push(
      chart(`${suite.suite}: ratio to baseline (medians)`, rows, logScale(rows.map((r) => r.value))),
    );
  }
  const par = parallelRows({ ...run, suites: [suite] });
  const ceilingNote =
    par.length && run.ceiling
      ? `<p class="why">Machine parallel ceiling in this run: ${run.ceiling.median.toFixed(2)}× (a CPU-bound loop, 2 threads vs 1) — beside ${par.map((p) => `${p.what} ${p.ratio.toFixed(2)}×`).join(", ")}. A 2-worker ratio cannot exceed it; below 1× the workers' coordination cost more than the second thread gave.</p>`
      : "";
  return `<section class="suite" data-suite="${esc(suite.suite)}">
<h2>${esc(suite.title)}</h2>
${ceilingNote}
${charts.join("\n")}
${targetsTable(suite)}
${figuresTable(suite)}
${suite.notes.map((n) => `<p class="note">${esc(n)}</p>`).join("\n")}
</section>`;
}

function scaleKey(c: CaseResult): string {
  return `${c.scale ?? ""}|${c.unit.trim()}`;
}

/** A bar row: `value` on the scale, optional whisker, optional text after the bar. */
interface Row {
  label: string;
  value: number;
  lo?: number;
  hi?: number;
  text?: string;
  unavailable?: string | undefined;
}

function chart(title: string, rows: Row[], scale: Scale, caption?: string): string {
  let y = TOP;
  const body: string[] = [];
  for (const r of rows) {
    const lines = wrap(
      r.unavailable ? `${r.label} — not measured: ${r.unavailable}` : r.label,
      WIDTH - 2 * X0,
    );
    body.push(
      `<text x="${X0}" y="${y + 12}">${lines.map((l, i) => `<tspan x="${X0}" dy="${i === 0 ? 0 : 14}">${esc(l)}</tspan>`).join("")}</text>`,
    );
    y += 14 * lines.length + 2;
    if (!r.unavailable) body.push(bar(r, scale, y));
    y += ROW - 16;
  }
  const plotBottom = y;
  const height = plotBottom + AXIS + (caption ? 16 : 0);
  return `<figure><svg class="chart" data-scale="${scale.kind}" role="img" aria-label="${esc(title)}" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" xmlns="http://www.w3.org/2000/svg">
<text class="title" x="${X0}" y="16">${esc(title)}</text>
${axis(scale, TOP - 4, plotBottom)}
${body.join("\n")}
${caption ? `<text class="tick" x="${X0}" y="${height - 4}">${esc(caption)}</text>` : ""}
</svg></figure>`;
}

function bar(r: Row, scale: Scale, y: number): string {
  const a = scale.x(scale.origin);
  const b = scale.x(r.value);
  const left = Math.min(a, b);
  const width = Math.max(1, Math.abs(b - a));
  const cy = y + BAR / 2;
  const whisker =
    r.lo !== undefined && r.hi !== undefined && r.hi > r.lo
      ? `<line class="whisker" x1="${scale.x(r.lo).toFixed(1)}" x2="${scale.x(r.hi).toFixed(1)}" y1="${cy}" y2="${cy}" stroke="#111" stroke-width="1.5"/>`
      : "";
  const end = Math.max(a, b, r.hi !== undefined ? scale.x(r.hi) : 0);
  const text = r.text ?? formatQuantity(r.value, scale.unit);
  return `<rect class="bar" x="${left.toFixed(1)}" y="${y}" width="${width.toFixed(1)}" height="${BAR}" fill="${r.value < scale.origin ? "#c2794a" : "#4a78c2"}"/>${whisker}
<text class="value" x="${(end + 6).toFixed(1)}" y="${cy + 4}">${esc(text)}</text>`;
}

function axis(scale: Scale, top: number, bottom: number): string {
  const parts = scale.ticks.map((t, i) => {
    const x = scale.x(t).toFixed(1);
    const anchor = i === 0 && scale.x(t) - X0 < 20 ? "start" : "middle";
    return `<line x1="${x}" x2="${x}" y1="${top}" y2="${bottom}" stroke="${t === scale.origin && scale.origin !== 0 ? "#b3261e" : "#e3e3e3"}"${t === scale.origin && scale.origin !== 0 ? ' stroke-dasharray="4 3"' : ""}/>
<text class="tick" x="${x}" y="${bottom + 14}" text-anchor="${anchor}">${esc(scale.tickLabel(t))}</text>`;
  });
  // The unit follows the last tick label (its width estimated on the safe side); a ratio axis
  // carries "×" in every tick label instead.
  const last = scale.ticks[scale.ticks.length - 1]!;
  const unitX = scale.x(last) + (scale.tickLabel(last).length * CHAR_PX) / 2 + 6;
  const unit =
    scale.kind === "log"
      ? ""
      : `<text class="tick" x="${unitX.toFixed(1)}" y="${bottom + 14}">${esc(scale.unit.trim())}</text>`;
  return `<g class="axis">${parts.join("\n")}<line x1="${X0}" x2="${X1}" y1="${bottom}" y2="${bottom}" stroke="#888"/>${unit}</g>`;
}

/** A linear axis from 0 to a round number at or above `max`, with 3–6 ticks. */
function linearScale(max: number, unit: string): Scale {
  const top = max > 0 && Number.isFinite(max) ? max : 1;
  const step0 = 10 ** Math.floor(Math.log10(top / 5));
  const step = [1, 2, 2.5, 5, 10].map((k) => k * step0).find((s) => top / s <= 5)!;
  const end = Math.ceil(top / step) * step;
  const ticks = Array.from({ length: Math.round(end / step) + 1 }, (_, i) => i * step);
  return {
    kind: "linear",
    x: (v) => X0 + (Math.max(0, v) / end) * (X1 - X0),
    origin: 0,
    ticks,
    tickLabel: (v) => (v === 0 ? "0" : formatRate(v).replace(/\.0+ /, " ").replace(/\.0+$/, "")),
    unit,
  };
}

/** A logarithmic ratio axis spanning every value and 1×, with ticks at 1, 2, 5 × 10^k. */
function logScale(values: number[]): Scale {
  const ok = values.filter((v) => v > 0 && Number.isFinite(v));
  const lo = 10 ** Math.floor(Math.log10(Math.min(1, ...ok)));
  const hi = 10 ** Math.ceil(Math.log10(Math.max(1.01, ...ok)));
  const span = Math.log10(hi) - Math.log10(lo);
  const ticks: number[] = [];
  for (let e = Math.log10(lo); e <= Math.log10(hi) + 1e-9; e++)
    for (const k of span > 3 ? [1] : [1, 2, 5]) if (k * 10 ** e <= hi * 1.0001) ticks.push(k * 10 ** e);
  const x = (v: number) =>
    X0 + ((Math.log10(Math.min(hi, Math.max(lo, v))) - Math.log10(lo)) / span) * (X1 - X0);
  return { kind: "log", x, origin: 1, ticks, tickLabel: (v) => `${Number(v.toPrecision(2))}×`, unit: "×" };
}

/** Splits `text` at spaces into lines of at most `px` pixels (estimated), never cutting words short of that. */
function wrap(text: string, px: number): string[] {
  const max = Math.floor(px / CHAR_PX);
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line && line.length + 1 + word.length > max) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
    while (line.length > max) {
      lines.push(line.slice(0, max));
      line = line.slice(max);
    }
  }
  return [...lines, line];
}

function targetsTable(suite: SuiteResult): string {
  if (!suite.targets.length) return "";
  const rows = suite.targets.map(
    (t) =>
      `<tr><td>${esc(t.name)}</td><td>${esc(t.want)}</td><td>${esc(t.measured)}</td><td class="${t.pass ? "met" : "miss"}">${t.pass ? "met" : "missed"}</td></tr>`,
  );
  return `<div class="scroll"><table class="targets"><tr><th>target</th><th>want</th><th>measured</th><th></th></tr>${rows.join("")}</table></div>`;
}

function figuresTable(suite: SuiteResult): string {
  const rows = suite.cases.map((c) =>
    c.unavailable
      ? `<tr><td>${esc(c.label)}</td><td colspan="4">not measured: ${esc(c.unavailable)}</td></tr>`
      : `<tr><td>${esc(c.label)}</td><td>${esc(formatQuantity(c.median, c.unit))}</td><td>${esc(`${formatRate(c.min)} – ${formatRate(c.max)}`)}</td><td>${c.ratio === undefined ? "" : c.ratio.toFixed(2) + "×"}</td><td>${esc(c.samples.map((s) => formatRate(s)).join(", "))}</td></tr>`,
  );
  return `<div class="scroll"><table class="figures"><tr><th>case</th><th>median</th><th>min – max</th><th>ratio</th><th>samples</th></tr>${rows.join("")}</table></div>`;
}

function esc(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}
