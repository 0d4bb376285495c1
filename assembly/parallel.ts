/**
 * Parallel execution of a block's transfers inside the core, for the threaded build
 * (build/threads.wasm: the same sources with `--enable threads`, one shared imported memory).
 *
 * Every thread runs its own instance of the module over the one memory. Globals (the allocator's
 * bump pointer, the ledger's counters) are per instance, so only the main instance allocates and
 * owns the state; a worker instance runs non-allocating phases ({@link parWorkerRun}) over pointers
 * the main instance publishes in a control block in shared memory. Active data
 * segments are re-applied by every instantiation, so every worker instance is created before the
 * main instance writes anything (bindings/engine/state-threads.ts).
 *
 * A block runs as Solana's Sealevel schedules it (Yakovenko 2019), in levels of the dependency
 * DAG: the main thread hashes the keys and gives transfer i the level 1 + the last level of
 * either of its accounts (keyed by the key's 32-bit hash, so a collision only adds an edge), then
 * every thread (the main one included) claims chunks of
 *   phase 0: the lookups of both accounts (read-only; the cache misses that dominate at 1M
 *            accounts) and a journal record of each account's value before the block;
 *   phase 1 + L: the transfers of level L (no two share an account), in any order, each applied
 *            transfer stamping its accounts with the block's epoch and the dirty stamp;
 * with a barrier on an atomic counter in shared memory between phases (no message per phase);
 * the levels from the first small one on (a tail of few transfers each) run on the main thread
 * alone once the workers are done. The main instance then walks the statuses in block order
 * (state.ts `applyThreads`), reading the stamps' flags rather than the entries, to build the same
 * touched-account list, dirty list and proposer credit as serial execution, so the result is
 * byte-identical. What the schedule cannot run, serial execution runs: a missing account (it would
 * be created in block order), the proposer as a sender or recipient, fees that could overflow the
 * proposer's balance, or a schedule too deep to pay (one hot account, a two-account ping-pong).
 *
 * In the single-threaded build (no `threads` feature) the atomics compile away: parInit refuses.
 * @module
 */
import { alloc, free } from "./store-alloc";
import { kvFindHashed, kvSlots, kvMask, kvJournalPlace } from "./kv";
import { ACC_VALUE, V_DGEN, HASH_SCRATCH, commitUseThreads, commitTaskRun, commitAddCounts, commitHashCount, commitNodeCount, hashPathRange } from "./commit";

/** Status codes, as state.ts defines them. */
const ST_OK: u8 = 0;
const ST_BAD_NONCE: u8 = 1;
const ST_INSUFFICIENT: u8 = 2;
const ST_OVERFLOW: u8 = 3;
const ST_SELF: u8 = 4;
const TX_SIZE: u32 = 88;
const V_BAL: usize = ACC_VALUE;
const V_NONCE: usize = ACC_VALUE + 8;
const V_STAMP: usize = ACC_VALUE + V_DGEN; // dirty stamp u32, then the block epoch u32 (state.ts)
/** Per-key flags of a parallel block: the account's first change in the block, its first since the root. */
export const PAR_FIRST_IN_BLOCK: u8 = 1;
export const PAR_FIRST_DIRTY: u8 = 2;
/** A ledger entry's journal record: (8 + 32 + 24 + 3 & ~3) + 4 bytes (kv.ts). */
export const PAR_JREC: u32 = 68;

/** Most threads (main included). */
export const PAR_THREADS_MAX: u32 = 16;
/** Transfers per claimed chunk of the lookup phase, and of a level. */
const LOOKUP_CHUNK: u32 = 32;
const APPLY_CHUNK: u32 = 32;

// Control block (one cache line per group of words that different threads write).
const C_GEN: usize = 0; // job generation: workers sleep on it
const C_STOP: usize = 4;
const C_BAR_COUNT: usize = 64;
const C_BAR_GEN: usize = 68;
const C_JOIN: usize = 96; // (generation << 8) | CLOSED | threads that joined the job
const C_DONE: usize = 100; // workers done with the lookups of the job
const C_THREADS: usize = 128;
const C_COUNT: usize = 132;
const C_TXS: usize = 136;
const C_HASHES: usize = 140;
const C_ENTS: usize = 144;
const C_STATUS: usize = 148;
const C_JOURNAL: usize = 152;
const C_LSTART: usize = 156;
const C_ORDER: usize = 160;
const C_LEVELS: usize = 164;
const C_KV: usize = 168;
const C_MISSING: usize = 184; // two words: a job writes the one of its generation's parity
const C_CLAIMS: usize = 176; // pointer to one claim counter per phase, 64 bytes apart
const C_FEES: usize = 192; // u64 per thread
// Root hashing jobs (commit.ts commitRoot): what to hash, and each thread's hashing scratch.
const C_KIND: usize = 192 + 8 * PAR_THREADS_MAX;
const C_HSCR: usize = C_KIND + 4; // per thread: HASH_SCRATCH bytes (commit.ts)
const C_HLIST: usize = C_KIND + 8; // dirty entries (paths job)
const C_HN: usize = C_KIND + 12; // dirty entries (paths job) or subtree tasks (tree job)
const C_HDST: usize = C_KIND + 16; // the paths (paths job)
const C_HFAIL: usize = C_KIND + 20; // a thread ran out of memory in the tree job
const C_HCOUNT: usize = C_KIND + 24; // the workers' compressions in the tree job
const C_HNODES: usize = C_KIND + 28; // the workers' new nodes in the tree job
const C_EPOCH: usize = C_KIND + 32; // the block's epoch and the dirty stamp (apply job)
const C_DGEN: usize = C_KIND + 36;
const C_FLAGS: usize = C_KIND + 40; // per-key flags (PAR_FIRST_*), 2 per transfer
const C_SHARED: usize = C_KIND + 44; // levels all threads run; the main thread runs the rest alone
const C_GO: usize = C_KIND + 48; // the last apply job whose levels run (no account was missing)
const C_SLOW: usize = C_KIND + 52; // a worker waited long for the main thread in this job
const CTL_SIZE: u32 = <u32>C_KIND + 56;
/** Job kinds: a block's transfers (parApply), the dirty keys' paths, the subtrees of a root. */
const KIND_APPLY: u32 = 0;
const KIND_PATHS: u32 = 1;
const KIND_TREE: u32 = 2;
const CLAIM_STRIDE: u32 = 64;

