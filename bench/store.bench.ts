/**
 * Key-value store benchmark (issue 3): random 32-byte keys with 16-byte values (1,000,000 of
 * them; 100,000 with --quick), measured side by side in rounds: load into an empty store, then
 * random gets — the wasm store (assembly/kv.ts) vs its ts twin (a JS Map) vs sqlite-wasm in memory
 * (a WITHOUT ROWID table, prepared statements, one transaction for the load).
 * Run alone: `npx tsx bench/store.bench.ts [--quick]` (writes bench/results/store.json).
 * @module
 */
import { createKvStore, type KvStore } from "../bindings/engine/index.ts";
import { loadSqlite } from "../bindings/store/index.ts";
import { consume, median, suiteResult, writeSuiteResult, type CaseResult, type SuiteOptions, type SuiteResult } from "./lib.ts";

/** A store under test: load every key, then get every key in a shuffled order. */
interface Subject {
  id: string;
  label: string;
  open(): Promise<{ put(k: Uint8Array, v: Uint8Array): void; get(k: Uint8Array): Uint8Array | undefined; begin?(): void; end?(): void; close?(): void }>;
}

function randomBytes(count: number, size: number, seed: number): Uint8Array[] {
  let x = seed >>> 0 || 1;
  const next = () => ((x ^= x << 13), (x ^= x >>> 17), (x ^= x << 5), x >>> 0);
  const all = new Uint8Array(count * size);
  const words = new Uint32Array(all.buffer);
  for (let i = 0; i < words.length; i++) words[i] = next();
  return Array.from({ length: count }, (_, i) => all.subarray(i * size, (i + 1) * size));
}

function kvSubject(engine: "wasm" | "ts"): Subject {
  return {
    id: `${engine}-store`,
    label: `${engine} store`,
    open: async () => {
      const s: KvStore = await createKvStore(engine);
      return { put: (k, v) => s.put(k, v), get: (k) => s.get(k) };
    },
  };
}

const sqliteSubject: Subject = {
  id: "sqlite-memory",
  label: "sqlite-wasm in memory",
  open: async () => {
    const sqlite3 = await loadSqlite();
    const db = new sqlite3.oo1.DB(":memory:", "c");
    db.exec("CREATE TABLE kv (k BLOB PRIMARY KEY, v BLOB NOT NULL) WITHOUT ROWID");
    const put = db.prepare("INSERT OR REPLACE INTO kv VALUES (?, ?)");
    const get = db.prepare("SELECT v FROM kv WHERE k = ?");
    return {
      put: (k: Uint8Array, v: Uint8Array) => put.bind([k, v]).stepReset(),
      get: (k: Uint8Array) => {
        get.bind([k]);
        const v = get.step() ? (get.getBlob(0) as Uint8Array) : undefined;
        get.reset();
        return v;
      },
      begin: () => db.exec("BEGIN"),
      end: () => db.exec("COMMIT"),
      close: () => {
        put.finalize();
        get.finalize();
        db.close();
      },
    };
  },
};

/** Runs the suite and returns its results. */
export async function run(options: SuiteOptions): Promise<SuiteResult> {
  const count = options.quick ? 100_000 : 1_000_000;
  const rounds = options.quick ? 2 : 3;
  const keys = randomBytes(count, 32, 0x5eed);
  const values = randomBytes(count, 16, 0xbeef);
  const order = randomBytes(count, 4, 0xface).map((b) => (b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24)) >>> 0);
  const subjects = [kvSubject("wasm"), kvSubject("ts"), sqliteSubject];
  const load = new Map<string, number[]>(subjects.map((s) => [s.id, []]));
  const gets = new Map<string, number[]>(subjects.map((s) => [s.id, []]));
  for (let round = 1; round <= rounds; round++) {
    for (const subject of subjects) {
      options.onProgress?.(`round ${round}/${rounds}: ${subject.label}, ${count} keys`);
      const store = await subject.open();
      let t = performance.now();
      store.begin?.();
      for (let i = 0; i < count; i++) store.put(keys[i]!, values[i]!);
      store.end?.();
      load.get(subject.id)!.push((count * 1000) / (performance.now() - t));
      let found = 0;
      t = performance.now();
      for (let i = 0; i < count; i++) found += store.get(keys[order[i]! % count]!)!.length;
      gets.get(subject.id)!.push((count * 1000) / (performance.now() - t));
      consume(found);
      if (found !== count * 16) throw new Error(`${subject.label}: gets returned ${found} bytes, expected ${count * 16}`);
      store.close?.();
    }
  }
  const cases: CaseResult[] = [];
  for (const [group, samples] of [["load", load], ["random get", gets]] as const) {
    for (const s of subjects) {
      const rates = samples.get(s.id)!;
      cases.push({
        id: `${group === "load" ? "load" : "get"}-${s.id}`,
        label: `${s.label}: ${group}`,
        group,
        unit: "ops/s",
        samples: rates,
        median: median(rates),
        min: Math.min(...rates),
        max: Math.max(...rates),
        ...(s.id === "sqlite-memory" ? {} : { baseline: `${group === "load" ? "load" : "get"}-sqlite-memory` }),
        params: { keys: count, keyBytes: 32, valueBytes: 16 },
      });
    }
  }
  for (const c of cases) {
    const base = cases.find((b) => b.id === c.baseline);
    if (base) c.ratio = c.median / base.median;
  }
  return suiteResult("store", "Key-value store: 32-byte keys, 16-byte values", options.quick, cases, [], [
    `${count} random keys; load = puts into an empty store (sqlite: one transaction); gets in a random order.`,
    "Every call goes through the public API (argument checks, copies in and out of WASM memory).",
    "Rounds alternate the stores; ratios compare medians of the same run; the machine is shared.",
  ]);
}

const invokedDirectly = typeof process !== "undefined" && process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1].split("/").pop()!);
if (invokedDirectly) {
  const result = await run({ quick: process.argv.includes("--quick"), onProgress: (m) => process.stderr.write(`${m}\n`) });
  console.log(JSON.stringify(result.cases.map((c) => ({ case: c.label, median: Math.round(c.median), ratio: c.ratio })), null, 1));
  console.log(`wrote ${writeSuiteResult(result, "bench/results")}`);
}
