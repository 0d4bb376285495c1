/**
 * Parallel execution and root hashing for the `ts` ledger state: the twin of assembly/parallel.ts
 * in TypeScript, over SharedArrayBuffers instead of one shared wasm memory, so that WASM against
 * TS stays a comparison of the same algorithm.
 *
 * The arrays threads share (account records, account table, node arena, node stale flags, and a
 * scratch arena for each job's inputs) are growable SharedArrayBuffers, reserved up to a bound and
 * grown by the main thread between jobs; every thread reads them through fixed-length views,
 * recreated when a buffer grew (a length-tracking view ran 20× slower here, Node 20 and Deno 2.9;
 * a fixed-length view over a growable buffer runs as fast as a plain one and has the same map).
 *
 * A block runs as Solana's Sealevel schedules it (Yakovenko 2019), in levels of the dependency
 * DAG keyed by the accounts' 32-bit address hashes (a collision only adds an edge), exactly as
 * parallel.ts: phase 0, on every thread claiming chunks, looks up both accounts of each transfer
 * and records their values before the block; phase 1 + L applies the transfers of level L (no two
 * share an account); a barrier on an atomic counter in shared memory sits between phases. A
 * worker joins a job unless the main thread closed it, so a late or dead worker never holds a
 * block up before its lookups. Where the twin departs from the core: a thread waiting at a
 * meeting point spins a few microseconds, then sleeps on the word (`Atomics.wait`), so a partner
 * the OS descheduled gets a core back; the core's barriers only spin (see `spin`). The main thread then walks the statuses in block order
 * (state-ts-threads.ts) to journal, mark and credit exactly as serial execution does.
 *
 * The root: the main thread lists the stale subtrees under the top SUB_BITS path bits (16), the
 * threads claim them one at a time and rehash each whole (no barrier inside), and the main thread
 * rehashes the top levels after (assembly/commit.ts splits the same way).
 * @module
 */
import { ChainDbError, ErrorCode } from "../util/index.ts";
import * as R from "./records.ts";
import * as H from "./sha256-block.ts";
import * as L from "./state-ts-layout.ts";

// Module-level aliases, not the imports themselves: V8 folds a module's own constants and inlines
// its own functions in hot loops, not imported bindings (state-ts.ts: execution 1.6-2.5x slower).
const { PACKED_AMOUNT, PACKED_FEE, PACKED_NONCE, PACKED_TO, PACKED_TRANSFER_SIZE: TX, TransferCode } = R;
const { nodeDigest } = H;
const { ACC, ACC_BYTES, BAL, NODE, NON, TWO32, U32_MAX, addrHash, eq32, findHashed, rehashNode, u32le } = L;

// ---- the control block: an Int32Array over a SharedArrayBuffer; groups that different threads
// write sit on cache lines of their own (16 words) ----
/** Job generation (workers sleep on it); the stop word follows it (state-workers.ts serveJobs). */
export const C_GEN = 0;
const C_STOP = 1;
const C_BAR_COUNT = 16;
const C_BAR_GEN = 17;
const C_JOIN = 32; // (generation << 8) | CLOSED | threads that joined the job
const C_DONE = 33; // workers done with the job's first phase
const C_MISSING = 48; // two words: a job writes the one of its generation's parity
// Job inputs, written by the main thread before it publishes the job (read-only for workers).
const C_KIND = 64;
const C_COUNT = 65;
const C_LEVELS = 66;
const C_MASK = 67; // the account table's mask
const C_TXS = 68; // byte offset in the scratch arena
const C_HASHES = 69; // word offsets in the scratch arena from here on
const C_ENTS = 70;
const C_SNAP = 71;
const C_STATUS = 72; // byte offset
const C_ORDER = 73;
const C_LSTART = 74;
const C_CLAIMS = 75;
const C_SUBS = 76; // the tree job's subtrees: [node, parent slot word] pairs
const C_NSUBS = 77;
const CTL_WORDS = 128;
const KIND_APPLY = 0;
const KIND_TREE = 1;
const JOIN_CLOSED = 0x80;
const CLAIM_STRIDE = 16; // words between claim counters: one cache line each

