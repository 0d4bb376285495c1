/**
 * Argument parsing, help and errors shared by every `chaindb` command (the conventions of git,
 * cargo and deno): `--help`/`-h` on every command prints its usage line, every option with its
 * default, and an example; a bad argument is one line with a code; exit 0 ok, 1 failure, 2 bad
 * input. Parsing is `node:util` parseArgs (strict), with its errors rewritten into ours.
 * @module
 */
import { parseArgs } from "node:util";
import { ChainDbError, ErrorCode } from "../util/index.ts";

export type { ExitCode } from "./exit-code.ts";

/** The exit-code line every help text ends with. */
export const EXIT_CODES =
  "exit codes: 0 ok, 1 failure (a check failed, an invariant was violated, an operational error), 2 bad input or usage";

/** One option of a command. */
export interface OptionSpec {
  /** Long name without dashes. */
  readonly name: string;
  /** Placeholder of its value (`N`, `<dir>`); none for a flag. */
  readonly value?: string;
  /** Default applied when the option is absent (and shown in the help). */
  readonly default?: string;
  /** A default in words, shown in the help only (`one per CPU`): the command decides. */
  readonly defaultText?: string;
  readonly help: string;
}

/** A command or subcommand: what `--help` shows and what the parser accepts. */
export interface CommandSpec {
  /** As typed after `chaindb`, e.g. `simulate consensus`. */
  readonly name: string;
  readonly summary: string;
  /** What follows the command name in the usage line (default `[options]`). */
  readonly usage?: string;
  readonly options: readonly OptionSpec[];
  /** Lines explaining the output or the model (shown before the options). */
  readonly notes?: readonly string[];
  /** At least one runnable example. */
  readonly examples: readonly string[];
  /** Positional arguments allowed (bench suites). */
  readonly positionals?: boolean;
}

/** The help text of `spec`. */
export function helpText(spec: CommandSpec): string {
  const width = Math.max(...spec.options.map((o) => optionLabel(o).length), 6) + 2;
  const lines = [`usage: chaindb ${spec.name} ${spec.usage ?? "[options]"}`, "", ...wrap(spec.summary, 100)];
  if (spec.notes?.length) lines.push("", ...spec.notes);
  lines.push("", "options:");
  for (const o of spec.options)
    lines.push(
      `  ${optionLabel(o).padEnd(width)}${o.help}${(o.defaultText ?? o.default) !== undefined ? ` (default: ${o.defaultText ?? o.default})` : ""}`,
    );
  lines.push(`  ${"-h, --help".padEnd(width)}show this help`);
  lines.push(
    "",
    spec.examples.length > 1 ? "examples:" : "example:",
    ...spec.examples.map((e) => `  ${e}`),
    "",
    EXIT_CODES,
  );
  return lines.join("\n") + "\n";
}

/** Words of `text` in lines of at most `width` characters. */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line !== "" && line.length + 1 + word.length > width) (lines.push(line), (line = ""));
    line = line === "" ? word : `${line} ${word}`;
  }
  return [...lines, line];
}

function optionLabel(o: OptionSpec): string {
  return `--${o.name}${o.value !== undefined ? ` ${o.value}` : ""}`;
}

/** Parsed options: strings for valued options, booleans for flags. */
export interface Parsed {
  readonly values: Record<string, string | boolean | undefined>;
  readonly positionals: string[];
}

/** True if `args` ask for help (before a `--` terminator). */
export function wantsHelp(args: readonly string[]): boolean {
  const end = args.indexOf("--");
  return (end < 0 ? args : args.slice(0, end)).some((a) => a === "--help" || a === "-h");
}

/**
 * Parses `args` for `spec`. Returns null after printing the help when asked for it; throws
 * `BAD_ARGUMENT` (one line naming the command and `--help`) for anything parseArgs refuses.
 */