/** The main instance's control block (0 in a worker instance and before parInit). */
let ctl: usize = 0;
let threadCount: u32 = 0;

// The main instance's scratch, grown on demand: [ptr, cap] per buffer.
const SCR_ENTS: u32 = 0; // entry pointers, 2 per transfer
const SCR_TABLE: u32 = 1; // level table: [hash u32, level u32, stamp u32, pad]
const SCR_ORDER: u32 = 2; // transfer indices sorted by level (block order within a level)
const SCR_LEVEL: u32 = 3; // each transfer's level
const SCR_LSTART: u32 = 4; // start of each level in the order, levels + 1 entries
const SCR_CLAIMS: u32 = 5;
const SCR_FLAGS: u32 = 6; // per-key flags, 2 per transfer
const SCRATCH: usize = memory.data(7 * 8, 8);
let tableStamp: u32 = 0;
let tablePtr: usize = 0;
let tableBytes: u32 = 0;

/** Scratch buffer `id` with room for `bytes` (contents undefined); 0 on OOM. */
function scratch(id: u32, bytes: u32): usize {
  const d = SCRATCH + (<usize>id << 3);
  const cap = load<u32>(d, 4);
  if (bytes <= cap) return <usize>load<u32>(d);
  let ncap = max<u32>(cap << 1, 4096);
  while (ncap < bytes) ncap <<= 1;
  const p = alloc(ncap);
  if (p == 0) return 0;
  if (cap != 0) free(<usize>load<u32>(d), cap);
  store<u32>(d, <u32>p);
  store<u32>(d, ncap, 4);
  return p;
}

/**
 * Sets up `threads` threads (main included) on the main instance: returns the control block's
 * address, which each worker passes to {@link parWorkerRun}; 0 on OOM, or in a build without
 * threads, or for a count out of range (1..PAR_THREADS_MAX).
 */
export function parInit(threads: u32): usize {
  if (!ASC_FEATURE_THREADS || threads < 1 || threads > PAR_THREADS_MAX || ctl != 0) return 0;
  const c = alloc(CTL_SIZE);
  if (c == 0) return 0;
  const hscr = alloc(threads * HASH_SCRATCH);
  if (hscr == 0) {
    free(c, CTL_SIZE);
    return 0;
  }
  memory.fill(c, 0, CTL_SIZE);
  store<u32>(c + C_THREADS, threads);
  store<u32>(c + C_HSCR, <u32>hscr);
  if (threads >= 2) commitUseThreads(parHashPaths, parRootTasks);
  ctl = c;
  threadCount = threads;
  return c;
}

/** Threads set up by parInit (0: serial only). */
export function parThreads(): u32 {
  return threadCount;
}

/** Asks every worker to stop: sets the stop word and wakes the job word (main instance). */
export function parStop(): void {
  if (!ASC_FEATURE_THREADS || ctl == 0) return;
  atomic.store<i32>(ctl + C_STOP, 1);
  atomic.add<i32>(ctl + C_GEN, 1);
  atomic.notify(ctl + C_GEN, -1);
}

// ---- synchronization ------------------------------------------------------------------------

/**
 * Loads of a barrier wait before it declares a thread lost (2^34: several seconds here).
 * Barriers only spin: the threads of a block arrive microseconds apart, and a wasm
 * `memory.atomic.wait32` in a worker broke it on Node 20 here (after such a wait the worker ran a
 * job twice and computed wrong balances, only under V8's mixed Liftoff/TurboFan tiers), so
 * workers sleep between blocks in JavaScript (`Atomics.wait`, state-thread-worker.ts) instead.
 */
const BARRIER_SPINS_MAX: u64 = 1 << 34;

/** Spins until the word at `p` differs from `old`; false after `spins` loads. */
function spinChange(p: usize, old: i32, spins: u64): bool {
  if (!ASC_FEATURE_THREADS) return true;
  for (let i: u64 = 0; i < spins; i++) {
    if (atomic.load<i32>(p) != old) {
      noteSpins(i);
      return true;
    }
  }
  return false;
}

