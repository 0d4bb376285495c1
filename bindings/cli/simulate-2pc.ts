/**
 * `chaindb simulate 2pc --seeds <from>..<to> [--participants N] [--bug <name>] [--group-commit] [--json]`: runs the
 * seeded two-phase-commit simulations (bindings/txn/two-phase/simulate.ts) through the shared seed
 * loop (simulate-run.ts): the first invariant violation exits 1 with its seed and replay command.
 * @module
 */
import { simulateTwoPc, twoPcReplayCommand, type TwoPcBug } from "../txn/index.ts";
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

const BUGS: readonly TwoPcBug[] = [
  "send-commit-before-force",
  "in-doubt-commits-alone",
  "no-locks",
  "no-fsync",
];

const SPEC: CommandSpec = {
  name: "simulate 2pc",
  summary:
    "Runs seeded two-phase-commit simulations (a coordinator and N participants over a lossy network, with crashes) and checks atomicity, conservation and durability after every run.",
  options: [
    { name: "seeds", value: "<from>..<to>", default: "1..100", help: "seeds to run (or one seed N)" },
    {
      name: "participants",
      value: "N",
      defaultText: "3..5, drawn from the seed",
      help: "participants per run, 2..16",
    },
    {
      name: "bug",
      value: "<name>",
      help: `inject a known protocol bug (the checker must catch it): ${BUGS.join(", ")}`,
    },
    { name: "group-commit", help: "every node's 2PC log with group commit (fsyncs in the background)" },
    { name: "json", help: "print one JSON object instead of the summary line" },
    ...TRACE_OPTIONS,
  ],
  examples: ["chaindb simulate 2pc --seeds 1..50 --participants 3"],
};

/** Runs `simulate 2pc ...` (arguments after "2pc"); returns the exit code. */
export async function simulateTwoPcCommand(args: string[]): Promise<ExitCode> {
  const parsed = parseCommand(SPEC, args);
  if (parsed === null) return 0;
  const { values } = parsed;
  const { from, to } = seedsOption(values.seeds);
  const participants =
    values.participants === undefined ? undefined : intOption(values.participants, "participants", 2, 16);
  const bug = values.bug === undefined ? undefined : choiceOption(values.bug, "bug", BUGS);
  const groupCommit = values["group-commit"] === true;
  return runSeeds({
    tracing: TraceTarget.from(values),
    simulation: "2pc",
    config: `${participants ?? "3..5"} participants${bug ? `, bug ${bug}` : ""}${groupCommit ? ", group commit" : ""}`,
    configJson: { participants: participants ?? null, bug: bug ?? null, groupCommit },
    from,
    to,
    json: values.json === true,
    run: async (seed, trace) => {
      const r = await simulateTwoPc({
        seed,
        ...(participants !== undefined ? { participants } : {}),
        ...(bug !== undefined ? { bug } : {}),
        groupCommit,
        ...(trace && { trace }),
      });
      return {
        ...(r.violation ? { violation: r.violation } : {}),
        config: `${r.participants} participants`,
        counts: {
          transactions: r.transactions,
          committed: r.committed,
          aborted: r.aborted,
          crashes: r.crashes,
        },
      };
    },
    replay: (seed) => twoPcReplayCommand(seed, bug, groupCommit),
    describe: (t) =>
      `${t.transactions ?? 0} transactions, ${t.committed ?? 0} committed, ${t.aborted ?? 0} aborted, ${t.crashes ?? 0} crashes`,
  });
}
