/**
 * The paged ledger state on the wasm engine (paged-state.ts with `engine: "wasm"`): its pages and
 * the dense heap above them live in one core instance's memory (assembly/paged.ts), allocated
 * from the core's allocator, whose size-class free lists hand an evicted page's block to the
 * next page of that size; and its hashes run four at a time through the 4-lane SIMD SHA-256.
 *
 * A root update plans the changed pages' subtrees as the ts engine walks them (paged-state.ts
 * `subHash`: leaf hashes and branch hashes cached in the pages, one-sided nodes above each
 * branching node), but instead of hashing on the way it emits jobs by tree depth: leaves first,
 * then depth 255 up to the page depth; a job writes its digest into its parent's 64-byte message
 * (and into the page's cache), so the jobs of one depth are independent and fill the four lanes.
 * The heap above the pages is then brought up level by level from the sorted changed buckets.
 * @module
 */
import { ACCOUNT_RECORD_SIZE as REC, type CoreExports } from "../engine/index.ts";
import { ChainDbError, ErrorCode, assert } from "../util/index.ts";
import { crc32c } from "./append-log.ts";
import type { Crc32c } from "./page-file.ts";
import { Page, WORDS, bitOf, changedIn, lcpBits, splitAt, type PageMemory } from "./page.ts";

/** Bytes before a page's records in its block: a frame header read straight into the block lands there. */
export const PAGE_ROOM = 16;
/** Tree depths a node can have (0 … 255); the jobs list of depth 256 holds the leaves. */
const LEVELS = 257;

/** A page cache and its hashing in one instance of the core (see the module comment). */
export class WasmPages implements PageMemory {
  /** The core memory's current buffer (replaced after an allocation grew it). */
  buffer: ArrayBuffer;
  private u8: Uint8Array;
  private i32: Int32Array;
  private scratch = 0;
  private scratchBytes = 0;
  // ---- the plan of one hashing pass ----
  private msgs = new Int32Array(16 * 256); // 64-byte messages, word layout, staged here
  private nMsg = 0;
  /**
   * Per depth, jobs [src, dst, dst2]: an address ≥ 0, or -(1 + offset) into the staged messages.
   * Typed arrays (a genesis plans ~2 jobs an account): JS arrays of them cost 15% of a bulk load.
   */
  private readonly levels: Float64Array[] = Array.from({ length: LEVELS }, () => new Float64Array(48));
  private readonly levelLen = new Int32Array(LEVELS);

  constructor(private readonly core: CoreExports) {
    this.buffer = core.memory.buffer as ArrayBuffer;
    this.u8 = new Uint8Array(this.buffer);
    this.i32 = new Int32Array(this.buffer);
  }

  /** Follows the memory's growth. */
  private sync(): void {
    if (this.core.memory.buffer === this.buffer) return;
    this.buffer = this.core.memory.buffer as ArrayBuffer;
    this.u8 = new Uint8Array(this.buffer);
    this.i32 = new Int32Array(this.buffer);
  }

  /** Byte view of the whole memory. */
  get bytes(): Uint8Array {
    this.sync();
    return this.u8;
  }

  /** `bytes` of the core's memory; OUT_OF_MEMORY past its 4 GiB. */
  alloc(bytes: number): number {
    const ptr = this.core.pagedAlloc(bytes) >>> 0;
    this.sync();
    if (ptr === 0)
      throw new ChainDbError(
        ErrorCode.OUT_OF_MEMORY,
        `paged state: the core's memory cannot hold ${bytes} more bytes`,
      );
    return ptr;
  }

  /** Returns a block of `bytes` (as allocated). */
  free(ptr: number, bytes: number): void {
    this.core.pagedFree(ptr, bytes);
  }

  /**
   * A page of capacity `cap` for `bucket`, with {@link PAGE_ROOM} bytes before its records. Its
   * block may be an evicted page's: the flags are cleared (a new ArrayBuffer's are zero), so no
   * stale "hash is current" flag survives into it.
   */
  newPage(bucket: number, cap: number): Page {
    const p = new Page(bucket, cap, this, this.alloc(Page.arrayBytes(cap) + PAGE_ROOM) + PAGE_ROOM);
    p.leafOk.fill(0);
    p.branchOk.fill(0);
    return p;
  }