// ---- backing off under load -------------------------------------------------------------------
//
// A thread descheduled in the middle of a job (another process on the cores) holds its partner
// at the next wait for a whole scheduler slice, milliseconds against a block's 0.3 ms: 2 threads
// ran at 0.01-0.07x serial with a CPU-burning process beside them. So the main instance counts
// the loads of each wait; a job in which one wait took SLOW_SPINS loads or more (20-60 µs here,
// where a quiet machine's waits for a lookup chunk take a few; SLOW_SPINS_TREE for the subtree
// job, where the last subtree may take ~100 µs) makes the next jobs run serially, 1, 2, 4 … up
// to BACKOFF_MAX of them (0.3-3 s of blocks), doubling while the jobs that probe the threads stay
// slow and shrinking by an eighth after each fast one (a loaded machine lets some probes through:
// shrinking by a half or a quarter probed so often that the stalls of the slow probes kept the
// hot-set rows at 0.3-0.5x serial). Results never depend on it: a skipped job is the serial path
// (parApply returns 0, the root's work runs on the main thread). (Sleeping in the wait instead,
// a `memory.atomic.wait32` on the main instance past 2^16 loads, hung the vitest suite once in
// four runs here: left out.)

/** Loads of one wait from which a job counts as slow (parTestSlowSpins changes it). */
const SLOW_SPINS: u64 = 1 << 16;
const SLOW_SPINS_TREE: u64 = 1 << 19;
/** Most jobs run serially after slow ones before the threads are tried again. */
const BACKOFF_MAX: u32 = 1024;
let slowSpins: u64 = SLOW_SPINS;
let slowTest = false;
let waitedLong = false;
let backoff: u32 = 0;
let skipJobs: u32 = 0;
let serialJobs: u32 = 0;

// @ts-ignore: decorator
@inline function noteSpins(spins: u64): void {
  if (spins >= slowSpins) waitedLong = true;
}

/** True when this job must run serially (backing off); counts it. Main instance. */
function jobSkipped(): bool {
  if (skipJobs == 0) return false;
  skipJobs--;
  serialJobs++;
  return true;
}

/** Ends a job that ran on the threads: a slow one backs off (see the section comment). */
function jobEnded(): void {
  // (Under the test hook only its threshold decides.)
  if (waitedLong || (!slowTest && atomic.load<i32>(ctl + C_SLOW) != 0)) {
    backoff = min<u32>(max<u32>(1, backoff << 1), BACKOFF_MAX);
    skipJobs = backoff;
  } else backoff = backoff > 8 ? backoff - (backoff >> 3) : backoff >> 1;
  waitedLong = false;
}

/** Jobs (blocks, or root steps) run serially so far because the threads were slow (a metric). */
export function parSerialJobs(): u32 {
  return serialJobs;
}

/**
 * Test hook: a wait of `spins` loads or more on the main thread counts as slow in every job (0:
 * every job is slow), and nothing else does (not a worker's long wait).
 */
export function parTestSlowSpins(spins: u32): void {
  slowSpins = <u64>spins;
  slowTest = true;
}

/** All `threads` threads meet here before any goes on. */
function barrier(c: usize, threads: u32): void {
  if (!ASC_FEATURE_THREADS) return;
  const gen = atomic.load<i32>(c + C_BAR_GEN);
  if (<u32>atomic.add<i32>(c + C_BAR_COUNT, 1) == threads - 1) {
    atomic.store<i32>(c + C_BAR_COUNT, 0);
    atomic.add<i32>(c + C_BAR_GEN, 1);
  } else if (!spinChange(c + C_BAR_GEN, gen, BARRIER_SPINS_MAX)) {
    // A thread never arrived (it died, or its instance was torn down): a bug, never bad input.
    abort("parallel.ts: a thread did not reach the barrier");
  } else if (waitedLong && ctl == 0) {
    // A worker waited long for the main thread (see C_SLOW): the job counts as slow.
    atomic.store<i32>(c + C_SLOW, 1);
    waitedLong = false;
  }
}

/** Claims the next chunk of phase `phase`: its first index, or ≥ `n` when none is left. */
// @ts-ignore: decorator
@inline function claim(c: usize, phase: u32, chunk: u32): u32 {
  if (!ASC_FEATURE_THREADS) return 0;
  const p = <usize>load<u32>(c + C_CLAIMS) + <usize>phase * CLAIM_STRIDE;
  return <u32>atomic.add<i32>(p, <i32>chunk);
}

// ---- the phases -------------------------------------------------------------------------------

/**
 * Where job `gen`'s lookups say an account was missing: its generation, in the word of its
 * parity. Only the main instance reads it, once every thread that joined is done with the
 * lookups; it then tells the workers through C_GO whether the levels run. (The workers used to
 * read this word themselves after the lookup barrier. A worker descheduled right there while job
 * gen missed an account holds nothing up: the main instance runs the block serially, then job
 * gen + 1 without it, then job gen + 2, whose lookups may write gen + 2 into the same word on a
 * miss, and the worker, resumed, read "no miss" and ran job gen's levels over job gen + 2's
 * schedule. C_GO only ever holds the generation of a job whose levels run, and the main instance
 * waits for its joined workers at the end of those.)
 */
// @ts-ignore: decorator
@inline function missingWord(c: usize, gen: i32): usize {
  return c + C_MISSING + ((<usize>gen & 1) << 2);
}

