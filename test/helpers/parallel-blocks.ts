/**
 * Parallel execution against serial execution (assembly/parallel.ts), shared by the vitest suite
 * (test/engine/state-threads.test.ts) and the Deno suite (test/deno/state_threads_test.ts): random
 * blocks of every shape the schedule meets — uniform, one hot account in every transfer, a
 * two-account ping-pong, chains of dependent transfers with one in the middle short of funds, new
 * recipients, the proposer among senders and recipients, balances at the u64 edge, bad nonces —
 * run on the single-threaded build and on the threaded build with 1 and 2 threads; after every
 * block the statuses, the touched-account records (in order), the root and the accounts match.
 * With 2 threads the roots are hashed on both threads too (assembly/parallel.ts parHashTree), so
 * the root comparison covers the split hashing; {@link checkRootThreads} checks it was taken.
 * The ts engine's twin (bindings/engine/state-ts-par.ts) runs the same cases against serial ts
 * and wasm; {@link checkApplyThreads} checks that its blocks really ran on the schedule.
 * Runtime-neutral: no node: imports, the states come from the caller.
 */
import fc from "fast-check";
import type { LedgerState } from "../../bindings/engine/index.ts";

/** The block shapes. */
export const SHAPES = ["uniform", "hot", "two", "chain", "edge"] as const;
/** One random case: a seed drives the block contents. */
export interface BlockCase {
  shape: (typeof SHAPES)[number];
  seed: number;
  accounts: number;
  count: number;
  blocks: number;
  newRate: number;
  proposerInBlock: boolean;
  abortSecond: boolean;
}

/** fast-check arbitrary of {@link BlockCase}; blocks of at least 128 transfers take the parallel path. */
export const blockCaseArb: fc.Arbitrary<BlockCase> = fc.record({
  shape: fc.constantFrom(...SHAPES),
  seed: fc.integer({ min: 1, max: 0x7fffffff }),
  accounts: fc.integer({ min: 2, max: 3000 }),
  count: fc.integer({ min: 100, max: 700 }),
  blocks: fc.integer({ min: 1, max: 3 }),
  newRate: fc.constantFrom(0, 0, 0.01),
  proposerInBlock: fc.boolean(),
  abortSecond: fc.boolean(),
});

const TX = 88;
const U64_MAX = (1n << 64n) - 1n;

function xorshift(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => ((x ^= x << 13), (x ^= x >>> 17), (x ^= x << 5), (x >>> 0) / 4294967296);
}

function address(tag: number, i: number): Uint8Array {
  const a = new Uint8Array(32);
  const dv = new DataView(a.buffer);
  dv.setUint32(0, Math.imul(i + 1, 0x9e3779b1) >>> 0, true);
  dv.setUint32(4, tag, true);
  dv.setUint32(8, i, true);
  return a;
}

const hex = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

/** Genesis records of the case's accounts (balances small, or near u64::MAX for "edge"). */
function genesis(c: BlockCase, rand: () => number): { records: Uint8Array; addrs: Uint8Array[] } {
  const addrs = Array.from({ length: c.accounts }, (_, i) => address(c.seed, i));
  const records = new Uint8Array(c.accounts * 48);
  const dv = new DataView(records.buffer);
  addrs.forEach((a, i) => {
    records.set(a, i * 48);
    const balance =
      c.shape === "edge" && rand() < 0.5
        ? U64_MAX - BigInt(Math.floor(rand() * 50))
        : BigInt(Math.floor(rand() * 400));
    dv.setBigUint64(i * 48 + 32, balance, true);
  });
  return { records, addrs };
}

/** One block of the case's shape; nonces from `nonces` (the serial state's view), some wrong. */
function block(
  c: BlockCase,
  rand: () => number,
  addrs: Uint8Array[],
  nonce: (a: Uint8Array) => bigint,
): Uint8Array {
  const packed = new Uint8Array(c.count * TX);
  const dv = new DataView(packed.buffer);
  const pending = new Map<string, bigint>();
  const pick = (): number => Math.floor(rand() * addrs.length);
  let chainAt = pick();
  for (let i = 0; i < c.count; i++) {
    let from = pick();
    let to = pick();
    if (c.shape === "hot") rand() < 0.5 ? (from = 0) : (to = 0);
    else if (c.shape === "two") ((from = i & 1), (to = 1 - from));
    else if (c.shape === "chain") ((from = chainAt), (to = pick()), (chainAt = to));
    const fromAddr = addrs[from % addrs.length]!;
    const toAddr =
      rand() < c.newRate ? address(c.seed ^ 0x5a5a, Math.floor(rand() * 1e6)) : addrs[to % addrs.length]!;
    const key = hex(fromAddr);
    const n = pending.get(key) ?? nonce(fromAddr);
    const wrong = rand() < 0.03;
    pending.set(key, n + 1n);
    packed.set(fromAddr, i * TX);
    packed.set(toAddr, i * TX + 32);
    // Chains move most of a balance, so one transfer in the middle runs short.
    const amount =
      c.shape === "edge" && rand() < 0.2
        ? U64_MAX - BigInt(Math.floor(rand() * 10))
        : BigInt(Math.floor(rand() * (c.shape === "chain" ? 300 : 60)));
    dv.setBigUint64(i * TX + 64, amount, true);
    dv.setBigUint64(i * TX + 72, BigInt(Math.floor(rand() * 3)), true);
    dv.setBigUint64(i * TX + 80, wrong ? n + 1n : n, true);
  }
  return packed;
}