  /** Frees the page's block; the page must not be used after. */
  freePage(p: Page): void {
    this.free(p.base - PAGE_ROOM, Page.arrayBytes(p.cap) + PAGE_ROOM);
  }

  /**
   * CRC-32C in the core when `bytes` lie in its memory (a frame read straight into a page, or
   * encoded in {@link frameBuffer}), else append-log.ts's. Same values; ~3× the JS speed here.
   */
  readonly crc32c: Crc32c = (bytes, crc = 0) => {
    if (bytes.buffer !== this.core.memory.buffer) return crc32c(bytes, crc);
    return this.core.pagedCrc32c(bytes.byteOffset, bytes.length, crc) >>> 0;
  };

  private frames = 0;
  private framesBytes = 0;

  /** A buffer of `bytes` in the core's memory for encoding page frames (valid until the next call). */
  frameBuffer(bytes: number): Uint8Array {
    if (bytes > this.framesBytes) {
      if (this.frames !== 0) this.free(this.frames, this.framesBytes);
      this.frames = 0;
      const size = Math.max(bytes, this.framesBytes * 2, 1 << 16);
      this.frames = this.alloc(size);
      this.framesBytes = size;
    }
    return new Uint8Array(this.buffer, this.frames, bytes);
  }

  /** SHA-256 compressions of the kernels so far. */
  get hashCount(): number {
    return this.core.pagedHashCount();
  }

  private ensureScratch(bytes: number): number {
    if (bytes > this.scratchBytes) {
      if (this.scratch !== 0) this.free(this.scratch, this.scratchBytes);
      this.scratch = 0;
      const size = Math.max(bytes, this.scratchBytes * 2, 1 << 16);
      this.scratch = this.alloc(size);
      this.scratchBytes = size;
    }
    return this.scratch;
  }

  /** path(a) of the addresses at `src[stride · index[from + k]]`, k < n → out[8k..] (word layout). */
  paths(
    src: Uint8Array,
    index: ArrayLike<number>,
    from: number,
    n: number,
    stride: number,
    out: Int32Array,
  ): void {
    const at = this.ensureScratch(n * 64);
    const u8 = this.bytes;
    for (let k = 0; k < n; k++) {
      const o = index[from + k]! * stride;
      const to = at + 32 * k;
      for (let b = 0; b < 32; b++) u8[to + b] = src[o + b]!;
    }
    this.core.pagedPaths(at, 32, n, at + 32 * n);
    out.set(new Int32Array(this.buffer, at + 32 * n, 8 * n));
  }

  /** path(a) of `n` addresses at `src[first + stride·k]` → out[8k..]. */
  pathsStrided(
    src: Uint8Array,
    first: number,
    stride: number,
    n: number,
    out: Int32Array,
    outAt: number,
  ): void {
    const len = n === 0 ? 0 : (n - 1) * stride + 32;
    const at = this.ensureScratch(len + 32 * n + 16);
    const dst = (at + len + 15) & ~15;
    this.bytes.set(src.subarray(first, first + len), at);
    this.core.pagedPaths(at, stride, n, dst);
    out.set(new Int32Array(this.buffer, dst, 8 * n), outAt);
  }

  // ---- hashing the pages ------------------------------------------------------------------------

  /**
   * Hashes `pages` (each the whole bucket below depth `bits`) into the heap slot of its bucket
   * (`top` + 32·(buckets + bucket)): plans every page, then runs the jobs deepest first.
   */
  hashPages(pages: readonly Page[], bits: number, top: number): void {
    const buckets = 2 ** bits;
    this.sync();
    this.nMsg = 0;
    for (const p of pages) {
      this.planRange(p, 0, p.n, bits, top + 32 * (buckets + p.bucket));
      p.changed = [];
    }
    this.run();
  }

  private push(d: number, src: number, dst: number, dst2: number): void {
    let l = this.levels[d]!;
    const n = this.levelLen[d]!;
    if (n + 3 > l.length) {
      const grown = new Float64Array(l.length * 2);
      grown.set(l);
      this.levels[d] = l = grown;
    }
    l[n] = src;
    l[n + 1] = dst;
    l[n + 2] = dst2;
    this.levelLen[d] = n + 3;
  }

  private newMsg(): number {
    if ((this.nMsg + 1) * 16 > this.msgs.length) {
      const m = new Int32Array(this.msgs.length * 2);
      m.set(this.msgs);
      this.msgs = m;
    }
    return this.nMsg++ * 64;
  }