/** Phase 0: finds both accounts of every claimed transfer and journals their values. */
function lookupPhase(c: usize, gen: i32): void {
  const n = load<u32>(c + C_COUNT);
  const kv = <usize>load<u32>(c + C_KV);
  const txs = <usize>load<u32>(c + C_TXS);
  const hashes = <usize>load<u32>(c + C_HASHES);
  const ents = <usize>load<u32>(c + C_ENTS);
  const journal = <usize>load<u32>(c + C_JOURNAL);
  const slots = kvSlots(kv);
  const mask = kvMask(kv);
  let missing = false;
  let sink: u32 = 0;
  for (let lo = claim(c, 0, LOOKUP_CHUNK); lo < n; lo = claim(c, 0, LOOKUP_CHUNK)) {
    const hi = min<u32>(lo + LOOKUP_CHUNK, n);
    // Issue the chunk's cache misses close together (see state.ts GROUP): slots, then entries.
    for (let k = lo << 1; k < hi << 1; k++) {
      sink ^= load<u32>(slots + (<usize>(load<u32>(hashes + (<usize>k << 2)) & mask) << 3), 4);
    }
    for (let k = lo << 1; k < hi << 1; k++) {
      const e = <usize>load<u32>(slots + (<usize>(load<u32>(hashes + (<usize>k << 2)) & mask) << 3), 4);
      if (e != 0) sink ^= load<u32>(e + V_NONCE);
    }
    for (let k = lo << 1; k < hi << 1; k++) {
      const key = txs + <usize>(k >> 1) * TX_SIZE + ((<usize>k & 1) << 5);
      const e = kvFindHashed(kv, key, 32, load<u32>(hashes + (<usize>k << 2)));
      store<u32>(ents + (<usize>k << 2), <u32>e);
      if (e == 0) missing = true;
      else kvJournalPlace(journal + <usize>k * PAR_JREC, e);
    }
  }
  if (missing || sink == 0x7fffffff) atomic.store<i32>(missingWord(c, gen), gen); // (the sink keeps the loads)
}

// @ts-ignore: decorator
@inline function eq32(a: usize, b: usize): bool {
  return load<u64>(a) == load<u64>(b) && load<u64>(a, 8) == load<u64>(b, 8) &&
    load<u64>(a, 16) == load<u64>(b, 16) && load<u64>(a, 24) == load<u64>(b, 24);
}

/**
 * Stamps entry `e`, changed by an applied transfer, with the block's epoch and the dirty stamp
 * (state.ts `touch`, commit.ts `markDirty`) and returns which it lacked (PAR_FIRST_*): the main
 * thread then lists the entry without loading it. Two transfers that share an account run in
 * different levels, in block order, so the first that applies is the one that finds it unstamped.
 */
// @ts-ignore: decorator
@inline function stamp(e: usize, epoch: u64): u8 {
  const old = load<u64>(e + V_STAMP); // dirty stamp (low word), epoch (high word)
  if (old == epoch) return 0;
  store<u64>(e + V_STAMP, epoch);
  return (<u32>(old >> 32) != <u32>(epoch >> 32) ? PAR_FIRST_IN_BLOCK : 0) | (<u32>old != <u32>epoch ? PAR_FIRST_DIRTY : 0);
}

/**
 * Applies transfer `i` whose accounts exist and are not the proposer (state.ts `applyOne` under
 * those conditions; the proposer's credit is summed, not written), stamping its accounts and
 * writing their flags (see stamp; `stamps` is the dirty stamp | epoch << 32). Returns the fee earned.
 */
// @ts-ignore: decorator
@inline function applyScheduled(txs: usize, ents: usize, status: usize, flags: usize, stamps: u64, i: u32): u64 {
  const tx = txs + <usize>i * TX_SIZE;
  const amount = load<u64>(tx, 64);
  const fee = load<u64>(tx, 72);
  const nonce = load<u64>(tx, 80);
  let st = ST_OK;
  const total = amount + fee;
  if (eq32(tx, tx + 32)) st = ST_SELF;
  else if (total < amount) st = ST_OVERFLOW;
  else {
    const fe = <usize>load<u32>(ents + (<usize>i << 3));
    const te = <usize>load<u32>(ents + (<usize>i << 3), 4);
    const fromBal = load<u64>(fe + V_BAL);
    const fromNonce = load<u64>(fe + V_NONCE);
    const toBal = load<u64>(te + V_BAL);
    if (nonce != fromNonce) st = ST_BAD_NONCE;
    else if (fromBal < total) st = ST_INSUFFICIENT;
    else if (fromNonce == u64.MAX_VALUE) st = ST_OVERFLOW;
    else if (toBal + amount < toBal) st = ST_OVERFLOW;
    else {
      store<u64>(fe + V_BAL, fromBal - total);
      store<u64>(fe + V_NONCE, fromNonce + 1);
      store<u64>(te + V_BAL, toBal + amount);
      store<u8>(flags + (<usize>i << 1), stamp(fe, stamps));
      store<u8>(flags + (<usize>i << 1), stamp(te, stamps), 1);
    }
  }
  store<u8>(status + i, st);
  return st == ST_OK ? fee : 0;
}

/**
 * Phases 1..levels: the transfers of each level. The first `shared` levels are claimed in chunks
 * by all threads, a barrier between them; then the workers report done and leave, and the main
 * thread runs the small levels left (a deep tail of a few transfers each: a barrier per level
 * costs more than the transfers), in order, once the workers are done.
 */
