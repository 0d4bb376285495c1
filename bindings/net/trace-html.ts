/**
 * Renders a {@link Trace} as a self-contained HTML page: an inline SVG space-time diagram (Lamport
 * 1978, figure 1, turned on its side) with a lane per node and virtual time running right; messages
 * as arrows from send to delivery (lost and dropped ones dashed, ending in a cross); crashes and
 * partitions shaded on the lanes they cut off; protocol steps as marks on their lane, with a band
 * per height from its first step to its first commit; and a violation as a red line with the events
 * it names (its nodes' messages and steps at its height) drawn in red. No script, no network, no
 * external file: tooltips are SVG `<title>`s. A pure function of its input, so it is unit-tested.
 * @module
 */
import { ChainDbError, ErrorCode } from "../util/index.ts";
import type { Trace, TraceFault, TraceMessage, TraceStep, TraceViolation } from "./trace.ts";

/** Options of {@link renderTraceHtml}. */
export interface TraceRenderOptions {
  /** Draw only events in this window of virtual ms (default: the whole run, cut by `messagesMax`). */
  fromMs?: number;
  toMs?: number;
  /** Bound on drawn messages; a longer window is cut (before a violation: the messages leading to it). Default 2000. */
  messagesMax?: number;
}

/** Default bound on drawn messages: about 600 KB of page and a second of layout in Chromium. */
export const TRACE_DRAWN_MESSAGES_MAX = 2000;

const LANE_H = 56;
const LEFT = 80;
const TOP = 64;
const RIGHT = 40;

interface Layout {
  readonly from: number;
  readonly to: number;
  readonly width: number;
  readonly lane: Map<string, number>;
  readonly height: number;
  x(t: number): number;
  y(node: string): number;
}

/** The drawn window: the requested one, cut so it holds at most `messagesMax` messages, and why it was cut. */
function chooseWindow(
  trace: Trace,
  o: TraceRenderOptions,
): { from: number; to: number; note: string | null } {
  const max = o.messagesMax ?? TRACE_DRAWN_MESSAGES_MAX;
  if (!(Number.isInteger(max) && max >= 1))
    throw new ChainDbError(ErrorCode.BAD_RANGE, `"messagesMax" expected an integer >= 1, got ${max}`);
  let from = o.fromMs ?? 0;
  let to = o.toMs ?? Math.max(trace.endAt, 1);
  if (!(from >= 0 && to > from))
    throw new ChainDbError(ErrorCode.BAD_RANGE, `trace window expected 0 <= from < to, got ${from}..${to}`);
  const inside = trace.messages.filter((m) => m.sentAt >= from && m.sentAt <= to);
  if (inside.length <= max) return { from, to, note: null };
  const violation = trace.violations[0];
  const explicit = o.fromMs !== undefined || o.toMs !== undefined;
  if (violation !== undefined && !explicit && violation.at >= from && violation.at <= to) {
    // The messages leading to the violation are the ones worth seeing (and a margin after it).
    to = Math.min(to, violation.at + Math.max(1, (violation.at - from) * 0.02));
    const before = inside.filter((m) => m.sentAt <= to);
    from = before.length > max ? before[before.length - max]!.sentAt : from;
  } else {
    to = inside[max - 1]!.sentAt;
  }
  const shown = trace.messages.filter((m) => m.sentAt >= from && m.sentAt <= to).length;
  return {
    from,
    to,
    note: `showing ${ms(from)}–${ms(to)} of ${ms(trace.endAt)} (${shown} of ${inside.length} messages; at most ${max} are drawn): pass a window (--trace-window <from>..<to> in ms) for another part`,
  };
}

/** 3 px per virtual ms keeps a 1–10 ms hop visible; 7 px per message keeps arrows apart; 24 000 px at most. */
function layoutFor(trace: Trace, from: number, to: number, messages: number): Layout {
  const lane = new Map(trace.nodes.map((id, i) => [id, i]));
  const width = Math.round(Math.min(24_000, Math.max(960, messages * 7, (to - from) * 3)));
  const span = width - LEFT - RIGHT;
  return {
    from,
    to,
    width,
    lane,
    height: TOP + trace.nodes.length * LANE_H + 40,
    x: (t) => LEFT + ((Math.min(Math.max(t, from), to) - from) / (to - from)) * span,
    y: (node) => TOP + LANE_H / 2 + (lane.get(node) ?? 0) * LANE_H,
  };
}

