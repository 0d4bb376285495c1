/**
 * `--trace <file.html> [--trace-window <from>..<to>]` for the `simulate` commands: records each seed
 * (a fresh {@link TraceRecorder} per run, nothing when the option is absent) and writes one page —
 * the first failing seed's, or the last seed's when every seed passes — drawn by `renderTraceHtml`.
 * @module
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import {
  TraceRecorder,
  renderTraceHtml,
  violationSubjects,
  type Trace,
  type TraceRenderOptions,
} from "../net/index.ts";
import { ChainDbError, ErrorCode } from "../util/index.ts";
import type { OptionSpec } from "./args.ts";

/** The options every simulate command adds (see {@link TraceTarget.from}). */
export const TRACE_OPTIONS: readonly OptionSpec[] = [
  {
    name: "trace",
    value: "<file.html>",
    help: "write a space-time diagram of the failing seed (else the last seed) as a self-contained page",
  },
  {
    name: "trace-window",
    value: "<from>..<to>",
    help: "with --trace: draw only this window of simulated ms (default: the whole run, at most 2000 messages)",
  },
];

/** Where and what to draw; one per command run. */
export class TraceTarget {
  private last: Trace | undefined;

  private constructor(
    private readonly path: string,
    private readonly window: TraceRenderOptions,
  ) {}

  /** A target from the parsed options, or undefined when `--trace` is absent (then nothing is recorded). */
  static from(values: Readonly<Record<string, string | boolean | undefined>>): TraceTarget | undefined {
    const trace = values.trace as string | undefined;
    const window = values["trace-window"] as string | undefined;
    if (trace === undefined) {
      if (window !== undefined)
        throw new ChainDbError(ErrorCode.BAD_ARGUMENT, `--trace-window needs --trace <file.html>`);
      return undefined;
    }
    if (trace === "") throw new ChainDbError(ErrorCode.BAD_ARGUMENT, `--trace expected a file name`);
    return new TraceTarget(trace, parseWindow(window));
  }

  /** A recorder for the next seed. */
  start(): TraceRecorder {
    return new TraceRecorder();
  }

  /**
   * Closes the seed's trace and keeps it as the one to draw. A violation the simulation did not
   * record itself (one found after the run) is noted at the end, with the nodes its text names.
   */
  finish(
    recorder: TraceRecorder,
    title: string,
    replay: string,
    violation?: { invariant: string; detail: string },
  ): void {
    if (violation !== undefined && recorder.trace.violations.length === 0) {
      const { nodes, height } = violationSubjects(violation.detail, recorder.trace.nodes);
      recorder.violation(
        violation.invariant,
        violation.detail,
        nodes,
        height === undefined ? {} : { height },
      );
    }
    this.last = recorder.finish(title, replay);
  }

  /** Draws the kept trace to the file and says so on stderr. */
  write(): void {
    if (this.last === undefined) return;
    const html = renderTraceHtml(this.last, this.window);
    const path = resolve(this.path);
    try {
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, html);
    } catch (error) {
      throw new ChainDbError(
        ErrorCode.BAD_ARGUMENT,
        `--trace: cannot write ${path}: ${(error as Error).message}`,
        { cause: error },
      );
    }
    process.stderr.write(`trace: ${this.last.title} drawn to ${path}\n`);
  }
}

function parseWindow(value: string | undefined): TraceRenderOptions {
  if (value === undefined) return {};
  const match = /^(\d+(?:\.\d+)?)\.\.(\d+(?:\.\d+)?)$/.exec(value);
  if (match === null || !(Number(match[1]) < Number(match[2])))
    throw new ChainDbError(
      ErrorCode.BAD_ARGUMENT,
      `--trace-window expected <from>..<to> in ms with from < to, got ${value}`,
    );
  return { fromMs: Number(match[1]), toMs: Number(match[2]) };
}