export function parseCommand(spec: CommandSpec, args: readonly string[]): Parsed | null {
  if (wantsHelp(args)) {
    process.stdout.write(helpText(spec));
    return null;
  }
  const options = Object.fromEntries(
    spec.options.map((o) => [
      o.name,
      o.value === undefined
        ? { type: "boolean" as const, default: false }
        : { type: "string" as const, ...(o.default !== undefined ? { default: o.default } : {}) },
    ]),
  );
  try {
    const { values, positionals } = parseArgs({
      args: joinNegativeValues(spec, args),
      options,
      allowPositionals: spec.positionals === true,
      strict: true,
    });
    return { values: values as Record<string, string | boolean | undefined>, positionals };
  } catch (error) {
    throw new ChainDbError(
      ErrorCode.BAD_ARGUMENT,
      `${spec.name}: ${parseError(error)} (see chaindb ${spec.name} --help)`,
    );
  }
}

/**
 * `--workers -1` reads to parseArgs as an option followed by another option ("ambiguous"); a
 * valued option followed by a number is joined (`--workers=-1`) so that our own range check
 * answers.
 */
function joinNegativeValues(spec: CommandSpec, args: readonly string[]): string[] {
  const valued = new Set(spec.options.filter((o) => o.value !== undefined).map((o) => `--${o.name}`));
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!,
      next = args[i + 1];
    if (valued.has(a) && next !== undefined && /^-\d/.test(next)) (out.push(`${a}=${next}`), i++);
    else out.push(a);
  }
  return out;
}

function parseError(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: string })?.code;
  const option = /'(-[^' ]+)/.exec(message)?.[1];
  if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") return `unknown option ${option ?? message}`;
  if (code === "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL")
    return `unexpected argument ${/'([^']*)'/.exec(message)?.[1] ?? message}`;
  if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE")
    return message.includes("argument missing")
      ? `${option ?? "an option"} needs a value`
      : `${option ?? "an option"} takes no value`;
  return message.split(". ")[0]!;
}

/** An integer option in [min, max]; `BAD_ARGUMENT` with the option's name otherwise. */
export function intOption(
  text: string | boolean | undefined,
  name: string,
  min: number,
  max: number,
): number {
  const value = typeof text === "string" && /^-?\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new ChainDbError(
      ErrorCode.BAD_ARGUMENT,
      `--${name} expected an integer in ${min}..${max}, got ${JSON.stringify(text)}`,
    );
  }
  return value;
}

/** One of `choices`; `BAD_ARGUMENT` naming them otherwise. */
export function choiceOption<T extends string>(
  text: string | boolean | undefined,
  name: string,
  choices: readonly T[],
): T {
  if (typeof text !== "string" || !choices.includes(text as T)) {
    throw new ChainDbError(
      ErrorCode.BAD_ARGUMENT,
      `--${name} expected one of ${choices.join(", ")}, got ${JSON.stringify(text)}`,
    );
  }
  return text as T;
}

/** Most seeds one command runs (at about 10 ms a seed, a day of work). */
export const SEEDS_MAX = 10_000_000;
/** Largest seed (the simulations' generators take u32 seeds). */
export const SEED_MAX = 0xffff_ffff;

/** `--seeds <from>..<to>` (or one seed `N`): inclusive, from ≤ to ≤ {@link SEED_MAX}, at most {@link SEEDS_MAX} seeds. */
export function seedsOption(text: string | boolean | undefined): { from: number; to: number } {
  const m = typeof text === "string" ? /^(\d{1,10})(?:\.\.(\d{1,10}))?$/.exec(text) : null;
  const from = m === null ? NaN : Number(m[1]);
  const to = m === null ? NaN : Number(m[2] ?? m[1]);
  if (!(from <= to && to <= SEED_MAX))
    throw new ChainDbError(
      ErrorCode.BAD_ARGUMENT,
      `--seeds expected <from>..<to> with from <= to <= ${SEED_MAX}, got ${JSON.stringify(text)}`,
    );
  if (to - from + 1 > SEEDS_MAX)
    throw new ChainDbError(
      ErrorCode.BAD_RANGE,
      `--seeds: ${to - from + 1} seeds is more than ${SEEDS_MAX} in one run; split the range`,
    );
  return { from, to };
}
