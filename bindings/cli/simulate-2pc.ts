/**
 * `chaindb simulate 2pc --seeds <from>..<to> [--participants N] [--bug <name>]`: runs the seeded
 * two-phase-commit simulations (bindings/txn/two-phase/simulate.ts), stops at the first invariant
 * violation with the seed, the invariant and the replay command (exit 1), and ends with a one-line
 * summary `N runs, N violations`.
 * @module
 */
import { parseArgs } from "node:util";
import { ChainDbError, ErrorCode } from "../util/index.ts";
import { simulateTwoPc, twoPcReplayCommand, type TwoPcBug } from "../txn/index.ts";
import { TRACE_OPTIONS, TraceTarget } from "./trace.ts";

const BUGS: readonly TwoPcBug[] = ["send-commit-before-force", "in-doubt-commits-alone", "no-locks"];

/** Runs `simulate 2pc ...` (arguments after "2pc"); returns the exit code. */
export async function simulateTwoPcCommand(args: string[]): Promise<0 | 1 | 2> {
  const { values } = parseArgs({ args, options: { seeds: { type: "string", default: "1..100" }, participants: { type: "string" }, bug: { type: "string" }, ...TRACE_OPTIONS } });
  const match = /^(\d+)\.\.(\d+)$/.exec(values.seeds);
  if (match === null || Number(match[1]) > Number(match[2])) throw new ChainDbError(ErrorCode.BAD_ARGUMENT, `--seeds expected <from>..<to>, got ${values.seeds}`);
  const participants = values.participants === undefined ? undefined : Number(values.participants);
  if (participants !== undefined && !(Number.isInteger(participants) && participants >= 2 && participants <= 16)) {
    throw new ChainDbError(ErrorCode.BAD_ARGUMENT, `--participants expected an integer 2..16, got ${values.participants}`);
  }
  const bug = values.bug as TwoPcBug | undefined;
  if (bug !== undefined && !BUGS.includes(bug)) throw new ChainDbError(ErrorCode.BAD_ARGUMENT, `--bug expected one of ${BUGS.join(", ")}, got ${bug}`);
  const [from, to] = [Number(match[1]), Number(match[2])];
  const tracing = TraceTarget.from(values);
  const t0 = performance.now();
  let runs = 0;
  let committed = 0;
  let aborted = 0;
  let crashes = 0;
  for (let seed = from; seed <= to; seed++) {
    const recorder = tracing?.start();
    const r = await simulateTwoPc({ seed, ...(participants !== undefined ? { participants } : {}), ...(bug !== undefined ? { bug } : {}), ...(recorder && { trace: recorder }) });
    if (recorder) tracing!.finish(recorder, `simulate 2pc, seed ${seed}: ${r.participants} participants${bug ? `, bug ${bug}` : ""}`, twoPcReplayCommand(seed, bug), r.violation);
    runs++;
    committed += r.committed;
    aborted += r.aborted;
    crashes += r.crashes;
    if (r.violation !== undefined) {
      process.stderr.write(`seed ${seed} (${r.participants} participants) violated "${r.violation.invariant}": ${r.violation.detail}\nreplay: ${twoPcReplayCommand(seed, bug)}\n`);
      process.stdout.write(`${runs} runs, 1 violations\n`);
      tracing?.write();
      return 1;
    }
  }
  tracing?.write();
  const seconds = (performance.now() - t0) / 1000;
  process.stdout.write(`${runs} runs, 0 violations (${committed} committed, ${aborted} aborted, ${crashes} crashes, ${seconds.toFixed(1)} s)\n`);
  return 0;
}