/** Transfers per claimed chunk of the lookup phase, and of a level (parallel.ts). */
const LOOKUP_CHUNK = 32;
const APPLY_CHUNK = 32;
/** Fewest transfers worth waking the threads for (assembly/state.ts PAR_MIN_BLOCK). */
export const PAR_MIN_BLOCK = 128;
/** Transfers per level below which a schedule is too deep to pay for its barriers (parallel.ts). */
const PAR_MIN_PER_LEVEL = 64;
/** Path bits above the subtrees the root job splits into (assembly/commit.ts SUB_BITS). */
export const SUB_BITS = 4;
/** Changed leaves below which a root stays on the main thread: waking a worker costs more. */
export const PAR_MIN_ROOT = 64;
/** Bound on a wait for another thread before it is declared lost (a bug or a dead worker). */
const SPIN_TIMEOUT_MS = 30_000;
/** Loads of a word before a waiting thread sleeps on it (a few microseconds). */
const SPINS_BEFORE_SLEEP = 1 << 12;
/** Longest sleep between two looks at the deadline. */
const SLEEP_MS = 50;

// ---- reservations: a growable SharedArrayBuffer reserves its maximum (Node 20 allows 4 GiB) ----
/** Most accounts of a threaded ts state (its account records reserve 1 GiB). */
export const PAR_ACCOUNTS_MAX = 1 << 24;
const NODES_MAX = 1 << 25; // ~1.44 nodes per account with random paths, doubled as the arena grows
const SCRATCH_MAX = 1 << 30;

/** A growable SharedArrayBuffer (ES2024; the project's lib is ES2022). */
interface GrowableBuffer extends SharedArrayBuffer {
  readonly maxByteLength: number;
  grow(bytes: number): void;
}

/** The buffers a worker attaches to. */
export interface ParBuffers {
  ctl: SharedArrayBuffer;
  acc: GrowableBuffer;
  table: GrowableBuffer;
  tree: GrowableBuffer;
  stale: GrowableBuffer;
  scratch: GrowableBuffer;
}

const Growable = SharedArrayBuffer as unknown as new (
  bytes: number,
  options: { maxByteLength: number },
) => GrowableBuffer;

function gsab(maxBytes: number): GrowableBuffer {
  return new Growable(0, { maxByteLength: maxBytes });
}

function full(what: string): ChainDbError {
  return new ChainDbError(
    ErrorCode.OUT_OF_MEMORY,
    `ts state with threads: ${what} past its reservation (at most ${PAR_ACCOUNTS_MAX} accounts)`,
  );
}

/** Grows `b` to at least `bytes` (never shrinks); false when past its reservation. */
function growTo(b: GrowableBuffer, bytes: number): boolean {
  if (bytes <= b.byteLength) return true;
  if (bytes > b.maxByteLength) return false;
  b.grow(bytes);
  return true;
}

/**
 * The shared memory of a threaded ts state and every thread's views of it. The main thread
 * creates it and grows it (as the state's {@link TsSharedArrays}); a worker attaches to the same
 * buffers and refreshes its views at the start of each job it joins.
 */
export class ParMemory {
  /** The control block (job words, barrier, join, job inputs). */
  ctl: Int32Array;
  // This thread's views of the shared arrays (state-ts.ts layouts) and of the scratch arena.
  acc: Uint32Array = new Uint32Array(0);
  accB: Uint8Array = new Uint8Array(0);
  table: Int32Array = new Int32Array(0);
  tree: Int32Array = new Int32Array(0);
  stale: Uint8Array = new Uint8Array(0);
  s8: Uint8Array = new Uint8Array(0);
  s32: Int32Array = new Int32Array(0);
  su32: Uint32Array = new Uint32Array(0);

  constructor(readonly buffers: ParBuffers) {
    this.ctl = new Int32Array(buffers.ctl);
    this.refresh();
  }

  /** A new, empty shared memory with its reservations (main thread). */
  static create(): ParMemory {
    return new ParMemory({
      ctl: new SharedArrayBuffer(CTL_WORDS * 4),
      acc: gsab(PAR_ACCOUNTS_MAX * ACC_BYTES),
      table: gsab(PAR_ACCOUNTS_MAX * 16),
      tree: gsab(NODES_MAX * NODE * 4),
      stale: gsab(NODES_MAX),
      scratch: gsab(SCRATCH_MAX),
    });
  }

