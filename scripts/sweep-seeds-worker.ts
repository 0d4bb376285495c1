// DO NOT RUN DIRECTLY: scripts/sweep-seeds.mjs starts this worker (node --import tsx) for one
// configuration and one seed range, and reads one JSON line per seed from its stdout:
//   {"config":"pos-7-2","seed":17,"ok":true,"ms":412}
//   {"config":"pos-7-2","seed":18,"ok":false,"invariant":"evidence","detail":"…","replay":"…","ms":530}
// A simulation that throws is reported as a failure with invariant "exception".
import {
  nodeReplayCommand,
  replayCommand,
  simulateConsensus,
  simulateConsensusNodes,
  type NodeSimulationOptions,
  type SimulationOptions,
} from "../bindings/consensus/index.ts";
import { simulatePow, simulatePrimary } from "../bindings/replication/index.ts";
import { simulateTwoPc, twoPcReplayCommand } from "../bindings/txn/index.ts";

interface Outcome {
  readonly violation?: { readonly invariant: string; readonly detail: string };
}

type Runner = { run: (seed: number) => Promise<Outcome>; replay: (seed: number) => string };

/** A consensus configuration: the simulation's options for a seed. */
function consensus(options: (seed: number) => SimulationOptions): Runner {
  return {
    run: async (seed) => {
      const r = await simulateConsensus(options(seed));
      return r.ok ? {} : { violation: r.violation! };
    },
    replay: (seed) => replayCommand(options(seed)),
  };
}

/** A node-simulation configuration (the shipping ConsensusNode on FaultFs disks, power losses). */
function nodes(
  selection: NodeSimulationOptions["selection"],
  validators: number,
  byzantine: number,
  hostile = false,
): Runner {
  const options = (seed: number): NodeSimulationOptions => ({
    seed,
    validators,
    byzantine,
    selection,
    ...(hostile ? { hostile } : {}),
  });
  return {
    run: async (seed) => {
      const r = await simulateConsensusNodes(options(seed));
      return r.ok ? {} : { violation: r.violation! };
    },
    replay: (seed) => nodeReplayCommand(options(seed)),
  };
}

const plain =
  (selection: SimulationOptions["selection"], validators: number, byzantine: number) =>
  (seed: number): SimulationOptions => ({ seed, validators, byzantine, selection });

/** The hostile-peer configuration of test/consensus/consensus-hostile-simulation.test.ts. */
const hostile = (seed: number): SimulationOptions => ({
  seed,
  validators: 4,
  byzantine: seed % 4 === 0 ? 0 : 1,
  selection: "tendermint",
  hostile: true,
  faultMs: 1000,
  heights: 2,
});

function replication(mode: "primary" | "pow", groupCommit = false): Runner {
  return {
    run: (seed) => (mode === "pow" ? simulatePow({ seed }) : simulatePrimary({ seed, groupCommit })),
    replay: (seed) =>
      `npx chaindb simulate replication --mode ${mode}${groupCommit ? " --group-commit" : ""} --seeds ${seed}..${seed}`,
  };
}

/** The configurations of issue 15 part 6, by name. */
const RUNNERS: Record<string, Runner> = {
  "tendermint-4-1": consensus(plain("tendermint", 4, 1)),
  "pos-4-1": consensus(plain("pos", 4, 1)),
  "dpos-4-1": consensus(plain("dpos", 4, 1)),
  "tendermint-7-2": consensus(plain("tendermint", 7, 2)),
  "pos-7-2": consensus(plain("pos", 7, 2)),
  "dpos-7-2": consensus(plain("dpos", 7, 2)),
  "hostile-4-1": consensus(hostile),
  "replication-primary": replication("primary"),
  "replication-pow": replication("pow"),
  "2pc": { run: (seed) => simulateTwoPc({ seed }), replay: (seed) => twoPcReplayCommand(seed) },
  "replication-primary-group": replication("primary", true),
  "2pc-group": {
    run: (seed) => simulateTwoPc({ seed, groupCommit: true }),
    replay: (seed) => twoPcReplayCommand(seed, undefined, true),
  },
  "node-tendermint-4-1": nodes("tendermint", 4, 1),
  "node-pos-4-1": nodes("pos", 4, 1),
  "node-dpos-4-1": nodes("dpos", 4, 1),
  "node-tendermint-7-2": nodes("tendermint", 7, 2),
  "node-pos-7-2": nodes("pos", 7, 2),
  "node-dpos-7-2": nodes("dpos", 7, 2),
  "node-hostile-4-1": nodes("tendermint", 4, 1, true),
};

const [config, fromText, toText] = process.argv.slice(2);
const runner = config === undefined ? undefined : RUNNERS[config];
if (runner === undefined || !/^\d+$/.test(fromText ?? "") || !/^\d+$/.test(toText ?? "")) {
  process.stderr.write(`usage: sweep-seeds-worker.ts <${Object.keys(RUNNERS).join("|")}> <from> <to>\n`);
  process.exit(2);
}
for (let seed = Number(fromText); seed <= Number(toText); seed++) {
  const t0 = performance.now();
  let line: Record<string, unknown>;
  try {
    const r = await runner.run(seed);
    line =
      r.violation === undefined
        ? { config, seed, ok: true }
        : { config, seed, ok: false, ...r.violation, replay: runner.replay(seed) };
  } catch (error) {
    line = {
      config,
      seed,
      ok: false,
      invariant: "exception",
      detail: String(error),
      replay: runner.replay(seed),
    };
  }
  process.stdout.write(`${JSON.stringify({ ...line, ms: Math.round(performance.now() - t0) })}\n`);
}
