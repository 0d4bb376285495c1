/**
 * A plain-text chart of cost against a count on a log10 x axis, for the terminal and the Markdown
 * reports of `chaindb bench state` (issue 11 part 5): one mark per measured point, dots between
 * the points of a series, a linear y axis from 0, decade ticks (1k, 10k, 1M …) on x. ASCII only,
 * so it reads the same in a terminal, a log file and a Markdown code block.
 * @module
 */

/** One line of the chart: its legend name, the character of its points, and the points. */
export interface ChartSeries {
  readonly name: string;
  readonly mark: string;
  readonly points: ReadonlyArray<{ readonly x: number; readonly y: number }>;
}

/** What {@link logChart} draws. */
export interface LogChartOptions {
  readonly title: string;
  readonly series: readonly ChartSeries[];
  /** Plot columns (default 56). */
  readonly width?: number;
  /** Plot rows (default 10). */
  readonly height?: number;
}

const LABEL = 8;

/** 1500 → "1.5k", 2e6 → "2M", 0.25 → "0.25": short labels for counts and axis values. */
export function shortNumber(v: number): string {
  const trim = (x: number) => String(Number(x.toPrecision(3)));
  if (v >= 1e9) return `${trim(v / 1e9)}G`;
  if (v >= 1e6) return `${trim(v / 1e6)}M`;
  if (v >= 1e3) return `${trim(v / 1e3)}k`;
  return trim(v);
}

/** The smallest of 1, 2, 5 × 10^k at or above `v` (the y axis top), 1 for nothing to show. */
export function niceCeil(v: number): number {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  return [1, 2, 5, 10].map((m) => m * p).find((c) => c >= v * (1 - 1e-12))!;
}

/** The chart as lines of text (no trailing newline). Points with x ≤ 0 or a non-finite y are left out. */
export function logChart(options: LogChartOptions): string {
  const width = options.width ?? 56;
  const height = options.height ?? 10;
  const series = options.series.map((s) => ({
    ...s,
    points: s.points.filter((p) => p.x > 0 && Number.isFinite(p.y)).sort((a, b) => a.x - b.x),
  }));
  const all = series.flatMap((s) => s.points);
  if (all.length === 0) return `${options.title}\n(no points)`;
  const lx = all.map((p) => Math.log10(p.x));
  let lo = Math.floor(Math.min(...lx));
  let hi = Math.ceil(Math.max(...lx));
  if (hi === lo) ((lo -= 0.5), (hi += 0.5));
  const ymax = niceCeil(Math.max(...all.map((p) => p.y)));
  const col = (x: number) => Math.round(((Math.log10(x) - lo) / (hi - lo)) * (width - 1));
  const row = (y: number) => Math.round((Math.max(0, y) / ymax) * (height - 1));
  const grid = Array.from({ length: height }, () => Array<string>(width).fill(" "));
  const put = (r: number, c: number, ch: string) => {
    const cell = grid[height - 1 - r]![c]!;
    grid[height - 1 - r]![c] = cell === " " || cell === "." ? ch : cell === ch ? ch : "*";
  };
  for (const s of series)
    s.points.slice(1).forEach((p, i) => {
      const q = s.points[i]!;
      const [c0, c1] = [col(q.x), col(p.x)];
      for (let c = c0 + 1; c < c1; c++) {
        const y = q.y + ((p.y - q.y) * (c - c0)) / (c1 - c0);
        if (grid[height - 1 - row(y)]![c] === " ") grid[height - 1 - row(y)]![c] = ".";
      }
    });
  for (const s of series) for (const p of s.points) put(row(p.y), col(p.x), s.mark);
  const collided = grid.some((cells) => cells.includes("*"));
  const lines = [options.title];
  grid.forEach((cells, i) => {
    const r = height - 1 - i;
    const label = r === height - 1 ? shortNumber(ymax) : r === 0 ? "0" : "";
    lines.push(`${label.padStart(LABEL)} |${cells.join("")}`.trimEnd());
  });
  lines.push(`${" ".repeat(LABEL)} +${"-".repeat(width)}`);
  lines.push(`${" ".repeat(LABEL + 2)}${decadeTicks(lo, hi, width)}`.trimEnd());
  lines.push(
    `${" ".repeat(LABEL + 2)}accounts (log scale);  ${[...series.map((s) => `${s.mark} ${s.name}`), ...(collided ? ["* several"] : [])].join("   ")}`,
  );
  return lines.join("\n");
}

/** Labels of the powers of ten in [lo, hi] at their columns (a label that would overlap is dropped). */
function decadeTicks(lo: number, hi: number, width: number): string {
  let out = "";
  for (let d = Math.ceil(lo); d <= hi; d++) {
    const c = Math.round(((d - lo) / (hi - lo)) * (width - 1));
    const label = shortNumber(10 ** d);
    const at = Math.max(0, Math.min(c - Math.floor((label.length - 1) / 2), width + 2 - label.length));
    if (at > out.length || out.length === 0) out = out.padEnd(at) + label;
  }
  return out;
}