/** Renders the trace as a complete HTML page. */
export function renderTraceHtml(trace: Trace, options: TraceRenderOptions = {}): string {
  const { from, to, note } = chooseWindow(trace, options);
  const messages = trace.messages.filter((m) => m.sentAt >= from && m.sentAt <= to);
  const L = layoutFor(trace, from, to, messages.length);
  const violation = trace.violations[0];
  const colors = kindColors(messages);
  const svg = [
    `<svg class="trace" xmlns="http://www.w3.org/2000/svg" width="${L.width}" height="${L.height}" viewBox="0 0 ${L.width} ${L.height}" role="img" aria-label="space-time diagram">`,
    MARKERS,
    ...drawFaults(trace.faults, trace.endAt, L),
    ...drawAxis(L),
    ...drawLanes(trace.nodes, L),
    ...drawHeights(trace.steps, L),
    ...messages.map((m) => drawMessage(m, L, violation, colors)),
    ...drawSteps(
      trace.steps.filter((s) => s.at >= from && s.at <= to),
      L,
      violation,
    ),
    ...trace.violations.filter((v) => v.at >= from && v.at <= to).map((v) => drawViolation(v, L)),
    `</svg>`,
  ].join("\n");
  // Lane names again in a column outside the scrolled area, so they stay in view when it scrolls.
  const names = `<svg class="names" xmlns="http://www.w3.org/2000/svg" width="${LEFT}" height="${L.height}">${trace.nodes.map((id) => `<text x="${LEFT - 12}" y="${L.y(id) + 4}" text-anchor="end">${esc(id)}</text>`).join("")}</svg>`;
  return page(
    trace,
    `${names}\n<div class="scroll">\n${svg}\n</div>`,
    note,
    messages,
    legend(colors, trace.steps),
  );
}

const MARKERS = `<defs>
<marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="context-stroke"/></marker>
<pattern id="hatch" width="8" height="8" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="8" height="8" fill="#e5e7eb"/><line x1="0" y1="0" x2="0" y2="8" stroke="#9ca3af" stroke-width="3"/></pattern>
</defs>`;

function drawAxis(L: Layout): string[] {
  const out = [
    `<g class="axis"><line x1="${LEFT}" y1="${TOP - 8}" x2="${L.width - RIGHT}" y2="${TOP - 8}" stroke="#6b7280"/>`,
  ];
  const step = niceStep(((L.to - L.from) * 150) / (L.width - LEFT - RIGHT)); // a tick every ~150 px
  for (let t = Math.ceil(L.from / step) * step; t <= L.to; t += step) {
    const x = L.x(t).toFixed(1);
    out.push(
      `<line x1="${x}" y1="${TOP - 12}" x2="${x}" y2="${L.height - 40}" stroke="#f3f4f6"/><text x="${x}" y="${TOP - 16}" text-anchor="middle">${ms(t)}</text>`,
    );
  }
  out.push(
    `<text x="${L.width - RIGHT}" y="${TOP - 34}" text-anchor="end" class="dim">virtual time →</text></g>`,
  );
  return out;
}

function drawLanes(nodes: readonly string[], L: Layout): string[] {
  return nodes.map((id) => {
    const y = L.y(id);
    return `<g class="lane" data-node="${esc(id)}"><line x1="${LEFT}" y1="${y}" x2="${L.width - RIGHT}" y2="${y}" stroke="#111827" stroke-width="1.5"/><text x="${LEFT - 12}" y="${y + 4}" text-anchor="end" class="node">${esc(id)}</text></g>`;
  });
}

/** Crashes shade the node's lane until its restart; a partition tints each group's lanes until the heal. */
function drawFaults(faults: readonly TraceFault[], endAt: number, L: Layout): string[] {
  const out: string[] = [];
  const band = (node: string, a: number, b: number, cls: string, fill: string, title: string) => {
    if (b < L.from || a > L.to) return;
    const x = L.x(a),
      w = Math.max(2, L.x(b) - x),
      y = L.y(node) - LANE_H / 2 + 4;
    out.push(
      `<rect class="fault ${cls}" data-node="${esc(node)}" x="${x.toFixed(1)}" y="${y}" width="${w.toFixed(1)}" height="${LANE_H - 8}" fill="${fill}"><title>${esc(title)}</title></rect>`,
    );
  };
  faults.forEach((f, i) => {
    if (f.kind === "crash") {
      const back = faults.slice(i + 1).find((g) => g.kind === "restart" && g.node === f.node);
      band(
        f.node,
        f.at,
        back?.at ?? endAt,
        "crash",
        "url(#hatch)",
        `${f.node} crashed at ${ms(f.at)}${back ? `, restarted at ${ms(back.at)}` : ", not restarted"}`,
      );
    } else if (f.kind === "partition") {
      const end = faults.slice(i + 1).find((g) => g.kind === "heal" || g.kind === "partition")?.at ?? endAt;
      const sides = f.groups.map((g) => `{${g.join(", ")}}`).join(" | ");
      f.groups.forEach((g, k) =>
        g.forEach((node) =>
          band(
            node,
            f.at,
            end,
            `partition side-${k % 4}`,
            PARTITION_FILL[k % 4]!,
            `partition ${ms(f.at)}–${ms(end)}: ${sides}`,
          ),
        ),
      );
    }
  });
  return out;
}