  /** Recreates the views of the buffers that grew (their contents are shared, not copied). */
  refresh(): void {
    const b = this.buffers;
    if (this.acc.byteLength !== b.acc.byteLength) {
      this.acc = new Uint32Array(b.acc, 0, b.acc.byteLength >>> 2);
      this.accB = new Uint8Array(b.acc, 0, b.acc.byteLength);
    }
    if (this.table.byteLength !== b.table.byteLength)
      this.table = new Int32Array(b.table, 0, b.table.byteLength >>> 2);
    if (this.tree.byteLength !== b.tree.byteLength)
      this.tree = new Int32Array(b.tree, 0, b.tree.byteLength >>> 2);
    if (this.stale.byteLength !== b.stale.byteLength)
      this.stale = new Uint8Array(b.stale, 0, b.stale.byteLength);
    if (this.s8.byteLength !== b.scratch.byteLength) {
      this.s8 = new Uint8Array(b.scratch, 0, b.scratch.byteLength);
      this.s32 = new Int32Array(b.scratch, 0, b.scratch.byteLength >>> 2);
      this.su32 = new Uint32Array(b.scratch, 0, b.scratch.byteLength >>> 2);
    }
  }

  /** The account records grown to `words` words (main thread, between jobs). */
  growAcc(words: number): Uint32Array {
    if (!growTo(this.buffers.acc, words * 4)) throw full("accounts");
    this.refresh();
    return this.acc.subarray(0, words);
  }

  /** A zeroed account table of `words` words (main thread, between jobs). */
  newTable(words: number): Int32Array {
    if (!growTo(this.buffers.table, words * 4)) throw full("account table");
    this.refresh();
    const t = this.table.subarray(0, words);
    t.fill(0);
    return t;
  }

  /** The node arena grown to `words` words (main thread, between jobs). */
  growTree(words: number): Int32Array {
    if (!growTo(this.buffers.tree, words * 4)) throw full("tree nodes");
    this.refresh();
    return this.tree.subarray(0, words);
  }

  /** The nodes' stale flags grown to `n` (main thread, between jobs). */
  growNodeStale(n: number): Uint8Array {
    if (!growTo(this.buffers.stale, n)) throw full("tree nodes");
    this.refresh();
    return this.stale.subarray(0, n);
  }

  /** Scratch of at least `bytes` bytes; false when a job that large must run serially. */
  reserveScratch(bytes: number): boolean {
    if (!growTo(this.buffers.scratch, Math.ceil(bytes / 4096) * 4096)) return false;
    this.refresh();
    return true;
  }
}

// ---- synchronization ------------------------------------------------------------------------

function lost(what: string): ChainDbError {
  return new ChainDbError(ErrorCode.WORKER_FAILED, `ts state: a thread did not ${what}`);
}

/**
 * Waits until c[i] differs from `old` (or equals it, with `until`); false after SPIN_TIMEOUT_MS.
 * Spins first (threads of a block arrive microseconds apart), then sleeps on the word with
 * `Atomics.wait` (allowed on the main thread in Node and Deno), so a thread waiting for a partner
 * the OS has descheduled gives up its core instead of burning it. Every write a waiter waits for
 * is followed by `Atomics.notify` ({@link bump}).
 */
function spin(c: Int32Array, i: number, old: number, until: boolean): boolean {
  for (let k = 0; k < SPINS_BEFORE_SLEEP; k++) if ((Atomics.load(c, i) === old) === until) return true;
  const deadline = performance.now() + SPIN_TIMEOUT_MS;
  // Bounded by the deadline.
  for (;;) {
    const v = Atomics.load(c, i);
    if ((v === old) === until) return true;
    if (performance.now() > deadline) return false;
    Atomics.wait(c, i, v, SLEEP_MS);
  }
}

/** Adds 1 to c[i] and wakes the threads sleeping on it. */
function bump(c: Int32Array, i: number): void {
  Atomics.add(c, i, 1);
  Atomics.notify(c, i);
}

/** All `threads` threads meet here before any goes on. */
function barrier(c: Int32Array, threads: number): void {
  const gen = Atomics.load(c, C_BAR_GEN);
  if (Atomics.add(c, C_BAR_COUNT, 1) === threads - 1) {
    Atomics.store(c, C_BAR_COUNT, 0);
    bump(c, C_BAR_GEN);
  } else if (!spin(c, C_BAR_GEN, gen, false)) throw lost("reach a barrier");
}

/** Claims the next chunk of phase `phase`: its first index, or ≥ the phase's size when none is left. */
function claim(m: ParMemory, phase: number, chunk: number): number {
  return Atomics.add(m.s32, m.ctl[C_CLAIMS]! + phase * CLAIM_STRIDE, chunk);
}

