/**
 * A ledger state larger than memory: the same state machine and the same sparse Merkle root as the
 * in-memory engines (definitions: engine/state-hash.ts), with the accounts in pages on disk and a
 * bounded cache of them in memory.
 *
 * - The tree over hashed keys splits at depth `pageBits` (D): the first D bits of path(a) pick
 *   the account's bucket. The 2^D buckets and the tree above them are a dense heap in memory
 *   (node i has children 2i, 2i + 1, so a node's hash message lies in place), each with the hash
 *   of its subtree and its account count: a count of 0 is the empty hash and a count of 1 the one
 *   leaf's hash (path compression), so the root is exactly subtree(all, 0).
 * - A bucket's accounts are one page: records sorted by path (48 bytes each on disk). In memory a
 *   page also keeps each record's path and leaf hash; its subtree below depth D is rehashed from
 *   the sorted paths when it changed (about 2·(N / 2^D) compressions). D is chosen at genesis for
 *   ~16 accounts a page and kept in the checkpoint.
 * - Pages live in a CLOCK cache up to `cacheBytes`; a changed page that is evicted is appended to
 *   the page log (page-file.ts), a missing one read back with a positional read. Eviction runs
 *   between operations, so one block may go past the budget by the pages it touches.
 * - `checkpoint(height)` appends every changed page, fsyncs the log and replaces the checkpoint
 *   (shadow paging); the durable ledger calls it in place of a full snapshot, and recovery opens
 *   the checkpoint and replays the blocks after it (bindings/store/durable.ts). A checkpoint also
 *   compacts the log into a new generation when dead frames outweigh live ones (page-file.ts).
 * - A block journals the record before each write; `abort` puts them back newest first.
 * - Two engines, one format and one root. On "ts" (`createPagedState`) pages are JS buffers and
 *   hashing is engine/sha256-block.ts. On "wasm" (`createWasmPagedState`, paged-wasm.ts) the
 *   pages and the heap live in a core instance's memory, a miss is read straight into its page's
 *   block, a block's paths are hashed up front and a root's dirty paths level by level, four at
 *   a time in the SIMD kernels (assembly/paged.ts); proofs walk the pages in TypeScript on both.
 * - Every account access takes its path from the block's path table (`blockPaths`) or from the
 *   journal, so a block hashes each address once.
 * Pages read through the file system also sit in the kernel's page cache, which is not part of
 * the process's RSS and which the kernel drops under memory pressure.
 * @module
 */
import { ChainDbError, ErrorCode, assert } from "../util/index.ts";
import {
  ACCOUNT_RECORD_SIZE as REC,
  PACKED_AMOUNT,
  PACKED_FEE,
  PACKED_NONCE,
  PACKED_TO,
  PACKED_TRANSFER_SIZE as TX,
  TransferCode,
  digestBytes,
  leafDigest,
  nodeDigest,
  pathDigest,
  instantiateCore,
  type AccountState,
  type CoreExports,
  type EngineName,
  type LedgerState,
  type LoadProgress,
  type ProofMaterial,
} from "../engine/index.ts";
import { type FilePort, nodeFilePort } from "./file-port.ts";
import { PAGE_HEADER, PageFile, encodePage, pageFrameBytes, type Checkpoint } from "./page-file.ts";
import { Page, WORDS, bitOf, changedIn, heapPage, lcpBits, splitAt } from "./page.ts";
import { PAGE_ROOM, WasmPages } from "./paged-wasm.ts";

const U64_MAX = (1n << 64n) - 1n;
/** Records per load step between evictions and progress reports. */
const LOAD_STEP = 1 << 14;
/** Target accounts per page when the page count is chosen from the genesis size. */
const PAGE_ACCOUNTS = 16;
/** Bytes per write while compacting the page log. */
const COMPACT_CHUNK = 4 << 20;

/** Options of a paged state. */
export interface PagedStateOptions {
  /** Directory of the page log and checkpoint. */
  dir: string;
  /** Bytes of pages kept in memory (the cache budget). */
  cacheBytes: number;
  /** Bits of the path that pick a page, 1..24 (default: from the genesis size, ~16 accounts a page). */
  pageBits?: number;
  /** Files through this port (default node:fs). */
  port?: FilePort;
}

/** Cache and file counters, for benchmarks. */
export interface PagedStats {
  /** Bytes of pages in memory. */
  cachedBytes: number;
  /** Pages in memory. */
  cachedPages: number;
  /** Pages read from the log (misses). */
  pageReads: number;
  /** Pages appended to the log (evictions and checkpoints). */
  pageWrites: number;
  /** Bytes of the page log and the checkpoint. */
  diskBytes: number;
  /** Bytes of the tree above the pages (always in memory). */
  topBytes: number;
  /** Bits of the path that pick a page. */
  pageBits: number;
  /** Generation of the page log (one more per compaction). */
  logGeneration: number;
}