function applyPhases(c: usize, tid: u32, threads: u32): void {
  const txs = <usize>load<u32>(c + C_TXS);
  const ents = <usize>load<u32>(c + C_ENTS);
  const status = <usize>load<u32>(c + C_STATUS);
  const order = <usize>load<u32>(c + C_ORDER);
  const lstart = <usize>load<u32>(c + C_LSTART);
  const levels = load<u32>(c + C_LEVELS);
  const flags = <usize>load<u32>(c + C_FLAGS);
  const stamps = <u64>load<u32>(c + C_DGEN) | (<u64>load<u32>(c + C_EPOCH) << 32);
  const shared = load<u32>(c + C_SHARED);
  let fees: u64 = 0;
  for (let l: u32 = 0; l < shared; l++) {
    const from = load<u32>(lstart + (<usize>l << 2));
    const n = load<u32>(lstart + (<usize>(l + 1) << 2)) - from;
    for (let lo = claim(c, l + 1, APPLY_CHUNK); lo < n; lo = claim(c, l + 1, APPLY_CHUNK)) {
      const hi = min<u32>(lo + APPLY_CHUNK, n);
      for (let k = lo; k < hi; k++) {
        fees += applyScheduled(txs, ents, status, flags, stamps, load<u32>(order + (<usize>(from + k) << 2)));
      }
    }
    if (l + 1 < shared) barrier(c, threads);
  }
  if (tid != 0) {
    // The main instance reads the fees once every worker is done: store them before.
    store<u64>(c + C_FEES + (<usize>tid << 3), fees);
    atomic.add<i32>(c + C_DONE, 1);
    return;
  }
  if (!spinUntil(c + C_DONE, <i32>threads - 1, BARRIER_SPINS_MAX)) abort("parallel.ts: a thread did not finish its levels");
  atomic.store<i32>(c + C_DONE, 0);
  const end = load<u32>(lstart + (<usize>levels << 2));
  for (let k = load<u32>(lstart + (<usize>shared << 2)); k < end; k++) {
    fees += applyScheduled(txs, ents, status, flags, stamps, load<u32>(order + (<usize>k << 2)));
  }
  store<u64>(c + C_FEES, fees);
}

const JOIN_CLOSED: i32 = 0x80;

/**
 * A worker joins job `gen` unless the main thread closed it (it had done every lookup alone by
 * then): a worker woken late never holds a block up. True when it joined.
 */
function join(c: usize, gen: i32): bool {
  if (!ASC_FEATURE_THREADS) return false;
  let v = atomic.load<i32>(c + C_JOIN);
  // Bounded: each failed exchange means another thread joined or the job closed.
  while (true) {
    if ((v >>> 8) != (gen & 0xffffff) || (v & JOIN_CLOSED) != 0) return false;
    const seen = atomic.cmpxchg<i32>(c + C_JOIN, v, v + 1);
    if (seen == v) return true;
    v = seen;
  }
  return false;
}

/**
 * The main thread's end of the lookup phase: closes the job to late workers, waits for those
 * that joined to finish their lookups, and releases them; for apply job `gen` (`apply`) first
 * says through C_GO whether its levels run. Returns the threads in the job.
 */
function closeLookups(c: usize, apply: bool, gen: i32): u32 {
  const threads = <u32>(atomic.or<i32>(c + C_JOIN, JOIN_CLOSED) & 0x7f);
  if (!spinUntil(c + C_DONE, <i32>threads - 1, BARRIER_SPINS_MAX)) abort("parallel.ts: a thread did not finish its lookups");
  atomic.store<i32>(c + C_DONE, 0);
  if (apply && atomic.load<i32>(missingWord(c, gen)) != gen) atomic.store<i32>(c + C_GO, gen);
  atomic.add<i32>(c + C_BAR_GEN, 1);
  // Workers of an apply job may sleep on it in JavaScript (parWorkerRun).
  if (apply) atomic.notify(c + C_BAR_GEN, -1);
  return threads;
}

/** Spins until the word at `p` equals `want`; false after `spins` loads. */
function spinUntil(p: usize, want: i32, spins: u64): bool {
  if (!ASC_FEATURE_THREADS) return true;
  for (let i: u64 = 0; i < spins; i++) {
    if (atomic.load<i32>(p) == want) {
      noteSpins(i);
      return true;
    }
  }
  return false;
}

/** A joined worker's job: lookups, then (unless a lookup missed) the levels. */
/**
 * Loads of the lookup barrier a worker spins in wasm before it leaves to wait in JavaScript
 * (about 50-100 µs here; the main thread closes the lookups within microseconds on a quiet
 * machine, and waking a sleeping worker costs tens of microseconds that the main thread then
 * waits at the end of the levels: 2^14 loads cost the hot-set rows a fifth). Descheduled by
 * another process, the main thread may close them a scheduler slice later; a worker spinning all
 * that time would hold the core the main thread needs.
 */
const LOOKUP_SPINS: u64 = 1 << 17;
/** The lookup barrier's generation a worker waits to change (see parWorkerRun). */
let waitValue: i32 = 0;

/**
 * A joined worker's job: lookups, then (unless a lookup missed) the levels. Returns 0 when done,
 * or the address the worker must wait on (see parWorkerRun).
 */
function workerJob(c: usize, tid: u32, gen: i32): usize {
  const bgen = atomic.load<i32>(c + C_BAR_GEN);
  lookupPhase(c, gen);
  atomic.add<i32>(c + C_DONE, 1);
  if (!spinChange(c + C_BAR_GEN, bgen, LOOKUP_SPINS)) {
    // The main thread is late (descheduled, on a loaded machine): the job counts as slow.
    atomic.store<i32>(c + C_SLOW, 1);
    waitValue = bgen;
    return c + C_BAR_GEN;
  }
  return workerLevels(c, tid, gen);
}