/** The word where job `gen` says an account was missing (parallel.ts `missingWord`). */
function missingWord(gen: number): number {
  return C_MISSING + (gen & 1);
}

/**
 * A worker joins job `gen` unless the main thread closed it (it had done the first phase alone
 * by then): a worker woken late never holds a block up. True when it joined.
 */
function join(c: Int32Array, gen: number): boolean {
  let v = Atomics.load(c, C_JOIN);
  // Bounded: each failed exchange means another thread joined or the job closed.
  for (;;) {
    if (v >>> 8 !== (gen & 0xffffff) || (v & JOIN_CLOSED) !== 0) return false;
    const seen = Atomics.compareExchange(c, C_JOIN, v, v + 1);
    if (seen === v) return true;
    v = seen;
  }
}

/**
 * The main thread's end of a job's first phase: closes the job to late workers, waits for those
 * that joined to finish that phase, and releases them. Returns the threads in the job.
 */
function closeFirstPhase(c: Int32Array): number {
  const threads = Atomics.or(c, C_JOIN, JOIN_CLOSED) & 0x7f;
  if (!spin(c, C_DONE, threads - 1, true)) throw lost("finish its share of a job");
  Atomics.store(c, C_DONE, 0);
  bump(c, C_BAR_GEN);
  return threads;
}

/** Publishes a job of `kind` whose inputs are in the control block; returns its generation. */
function publish(c: Int32Array, kind: number): number {
  c[C_KIND] = kind;
  const gen = (Atomics.load(c, C_GEN) + 1) | 0;
  Atomics.store(c, C_JOIN, (gen << 8) | 1);
  // The store of the generation publishes the job (and every plain write before it).
  Atomics.store(c, C_GEN, gen);
  Atomics.notify(c, C_GEN);
  return gen;
}

/** Asks every worker to stop: sets the stop word and wakes the job word. */
export function parStop(m: ParMemory): void {
  Atomics.store(m.ctl, C_STOP, 1);
  Atomics.add(m.ctl, C_GEN, 1);
  Atomics.notify(m.ctl, C_GEN);
}

// ---- the phases ------------------------------------------------------------------------------

/** Phase 0: finds both accounts of every claimed transfer and records their values before it. */
function lookupPhase(m: ParMemory, gen: number): void {
  const c = m.ctl;
  const n = c[C_COUNT]!;
  const mask = c[C_MASK]!;
  const [txs, hashes, ents, snap] = [c[C_TXS]!, c[C_HASHES]!, c[C_ENTS]!, c[C_SNAP]!];
  const { s8, s32, su32, acc, accB, table } = m;
  let missing = false;
  let sink = 0;
  for (let lo = claim(m, 0, LOOKUP_CHUNK); lo < n; lo = claim(m, 0, LOOKUP_CHUNK)) {
    const hi = Math.min(lo + LOOKUP_CHUNK, n);
    // Issue the chunk's cache misses close together (assembly/state.ts GROUP): slots, then records.
    for (let k = 2 * lo; k < 2 * hi; k++) sink ^= table[2 * (s32[hashes + k]! & mask) + 1]!;
    for (let k = 2 * lo; k < 2 * hi; k++) {
      const e = table[2 * (s32[hashes + k]! & mask) + 1]!;
      if (e !== 0) sink ^= acc[(e - 1) * ACC + NON]!;
    }
    for (let k = 2 * lo; k < 2 * hi; k++) {
      const e = findHashed(
        table,
        mask,
        accB,
        s8,
        txs + (k >> 1) * TX + (k & 1) * PACKED_TO,
        s32[hashes + k]!,
      );
      s32[ents + k] = e;
      if (e < 0) missing = true;
      else for (let w = 0; w < 4; w++) su32[snap + 4 * k + w] = acc[e * ACC + BAL + w]!;
    }
  }
  // The sink keeps the loads; a block whose sink hits the value just runs serially (parallel.ts).
  if (missing || sink === 0x7fffffff) Atomics.store(c, missingWord(gen), gen);
}

/**
 * Applies transfer `i` whose accounts (entries fe, te) exist and are not the proposer
 * (state-ts.ts `applyOne` under those conditions, same checks in the same order; the proposer's
 * credit is summed by the caller, not written). Returns the status.
 */