function u32le(b: Uint8Array, o: number): number {
  return (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
}

/** Compares 8 path words (unsigned) of a[ao..] and b[bo..]. */
function cmpPath(a: Int32Array, ao: number, b: Int32Array, bo: number): number {
  for (let i = 0; i < 8; i++) {
    const x = a[ao + i]! >>> 0;
    const y = b[bo + i]! >>> 0;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

function readU64(b: Uint8Array, o: number): bigint {
  return BigInt(u32le(b, o)) | (BigInt(u32le(b, o + 4)) << 32n);
}

function writeU64(b: Uint8Array, o: number, v: bigint): void {
  const lo = Number(v & 0xffffffffn);
  const hi = Number(v >> 32n);
  b[o] = lo;
  b[o + 1] = lo >>> 8;
  b[o + 2] = lo >>> 16;
  b[o + 3] = lo >>> 24;
  b[o + 4] = hi;
  b[o + 5] = hi >>> 8;
  b[o + 6] = hi >>> 16;
  b[o + 7] = hi >>> 24;
}

/** Page bits for a ledger of about `accounts` accounts: ~16 accounts a page, 2^4 … 2^22 pages. */
export function pageBitsFor(accounts: number): number {
  return Math.max(4, Math.min(22, Math.ceil(Math.log2(Math.max(1, accounts) / PAGE_ACCOUNTS))));
}

/** Creates a paged state over `options.dir`; it touches no file until {@link PagedState.open}. */
export function createPagedState(options: PagedStateOptions): PagedState {
  return new PagedState(options);
}

/**
 * A paged state on the wasm engine: pages and the heap above them in the memory of its own core
 * instance, hashed four at a time by the SIMD kernels (paged-wasm.ts). Same files, same roots.
 */
export async function createWasmPagedState(options: PagedStateOptions): Promise<PagedState> {
  // One wasm32 memory holds the cache, the heap above the pages and the scratch: at most 4 GiB.
  if (options.cacheBytes > WASM_CACHE_MAX)
    throw new ChainDbError(
      ErrorCode.BAD_ARGUMENT,
      `"cacheBytes" on the wasm engine expected at most ${WASM_CACHE_MAX} (3 GiB), got ${options.cacheBytes}`,
    );
  return new PagedState(options, await instantiateCore());
}

/** Largest cache of a wasm paged state: its pages share one 4 GiB memory with the tree above them. */
export const WASM_CACHE_MAX = 3 * 2 ** 30;

/** A ledger state in pages on disk with a bounded cache (see the module comment). */
export class PagedState implements LedgerState {
  /** "wasm" when the pages live in a core instance (paged-wasm.ts), else "ts". */
  readonly engine: EngineName;
  private readonly file: PageFile;
  private readonly budget: number;
  private readonly wasm: WasmPages | undefined;
  private bits = 0;
  private buckets = 0;
  // The heap above the pages: 8 words (hash) and a u32 count (accounts) per node 1 … 2B - 1, in
  // JS arrays (ts) or in the core's memory at topAt / cntAt (wasm; views made again on growth).
  private topArr = new Int32Array(0);
  private cntArr = new Uint32Array(0);
  private topAt = 0;
  private cntAt = 0;
  private heapBuf: ArrayBufferLike | undefined;
  private offsets = new Float64Array(0); // page offset in the log per bucket, -1: none
  private diskN = new Uint32Array(0); // accounts in the bucket's page in the log
  private seenTop = new Uint8Array(0); // scratch of updateRoot
  private pages: (Page | undefined)[] = [];
  private clock: number[] = [];
  private hand = 0;
  private cachedBytes = 0;
  private stale = new Uint8Array(0);
  private staleList: number[] = [];
  private total = 0;
  private ckptHeight = -1;
  private ckptRoot: Uint8Array = new Uint8Array(32);
  private opened = false;
  private pageReads = 0;
  private pageWrites = 0;
  // ---- the open block ----
  private inBlock = false;
  private journal: Uint8Array = new Uint8Array(REC * 1024); // record before each write
  private journalHad: Uint8Array = new Uint8Array(1024); // 1 if the account existed
  private journalLen = 0;
  // ---- scratch ----
  private readonly q = new Int32Array(8);
  /** The page of the last {@link locate} (a field, not a returned object: ~10k lookups a block). */
  private lp!: Page;
  private journalPath = new Int32Array(8 * 1024); // path of each journaled account
  private txPaths = new Int32Array(0); // paths of a block's senders and receivers (apply)
  private readonly scratch = new Int32Array(16 * 258);
  private readonly word8 = new Int32Array(8);
  private readonly chainH = new Int32Array(8);

  constructor(
    private readonly options: PagedStateOptions,
    core?: CoreExports,
  ) {
    if (!Number.isFinite(options.cacheBytes) || options.cacheBytes < 0)
      throw new ChainDbError(
        ErrorCode.BAD_ARGUMENT,
        `"cacheBytes" expected a number ≥ 0, got ${options.cacheBytes}`,
      );
    if (
      options.pageBits !== undefined &&
      !(Number.isInteger(options.pageBits) && options.pageBits >= 1 && options.pageBits <= 24)
    )
      throw new ChainDbError(
        ErrorCode.BAD_ARGUMENT,
        `"pageBits" expected an integer in 1..24, got ${options.pageBits}`,
      );
    this.budget = options.cacheBytes;
    this.wasm = core === undefined ? undefined : new WasmPages(core);
    this.file = new PageFile(options.port ?? nodeFilePort, options.dir, this.wasm?.crc32c);
    this.engine = core === undefined ? "ts" : "wasm";
  }

  /** The heap's hashes (8 words per node). */
  private get top(): Int32Array {
    if (this.wasm !== undefined && this.heapBuf !== this.wasm.buffer) this.bindHeap();
    return this.topArr;
  }

  /** The heap's account counts. */
  private get cnt(): Uint32Array {
    if (this.wasm !== undefined && this.heapBuf !== this.wasm.buffer) this.bindHeap();
    return this.cntArr;
  }

  private bindHeap(): void {
    const buf = this.wasm!.buffer;
    this.heapBuf = buf;
    this.topArr = new Int32Array(buf, this.topAt, 2 * this.buckets * 8);
    this.cntArr = new Uint32Array(buf, this.cntAt, 2 * this.buckets);
  }

  /** SHA-256 compressions of the wasm kernels so far (0 on the ts engine). */
  get hashCount(): number {
    return this.wasm?.hashCount ?? 0;
  }

  /** Opens the files: the state at the durable checkpoint, or empty (height -1) without one. */
  open(): void {
    assert(!this.opened, "paged state opened twice");
    const ckpt = this.file.open();
    this.opened = true;
    if (ckpt === undefined) {
      this.layout(this.options.pageBits ?? pageBitsFor(0));
      return;
    }
    this.layout(ckpt.pageBits);
    this.offsets.set(ckpt.offsets);
    this.diskN.set(ckpt.counts);
    const B = this.buckets;
    for (let b = 0; b < B; b++) {
      this.cnt[B + b] = ckpt.counts[b]!;
      this.readWords(ckpt.hashes, b * 32, this.top, (B + b) * 8);
    }
    this.combineAll();
    this.total = ckpt.accounts;
    this.ckptHeight = ckpt.height;
    this.ckptRoot = ckpt.root;
    assert(this.cnt[1] === ckpt.accounts, "checkpoint counts add up");
    if (!sameBytes(this.rootBytes(), ckpt.root))
      throw new ChainDbError(
        ErrorCode.STORE_CORRUPT,
        "paged state is corrupted: checkpoint root differs from its pages' hashes",
      );
  }

  /** Forgets the files and the memory: an empty state for a ledger of about `accounts` accounts. */
  reset(accounts: number): void {
    this.file.reset();
    this.opened = true;
    this.layout(this.options.pageBits ?? pageBitsFor(accounts));
    this.total = 0;
    this.ckptHeight = -1;
  }

  /** True once {@link open} or {@link reset} ran. */
  get isOpen(): boolean {
    return this.opened;
  }

  /** Height of the durable checkpoint (-1: none). */
  get checkpointHeight(): number {
    return this.ckptHeight;
  }

  /** Root at the durable checkpoint. */
  get checkpointRoot(): Uint8Array {
    return this.ckptRoot;
  }

  private layout(bits: number): void {
    this.dropPages();
    this.bits = bits;
    const B = (this.buckets = 1 << bits);
    if (this.wasm === undefined) {
      this.topArr = new Int32Array(2 * B * 8);
      this.cntArr = new Uint32Array(2 * B);
    } else {
      if (this.topAt !== 0) this.wasm.free(this.topAt, this.topArr.byteLength);
      if (this.cntAt !== 0) this.wasm.free(this.cntAt, this.cntArr.byteLength);
      this.topAt = this.wasm.alloc(2 * B * 32);
      this.cntAt = this.wasm.alloc(2 * B * 4);
      this.bindHeap();
      this.topArr.fill(0);
      this.cntArr.fill(0);
    }
    this.offsets = new Float64Array(B).fill(-1);
    this.diskN = new Uint32Array(B);
    this.seenTop = new Uint8Array(B);
    this.pages = new Array<Page | undefined>(B);
    this.stale = new Uint8Array(B);
    this.staleList = [];
    this.clock = [];
    this.hand = 0;
    this.cachedBytes = 0;
  }

  private readWords(bytes: Uint8Array, o: number, out: Int32Array, at: number): void {
    for (let i = 0; i < 8; i++)
      out[at + i] =
        (bytes[o + 4 * i]! << 24) |
        (bytes[o + 4 * i + 1]! << 16) |
        (bytes[o + 4 * i + 2]! << 8) |
        bytes[o + 4 * i + 3]!;
  }

  get accountCount(): number {
    return this.total;
  }

  get nodeCount(): number {
    return this.buckets * 2 - 1;
  }

  /** Cache and file counters. */
  stats(): PagedStats {
    return {
      cachedBytes: this.cachedBytes,
      cachedPages: this.clock.length,
      pageReads: this.pageReads,
      pageWrites: this.pageWrites,
      diskBytes: this.file.diskBytes(),
      topBytes:
        this.top.byteLength +
        this.cnt.byteLength +
        this.offsets.byteLength +
        this.stale.byteLength +
        this.buckets * 8,
      pageBits: this.bits,
      logGeneration: this.file.gen,
    };
  }

  // ---- pages and the cache ----------------------------------------------------------------------

  private checkOpened(): void {
    assert(this.opened, "paged state used before open()");
  }

  /** An empty page of capacity `cap` (in the core's memory on the wasm engine). */
  private newPage(b: number, cap: number): Page {
    return this.wasm === undefined ? heapPage(b, cap) : this.wasm.newPage(b, cap);
  }

  /** Releases the memory of a page no longer in the cache. */
  private freePage(p: Page): void {
    this.wasm?.freePage(p);
  }

  /** Frees every cached page (a new layout). */
  private dropPages(): void {
    for (const b of this.clock) this.freePage(this.pages[b]!);
    this.pages = [];
    this.clock = [];
  }

  /** The page of bucket `b`, read from the log on a miss. */
  private page(b: number): Page {
    let p = this.pages[b];
    if (p !== undefined) {
      p.ref = true;
      return p;
    }
    const n = this.diskN[b]!;
    const off = this.offsets[b]!;
    p = this.newPage(b, Math.max(4, n + (n >> 2)));
    if (off >= 0) {
      this.readInto(p, n, off);
      this.pageReads++;
      p.n = n;
      p.leafOk.fill(1, 0, n);
      p.branchOk.fill(1, 0, n); // written fully hashed (writePages)
    }
    this.pages[b] = p;
    this.clock.push(b);
    this.cachedBytes += p.bytes;
    return p;
  }

  /**
   * Reads the page's frame from the log. On the wasm engine the frame is read straight into the
   * page's block, placed so that its word area lands where the page keeps it (the header in the
   * block's room before the records); the records then move down to the block's start.
   */
  private readInto(p: Page, n: number, off: number): void {
    if (this.wasm === undefined) return this.file.readPage(p.bucket, n, off, p.recs, p.words);
    const at = p.wordsBase - n * REC - PAGE_HEADER;
    assert(at >= p.base - PAGE_ROOM, "a frame fits its page's block");
    const mem = this.wasm.bytes;
    this.file.readFrame(p.bucket, n, off, mem, at);
    mem.copyWithin(p.base, at + PAGE_HEADER, at + PAGE_HEADER + n * REC);
  }

  /** Grows page `p` by one record's room (replacing it in the cache). */
  private grow(p: Page): Page {
    const q = this.newPage(p.bucket, p.cap * 2);
    p.copyInto(q);
    this.freePage(p);
    q.ref = true;
    this.pages[p.bucket] = q;
    this.cachedBytes += q.bytes - p.bytes;
    return q;
  }

  /** Evicts pages (CLOCK) until the cache fits its budget; changed pages go to the log first. */
  private evict(): void {
    const out: Page[] = [];
    // Bounded: each step clears a reference bit or removes a page; two sweeps at most per page.
    while (this.cachedBytes > this.budget && this.clock.length > 0) {
      if (this.hand >= this.clock.length) this.hand = 0;
      const b = this.clock[this.hand]!;
      const p = this.pages[b]!;
      if (p.ref) {
        p.ref = false;
        this.hand++;
        continue;
      }
      if (p.dirty) out.push(p);
      this.pages[b] = undefined;
      this.clock[this.hand] = this.clock[this.clock.length - 1]!;
      this.clock.pop();
      this.cachedBytes -= p.bytes;
      if (!p.dirty) this.freePage(p);
    }
    this.writePages(out);
    for (const p of out) this.freePage(p);
  }

  /** Appends changed pages to the log in one write and points their buckets at them. */
  private writePages(pages: readonly Page[]): void {
    // Every leaf and branch hash current, so a page read back trusts them (the bucket's slot
    // gets the hash the next root would give it).
    this.hashPages(pages);
    let bytes = 0;
    for (const p of pages) if (p.n > 0) bytes += pageFrameBytes(p.n);
    // On the wasm engine the frames are encoded in the core's memory, where their CRC runs.
    const buf = this.wasm?.frameBuffer(bytes) ?? new Uint8Array(bytes);
    let at = 0;
    const starts: number[] = [];
    for (const p of pages) {
      starts.push(at);
      if (p.n > 0) at = encodePage(p.bucket, p.recs, p.words, p.n, buf, at, this.wasm?.crc32c);
    }
    const base = bytes > 0 ? this.file.append(buf) : 0;
    pages.forEach((p, i) => {
      this.offsets[p.bucket] = p.n > 0 ? base + starts[i]! : -1;
      this.diskN[p.bucket] = p.n;
      p.dirty = false;
    });
    this.pageWrites += pages.length;
  }

  private markStale(b: number): void {
    if (this.stale[b]) return;
    this.stale[b] = 1;
    this.staleList.push(b);
  }

  // ---- accounts ---------------------------------------------------------------------------------

  /** Bucket of the path in `q`. */
  private bucketOf(q: Int32Array): number {
    return (q[0]! >>> 0) >>> (32 - this.bits);
  }

  /** Index of path `q` in page `p`: ≥ 0 found, else -(insertion point) - 1. */
  private search(p: Page, q: Int32Array): number {
    let lo = 0;
    let hi = p.n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const c = cmpPath(p.words, mid * WORDS, q, 0);
      if (c === 0) return mid;
      if (c < 0) lo = mid + 1;
      else hi = mid;
    }
    return -lo - 1;
  }

  /**
   * The record of `addr[o..o+32)`: page and index (negative: absent). Sets `this.q` to its path:
   * `path[at..at+8)` when given (computed before, four at a time), else hashed here.
   */
  private locate(addr: Uint8Array, o: number, path?: Int32Array, at = 0): number {
    const q = this.q;
    if (path === undefined) pathDigest(addr, o, q, 0);
    else for (let k = 0; k < 8; k++) q[k] = path[at + k]!;
    const p = (this.lp = this.page(this.bucketOf(q)));
    return this.search(p, q);
  }

  /** Sets the account `addr[o..]` to (balance, nonce), creating it; journals inside a block. */
  private put(addr: Uint8Array, o: number, balance: bigint, nonce: bigint, path?: Int32Array, at = 0): void {
    let i = this.locate(addr, o, path, at);
    let p = this.lp;
    if (this.inBlock) this.journalPush(addr, o, p, i);
    if (i < 0) {
      i = -i - 1;
      if (p.n === p.cap) p = this.grow(p);
      p.recs.copyWithin((i + 1) * REC, i * REC, p.n * REC);
      p.words.copyWithin((i + 1) * WORDS, i * WORDS, p.n * WORDS);
      p.leafOk.copyWithin(i + 1, i, p.n);
      p.branchOk.fill(0);
      p.n++;
      this.total++;
      p.recs.set(addr.subarray(o, o + 32), i * REC);
      p.words.set(this.q, i * WORDS);
    } else p.changed.push(i);
    writeU64(p.recs, i * REC + 32, balance);
    writeU64(p.recs, i * REC + 40, nonce);
    p.leafOk[i] = 0;
    p.dirty = true;
    this.markStale(p.bucket);
  }

  /** Removes the account `addr[o..]` (an aborted creation). */
  private remove(addr: Uint8Array, o: number, path?: Int32Array, at = 0): void {
    const i = this.locate(addr, o, path, at);
    const p = this.lp;
    assert(i >= 0, "remove: the account exists");
    p.recs.copyWithin(i * REC, (i + 1) * REC, p.n * REC);
    p.words.copyWithin(i * WORDS, (i + 1) * WORDS, p.n * WORDS);
    p.leafOk.copyWithin(i, i + 1, p.n);
    p.branchOk.fill(0);
    p.n--;
    this.total--;
    p.dirty = true;
    this.markStale(p.bucket);
  }

  private journalPush(addr: Uint8Array, o: number, p: Page, i: number): void {
    const k = this.journalLen;
    if ((k + 1) * REC > this.journal.length) {
      const j = new Uint8Array(this.journal.length * 2);
      j.set(this.journal);
      this.journal = j;
      const h = new Uint8Array(this.journalHad.length * 2);
      h.set(this.journalHad);
      this.journalHad = h;
      const q = new Int32Array(this.journalPath.length * 2);
      q.set(this.journalPath);
      this.journalPath = q;
    }
    this.journalPath.set(this.q, k * 8);
    if (i >= 0) {
      this.journal.set(p.recs.subarray(i * REC, (i + 1) * REC), k * REC);
      this.journalHad[k] = 1;
    } else {
      this.journal.set(addr.subarray(o, o + 32), k * REC);
      this.journalHad[k] = 0;
    }
    this.journalLen++;
  }

  /** Balance and nonce of `addr[o..]` (zero for an absent account), and whether it exists. */
  private read(addr: Uint8Array, o: number, path?: Int32Array, at = 0): { bal: bigint; nonce: bigint } {
    const i = this.locate(addr, o, path, at);
    const p = this.lp;
    if (i < 0) return { bal: 0n, nonce: 0n };
    return { bal: readU64(p.recs, i * REC + 32), nonce: readU64(p.recs, i * REC + 40) };
  }

  account(address: Uint8Array): AccountState | undefined {
    this.checkOpened();
    const i = this.locate(address, 0);
    const p = this.lp;
    const out =
      i < 0 ? undefined : { balance: readU64(p.recs, i * REC + 32), nonce: readU64(p.recs, i * REC + 40) };
    this.evict();
    return out;
  }

  load(records: Uint8Array, onProgress?: LoadProgress): void {
    this.checkOpened();
    assert(!this.inBlock, "load inside a block");
    const total = Math.floor(records.length / REC);
    if (this.total === 0 && this.staleList.length === 0 && this.offsets.every((o) => o < 0)) {
      this.bulkLoad(records, total, onProgress);
      return;
    }
    for (let i = 0; i < total; i++) {
      this.put(records, i * REC, readU64(records, i * REC + 32), readU64(records, i * REC + 40));
      if ((i + 1) % LOAD_STEP === 0) {
        this.evict();
        if (i + 1 < total) onProgress?.(i + 1, total);
      }
    }
    this.evict();
    onProgress?.(total, total);
  }

  /**
   * Loads onto an empty state: records grouped by bucket (a counting sort on the path's first D
   * bits), each page sorted by path, hashed, and written to the log as it is built; the cache
   * keeps what fits. Later records for one address replace earlier ones.
   */
  private bulkLoad(records: Uint8Array, total: number, onProgress?: LoadProgress): void {
    const B = this.buckets;
    const bucketOf = new Uint32Array(total);
    const start = new Uint32Array(B + 1);
    const paths = new Int32Array(8 * LOAD_STEP);
    for (let i0 = 0; i0 < total; i0 += LOAD_STEP) {
      const n = Math.min(LOAD_STEP, total - i0);
      this.pathsOf(records, null, i0, n, paths);
      for (let k = 0; k < n; k++) {
        const b = (paths[8 * k]! >>> 0) >>> (32 - this.bits);
        bucketOf[i0 + k] = b;
        start[b + 1]!++;
      }
    }
    for (let b = 0; b < B; b++) start[b + 1]! += start[b]!;
    const order = new Uint32Array(total);
    const fill = start.slice(0, B);
    for (let i = 0; i < total; i++) order[fill[bucketOf[i]!]!++] = i;
    let done = 0;
    let batch: Page[] = [];
    // Paths of the records order[win, win + LOAD_STEP), recomputed as the pages move on.
    let win = -LOAD_STEP;
    for (let b = 0; b < B; b++) {
      const from = start[b]!;
      const n = start[b + 1]! - from;
      if (n === 0) continue;
      const p = this.newPage(b, Math.max(4, n + (n >> 2)));
      for (let k = 0; k < n; k++) {
        if (from + k >= win + LOAD_STEP) {
          win = from + k;
          this.pathsOf(records, order, win, Math.min(LOAD_STEP, total - win), paths);
        }
        this.insertSorted(p, records, order[from + k]! * REC, paths, (from + k - win) * 8);
      }
      this.total += p.n;
      this.cnt[B + b] = p.n;
      p.dirty = true;
      p.ref = false;
      this.pages[b] = p;
      this.clock.push(b);
      this.cachedBytes += p.bytes;
      batch.push(p);
      done += n;
      if (batch.length >= 4096) {
        this.writePages(batch);
        batch = [];
        this.evict();
        onProgress?.(done, total);
      }
    }
    this.writePages(batch);
    this.staleList = [];
    this.stale.fill(0);
    this.combineAll();
    this.evict();
    onProgress?.(total, total);
  }

  /**
   * path(a) of `n` records: record `order[from + k]` (or `from + k` when `order` is null) → out[8k..];
   * four at a time on the wasm engine.
   */
  private pathsOf(
    records: Uint8Array,
    order: Uint32Array | null,
    from: number,
    n: number,
    out: Int32Array,
  ): void {
    if (this.wasm !== undefined) {
      if (order === null) this.wasm.pathsStrided(records, from * REC, REC, n, out, 0);
      else this.wasm.paths(records, order, from, n, REC, out);
      return;
    }
    for (let k = 0; k < n; k++)
      pathDigest(records, (order === null ? from + k : order[from + k]!) * REC, out, 8 * k);
  }

  /** Inserts (or replaces) record `records[o..o+48)` (its path at `path[at..]`) into page `p` in path order (bulk loads). */
  private insertSorted(p: Page, records: Uint8Array, o: number, path: Int32Array, at: number): void {
    const q = this.q;
    for (let k = 0; k < 8; k++) q[k] = path[at + k]!;
    let i = this.search(p, q);
    const recs = p.recs;
    if (i < 0) {
      i = -i - 1;
      assert(p.n < p.cap, "bulk page sized for its records");
      const words = p.words;
      if (i < p.n) {
        recs.copyWithin((i + 1) * REC, i * REC, p.n * REC);
        words.copyWithin((i + 1) * WORDS, i * WORDS, p.n * WORDS);
      }
      p.n++;
      words.set(q, i * WORDS);
    }
    for (let k = 0; k < REC; k++) recs[i * REC + k] = records[o + k]!;
    p.leafOk[i] = 0;
  }

  exportAll(): Uint8Array {
    this.checkOpened();
    const out = new Uint8Array(this.total * REC);
    let at = 0;
    for (let b = 0; b < this.buckets; b++) {
      const resident = this.pages[b];
      const n = resident?.n ?? this.diskN[b]!;
      if (n === 0) continue;
      if (resident !== undefined) out.set(resident.recs.subarray(0, n * REC), at);
      else this.file.readPage(b, n, this.offsets[b]!, out.subarray(at, at + n * REC));
      at += n * REC;
    }
    assert(at === out.length, "exportAll: pages add up to the account count");
    return out;
  }

  // ---- blocks -----------------------------------------------------------------------------------

  begin(): void {
    this.checkOpened();
    assert(!this.inBlock, "begin: a block is already open");
    this.inBlock = true;
    this.journalLen = 0;
  }

  commit(): void {
    assert(this.inBlock, "commit: no block is open");
    this.inBlock = false;
    this.evict();
  }

  abort(): void {
    assert(this.inBlock, "abort: no block is open");
    this.inBlock = false;
    const j = this.journal;
    for (let k = this.journalLen - 1; k >= 0; k--) {
      const q = this.journalPath;
      if (this.journalHad[k] === 1)
        this.put(j, k * REC, readU64(j, k * REC + 32), readU64(j, k * REC + 40), q, k * 8);
      else this.remove(j, k * REC, q, k * 8);
    }
    this.journalLen = 0;
    this.evict();
  }

  changes(): Uint8Array {
    const seen = new Set<string>();
    const addrs: number[] = [];
    const j = this.journal;
    for (let k = 0; k < this.journalLen; k++) {
      const key = Buffer.from(j.buffer, j.byteOffset + k * REC, 32).toString("latin1");
      if (seen.has(key)) continue;
      seen.add(key);
      addrs.push(k);
    }
    const out = new Uint8Array(addrs.length * REC);
    addrs.forEach((k, n) => {
      const i = this.locate(j, k * REC, this.journalPath, k * 8);
      const p = this.lp;
      assert(i >= 0, "changes: a touched account exists");
      out.set(p.recs.subarray(i * REC, (i + 1) * REC), n * REC);
    });
    if (!this.inBlock) this.evict();
    return out;
  }

  apply(packed: Uint8Array, count: number, proposer: Uint8Array): Uint8Array {
    assert(this.inBlock, "apply outside a block");
    assert(packed.length >= count * TX, "apply: packed buffer too short");
    const codes = new Uint8Array(count);
    this.blockPaths(packed, count, proposer);
    for (let t = 0; t < count; t++)
      codes[t] = this.applyOne(packed, t * TX, proposer, t * 8, (count + t) * 8, count * 16);
    return codes;
  }

  /**
   * The paths of every sender and receiver of a block (words 8t and 8(count + t)) and of the
   * proposer (word 16·count) into `txPaths`: each address hashed once instead of at each of its
   * reads and writes, and on the wasm engine four at a time.
   */
  private blockPaths(packed: Uint8Array, count: number, proposer: Uint8Array): void {
    if (this.txPaths.length < count * 16 + 8) this.txPaths = new Int32Array(count * 32 + 8);
    const q = this.txPaths;
    if (this.wasm !== undefined && count > 0) {
      this.wasm.pathsStrided(packed, 0, TX, count, q, 0);
      this.wasm.pathsStrided(packed, PACKED_TO, TX, count, q, 8 * count);
    } else
      for (let t = 0; t < count; t++) {
        pathDigest(packed, t * TX, q, t * 8);
        pathDigest(packed, t * TX + PACKED_TO, q, (count + t) * 8);
      }
    pathDigest(proposer, 0, q, count * 16);
  }

  /** One transfer, with the checks of assembly/state.ts `applyOne` in the same order. */
  private applyOne(
    tx: Uint8Array,
    o: number,
    proposer: Uint8Array,
    pf: number,
    pt: number,
    pp: number,
  ): number {
    const q = this.txPaths;
    const to = o + PACKED_TO;
    const amount = readU64(tx, o + PACKED_AMOUNT);
    const fee = readU64(tx, o + PACKED_FEE);
    const nonce = readU64(tx, o + PACKED_NONCE);
    if (eqAddr(tx, o, tx, to)) return TransferCode.SELF_TRANSFER;
    const total = amount + fee;
    if (total > U64_MAX) return TransferCode.OVERFLOW;
    const from = this.read(tx, o, q, pf);
    if (nonce !== from.nonce) return TransferCode.BAD_NONCE;
    if (from.bal < total) return TransferCode.INSUFFICIENT_FUNDS;
    if (from.nonce === U64_MAX) return TransferCode.OVERFLOW;
    const toBal = this.read(tx, to, q, pt).bal;
    const proposerIsFrom = eqAddr(proposer, 0, tx, o);
    const proposerIsTo = eqAddr(proposer, 0, tx, to);
    const thirdParty = fee !== 0n && !proposerIsFrom && !proposerIsTo;
    const toGain = proposerIsTo ? total : amount;
    if (toBal + toGain > U64_MAX) return TransferCode.OVERFLOW;
    let prop = { bal: 0n, nonce: 0n };
    if (thirdParty) {
      prop = this.read(proposer, 0, q, pp);
      if (prop.bal + fee > U64_MAX) return TransferCode.OVERFLOW;
    }
    // Same write order as the WASM core: from, to, then the proposer (the tree sorts by path).
    this.put(tx, o, from.bal - total + (proposerIsFrom ? fee : 0n), from.nonce + 1n, q, pf);
    this.put(tx, to, toBal + toGain, this.read(tx, to, q, pt).nonce, q, pt);
    if (thirdParty) this.put(proposer, 0, prop.bal + fee, prop.nonce, q, pp);
    return TransferCode.ok;
  }

  // ---- the root ---------------------------------------------------------------------------------

  /**
   * Hashes the subtree of sorted records [lo, hi) of `p` at depth d (≥ 1 record) → out[at..]:
   * the branching node where the range splits (depth bd ≥ d), then the one-sided nodes from bd
   * up to d. The branching node's hash is cached at the split record (unless a record of the
   * range changed); the one-sided nodes above it depend on d (a proof asks at every depth).
   */
  private subHash(p: Page, lo: number, hi: number, d: number, out: Int32Array, at: number): void {
    const w = p.words;
    if (hi - lo === 1) {
      this.leafOf(p, lo);
      out.set(w.subarray(lo * WORDS + 8, lo * WORDS + 16), at);
      return;
    }
    const bd = lcpBits(w, lo * WORDS, (hi - 1) * WORDS);
    const split = splitAt(p, lo, hi, bd);
    const c = split * WORDS + 16;
    // Scratch rows d … bd are free: callers use rows above d, the children rows below bd.
    const sc = this.scratch;
    const h = this.chainH;
    if (p.branchOk[split] === 1 && !changedIn(p.changed, lo, hi)) h.set(w.subarray(c, c + 8));
    else {
      this.subHash(p, lo, split, bd + 1, sc, bd * 16);
      this.subHash(p, split, hi, bd + 1, sc, bd * 16 + 8);
      nodeDigest(sc, bd * 16, h, 0);
      w.set(h, c);
      p.branchOk[split] = 1;
    }
    for (let k = bd - 1; k >= d; k--) {
      const m = k * 16;
      if (bitOf(w, lo * WORDS, k) === 0) {
        sc.set(h, m);
        sc.fill(0, m + 8, m + 16);
      } else {
        sc.fill(0, m, m + 8);
        sc.set(h, m + 8);
      }
      nodeDigest(sc, m, h, 0);
    }
    out.set(h, at);
  }

  /** Hash of the records [lo, hi) at depth d (empty, one leaf, or a node) → out[at..]. */
  private rangeHash(p: Page, lo: number, hi: number, d: number, out: Int32Array, at: number): void {
    if (hi === lo) out.fill(0, at, at + 8);
    else this.subHash(p, lo, hi, d, out, at);
  }

  private leafOf(p: Page, i: number): void {
    if (p.leafOk[i] === 1) return;
    const r = p.recs;
    const o = i * REC;
    leafDigest(
      r,
      o,
      u32le(r, o + 32),
      u32le(r, o + 36),
      u32le(r, o + 40),
      u32le(r, o + 44),
      p.words,
      i * WORDS + 8,
    );
    p.leafOk[i] = 1;
  }

  /** The bucket's subtree hash (count 0, 1 or more) → top[at..]. */
  private hashBucket(p: Page, at: number): void {
    this.rangeHash(p, 0, p.n, this.bits, this.top, at);
    p.changed = [];
  }

  /**
   * Hashes each page's subtree into its bucket's heap slot, making its leaf and branch caches
   * current: on the wasm engine all pages together, level by level, four hashes at a time.
   */
  private hashPages(pages: readonly Page[]): void {
    if (this.wasm !== undefined) return this.wasm.hashPages(pages, this.bits, this.topAt);
    for (const p of pages) this.hashBucket(p, (this.buckets + p.bucket) * 8);
  }

  /** Recomputes the whole heap above the buckets from their hashes and counts. */
  private combineAll(): void {
    if (this.wasm !== undefined) return this.wasm.topAll(this.topAt, this.cntAt, this.bits);
    for (let i = this.buckets - 1; i >= 1; i--) this.combine(i);
  }

  /** Heap node i from its children: empty, the one leaf passed up, or a node hash. */
  private combine(i: number): void {
    const c0 = this.cnt[2 * i]!;
    const c1 = this.cnt[2 * i + 1]!;
    this.cnt[i] = c0 + c1;
    const top = this.top;
    if (c0 + c1 === 0) top.fill(0, i * 8, i * 8 + 8);
    else if (c0 + c1 === 1)
      top.copyWithin(i * 8, (c0 === 1 ? 2 * i : 2 * i + 1) * 8, (c0 === 1 ? 2 * i : 2 * i + 1) * 8 + 8);
    else nodeDigest(top, 16 * i, top, 8 * i);
  }

  root(): Uint8Array {
    this.checkOpened();
    this.updateRoot();
    const out = this.rootBytes();
    this.evict();
    return out;
  }

  private rootBytes(): Uint8Array {
    const out = new Uint8Array(32);
    digestBytes(this.top, 8, out, 0);
    return out;
  }

  /** Rehashes the stale buckets, then their ancestors level by level. */
  private updateRoot(): void {
    const B = this.buckets;
    if (this.staleList.length === 0) return;
    const pages: Page[] = [];
    for (const b of this.staleList) {
      pages.push(this.page(b));
      this.stale[b] = 0;
    }
    const cnt = this.cnt; // after the reads: a read may grow the core's memory
    for (const p of pages) cnt[B + p.bucket] = p.n;
    this.hashPages(pages);
    const stale = this.staleList;
    this.staleList = [];
    if (this.wasm !== undefined) return this.wasm.topUpdate(this.topAt, this.cntAt, stale, this.bits);
    let level = stale.map((b) => B + b);
    const seen = this.seenTop;
    for (let d = this.bits - 1; d >= 0; d--) {
      const up: number[] = [];
      for (const i of level) {
        const parent = i >>> 1;
        const rel = parent - (1 << d);
        if (seen[rel] === 1) continue;
        seen[rel] = 1;
        up.push(parent);
      }
      for (const i of up) {
        this.combine(i);
        seen[i - (1 << d)] = 0;
      }
      level = up;
    }
  }

  proofMaterial(address: Uint8Array): ProofMaterial {
    this.checkOpened();
    this.updateRoot();
    const q = new Int32Array(8);
    pathDigest(address, 0, q, 0);
    const sib: number[][] = [];
    const B = this.buckets;
    let i = 1;
    let d = 0;
    const result = (leaf: Uint8Array | undefined): ProofMaterial => {
      const siblings = new Uint8Array(sib.length * 32);
      sib.forEach((w, k) => digestBytes(Int32Array.from(w), 0, siblings, k * 32));
      this.evict();
      return { depth: sib.length, leaf, siblings };
    };
    for (; d < this.bits; d++) {
      const c = this.cnt[i]!;
      if (c === 0) return result(undefined);
      if (c === 1) return result(this.onlyLeaf(i));
      const bit = bitOf(q, 0, d);
      const other = 2 * i + 1 - bit;
      sib.push(Array.from(this.top.subarray(other * 8, other * 8 + 8)));
      i = 2 * i + bit;
    }
    const p = this.page(i - B);
    let lo = 0;
    let hi = p.n;
    // Bounded: the range shrinks or the walk ends every level, and paths have 256 bits.
    for (;;) {
      if (hi === lo) return result(undefined);
      if (hi - lo === 1) return result(p.recs.slice(lo * REC, (lo + 1) * REC));
      const m = splitAt(p, lo, hi, d);
      const w = this.word8;
      if (bitOf(q, 0, d) === 0) {
        this.rangeHash(p, m, hi, d + 1, w, 0);
        hi = m;
      } else {
        this.rangeHash(p, lo, m, d + 1, w, 0);
        lo = m;
      }
      sib.push(Array.from(w));
      d++;
    }
  }

  /** The one account below heap node i (its count is 1). */
  private onlyLeaf(i: number): Uint8Array {
    const B = this.buckets;
    while (i < B) i = this.cnt[2 * i] === 1 ? 2 * i : 2 * i + 1;
    const p = this.page(i - B);
    assert(p.n === 1, "a count-1 bucket holds one account");
    return p.recs.slice(0, REC);
  }

  // ---- durability -------------------------------------------------------------------------------

  /**
   * Makes the state durable as of block `height`: appends every changed page, fsyncs the log and
   * replaces the checkpoint. Not inside a block.
   */
  checkpoint(height: number): void {
    this.checkOpened();
    assert(!this.inBlock, "checkpoint inside a block");
    this.updateRoot();
    const dirty: Page[] = [];
    for (const b of this.clock) if (this.pages[b]!.dirty) dirty.push(this.pages[b]!);
    this.writePages(dirty);
    const B = this.buckets;
    const hashes = new Uint8Array(B * 32);
    for (let b = 0; b < B; b++) digestBytes(this.top, (B + b) * 8, hashes, b * 32);
    const root = this.rootBytes();
    const ckpt: Checkpoint = {
      pageBits: this.bits,
      gen: this.file.gen,
      height,
      logEnd: this.file.logEnd,
      accounts: this.total,
      root,
      offsets: this.offsets,
      counts: this.diskN,
      hashes,
    };
    if (this.file.logEnd > 2 * this.liveBytes()) this.compact(ckpt);
    else this.file.checkpoint(ckpt);
    this.ckptHeight = height;
    this.ckptRoot = root;
  }

  /** Bytes of the page frames the buckets name. */
  private liveBytes(): number {
    let live = 0;
    for (let b = 0; b < this.buckets; b++) if (this.offsets[b]! >= 0) live += pageFrameBytes(this.diskN[b]!);
    return live;
  }

  /**
   * Copies the live pages into the next log generation (4 MB writes) and checkpoints it there:
   * the log holds more dead frames than live ones. Stops the world for one pass over the live
   * pages (~7 GB at 50M accounts); the old generation stays valid until the checkpoint names
   * the new one.
   */
  private compact(ckpt: Checkpoint): void {
    const B = this.buckets;
    const offsets = new Float64Array(B).fill(-1);
    const buf = new Uint8Array(COMPACT_CHUNK);
    const pending: number[] = [];
    let used = 0;
    const flush = () => {
      const base = this.file.rewriteAppend(buf.subarray(0, used));
      for (let k = 0; k < pending.length; k += 2) offsets[pending[k]!] = base + pending[k + 1]!;
      pending.length = 0;
      used = 0;
    };
    this.file.beginRewrite();
    for (let b = 0; b < B; b++) {
      if (this.offsets[b]! < 0) continue;
      const len = pageFrameBytes(this.diskN[b]!);
      if (used + len > buf.length) flush();
      const into = len > buf.length ? new Uint8Array(len) : buf;
      this.file.readFrame(b, this.diskN[b]!, this.offsets[b]!, into, into === buf ? used : 0);
      if (into === buf) {
        pending.push(b, used);
        used += len;
      } else offsets[b] = this.file.rewriteAppend(into);
    }
    if (used > 0) flush();
    this.file.commitRewrite({ ...ckpt, offsets });
    this.offsets = offsets;
  }

  /** Releases the files. */
  close(): void {
    this.file.close();
  }
}

function eqAddr(a: Uint8Array, ao: number, b: Uint8Array, bo: number): boolean {
  for (let i = 0; i < 32; i++) if (a[ao + i] !== b[bo + i]) return false;
  return true;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