const PARTITION_FILL = ["#fde68a", "#bfdbfe", "#fbcfe8", "#bbf7d0"];

/** A band per height above the lanes: from its first recorded step to its first commit. */
function drawHeights(steps: readonly TraceStep[], L: Layout): string[] {
  const spans = new Map<number, { a: number; b: number | null }>();
  for (const s of steps) {
    if (s.height === undefined) continue;
    const span = spans.get(s.height) ?? { a: s.at, b: null };
    span.a = Math.min(span.a, s.at);
    if (s.step === "commit" && span.b === null) span.b = s.at;
    spans.set(s.height, span);
  }
  const out: string[] = [];
  for (const [h, { a, b }] of spans) {
    const end = b ?? L.to;
    if (end < L.from || a > L.to) continue;
    const x = L.x(a),
      w = Math.max(2, L.x(end) - x);
    out.push(
      `<g class="height" data-height="${h}"><rect x="${x.toFixed(1)}" y="${TOP - 6}" width="${w.toFixed(1)}" height="8" fill="${h % 2 ? "#c7d2fe" : "#a5b4fc"}"><title>height ${h}: first step ${ms(a)}, ${b === null ? "no commit" : `first commit ${ms(b)}`}</title></rect><text x="${(x + 2).toFixed(1)}" y="${TOP + 10}" class="dim">h${h}</text></g>`,
    );
  }
  return out;
}

/** Colours of message kinds (a label's first word): Tendermint's fixed, others in order of appearance. */
const KIND_COLOR: Record<string, string> = { proposal: "#7c3aed", prevote: "#2563eb", precommit: "#059669" };
const PALETTE = ["#2563eb", "#059669", "#7c3aed", "#d97706", "#0891b2", "#be185d", "#4d7c0f"];
const OTHER = "#6b7280";

function kindColors(messages: readonly TraceMessage[]): Map<string, string> {
  const colors = new Map<string, string>();
  for (const m of messages) {
    const kind = m.label.split(" ")[0]!;
    if (!colors.has(kind)) colors.set(kind, KIND_COLOR[kind] ?? PALETTE[colors.size] ?? OTHER);
  }
  return colors;
}

/** An event the violation names: by one of its nodes, about its height (or its subject, e.g. a 2PC transaction). */
function offending(
  v: TraceViolation | undefined,
  node: string,
  e: { height?: number; subject?: string },
): boolean {
  if (v === undefined || !v.nodes.includes(node)) return false;
  return v.subject !== undefined ? e.subject === v.subject : v.height !== undefined && e.height === v.height;
}

function drawMessage(
  m: TraceMessage,
  L: Layout,
  v: TraceViolation | undefined,
  colors: Map<string, string>,
): string {
  const bad = offending(v, m.origin ?? m.from, m);
  const color = bad ? "#dc2626" : (colors.get(m.label.split(" ")[0]!) ?? OTHER);
  const x1 = L.x(m.sentAt),
    y1 = L.y(m.from),
    y2 = L.y(m.to);
  const title = `${m.from} → ${m.to}: ${m.label}${m.duplicate ? " (duplicate)" : ""}, sent ${ms(m.sentAt)}, ${m.fate}${m.endAt !== undefined ? ` at ${ms(m.endAt)}` : ""}`;
  const cls = `msg ${m.fate}${bad ? " offending" : ""}`;
  if (m.fate === "delivered" || (m.fate === "dropped" && m.endAt !== undefined)) {
    const x2 = L.x(m.endAt!);
    const dash = m.fate === "dropped" ? ` stroke-dasharray="4 3"` : "";
    const end = m.fate === "dropped" ? cross(x2, y2, "#9ca3af") : "";
    const arrow = m.fate === "delivered" ? ` marker-end="url(#arrow)"` : "";
    return `<g class="${cls}"><line x1="${x1.toFixed(1)}" y1="${y1}" x2="${x2.toFixed(1)}" y2="${y2}" stroke="${color}" stroke-width="${bad ? 2.5 : 1}"${dash}${arrow}/>${end}<title>${esc(title)}</title></g>`;
  }
  // Lost, unreachable or still in flight: a short dashed stub toward the target, ending in a cross.
  const x2 = x1 + 10,
    ym = y1 + (y2 - y1) * 0.4;
  const crossColor = m.fate === "lost" ? "#dc2626" : "#9ca3af";
  return `<g class="${cls}"><line x1="${x1.toFixed(1)}" y1="${y1}" x2="${x2.toFixed(1)}" y2="${ym.toFixed(1)}" stroke="${color}" stroke-dasharray="3 2"/>${m.fate === "in-flight" ? "" : cross(x2, ym, crossColor)}<title>${esc(title)}</title></g>`;
}