function applyScheduled(acc: Uint32Array, p: Uint8Array, o: number, fe: number, te: number): number {
  if (eq32(p, o, p, o + PACKED_TO)) return TransferCode.SELF_TRANSFER;
  const aLo = u32le(p, o + PACKED_AMOUNT),
    aHi = u32le(p, o + PACKED_AMOUNT + 4);
  let tLo = aLo + u32le(p, o + PACKED_FEE);
  let tHi = aHi + u32le(p, o + PACKED_FEE + 4);
  if (tLo >= TWO32) {
    tLo -= TWO32;
    tHi++;
  }
  if (tHi > U32_MAX) return TransferCode.OVERFLOW;
  const f = fe * ACC;
  const t = te * ACC;
  const fbLo = acc[f + BAL]!,
    fbHi = acc[f + BAL + 1]!;
  const fnLo = acc[f + NON]!,
    fnHi = acc[f + NON + 1]!;
  if (u32le(p, o + PACKED_NONCE) !== fnLo || u32le(p, o + PACKED_NONCE + 4) !== fnHi)
    return TransferCode.BAD_NONCE;
  if (fbHi < tHi || (fbHi === tHi && fbLo < tLo)) return TransferCode.INSUFFICIENT_FUNDS;
  if (fnLo === U32_MAX && fnHi === U32_MAX) return TransferCode.OVERFLOW;
  const sLo = acc[t + BAL]! + aLo;
  const sHi = acc[t + BAL + 1]! + aHi + (sLo >= TWO32 ? 1 : 0);
  if (sHi > U32_MAX) return TransferCode.OVERFLOW;
  // from = fromBal - total: no borrow past the top, checked above.
  let bLo = fbLo - tLo;
  let bHi = fbHi - tHi;
  if (bLo < 0) {
    bLo += TWO32;
    bHi--;
  }
  acc[f + BAL] = bLo;
  acc[f + BAL + 1] = bHi;
  acc[f + NON] = fnLo === U32_MAX ? 0 : fnLo + 1;
  acc[f + NON + 1] = fnLo === U32_MAX ? fnHi + 1 : fnHi;
  acc[t + BAL] = sLo;
  acc[t + BAL + 1] = sHi;
  return TransferCode.ok;
}

/** Phases 1..levels: the transfers of each level, claimed in chunks, a barrier after each level. */
function applyPhases(m: ParMemory, threads: number): void {
  const c = m.ctl;
  const [txs, ents, status, order, lstart, levels] = [
    c[C_TXS]!,
    c[C_ENTS]!,
    c[C_STATUS]!,
    c[C_ORDER]!,
    c[C_LSTART]!,
    c[C_LEVELS]!,
  ];
  const { s8, s32, acc } = m;
  for (let l = 0; l < levels; l++) {
    const from = s32[lstart + l]!;
    const n = s32[lstart + l + 1]! - from;
    for (let lo = claim(m, l + 1, APPLY_CHUNK); lo < n; lo = claim(m, l + 1, APPLY_CHUNK)) {
      const hi = Math.min(lo + APPLY_CHUNK, n);
      for (let k = lo; k < hi; k++) {
        const i = s32[order + from + k]!;
        s8[status + i] = applyScheduled(acc, s8, txs + i * TX, s32[ents + 2 * i]!, s32[ents + 2 * i + 1]!);
      }
    }
    barrier(c, threads);
  }
}

/** The tree job's only phase: whole stale subtrees, claimed one at a time. */
function subtreePhase(m: ParMemory): void {
  const c = m.ctl;
  const subs = c[C_SUBS]!;
  const n = c[C_NSUBS]!;
  const { s32, tree, stale, acc, accB } = m;
  for (let j = claim(m, 0, 1); j < n; j = claim(m, 0, 1)) {
    const node = s32[subs + 2 * j]!;
    rehashNode(tree, stale, acc, accB, node);
    nodeDigest(tree, node * NODE + 2, tree, s32[subs + 2 * j + 1]!);
  }
}

/**
 * A worker's share of job `gen` (the value of the job word that woke it). Returns when the job
 * is done. Workers need no identity: they claim work, and the main thread walks the results.
 */
