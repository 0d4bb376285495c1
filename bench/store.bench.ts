/**
 * Key-value store benchmark (issues 3 and 13): random 32-byte keys with 16-byte values (1,000,000
 * of them; 100,000 with --quick), measured side by side in rounds: load into an empty store, then
 * random gets — the wasm store (assembly/kv.ts) and its ts twin against peers on the same keys: a
 * plain `Map<string, Uint8Array>` (hex keys, the caller's arrays kept and returned without copies
 * or checks: the baseline of the ratios), the same Map copying values in and out as chaindb's
 * stores must (so the caller cannot change stored bytes), sqlite-wasm in memory and durable (node:fs VFS, WAL, fsync at the load's commit; a
 * WITHOUT ROWID table, prepared statements, one transaction for the load) and lmdb (one
 * synchronous write transaction for the load; gets return a copy, as chaindb's stores do).
 * Run alone: `npx tsx bench/store.bench.ts [--quick]` (writes bench/results/store.json).
 * @module
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { createKvStore, type KvStore } from "../bindings/engine/index.ts";
import { loadSqlite, NODE_VFS_NAME } from "../bindings/store/index.ts";
import { lmdbUnavailable } from "./peers.ts";
import {
  consume,
  median,
  suiteResult,
  writeSuiteResult,
  type CaseResult,
  type SuiteOptions,
  type SuiteResult,
  type TargetCheck,
} from "./lib.ts";

/** A store under the test's hands: put, get, and optional transaction bounds and close. */
interface OpenStore {
  put(k: Uint8Array, v: Uint8Array): void;
  get(k: Uint8Array): Uint8Array | undefined;
  begin?(): void;
  end?(): void;
  /** Runs `load` inside one write transaction (for stores whose transactions take a callback). */
  transaction?(load: () => void): void;
  close?(): void | Promise<void>;
}