function cross(x: number, y: number, color: string): string {
  return `<path d="M${(x - 3).toFixed(1)},${(y - 3).toFixed(1)} l6,6 m0,-6 l-6,6" stroke="${color}" stroke-width="1.5"/>`;
}

const STEP_SHAPE: Record<string, string> = {
  propose: "P",
  prevote: "V",
  precommit: "C",
  commit: "✔",
  abort: "✖",
  evidence: "!",
};

/** Marks of one node that would overlap (propose and prevote in one instant) are set side by side. */
function drawSteps(steps: readonly TraceStep[], L: Layout, v: TraceViolation | undefined): string[] {
  const lastX = new Map<string, number>();
  return steps.map((s) => {
    const x = Math.max(L.x(s.at), (lastX.get(s.node) ?? -Infinity) + 16);
    lastX.set(s.node, x);
    return drawStep(s, x, L, v);
  });
}

function drawStep(s: TraceStep, at: number, L: Layout, v: TraceViolation | undefined): string {
  const bad = offending(v, s.node, s);
  const x = at.toFixed(1),
    y = L.y(s.node) - 14;
  const letter = STEP_SHAPE[s.step] ?? s.step.charAt(0).toUpperCase();
  const fill = bad ? "#dc2626" : s.step === "commit" ? "#111827" : "#ffffff";
  const ink = bad || s.step === "commit" ? "#ffffff" : "#111827";
  const label = `${s.node} ${s.step}${s.height !== undefined ? ` h${s.height}` : ""}${s.subject !== undefined ? ` ${s.subject}` : ""}${s.round !== undefined ? ` r${s.round}` : ""} at ${ms(s.at)}${s.detail ? `: ${s.detail}` : ""}`;
  return `<g class="step step-${esc(s.step)}${bad ? " offending" : ""}" data-node="${esc(s.node)}"><circle cx="${x}" cy="${y}" r="7" fill="${fill}" stroke="${bad ? "#7f1d1d" : "#111827"}"/><text x="${x}" y="${y + 3.5}" text-anchor="middle" class="mark" fill="${ink}">${letter}</text><title>${esc(label)}</title></g>`;
}

function drawViolation(v: TraceViolation, L: Layout): string {
  const x = L.x(v.at).toFixed(1);
  const lanes = v.nodes
    .map((n) => `<circle cx="${x}" cy="${L.y(n)}" r="9" fill="none" stroke="#dc2626" stroke-width="3"/>`)
    .join("");
  return `<g class="violation"><line x1="${x}" y1="${TOP - 8}" x2="${x}" y2="${L.height - 40}" stroke="#dc2626" stroke-width="2" stroke-dasharray="6 3"/>${lanes}<text x="${x}" y="${L.height - 24}" text-anchor="end" class="violation-label">✖ ${esc(v.invariant)}</text><title>${esc(`${v.invariant} violated at ${ms(v.at)}: ${v.detail}`)}</title></g>`;
}

