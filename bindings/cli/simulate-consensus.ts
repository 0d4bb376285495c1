/**
 * `chaindb simulate consensus --validators N --byzantine F [--consensus tendermint|pos|dpos]
 * --seeds <from>..<to> [--json]`: runs the seeded Tendermint simulations (bindings/consensus/
 * simulation.ts) with the chosen validator selection; stops at the first invariant violation,
 * printing the seed, the invariant and a one-line replay command (exit 1), and ends with a one-line
 * summary (exit 0).
 * @module
 */
import { parseArgs } from "node:util";
import { replayCommand, simulateConsensus, type SimulationOptions } from "../consensus/index.ts";
import { ChainDbError, ErrorCode, aint } from "../util/index.ts";
import { TRACE_OPTIONS, TraceTarget } from "./trace.ts";

const SELECTIONS = ["tendermint", "pos", "dpos"] as const;

/** Runs `simulate consensus ...` (arguments after "consensus"); returns the exit code. */
export async function simulateConsensusCommand(args: string[]): Promise<0 | 1 | 2> {
  const { values } = parseArgs({
    args,
    options: {
      validators: { type: "string", default: "4" },
      byzantine: { type: "string", default: "1" },
      consensus: { type: "string", default: "tendermint" },
      seeds: { type: "string", default: "1..100" },
      json: { type: "boolean", default: false },
      ...TRACE_OPTIONS,
    },
  });
  const validators = aint(Number(values.validators), 1, 128, "--validators");
  const byzantine = aint(Number(values.byzantine), 0, validators, "--byzantine");
  const selection = values.consensus as (typeof SELECTIONS)[number];
  if (!SELECTIONS.includes(selection)) throw new ChainDbError(ErrorCode.BAD_ARGUMENT, `--consensus expected one of ${SELECTIONS.join(", ")}, got ${values.consensus}`);
  const match = /^(\d+)\.\.(\d+)$/.exec(values.seeds);
  if (match === null || Number(match[1]) > Number(match[2])) throw new ChainDbError(ErrorCode.BAD_ARGUMENT, `--seeds expected <from>..<to>, got ${values.seeds}`);
  const [from, to] = [Number(match[1]), Number(match[2])];
  const tracing = TraceTarget.from(values);
  const t0 = performance.now();
  let blocks = 0, equivocations = 0, detected = 0, slashed = 0, messages = 0, simMs = 0;
  for (let seed = from; seed <= to; seed++) {
    const options: SimulationOptions = { seed, validators, byzantine, selection };
    const recorder = tracing?.start();
    const r = await simulateConsensus(recorder ? { ...options, trace: recorder } : options);
    if (recorder) tracing!.finish(recorder, `simulate consensus, seed ${seed}: ${validators} validators (${byzantine} byzantine, ${selection})`, replayCommand(options), r.violation);
    if (!r.ok) {
      const line = { seed, invariant: r.violation!.invariant, detail: r.violation!.detail, replay: replayCommand(options) };
      if (values.json) process.stdout.write(JSON.stringify({ ok: false, ...line }) + "\n");
      process.stderr.write(`seed ${seed} violated "${line.invariant}": ${line.detail}\nreplay: ${line.replay}\n`);
      tracing?.write();
      return 1;
    }
    blocks += r.minHeight;
    equivocations += r.equivocations;
    detected += r.equivocationsWithEvidence;
    slashed += r.slashed;
    messages += r.messages;
    simMs += r.simTimeMs;
    if ((seed - from) % 25 === 24) process.stderr.write(`  ${seed - from + 1}/${to - from + 1} seeds ok\n`);
  }
  tracing?.write();
  const seconds = (performance.now() - t0) / 1000;
  const summary = { ok: true, seeds: to - from + 1, from, to, validators, byzantine, consensus: selection, committedBlocks: blocks, equivocations, equivocationsWithEvidence: detected, slashed, messages, simulatedSeconds: Math.round(simMs / 1000), seconds: Number(seconds.toFixed(1)) };
  if (values.json) process.stdout.write(JSON.stringify(summary) + "\n");
  else {
    process.stdout.write(
      `ok: ${summary.seeds} seeds (${from}..${to}), ${validators} validators (${byzantine} byzantine, ${selection}), ${blocks} blocks committed, ` +
        `${detected}/${equivocations} equivocations with evidence, ${slashed} slashed, ${summary.simulatedSeconds} simulated s in ${summary.seconds} s\n`,
    );
  }
  return 0;
}