/** A store under test: load every key, then get every key in a shuffled order. */
interface Subject {
  id: string;
  label: string;
  /** Opens an empty store; durable ones put their files in `dir`. */
  open(dir: string): Promise<OpenStore>;
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

const hexKey = (k: Uint8Array) => Buffer.from(k.buffer, k.byteOffset, k.byteLength).toString("hex");

const mapSubject: Subject = {
  id: "map",
  label: "peer Map<string, Uint8Array> (no copies, no checks)",
  open: async () => {
    const map = new Map<string, Uint8Array>();
    return { put: (k, v) => void map.set(hexKey(k), v), get: (k) => map.get(hexKey(k)) };
  },
};

/** The same Map doing the copies chaindb's contract requires (a value in, a value out). */
const mapCopySubject: Subject = {
  id: "map-copy",
  label: "peer Map<string, Uint8Array> copying in and out",
  open: async () => {
    const map = new Map<string, Uint8Array>();
    return { put: (k, v) => void map.set(hexKey(k), v.slice()), get: (k) => map.get(hexKey(k))?.slice() };
  },
};

function sqliteSubject(durable: boolean): Subject {
  return {
    id: durable ? "sqlite-durable" : "sqlite-memory",
    label: durable ? "peer sqlite-wasm durable" : "peer sqlite-wasm in memory",
    open: (dir) => openSqlite(durable ? path.join(dir, "kv.sqlite") : undefined),
  };
}

async function openSqlite(file: string | undefined): Promise<OpenStore> {
  const sqlite3 = await loadSqlite();
  const db =
    file === undefined
      ? new sqlite3.oo1.DB(":memory:", "c")
      : new sqlite3.oo1.DB({ filename: file, flags: "c", vfs: NODE_VFS_NAME });
  if (file !== undefined)
    db.exec("PRAGMA locking_mode=EXCLUSIVE; PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL");
  {
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
  }
}

/** lmdb 3 (native): the load in one synchronous write transaction (fsync at its end). */
const lmdbSubject: Subject = {
  id: "lmdb",
  label: "peer lmdb durable",
  open: async (dir) => {
    const { open } = (await import("lmdb")) as unknown as { open(this: void, o: object): LmdbStore };
    const db = open({ path: path.join(dir, "kv.lmdb"), keyEncoding: "binary", encoding: "binary" });
    return {
      put: (k, v) => void db.put(k, v),
      get: (k) => db.get(k),
      // lmdb's synchronous transaction takes a callback: the whole load runs inside it.
      transaction: (load) => db.transactionSync(load),
      close: () => db.close(),
    };
  },
};

/** Minimal typing of the lmdb package (a devDependency, loaded dynamically). */
interface LmdbStore {
  get(key: Uint8Array): Uint8Array | undefined;
  put(key: Uint8Array, value: Uint8Array): unknown;
  transactionSync<T>(fn: () => T): T;
  close(): Promise<void>;
}

/** Runs the suite and returns its results. */
export async function run(options: SuiteOptions): Promise<SuiteResult> {
  const count = options.quick ? 100_000 : 1_000_000;
  const rounds = options.quick ? 2 : 3;
  const keys = randomBytes(count, 32, 0x5eed);
  const values = randomBytes(count, 16, 0xbeef);
  const order = randomBytes(count, 4, 0xface).map(
    (b) => (b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24)) >>> 0,
  );
  const unavailable = await lmdbUnavailable();
  const subjects = [
    kvSubject("wasm"),
    kvSubject("ts"),
    mapSubject,
    mapCopySubject,
    sqliteSubject(false),
    sqliteSubject(true),
    ...(unavailable ? [] : [lmdbSubject]),
  ];
  const load = new Map<string, number[]>(subjects.map((s) => [s.id, []]));
  const gets = new Map<string, number[]>(subjects.map((s) => [s.id, []]));
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "chaindb-bench-store-"));
  try {
    // Warm-up first (unmeasured): without it the first round times the JIT compiling the ts store
    // (163k against 412k puts/s in the second round of one run), while the Map is native code.
    const warm = Math.min(count, 20_000);
    for (const subject of subjects) {
      options.onProgress?.(`warm-up: ${subject.label}, ${warm} keys`);
      const dir = fs.mkdtempSync(path.join(tmp, `${subject.id}-warm-`));
      await loadAndGet(subject, dir, keys.slice(0, warm), values.slice(0, warm), order);
    }
    for (let round = 1; round <= rounds; round++) {
      for (const subject of subjects) {
        options.onProgress?.(`round ${round}/${rounds}: ${subject.label}, ${count} keys`);
        const [l, g] = await loadAndGet(
          subject,
          fs.mkdtempSync(path.join(tmp, `${subject.id}-`)),
          keys,
          values,
          order,
        );
        load.get(subject.id)!.push(l);
        gets.get(subject.id)!.push(g);
      }
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  const cases: CaseResult[] = [];
  for (const [group, samples] of [
    ["load", load],
    ["random get", gets],
  ] as const) {
    const prefix = group === "load" ? "load" : "get";
    for (const s of subjects)
      cases.push(
        storeCase(
          `${prefix}-${s.id}`,
          `${s.label}: ${group}`,
          group,
          samples.get(s.id)!,
          count,
          s.id === "map" ? undefined : `${prefix}-map`,
        ),
      );
    if (unavailable)
      cases.push({
        ...storeCase(`${prefix}-lmdb`, `${lmdbSubject.label}: ${group}`, group, [], count),
        unavailable,
      });
  }
  for (const c of cases) {
    const base = cases.find((b) => b.id === c.baseline);
    if (base) c.ratio = c.median / base.median;
  }
  return suiteResult(
    "store",
    "Key-value store: 32-byte keys, 16-byte values",
    options.quick,
    cases,
    targets(cases),
    [
      `${count} random keys; load = puts into an empty store (sqlite and lmdb: one transaction); gets in a random order. Ratios are against the plain Map on the same keys.`,
      "chaindb's stores go through the public API (argument checks, copies in and out, an undo journal); the baseline Map keeps and returns the caller's arrays, with hex keys (less work than the contract); the copying Map does the same copies as chaindb.",
      "Durable peers fsync once, at the load's commit (sqlite-wasm through the node:fs VFS with WAL; lmdb's synchronous transaction).",
      "Every store first loads and reads 20,000 keys unmeasured (JIT warm-up); then rounds alternate the stores; ratios compare medians of the same run; the machine is shared.",
    ],
  );
}

/** Loads every key into a fresh store, then gets them in `order`; returns [load ops/s, get ops/s]. */
async function loadAndGet(
  subject: Subject,
  dir: string,
  keys: Uint8Array[],
  values: Uint8Array[],
  order: number[],
): Promise<[number, number]> {
  const count = keys.length;
  const store = await subject.open(dir);
  try {
    let t = performance.now();
    const putAll = () => {
      for (let i = 0; i < count; i++) store.put(keys[i]!, values[i]!);
    };
    if (store.transaction) store.transaction(putAll);
    else {
      store.begin?.();
      putAll();
      store.end?.();
    }
    const loadRate = (count * 1000) / (performance.now() - t);
    let found = 0;
    t = performance.now();
    for (let i = 0; i < count; i++) found += store.get(keys[order[i]! % count]!)!.length;
    const getRate = (count * 1000) / (performance.now() - t);
    consume(found);
    if (found !== count * 16)
      throw new Error(`${subject.label}: gets returned ${found} bytes, expected ${count * 16}`);
    return [loadRate, getRate];
  } finally {
    await store.close?.();
  }
}

function storeCase(
  id: string,
  label: string,
  group: string,
  rates: number[],
  keys: number,
  baseline?: string,
): CaseResult {
  return {
    id,
    label,
    group,
    unit: "ops/s",
    samples: rates,
    median: rates.length ? median(rates) : 0,
    min: rates.length ? Math.min(...rates) : 0,
    max: rates.length ? Math.max(...rates) : 0,
    ...(baseline ? { baseline } : {}),
    params: { keys, keyBytes: 32, valueBytes: 16 },
  };
}

function targets(cases: CaseResult[]): TargetCheck[] {
  const ratio = (id: string) => cases.find((c) => c.id === id)?.ratio ?? NaN;
  return (["load", "get"] as const).map((op) => {
    const r = ratio(`${op}-ts-store`);
    return {
      name: `ts store vs a Map<string, Uint8Array> on the same keys, ${op === "load" ? "load" : "random get"}`,
      want: "≥ 1.00×",
      measured: `${r.toFixed(2)}×`,
      pass: r >= 1,
    };
  });
}

const invokedDirectly =
  typeof process !== "undefined" &&
  process.argv[1] !== undefined &&
  import.meta.url.endsWith(process.argv[1].split("/").pop()!);
if (invokedDirectly) {
  const result = await run({
    quick: process.argv.includes("--quick"),
    onProgress: (m) => process.stderr.write(`${m}\n`),
  });
  console.log(
    JSON.stringify(
      result.cases.map((c) => ({ case: c.label, median: Math.round(c.median), ratio: c.ratio })),
      null,
      1,
    ),
  );
  console.log(`wrote ${writeSuiteResult(result, "bench/results")}`);
}