function page(
  trace: Trace,
  svg: string,
  note: string | null,
  drawn: readonly TraceMessage[],
  legendHtml: string,
): string {
  const count = (fate: string) => trace.messages.filter((m) => m.fate === fate).length;
  const v = trace.violations[0];
  const faults = trace.faults.filter((f) => f.kind !== "heal" && f.kind !== "restart").length;
  const summary = `${trace.nodes.length} nodes · ${ms(trace.endAt)} of virtual time · ${trace.messages.length + trace.messagesUnrecorded} messages (${count("delivered")} delivered, ${count("lost")} lost, ${count("dropped")} dropped) · ${faults} faults · ${trace.steps.length} steps · ${drawn.length} messages drawn`;
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(trace.title || "chaindb trace")}</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#111827}
h1{font-size:20px;margin:0 0 4px}
code{background:#f3f4f6;padding:1px 5px;border-radius:4px}
.summary{color:#374151}.note{color:#92400e;background:#fef3c7;padding:6px 10px;border-radius:6px}
.violation-box{border:2px solid #dc2626;background:#fef2f2;padding:8px 12px;border-radius:6px;margin:10px 0}
.ok-box{border:2px solid #059669;background:#ecfdf5;padding:8px 12px;border-radius:6px;margin:10px 0}
.diagram{display:flex;margin-top:10px}.scroll{overflow-x:auto;border:1px solid #e5e7eb;border-radius:6px;flex:1}
svg.names{flex:none;margin-top:1px}svg.names text{font:600 13px system-ui,sans-serif;fill:#111827}
svg.trace text{font:11px system-ui,sans-serif;fill:#374151}svg.trace text.node{font-weight:600;font-size:13px;fill:#111827}
svg.trace text.dim{fill:#6b7280}svg.trace text.mark{font-size:9px;font-weight:700}
svg.trace text.violation-label{fill:#dc2626;font-weight:700;font-size:13px}
svg.trace g.msg:hover line{stroke-width:3}
.legend span{display:inline-block;margin-right:14px}.sw{display:inline-block;width:22px;height:10px;vertical-align:middle;margin-right:4px;border-radius:2px}
</style></head><body>
<h1>${esc(trace.title || "chaindb trace")}</h1>
${trace.replay ? `<div>replay: <code>${esc(trace.replay)}</code></div>` : ""}
<p class="summary">${summary}</p>
${v ? `<div class="violation-box"><b>violated: ${esc(v.invariant)}</b> at ${ms(v.at)}${v.nodes.length ? ` (nodes ${esc(v.nodes.join(", "))}${v.height !== undefined ? `, height ${v.height}` : ""}${v.subject !== undefined ? `, ${esc(v.subject)}` : ""})` : ""}<br>${esc(v.detail)}<br><small>The red line marks the moment; the events it names are drawn in red.</small></div>` : `<div class="ok-box">no invariant violated</div>`}
${note ? `<p class="note">${esc(note)}</p>` : ""}
${legendHtml}
<div class="diagram">
${svg}
</div>
<script>/* Scroll the diagram to the violation, if any. */const v=document.querySelector("g.violation line"),s=document.querySelector(".scroll");if(v&&s)s.scrollLeft=Math.max(0,Number(v.getAttribute("x1"))-s.clientWidth*0.75);</script>
</body></html>
`;
}

/** The legend: the message kinds and step names this trace holds, then the fixed marks. */
function legend(colors: Map<string, string>, steps: readonly TraceStep[]): string {
  const kinds = [...colors].map(
    ([kind, color]) => `<span><i class="sw" style="background:${color}"></i>${esc(kind)}</span>`,
  );
  const names = [...new Set(steps.map((s) => s.step))].map(
    (n) => `<span><b>${esc(STEP_SHAPE[n] ?? n.charAt(0).toUpperCase())}</b> ${esc(n)}</span>`,
  );
  const fixed = `<span>- - ✕ lost (red ✕) or dropped (grey ✕)</span><span><i class="sw" style="background:repeating-linear-gradient(45deg,#9ca3af 0 3px,#e5e7eb 3px 6px)"></i>crashed</span><span><i class="sw" style="background:#fde68a"></i><i class="sw" style="background:#bfdbfe"></i>partition sides</span><span><i class="sw" style="background:#dc2626"></i>violation and its events</span>`;
  return `<p class="legend">${kinds.join("")}${names.length ? ` · steps: ${names.join("")}` : ""} · ${fixed}</p>`;
}

function niceStep(raw: number): number {
  const p = 10 ** Math.floor(Math.log10(Math.max(raw, 1e-3)));
  for (const m of [1, 2, 5, 10]) if (m * p >= raw) return m * p;
  return 10 * p;
}

function ms(t: number): string {
  return t >= 10_000
    ? `${(t / 1000).toFixed(1)} s`
    : t >= 1000
      ? `${(t / 1000).toFixed(2)} s`
      : `${Math.round(t)} ms`;
}

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
