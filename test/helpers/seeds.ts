// Seed ranges for the crash suites: a CI range, a wider one under CHAINDB_SLOW=1, or exactly
// CHAINDB_SEEDS=a..b (how a failing seed is replayed).

/** The seeds to run: `CHAINDB_SEEDS=a..b`, else 1..slow under CHAINDB_SLOW=1, else 1..ci. */
export function seedRange(ci: number, slow: number): number[] {
  const range = process.env.CHAINDB_SEEDS?.match(/^(\d+)\.\.(\d+)$/);
  const [from, to] = range
    ? [Number(range[1]), Number(range[2])]
    : [1, process.env.CHAINDB_SLOW === "1" ? slow : ci];
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}

/** The one-line command that replays `seed` of the suite in `file`. */
export function replay(file: string, seed: number): string {
  return `replay: CHAINDB_SEEDS=${seed}..${seed} npx vitest run ${file}`;
}