/** What a block leaves behind, as one comparable string per state. */
function outcome(s: LedgerState, statuses: Uint8Array): string {
  return `${hex(statuses)}|${hex(s.changes())}|${hex(s.root())}`;
}

/**
 * Runs case `c` on `states` (the first is the reference) and throws on the first difference.
 * Every state must hold the same accounts before.
 */
export function runCase(states: LedgerState[], c: BlockCase): void {
  const rand = xorshift(c.seed);
  const { records, addrs } = genesis(c, rand);
  for (const s of states) s.load(records);
  const ref = states[0]!;
  const proposerPool = c.proposerInBlock ? addrs : [address(c.seed ^ 0x77, 1)];
  for (let b = 0; b < c.blocks; b++) {
    const packed = block(c, rand, addrs, (a) => ref.account(a)?.nonce ?? 0n);
    const proposer = proposerPool[Math.floor(rand() * proposerPool.length)]!;
    const abort = c.abortSecond && b === 1;
    const rootBefore = hex(ref.root());
    const seen = states.map((s) => {
      s.begin();
      let out = "";
      try {
        out = outcome(s, s.apply(packed, c.count, proposer));
      } finally {
        if (abort || out === "") s.abort();
        else s.commit();
      }
      return out;
    });
    for (let k = 1; k < states.length; k++) {
      if (seen[k] !== seen[0]) {
        const [a, w] = [seen[k]!.split("|"), seen[0]!.split("|")];
        const part = ["statuses", "touched accounts", "root"][a.findIndex((x, j) => x !== w[j])];
        throw new Error(`state ${k} differs from serial (${part}) at block ${b} of ${JSON.stringify(c)}`);
      }
    }
    const roots = states.map((s) => hex(s.root()));
    if (abort && roots[0] !== rootBefore)
      throw new Error(`abort did not restore the root: ${JSON.stringify(c)}`);
    if (new Set(roots).size !== 1) throw new Error(`roots differ after block ${b}: ${JSON.stringify(c)}`);
    for (const a of [addrs[0]!, addrs[1 % addrs.length]!, proposer]) {
      const want = JSON.stringify(ref.account(a), (_k, v: unknown) => (typeof v === "bigint" ? `${v}` : v));
      for (const s of states.slice(1)) {
        const got = JSON.stringify(s.account(a), (_k, v: unknown) => (typeof v === "bigint" ? `${v}` : v));
        if (got !== want) throw new Error(`account differs after block ${b}: ${JSON.stringify(c)}`);
      }
    }
  }
}

/** Every account of each state, sorted: equal for all states at the end of a run. */
export function sameAccounts(states: LedgerState[]): boolean {
  const dump = (s: LedgerState): string => {
    const all = s.exportAll();
    const recs: string[] = [];
    for (let i = 0; i < all.length; i += 48) recs.push(hex(all.subarray(i, i + 48)));
    return recs.sort().join("");
  };
  const want = dump(states[0]!);
  return states.every((s) => dump(s) === want);
}

/**
 * Throws unless the roots of every state with 2 threads or more were hashed on the threads (in
 * more than `minJobs` jobs; the others in none) and counted the same SHA-256 compressions as the
 * state on 1 thread (the threads' shares add up; serial execution on the single-threaded build
 * dirties a different number of entries, so its count is not compared).
 */
export function checkRootThreads(states: LedgerState[], minJobs: number): void {
  const one = states.find((s) => s.threads === 1);
  for (const [k, s] of states.entries()) {
    const jobs = s.rootJobs ?? 0;
    const threads = s.threads ?? 0;
    if (threads >= 2 ? jobs <= minJobs : jobs !== 0)
      throw new Error(`state ${k} (${threads} threads) hashed ${jobs} roots on the threads`);
    if (threads >= 1 && s.hashCount !== one?.hashCount)
      throw new Error(`state ${k} counted ${s.hashCount} compressions, 1 thread ${one?.hashCount}`);
  }
}

/**
 * Throws unless every state with threads that counts its scheduled blocks (`applyJobs`, the ts
 * engine) ran more than `minJobs` blocks on the schedule: a schedule that silently fell back to
 * serial execution would pass the comparisons without testing anything.
 */
export function checkApplyThreads(states: LedgerState[], minJobs: number): void {
  for (const [k, s] of states.entries()) {
    if ((s.threads ?? 0) === 0 || s.applyJobs === undefined) continue;
    if (s.applyJobs <= minJobs)
      throw new Error(`state ${k} (${s.threads} threads) ran ${s.applyJobs} blocks on the schedule`);
  }
}
