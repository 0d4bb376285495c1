/**
 * The in-core rows of `chaindb bench execution` and `bench state` alone (bench/state-threads.ts):
 * serial against 1 and 2 threads, wasm and the ts twin, on the same blocks, execution only,
 * execution + root and the root alone, uniform, hot-set and two-account blocks, with the machine's
 * parallel ceiling measured in the same run. One line per row: id, median, ratio, label.
 * Usage: npx tsx scripts/measure-state-threads.ts [accounts=1000000] [rounds=3] [blocksPerRound=6]
 * Run it on a machine with nothing else busy: every parallel ratio is printed beside the ceiling.
 * @module
 */
import { stateThreadRows } from "../bench/state-threads.ts";

const accounts = Number(process.argv[2] ?? 1_000_000);
const rounds = Number(process.argv[3] ?? 3);
const blocksPerRound = Number(process.argv[4] ?? 6);
const t0 = performance.now();
const seconds = (): string => ((performance.now() - t0) / 1000).toFixed(0);
const rows = await stateThreadRows({
  accounts,
  rounds,
  blocksPerRound,
  onProgress: (m) => console.error(`${seconds()} s ${m}`),
});
for (const c of rows.cases) {
  const ratio = c.ratio === undefined ? "" : `${c.ratio.toFixed(2)}×`;
  console.log(
    `${c.id.padEnd(30)} ${c.median.toFixed(0).padStart(10)} ${c.unit.padEnd(7)} ${ratio.padStart(6)}  ${c.label}`,
  );
}
for (const n of rows.notes) console.log(n);
for (const t of rows.targets) console.log(`target: ${t.name}: ${t.measured} (want ${t.want})`);
console.log(`${seconds()} s, ${accounts} accounts, ${rounds} rounds of ${blocksPerRound} blocks`);
