/**
 * `chaindb simulate consensus --validators N --byzantine F [--consensus tendermint|pos|dpos]
 * [--nodes] --seeds <from>..<to> [--json]`: runs the seeded Tendermint simulations (bindings/
 * consensus/simulation.ts, or with `--nodes` node-simulation.ts: the shipping ConsensusNode on
 * fault-injecting disks) with the chosen validator selection through the shared seed loop
 * (simulate-run.ts): the first invariant violation exits 1 with its seed and replay command.
 * @module
 */
import {
  nodeReplayCommand,
  replayCommand,
  simulateConsensus,
  simulateConsensusNodes,
  type NodeSimulationOptions,
  type SimulationOptions,
} from "../consensus/index.ts";
import { ChainDbError, ErrorCode } from "../util/index.ts";
import {
  choiceOption,
  intOption,
  parseCommand,
  seedsOption,
  type CommandSpec,
  type ExitCode,
} from "./args.ts";
import { runSeeds, type SeedOutcome } from "./simulate-run.ts";
import { TRACE_OPTIONS, TraceTarget } from "./trace.ts";

const SELECTIONS = ["tendermint", "pos", "dpos"] as const;

const SPEC: CommandSpec = {
  name: "simulate consensus",
  summary:
    "Runs seeded Tendermint simulations (partitions, crashes, lossy links, then a heal) and checks agreement, validity, liveness after the heal, and that every equivocation becomes evidence.",
  options: [
    { name: "validators", value: "N", default: "4", help: "validators, 1..128" },
    {
      name: "byzantine",
      value: "F",
      default: "1",
      help: "byzantine validators among them (equivocate, send bad messages), 0..N",
    },
    {
      name: "consensus",
      value: "tendermint|pos|dpos",
      default: "tendermint",
      help: "validator selection: fixed equal power, proof of stake, or delegated proof of stake",
    },
    {
      name: "nodes",
      help: "run the shipping ConsensusNode (mempool, blocks, block store, block sync) with every node's files on a fault-injecting disk and seeded power losses, instead of bare engines; validators 1..16, no --trace",
    },
    { name: "seeds", value: "<from>..<to>", default: "1..100", help: "seeds to run (or one seed N)" },
    { name: "json", help: "print one JSON object instead of the summary line" },
    ...TRACE_OPTIONS,
  ],
  examples: [
    "chaindb simulate consensus --validators 7 --byzantine 2 --consensus pos --seeds 1..20",
    "chaindb simulate consensus --nodes --validators 4 --byzantine 1 --seeds 1..10",
  ],
};

/** Runs `simulate consensus ...` (arguments after "consensus"); returns the exit code. */
export async function simulateConsensusCommand(args: string[]): Promise<ExitCode> {
  const parsed = parseCommand(SPEC, args);
  if (parsed === null) return 0;
  const { values } = parsed;
  const validators = intOption(values.validators, "validators", 1, 128);
  const byzantine = intOption(values.byzantine, "byzantine", 0, 128);
  if (byzantine > validators)
    throw new ChainDbError(
      ErrorCode.BAD_ARGUMENT,
      `--byzantine ${byzantine} is more than --validators ${validators}`,
    );
  const selection = choiceOption(values.consensus, "consensus", SELECTIONS);
  const { from, to } = seedsOption(values.seeds);
  if (values.nodes === true) return nodesCommand(values, { validators, byzantine, selection, from, to });
  const options = (seed: number): SimulationOptions => ({ seed, validators, byzantine, selection });
  return runSeeds({
    tracing: TraceTarget.from(values),
    simulation: "consensus",
    config: `${validators} validators, ${byzantine} byzantine, ${selection}`,
    configJson: { validators, byzantine, consensus: selection },
    from,
    to,
    json: values.json === true,
    run: async (seed, trace) => {
      const r = await simulateConsensus({ ...options(seed), ...(trace && { trace }) });
      const counts = {
        committedBlocks: r.minHeight,
        equivocations: r.equivocations,
        equivocationsWithEvidence: r.equivocationsWithEvidence,
        slashed: r.slashed,
        messages: r.messages,
        simulatedMs: Math.round(r.simTimeMs),
      };
      return { ...(r.ok ? {} : { violation: r.violation! }), counts };
    },
    replay: (seed) => replayCommand(options(seed)),
    describe: (t) =>
      `${t.committedBlocks ?? 0} blocks committed, ${t.equivocationsWithEvidence ?? 0}/${t.equivocations ?? 0} equivocations with evidence, ${t.slashed ?? 0} slashed, ${Math.round((t.simulatedMs ?? 0) / 1000)} simulated s`,
  });
}

/** `--nodes`: the seed loop over {@link simulateConsensusNodes}. */
function nodesCommand(
  values: Readonly<Record<string, string | boolean | undefined>>,
  c: {
    validators: number;
    byzantine: number;
    selection: (typeof SELECTIONS)[number];
    from: number;
    to: number;
  },
): Promise<ExitCode> {
  if (c.validators > 16)
    throw new ChainDbError(ErrorCode.BAD_ARGUMENT, `--nodes runs 1..16 validators, got ${c.validators}`);
  if (TraceTarget.from(values) !== undefined)
    throw new ChainDbError(ErrorCode.BAD_ARGUMENT, "--trace is not supported with --nodes");
  const options = (seed: number): NodeSimulationOptions => ({
    seed,
    validators: c.validators,
    byzantine: c.byzantine,
    selection: c.selection,
  });
  return runSeeds({
    simulation: "consensus",
    config: `${c.validators} ConsensusNodes, ${c.byzantine} byzantine, ${c.selection}, power losses`,
    configJson: { validators: c.validators, byzantine: c.byzantine, consensus: c.selection, nodes: true },
    from: c.from,
    to: c.to,
    json: values.json === true,
    run: async (seed): Promise<SeedOutcome> => {
      const r = await simulateConsensusNodes(options(seed));
      const counts = {
        committedBlocks: r.minHeight,
        powerLosses: r.crashes.hook + r.crashes.file + r.crashes.idle,
        transfers: r.committed,
        equivocations: r.equivocations,
        equivocationsWithEvidence: r.equivocationsWithEvidence,
        slashed: r.slashed,
        messages: r.messages,
        simulatedMs: r.simTimeMs,
      };
      return { ...(r.ok ? {} : { violation: r.violation! }), counts };
    },
    replay: (seed) => nodeReplayCommand(options(seed)),
    describe: (t) =>
      `${t.committedBlocks ?? 0} blocks committed, ${t.powerLosses ?? 0} power losses, ${t.transfers ?? 0} transfers, ${t.equivocationsWithEvidence ?? 0}/${t.equivocations ?? 0} equivocations with evidence, ${t.slashed ?? 0} slashed, ${Math.round((t.simulatedMs ?? 0) / 1000)} simulated s`,
  });
}
