/**
 * `chaindb simulate replication --mode primary|pow --seeds <from>..<to> [--nodes N] [--group-commit] [--json]`: runs
 * the seeded replication simulations (bindings/replication/simulate.ts, pow-simulate.ts) through
 * the shared seed loop (simulate-run.ts): the first invariant violation exits 1 with its seed and
 * replay command.
 * @module
 */
import { simulatePow, simulatePrimary } from "../replication/index.ts";
import { ChainDbError, ErrorCode } from "../util/index.ts";
import {
  choiceOption,
  intOption,
  parseCommand,
  seedsOption,
  type CommandSpec,
  type ExitCode,
} from "./args.ts";
import { runSeeds } from "./simulate-run.ts";
import { TRACE_OPTIONS, TraceTarget } from "./trace.ts";

const SPEC: CommandSpec = {
  name: "simulate replication",
  summary:
    "Runs seeded replication simulations (primary crashes, partitions, restarts from disk, lossy links) and checks that acknowledged writes survive and every node ends on one chain.",
  options: [
    {
      name: "mode",
      value: "primary|pow",
      default: "primary",
      help: "single-primary log shipping with failover, or the multi-primary proof-of-work chain",
    },
    { name: "seeds", value: "<from>..<to>", default: "1..100", help: "seeds to run (or one seed N)" },
    {
      name: "nodes",
      value: "N",
      defaultText: "drawn from the seed: 3 or 5 (primary), 3..4 (pow)",
      help: "nodes per run, 3..9",
    },
    {
      name: "group-commit",
      help: "primary mode: every replica's log with group commit (fsyncs in the background, shared)",
    },
    { name: "json", help: "print one JSON object instead of the summary line" },
    ...TRACE_OPTIONS,
  ],
  examples: ["chaindb simulate replication --mode pow --seeds 1..20"],
};

/** Runs `simulate replication ...` (arguments after "replication"); returns the exit code. */
export async function simulateCommand(args: string[]): Promise<ExitCode> {
  const parsed = parseCommand(SPEC, args);
  if (parsed === null) return 0;
  const { values } = parsed;
  const mode = choiceOption(values.mode, "mode", ["primary", "pow"] as const);
  const { from, to } = seedsOption(values.seeds);
  const nodes = values.nodes === undefined ? undefined : intOption(values.nodes, "nodes", 3, 9);
  const groupCommit = values["group-commit"] === true;
  if (groupCommit && mode !== "primary")
    throw new ChainDbError(ErrorCode.BAD_ARGUMENT, "--group-commit applies to --mode primary only");
  const nodesFlag = `${nodes === undefined ? "" : ` --nodes ${nodes}`}${groupCommit ? " --group-commit" : ""}`;
  return runSeeds({
    tracing: TraceTarget.from(values),
    simulation: "replication",
    config: `${mode}${nodes === undefined ? "" : `, ${nodes} nodes`}${groupCommit ? ", group commit" : ""}`,
    configJson: { mode, nodes: nodes ?? null, groupCommit },
    from,
    to,
    json: values.json === true,
    run: async (seed, trace) => {
      const options = { seed, ...(nodes !== undefined ? { nodes } : {}), ...(trace && { trace }) };
      const r =
        mode === "pow" ? await simulatePow(options) : await simulatePrimary({ ...options, groupCommit });
      const counts = { blocks: r.height, ackedWrites: r.acked, faults: r.faults, reorgs: r.reorgs ?? 0 };
      return {
        ...(r.violation ? { violation: r.violation } : {}),
        config: `${mode}, ${r.nodes} nodes`,
        counts,
      };
    },
    replay: (seed) => `npx chaindb simulate replication --mode ${mode}${nodesFlag} --seeds ${seed}..${seed}`,
    describe: (t) =>
      `${t.blocks ?? 0} blocks on the final chains, ${mode === "pow" ? `${t.reorgs ?? 0} reorganisations` : `${t.ackedWrites ?? 0} sync-acked writes`}, ${t.faults ?? 0} faults`,
  });
}
