/**
 * The seed loop every `chaindb simulate …` command shares, so the three simulators report alike:
 * run seeds in order, stop at the first invariant violation (the seed, the invariant and a one-line
 * replay command on stderr, exit 1), and end with one summary line, or with `--json` one object:
 *
 *   10 seeds (1..10), 0 violations: consensus, 4 validators, 1 byzantine, tendermint — 96 blocks committed, … (3.1 s)
 *   {"ok":true,"simulation":"consensus","seeds":10,"from":1,"to":10,"violations":0,…,"seconds":3.1}
 * @module
 */
import type { TraceRecorder } from "../net/index.ts";
import type { ExitCode } from "./args.ts";
import type { TraceTarget } from "./trace.ts";

/** What one seed's run reports. */
export interface SeedOutcome {
  readonly violation?: { readonly invariant: string; readonly detail: string };
  /** Counters summed over the seeds (blocks, commits, faults…). */
  readonly counts: Readonly<Record<string, number>>;
  /** This seed's configuration when the seed chose it (`4 participants`); default the loop's. */
  readonly config?: string;
}

/** One simulator's loop. */
export interface SeedLoop {
  /** `replication`, `consensus` or `2pc`. */
  readonly simulation: string;
  /** The configuration in words (`4 validators, 1 byzantine, tendermint`). */
  readonly config: string;
  /** The configuration as JSON fields. */
  readonly configJson: Readonly<Record<string, unknown>>;
  readonly from: number;
  readonly to: number;
  readonly json: boolean;
  readonly run: (seed: number, trace: TraceRecorder | undefined) => Promise<SeedOutcome>;
  /** `--trace`: every seed is recorded, and the failing seed (else the last) is drawn. */
  readonly tracing?: TraceTarget | undefined;
  readonly replay: (seed: number) => string;
  /** The totals in words (`96 blocks committed, 3/4 equivocations with evidence`). */
  readonly describe: (totals: Readonly<Record<string, number>>) => string;
}

/** Runs the loop and prints its result; returns 0, or 1 on a violation. */
export async function runSeeds(loop: SeedLoop): Promise<ExitCode> {
  const t0 = performance.now();
  const totals: Record<string, number> = {};
  const total = loop.to - loop.from + 1;
  const every = total >= 200 ? 50 : 10;
  for (let seed = loop.from; seed <= loop.to; seed++) {
    const recorder = loop.tracing?.start();
    const r = await loop.run(seed, recorder);
    if (recorder)
      loop.tracing!.finish(
        recorder,
        `simulate ${loop.simulation}, seed ${seed}: ${r.config ?? loop.config}`,
        loop.replay(seed),
        r.violation,
      );
    for (const [k, v] of Object.entries(r.counts)) totals[k] = (totals[k] ?? 0) + v;
    const ran = seed - loop.from + 1;
    if (r.violation !== undefined) {
      const replay = loop.replay(seed);
      loop.tracing?.write();
      process.stderr.write(
        `seed ${seed} (${r.config ?? loop.config}) violated "${r.violation.invariant}": ${r.violation.detail}\nreplay: ${replay}\n`,
      );
      if (loop.json) {
        process.stdout.write(
          JSON.stringify({
            ok: false,
            simulation: loop.simulation,
            seed,
            invariant: r.violation.invariant,
            detail: r.violation.detail,
            replay,
            seeds: ran,
            from: loop.from,
            to: seed,
            violations: 1,
            ...loop.configJson,
            ...totals,
            seconds: seconds(t0),
          }) + "\n",
        );
      } else {
        process.stdout.write(
          `${ran} seeds (${loop.from}..${seed}), 1 violation (seed ${seed}): ${loop.simulation}, ${loop.config} — ${loop.describe(totals)} (${seconds(t0)} s)\n`,
        );
      }
      return 1;
    }
    if (ran % every === 0 && ran < total) process.stderr.write(`  ${ran}/${total} seeds ok\n`);
  }
  loop.tracing?.write();
  if (loop.json) {
    process.stdout.write(
      JSON.stringify({
        ok: true,
        simulation: loop.simulation,
        seeds: total,
        from: loop.from,
        to: loop.to,
        violations: 0,
        ...loop.configJson,
        ...totals,
        seconds: seconds(t0),
      }) + "\n",
    );
  } else {
    process.stdout.write(
      `${total} seeds (${loop.from}..${loop.to}), 0 violations: ${loop.simulation}, ${loop.config} — ${loop.describe(totals)} (${seconds(t0)} s)\n`,
    );
  }
  return 0;
}

const seconds = (t0: number) => Number(((performance.now() - t0) / 1000).toFixed(1));
