/**
 * `chaindb simulate replication --mode primary --seeds <from>..<to>`: runs the seeded replication
 * simulations (bindings/replication/simulate.ts), stops at the first invariant violation with the
 * seed, the invariant and a replay command (exit 1), and ends with a one-line summary.
 * @module
 */
import { parseArgs } from "node:util";
import { ChainDbError, ErrorCode } from "../util/index.ts";
import { simulatePrimary } from "../replication/index.ts";

/** Runs `simulate <what> ...`; returns the exit code. */
export async function simulateCommand(args: string[]): Promise<0 | 1 | 2> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { mode: { type: "string", default: "primary" }, seeds: { type: "string", default: "1..100" }, nodes: { type: "string" } },
  });
  if (positionals[0] !== "replication") throw new ChainDbError(ErrorCode.BAD_ARGUMENT, `simulate: expected "replication", got ${JSON.stringify(positionals[0])}`);
  if (values.mode === "pow") throw new ChainDbError(ErrorCode.BAD_ARGUMENT, "simulate: --mode pow (multi-primary) is not implemented yet");
  if (values.mode !== "primary") throw new ChainDbError(ErrorCode.BAD_ARGUMENT, `simulate: --mode expected primary or pow, got ${values.mode}`);
  const match = /^(\d+)\.\.(\d+)$/.exec(values.seeds);
  if (match === null || Number(match[1]) > Number(match[2])) throw new ChainDbError(ErrorCode.BAD_ARGUMENT, `--seeds expected <from>..<to>, got ${values.seeds}`);
  const [from, to] = [Number(match[1]), Number(match[2])];
  const nodes = values.nodes === undefined ? undefined : Number(values.nodes);
  const t0 = performance.now();
  let blocks = 0;
  let acked = 0;
  let faults = 0;
  for (let seed = from; seed <= to; seed++) {
    const r = await simulatePrimary({ seed, ...(nodes !== undefined ? { nodes } : {}) });
    blocks += r.height;
    acked += r.acked;
    faults += r.faults;
    if (r.violation !== undefined) {
      process.stderr.write(
        `seed ${seed} (${r.mode}, ${r.nodes} nodes) violated "${r.violation.invariant}": ${r.violation.detail}\n` +
          `replay: npx chaindb simulate replication --mode primary --seeds ${seed}..${seed}\n`,
      );
      return 1;
    }
    if ((seed - from) % 10 === 9) process.stderr.write(`  ${seed - from + 1}/${to - from + 1} seeds ok\n`);
  }
  const seconds = (performance.now() - t0) / 1000;
  process.stdout.write(`ok: ${to - from + 1} seeds (${from}..${to}), ${blocks} committed blocks, ${acked} sync-acked writes, ${faults} faults, ${seconds.toFixed(1)} s\n`);
  return 0;
}
