/**
 * `chaindb simulate replication --mode primary|pow --seeds <from>..<to>`: runs the seeded replication
 * simulations (bindings/replication/simulate.ts, pow-simulate.ts), stops at the first invariant violation with the
 * seed, the invariant and a replay command (exit 1), and ends with a one-line summary.
 * @module
 */
import { parseArgs } from "node:util";
import { ChainDbError, ErrorCode } from "../util/index.ts";
import { simulatePow, simulatePrimary } from "../replication/index.ts";
import { TRACE_OPTIONS, TraceTarget } from "./trace.ts";

/** Runs `simulate <what> ...`; returns the exit code. */
export async function simulateCommand(args: string[]): Promise<0 | 1 | 2> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { mode: { type: "string", default: "primary" }, seeds: { type: "string", default: "1..100" }, nodes: { type: "string" }, ...TRACE_OPTIONS },
  });
  if (positionals[0] !== "replication") throw new ChainDbError(ErrorCode.BAD_ARGUMENT, `simulate: expected "replication", got ${JSON.stringify(positionals[0])}`);
  if (values.mode !== "primary" && values.mode !== "pow") throw new ChainDbError(ErrorCode.BAD_ARGUMENT, `simulate: --mode expected primary or pow, got ${values.mode}`);
  const match = /^(\d+)\.\.(\d+)$/.exec(values.seeds);
  if (match === null || Number(match[1]) > Number(match[2])) throw new ChainDbError(ErrorCode.BAD_ARGUMENT, `--seeds expected <from>..<to>, got ${values.seeds}`);
  const [from, to] = [Number(match[1]), Number(match[2])];
  const nodes = values.nodes === undefined ? undefined : Number(values.nodes);
  const tracing = TraceTarget.from(values);
  const t0 = performance.now();
  let blocks = 0;
  let acked = 0;
  let faults = 0;
  let reorgs = 0;
  for (let seed = from; seed <= to; seed++) {
    const recorder = tracing?.start();
    const options = { seed, ...(nodes !== undefined ? { nodes } : {}), ...(recorder && { trace: recorder }) };
    const r = values.mode === "pow" ? await simulatePow(options) : await simulatePrimary(options);
    const replay = `npx chaindb simulate replication --mode ${values.mode} --seeds ${seed}..${seed}`;
    if (recorder) tracing!.finish(recorder, `simulate replication (${values.mode}), seed ${seed}: ${r.nodes} nodes`, replay, r.violation);
    blocks += r.height;
    acked += r.acked;
    faults += r.faults;
    reorgs += r.reorgs ?? 0;
    if (r.violation !== undefined) {
      process.stderr.write(
        `seed ${seed} (${r.mode}, ${r.nodes} nodes) violated "${r.violation.invariant}": ${r.violation.detail}\n` +
          `replay: npx chaindb simulate replication --mode ${values.mode} --seeds ${seed}..${seed}\n`,
      );
      tracing?.write();
      return 1;
    }
    if ((seed - from) % 10 === 9) process.stderr.write(`  ${seed - from + 1}/${to - from + 1} seeds ok\n`);
  }
  tracing?.write();
  const seconds = (performance.now() - t0) / 1000;
  const what = values.mode === "pow" ? `${reorgs} reorganisations` : `${acked} sync-acked writes`;
  process.stdout.write(`ok: ${to - from + 1} ${values.mode} seeds (${from}..${to}), ${blocks} blocks on the final chains, ${what}, ${faults} faults, ${seconds.toFixed(1)} s\n`);
  return 0;
}