/** A joined worker's levels, once the main thread has closed the lookups of job `gen`. */
function workerLevels(c: usize, tid: u32, gen: i32): usize {
  if (atomic.load<i32>(c + C_GO) != gen) return 0;
  applyPhases(c, tid, <u32>(atomic.load<i32>(c + C_JOIN) & 0x7f));
  return 0;
}

/** The main thread's job: lookups, closing them, and (unless a lookup missed) the levels. */
function mainJob(c: usize, gen: i32): void {
  lookupPhase(c, gen);
  const threads = closeLookups(c, true, gen);
  if (atomic.load<i32>(missingWord(c, gen)) == gen) return;
  applyPhases(c, 0, threads);
}

/**
 * A worker's share of job `gen` (the value of the job word, control block +0, that woke it: the
 * worker waits on that word in JavaScript and checks the stop word, +4, first). `tid` is
 * 1..threads-1 (the main thread is 0). Returns 0 when the job is done; otherwise an address: the
 * worker must wait (in JavaScript, `Atomics.wait`) until the i32 there differs from
 * {@link parWorkerWaitValue}, then call {@link parWorkerResume}.
 */
export function parWorkerRun(c: usize, tid: u32, gen: i32): usize {
  if (!ASC_FEATURE_THREADS || !join(c, gen)) return 0;
  waitedLong = false; // this worker's long waits in this job (see barrier)
  // The kind was stored before the join word that the join just matched.
  const kind = load<u32>(c + C_KIND);
  if (kind == KIND_APPLY) return workerJob(c, tid, gen);
  if (kind == KIND_PATHS) pathsPhase(c, tid);
  else workerTree(c, tid);
  atomic.add<i32>(c + C_DONE, 1);
  return 0;
}

/** The value a worker waits to change after {@link parWorkerRun} returned an address. */
export function parWorkerWaitValue(): i32 {
  return waitValue;
}

/** Resumes job `gen` after its wait (see {@link parWorkerRun}); the same results. */
export function parWorkerResume(c: usize, tid: u32, gen: i32): usize {
  if (!ASC_FEATURE_THREADS) return 0;
  return workerLevels(c, tid, gen);
}

// ---- scheduling (main instance) ------------------------------------------------------------------

/**
 * Levels of the dependency DAG of `n` transfers whose key hashes (2 per transfer) are at
 * `hashes`: fills the order and level starts; returns the level count, or 0 when the schedule
 * has more than `levelsMax` levels (or on OOM): then the block runs serially.
 */
function schedule(hashes: usize, n: u32, levelsMax: u32): u32 {
  let cap: u32 = 16;
  while (cap < n * 4) cap <<= 1;
  const table = scratch(SCR_TABLE, cap << 4);
  const level = scratch(SCR_LEVEL, n << 2);
  const order = scratch(SCR_ORDER, n << 2);
  const lstart = scratch(SCR_LSTART, (levelsMax + 2) << 2);
  if (table == 0 || level == 0 || order == 0 || lstart == 0) return 0;
  // A fresh stamp per block instead of clearing the table; cleared when it grew or wrapped.
  if (++tableStamp == 0 || table != tablePtr || (cap << 4) > tableBytes) {
    memory.fill(table, 0, cap << 4);
    tablePtr = table;
    tableBytes = cap << 4;
    tableStamp = 1;
  }
  const mask = cap - 1;
  let levels: u32 = 0;
  for (let i: u32 = 0; i < n; i++) {
    const a = slotFor(table, mask, load<u32>(hashes + (<usize>i << 3)));
    const b = slotFor(table, mask, load<u32>(hashes + (<usize>i << 3), 4));
    const l = max<u32>(load<u32>(a, 4), load<u32>(b, 4));
    if (l >= levelsMax) return 0;
    store<u32>(a, l + 1, 4);
    store<u32>(b, l + 1, 4);
    store<u32>(level + (<usize>i << 2), l);
    if (l + 1 > levels) levels = l + 1;
  }
  // Counting sort by level, stable: block order within each level.
  memory.fill(lstart, 0, (levels + 1) << 2);
  for (let i: u32 = 0; i < n; i++) {
    const p = lstart + (<usize>(load<u32>(level + (<usize>i << 2)) + 1) << 2);
    store<u32>(p, load<u32>(p) + 1);
  }
  for (let l: u32 = 1; l <= levels; l++) {
    store<u32>(lstart + (<usize>l << 2), load<u32>(lstart + (<usize>l << 2)) + load<u32>(lstart + (<usize>(l - 1) << 2)));
  }
  // Place with lstart[l] as level l's cursor (it ends at level l + 1's start), then shift back.
  for (let i: u32 = 0; i < n; i++) {
    const p = lstart + (<usize>load<u32>(level + (<usize>i << 2)) << 2);
    const at = load<u32>(p);
    store<u32>(order + (<usize>at << 2), i);
    store<u32>(p, at + 1);
  }
  for (let l = levels; l > 0; l--) store<u32>(lstart + (<usize>l << 2), load<u32>(lstart + (<usize>(l - 1) << 2)));
  store<u32>(lstart, 0);
  return levels;
}