export function parWorkerRun(m: ParMemory, gen: number): void {
  const c = m.ctl;
  if (!join(c, gen)) return;
  // The main thread grew the buffers (if at all) before the job word that the join just matched.
  m.refresh();
  if (c[C_KIND] === KIND_TREE) {
    subtreePhase(m);
    bump(c, C_DONE);
    return;
  }
  const bgen = Atomics.load(c, C_BAR_GEN);
  lookupPhase(m, gen);
  bump(c, C_DONE);
  if (!spin(c, C_BAR_GEN, bgen, false)) throw lost("close the lookups");
  if (Atomics.load(c, missingWord(gen)) === gen) return;
  applyPhases(m, Atomics.load(c, C_JOIN) & 0x7f);
}

// ---- the main thread's side ------------------------------------------------------------------------

/** A scheduled block's place in the scratch arena (word offsets, but `txs` and `status` in bytes). */
interface Layout {
  txs: number;
  hashes: number;
  ents: number;
  snap: number;
  status: number;
  order: number;
  lstart: number;
  claims: number;
}

/** The main thread's schedule of blocks (its level table is private, not shared). */
export class ParScheduler {
  private table = new Int32Array(0); // [hash, level, stamp, pad] per slot
  private stamp = 0;
  private level = new Int32Array(0);
  /** Blocks that ran on the schedule (a test and benchmark metric). */
  applyJobs = 0;
  /** Roots whose hashing ran on the threads. */
  rootJobs = 0;

  /**
   * `minPerLevel`: transfers per level below which a schedule is too deep (PAR_MIN_PER_LEVEL;
   * tests lower it so that hot-account and chained blocks run on the schedule too).
   */
  constructor(
    readonly m: ParMemory,
    readonly threads: number,
    private readonly minPerLevel = PAR_MIN_PER_LEVEL,
  ) {}

  /**
   * Lays out a block of `n` transfers in the scratch arena; undefined when the block is too large
   * for the reservation (then it runs serially).
   */
  layout(n: number): Layout | undefined {
    const levelsMax = this.levelsMax(n);
    const words = (bytes: number): number => Math.ceil(bytes / 64) * 16; // whole cache lines
    const txs = 0;
    const hashes = words(n * TX);
    const ents = hashes + words(8 * n);
    const snap = ents + words(8 * n);
    const order = snap + words(32 * n);
    const lstart = order + words(4 * n);
    const claims = lstart + words(4 * (levelsMax + 2));
    const statusWord = claims + (levelsMax + 1) * CLAIM_STRIDE;
    if (!this.m.reserveScratch(statusWord * 4 + n)) return undefined;
    return { txs, hashes, ents, snap, status: statusWord * 4, order, lstart, claims };
  }

  /** Copies the block's `n` transfers into the scratch arena (once its schedule is known). */
  copyTransfers(at: Layout, packed: Uint8Array, n: number): void {
    this.m.s8.set(packed.subarray(0, n * TX), at.txs);
  }

  /** Deeper schedules cost a barrier per level for few transfers each: serial wins there. */
  private levelsMax(n: number): number {
    return Math.max(1, Math.floor(n / this.minPerLevel));
  }

  /**
   * Levels of the dependency DAG of the `n` transfers at `packed`: hashes both keys of each
   * (kept for the lookups), fills the order and the level starts; returns the level count, or 0
   * when the block must run serially: a key's hash is `avoid` (the proposer's), or the schedule
   * is too deep. Hashing as it goes, a block that cannot run on the schedule costs little.
   */
  schedule(at: Layout, packed: Uint8Array, n: number, avoid: number): number {
    const levelsMax = this.levelsMax(n);
    let cap = 16;
    while (cap < n * 4) cap *= 2;
    // A fresh stamp per block instead of clearing the table; cleared when it grew or wrapped.
    if (++this.stamp > 0x3fffffff || this.table.length < cap * 4) {
      this.table = new Int32Array(Math.max(cap * 4, this.table.length));
      this.stamp = 1;
    }
    if (this.level.length < n) this.level = new Int32Array(n);
    const mask = cap - 1;
    const { s32 } = this.m;
    const level = this.level;
    let levels = 0;
    for (let i = 0; i < n; i++) {
      const ha = addrHash(packed, i * TX);
      const hb = addrHash(packed, i * TX + PACKED_TO);
      if (ha === avoid || hb === avoid) return 0;
      s32[at.hashes + 2 * i] = ha;
      s32[at.hashes + 2 * i + 1] = hb;
      const a = this.slotFor(mask, ha);
      const b = this.slotFor(mask, hb);
      const l = Math.max(this.table[a + 1]!, this.table[b + 1]!);
      if (l >= levelsMax) return 0;
      this.table[a + 1] = l + 1;
      this.table[b + 1] = l + 1;
      level[i] = l;
      if (l + 1 > levels) levels = l + 1;
    }
    // Counting sort by level, stable: block order within each level.
    const ls = at.lstart;
    s32.fill(0, ls, ls + levels + 1);
    for (let i = 0; i < n; i++) s32[ls + level[i]! + 1]!++;
    for (let l = 1; l <= levels; l++) s32[ls + l] = s32[ls + l]! + s32[ls + l - 1]!;
    // Place with lstart[l] as level l's cursor (it ends at level l + 1's start), then shift back.
    for (let i = 0; i < n; i++) s32[at.order + s32[ls + level[i]!]!++] = i;
    for (let l = levels; l > 0; l--) s32[ls + l] = s32[ls + l - 1]!;
    s32[ls] = 0;
    return levels;
  }