  /** Writes 8 words of `w[from..]` (or zeros when `w` is undefined) to the encoded place `dst`. */
  private put8(dst: number, w: Int32Array | undefined, from: number): void {
    const arr = dst >= 0 ? this.i32 : this.msgs;
    const at = dst >= 0 ? dst >> 2 : (-1 - dst) >> 2;
    if (w === undefined) arr.fill(0, at, at + 8);
    else for (let k = 0; k < 8; k++) arr[at + k] = w[from + k]!;
  }

  /** Plans the hash of records [lo, hi) of `p` at depth d, delivered to `dst` (as `subHash`). */
  private planRange(p: Page, lo: number, hi: number, d: number, dst: number): void {
    if (hi === lo) return this.put8(dst, undefined, 0);
    const w = p.words;
    if (hi - lo === 1) {
      if (p.leafOk[lo] === 1) return this.put8(dst, w, lo * WORDS + 8);
      this.push(LEVELS - 1, p.base + lo * REC, p.wordsBase + (lo * WORDS + 8) * 4, dst);
      p.leafOk[lo] = 1;
      return;
    }
    const bd = lcpBits(w, lo * WORDS, (hi - 1) * WORDS);
    const split = splitAt(p, lo, hi, bd);
    // One-sided nodes from depth d down to bd - 1: each takes the one below it on the side of
    // the range's path bit, and the empty hash on the other.
    let up = dst;
    for (let k = d; k < bd; k++) {
      const m = this.newMsg();
      this.push(k, -1 - m, up, 0);
      const side = bitOf(w, lo * WORDS, k);
      this.msgs.fill(0, (m >> 2) + 8 * (1 - side), (m >> 2) + 8 * (1 - side) + 8);
      up = -1 - (m + 32 * side);
    }
    if (p.branchOk[split] === 1 && !changedIn(p.changed, lo, hi)) return this.put8(up, w, split * WORDS + 16);
    const m = this.newMsg();
    this.push(bd, -1 - m, p.wordsBase + (split * WORDS + 16) * 4, up);
    p.branchOk[split] = 1;
    this.planRange(p, lo, split, bd + 1, -1 - m);
    this.planRange(p, split, hi, bd + 1, -1 - (m + 32));
  }

  /** Copies the staged messages and jobs into the core and runs them, leaves first, then deepest first. */
  private run(): void {
    let jobs = 0;
    for (const n of this.levelLen) jobs += n / 3;
    if (jobs === 0) return;
    const msgBytes = this.nMsg * 64;
    const base = this.ensureScratch(msgBytes + jobs * 12);
    this.sync();
    const i32 = this.i32;
    i32.set(this.msgs.subarray(0, this.nMsg * 16), base >> 2);
    const resolve = (x: number) => (x >= 0 ? x : base + (-1 - x));
    let at = base + msgBytes;
    for (let d = LEVELS - 1; d >= 0; d--) {
      const l = this.levels[d]!;
      const len = this.levelLen[d]!;
      if (len === 0) continue;
      const n = len / 3;
      for (let j = 0; j < len; j++) i32[(at >> 2) + j] = resolve(l[j]!);
      if (d === LEVELS - 1) this.core.pagedLeaves(at, n);
      else this.core.pagedNodes(at, n);
      at += 12 * n;
      this.levelLen[d] = 0;
    }
    assert(at === base + msgBytes + jobs * 12, "paged plan: every job ran");
  }

  // ---- the heap above the pages -----------------------------------------------------------------

  /** Updates the heap ancestors of `buckets` (bucket numbers, distinct) at level `bits`. */
  topUpdate(top: number, cnt: number, buckets: number[], bits: number): void {
    if (buckets.length === 0) return;
    const B = 2 ** bits;
    const list = this.ensureScratch(buckets.length * 4);
    const sorted = Uint32Array.from(buckets).sort();
    for (let k = 0; k < sorted.length; k++) sorted[k] = B + sorted[k]!;
    new Uint32Array(this.buffer, list, sorted.length).set(sorted);
    this.core.pagedTopUpdate(top, cnt, list, sorted.length, bits);
  }

  /** Recomputes the whole heap above the buckets. */
  topAll(top: number, cnt: number, bits: number): void {
    this.core.pagedTopAll(top, cnt, bits);
  }
}