/** Levels from the first that all threads share (see applyPhases): those before the first small one. */
function sharedLevels(lstart: usize, levels: u32): u32 {
  for (let l: u32 = 0; l < levels; l++) {
    if (load<u32>(lstart + (<usize>(l + 1) << 2)) - load<u32>(lstart + (<usize>l << 2)) < PAR_MIN_PER_LEVEL) return l;
  }
  return levels;
}

/** The level-table slot of key hash `h` (inserted, level 0, when new in this block). */
// @ts-ignore: decorator
@inline function slotFor(table: usize, mask: u32, h: u32): usize {
  let i = (h * 0x9e3779b1) & mask;
  // Bounded: the table holds at most half its slots (2 keys per transfer, 4 slots per transfer).
  while (true) {
    const s = table + (<usize>i << 4);
    if (load<u32>(s, 8) != tableStamp) {
      store<u32>(s, h);
      store<u32>(s, 0, 4);
      store<u32>(s, tableStamp, 8);
      return s;
    }
    if (load<u32>(s) == h) return s;
    i = (i + 1) & mask;
  }
  return 0;
}

/**
 * Runs `n` transfers at `txs` on all threads (main instance). Returns 1 when they ran (statuses
 * written, balances and nonces updated, the changed accounts stamped with `epoch` and `dgen` and
 * flagged at {@link parFlags}, journal records written at `journal`; the caller builds the
 * touched list and credits {@link parFees} to the proposer), 0 when the block must run serially
 * instead (nothing was changed), -1 on OOM.
 */
export function parApply(kv: usize, txs: usize, hashes: usize, status: usize, journal: usize, n: u32, epoch: u32, dgen: u32): i32 {
  if (!ASC_FEATURE_THREADS || ctl == 0 || jobSkipped()) return 0;
  const c = ctl;
  // Deeper schedules cost a barrier per level for few transfers each: serial wins (see bench).
  const levelsMax = max<u32>(1, n / PAR_MIN_PER_LEVEL);
  const levels = schedule(hashes, n, levelsMax);
  if (levels == 0) return 0;
  const ents = scratch(SCR_ENTS, n << 3);
  const claims = scratch(SCR_CLAIMS, (levels + 1) * CLAIM_STRIDE);
  const flags = scratch(SCR_FLAGS, n << 1);
  if (ents == 0 || claims == 0 || flags == 0) return -1;
  store<u32>(c + C_FLAGS, <u32>flags);
  store<u32>(c + C_EPOCH, epoch);
  store<u32>(c + C_DGEN, dgen);
  for (let p: u32 = 0; p <= levels; p++) store<u32>(claims + <usize>p * CLAIM_STRIDE, 0);
  store<u32>(c + C_COUNT, n);
  store<u32>(c + C_KV, <u32>kv);
  store<u32>(c + C_TXS, <u32>txs);
  store<u32>(c + C_HASHES, <u32>hashes);
  store<u32>(c + C_ENTS, <u32>ents);
  store<u32>(c + C_STATUS, <u32>status);
  store<u32>(c + C_JOURNAL, <u32>journal);
  store<u32>(c + C_ORDER, load<u32>(SCRATCH + (SCR_ORDER << 3)));
  store<u32>(c + C_LSTART, load<u32>(SCRATCH + (SCR_LSTART << 3)));
  store<u32>(c + C_LEVELS, levels);
  store<u32>(c + C_SHARED, sharedLevels(load<u32>(SCRATCH + (SCR_LSTART << 3)), levels));
  store<u32>(c + C_CLAIMS, <u32>claims);
  for (let t: u32 = 0; t < PAR_THREADS_MAX; t++) store<u64>(c + C_FEES + (<usize>t << 3), 0);
  const gen = publish(c, KIND_APPLY);
  mainJob(c, gen);
  jobEnded();
  if (atomic.load<i32>(missingWord(c, gen)) == gen) return 0;
  return 1;
}

/** Transfers per level below which a schedule is too deep to pay for its barriers. */
const PAR_MIN_PER_LEVEL: u32 = 64;

/** Flags (PAR_FIRST_*) of the last parApply's applied transfers: sender at 2i, recipient at 2i + 1. */
export function parFlags(): usize {
  return <usize>load<u32>(SCRATCH + (SCR_FLAGS << 3));
}

/** Entry pointers found by the last parApply: sender at 2i, recipient at 2i + 1. */
export function parEntries(): usize {
  return <usize>load<u32>(SCRATCH + (SCR_ENTS << 3));
}

/** Fees the threads credited to the proposer in the last parApply (their sum; cannot overflow). */
export function parFees(): u64 {
  let sum: u64 = 0;
  for (let t: u32 = 0; t < threadCount; t++) sum += load<u64>(ctl + C_FEES + (<usize>t << 3));
  return sum;
}

/** Publishes a job of `kind` whose inputs are in the control block; returns its generation. */
function publish(c: usize, kind: u32): i32 {
  waitedLong = false;
  store<i32>(c + C_SLOW, 0);
  if (!slowTest) slowSpins = kind == KIND_TREE ? SLOW_SPINS_TREE : SLOW_SPINS;
  store<u32>(c + C_KIND, kind);
  const gen = atomic.load<i32>(c + C_GEN) + 1;
  atomic.store<i32>(c + C_JOIN, (gen << 8) | 1);
  // The release store of the generation publishes the job to the workers.
  atomic.store<i32>(c + C_GEN, gen);
  atomic.notify(c + C_GEN, -1);
  return gen;
}