  /** The level-table slot (word index) of key hash `h` (inserted, level 0, when new in this block). */
  private slotFor(mask: number, h: number): number {
    const t = this.table;
    // Bounded: the table holds at most half its slots (2 keys per transfer, 4 slots per transfer).
    for (let i = Math.imul(h, 0x9e3779b1) & mask; ; i = (i + 1) & mask) {
      const s = i * 4;
      if (t[s + 2] !== this.stamp) {
        t[s] = h;
        t[s + 1] = 0;
        t[s + 2] = this.stamp;
        return s;
      }
      if (t[s] === h) return s;
    }
  }

  /**
   * Runs the scheduled block of `n` transfers (`levels` levels) on all threads: statuses written
   * at `at.status`, balances and nonces updated, the accounts' entries and values before the
   * block at `at.ents` and `at.snap`. False when an account was missing (then nothing changed
   * and the block must run serially). The proposer's fees are the caller's: its walk in block
   * order sums them (a sum per thread needs every thread's slot, whichever joined).
   */
  run(at: Layout, n: number, levels: number, tableMask: number): boolean {
    const c = this.m.ctl;
    const claims = this.m.s32;
    for (let p = 0; p <= levels; p++) claims[at.claims + p * CLAIM_STRIDE] = 0;
    c[C_COUNT] = n;
    c[C_LEVELS] = levels;
    c[C_MASK] = tableMask;
    c[C_TXS] = at.txs;
    c[C_HASHES] = at.hashes;
    c[C_ENTS] = at.ents;
    c[C_SNAP] = at.snap;
    c[C_STATUS] = at.status;
    c[C_ORDER] = at.order;
    c[C_LSTART] = at.lstart;
    c[C_CLAIMS] = at.claims;
    const gen = publish(c, KIND_APPLY);
    lookupPhase(this.m, gen);
    const threads = closeFirstPhase(c);
    if (Atomics.load(c, missingWord(gen)) === gen) return false;
    applyPhases(this.m, threads);
    this.applyJobs++;
    return true;
  }

  /**
   * Rehashes the stale subtrees under the top SUB_BITS levels below `top` (the tree's root node)
   * on all threads, each subtree's digest written into its parent's slot; the caller then
   * rehashes the levels above them. False when there are fewer than two (nothing to share).
   */
  hashSubtrees(top: number): boolean {
    const { tree, stale } = this.m;
    if (top <= 0 || stale[top] !== 1) return false;
    const list: number[] = [];
    const collect = (n: number, d: number, slot: number): void => {
      if (d === SUB_BITS) {
        list.push(n, slot);
        return;
      }
      for (let side = 0; side < 2; side++) {
        const ch = tree[n * NODE + side]!;
        if (ch > 0 && stale[ch] === 1) collect(ch, d + 1, n * NODE + 2 + side * 8);
      }
    };
    collect(top, 0, 2);
    if (list.length < 4 || !this.m.reserveScratch((CLAIM_STRIDE + list.length) * 4)) return false;
    const c = this.m.ctl;
    const s32 = this.m.s32;
    s32[0] = 0;
    s32.set(list, CLAIM_STRIDE);
    c[C_CLAIMS] = 0;
    c[C_SUBS] = CLAIM_STRIDE;
    c[C_NSUBS] = list.length / 2;
    publish(c, KIND_TREE);
    subtreePhase(this.m);
    closeFirstPhase(c);
    this.rootJobs++;
    return true;
  }
}