// ---- the state root on all threads (commit.ts commitRoot) -----------------------------------------
//
// Two jobs per root: the dirty keys' paths (before the sort), then the subtrees below the top
// SUB_BITS levels (commit.ts commitTaskRun): after the main thread has walked the top levels, each
// thread claims whole subtrees, walks them (allocating its new nodes from its own node chunk: the
// allocator is shared and locked, store-alloc.ts) and hashes their leaves and levels, deepest first,
// in its own buffers; the main thread hashes the top levels once every subtree is done. A subtree
// reads nothing another thread writes, so the threads meet once per job. Work is claimed one
// subtree at a time, so a worker that joins late or not at all only costs its share. (A barrier
// per level, the first version, waited ~25 times per root for a thread the scheduler may have put
// aside: 2 threads took 53 ms per root against 15 ms on 1 on a loaded machine.)

/** Keys below which a job stays on the main thread: waking a worker costs more. */
const PAR_MIN_LEVEL: u32 = 64;
/** Keys per claimed chunk of the paths job: 16 compressions, a few microseconds. */
const HASH_CHUNK: u32 = 16;

/** Root hashing jobs run on the threads so far (a test and benchmark metric). */
let rootJobs: u32 = 0;

/** Root hashing jobs (paths, or subtrees) that ran on the threads so far. */
export function parRootJobs(): u32 {
  return rootJobs;
}

// @ts-ignore: decorator
@inline function hashScratch(c: usize, tid: u32): usize {
  return <usize>load<u32>(c + C_HSCR) + <usize>tid * HASH_SCRATCH;
}

/** Resets the claim counters of phases 0..phases-1; false on OOM. */
function resetClaims(c: usize, phases: u32): bool {
  const claims = scratch(SCR_CLAIMS, phases * CLAIM_STRIDE);
  if (claims == 0) return false;
  for (let p: u32 = 0; p < phases; p++) store<u32>(claims + <usize>p * CLAIM_STRIDE, 0);
  store<u32>(c + C_CLAIMS, <u32>claims);
  return true;
}

/** The paths job's only phase: path(a) of claimed chunks of the dirty list. */
function pathsPhase(c: usize, tid: u32): void {
  const list = <usize>load<u32>(c + C_HLIST);
  const dst = <usize>load<u32>(c + C_HDST);
  const n = load<u32>(c + C_HN);
  const scr = hashScratch(c, tid);
  for (let lo = claim(c, 0, HASH_CHUNK); lo < n; lo = claim(c, 0, HASH_CHUNK)) {
    hashPathRange(list, dst, lo, min<u32>(lo + HASH_CHUNK, n), scr);
  }
}

/**
 * path(a) of the `n` dirty entries at `list` into `dst` on all threads (main instance). False
 * when the caller must hash them itself: too few to pay for waking the workers, or OOM.
 */
export function parHashPaths(list: usize, n: u32, dst: usize): bool {
  if (!ASC_FEATURE_THREADS || ctl == 0 || threadCount < 2 || n < PAR_MIN_LEVEL || jobSkipped()) return false;
  const c = ctl;
  if (!resetClaims(c, 1)) return false;
  store<u32>(c + C_HLIST, <u32>list);
  store<u32>(c + C_HN, n);
  store<u32>(c + C_HDST, <u32>dst);
  publish(c, KIND_PATHS);
  pathsPhase(c, 0);
  closeLookups(c, false, 0);
  jobEnded();
  rootJobs++;
  return true;
}

/** The tree job's only phase: whole subtree tasks, claimed one at a time. */
function treePhase(c: usize, tid: u32): void {
  const n = load<u32>(c + C_HN);
  const scr = hashScratch(c, tid);
  for (let k = claim(c, 0, 1); k < n; k = claim(c, 0, 1)) {
    if (!commitTaskRun(tid, k, scr)) atomic.store<i32>(c + C_HFAIL, 1);
  }
}

/** A joined worker's tree job: its subtrees, then its counts for the main instance. */
function workerTree(c: usize, tid: u32): void {
  const hashes = commitHashCount();
  const nodes = commitNodeCount();
  treePhase(c, tid);
  atomic.add<i32>(c + C_HCOUNT, <i32>(commitHashCount() - hashes));
  atomic.add<i32>(c + C_HNODES, <i32>(commitNodeCount() - nodes));
}

/**
 * Walks and hashes the `tasks` subtrees of the current root (commit.ts commitTaskRun) on all
 * threads (main instance): 1 when done, 0 when the caller must run them itself (OOM of the
 * claim counters), -1 when a thread ran out of memory.
 */
export function parRootTasks(tasks: u32): i32 {
  if (!ASC_FEATURE_THREADS || ctl == 0 || threadCount < 2 || jobSkipped()) return 0;
  const c = ctl;
  if (!resetClaims(c, 1)) return 0;
  store<u32>(c + C_HN, tasks);
  store<u32>(c + C_HFAIL, 0);
  store<u32>(c + C_HCOUNT, 0);
  store<u32>(c + C_HNODES, 0);
  publish(c, KIND_TREE);
  treePhase(c, 0);
  closeLookups(c, false, 0);
  jobEnded();
  commitAddCounts(atomic.load<u32>(c + C_HCOUNT), atomic.load<u32>(c + C_HNODES));
  rootJobs++;
  return atomic.load<i32>(c + C_HFAIL) != 0 ? -1 : 1;
}
