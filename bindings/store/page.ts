/**
 * One page of the paged ledger state (paged-state.ts): a bucket's account records sorted by path,
 * with per record its path, leaf hash and branch hash (the "word area") and two flag bytes. The
 * arrays lie in one block of a {@link PageMemory}: a page's own ArrayBuffer on the ts engine, the
 * core's linear memory on the wasm engine (paged-wasm.ts). A memory that grows detaches every
 * view of it, so a page makes its views again when the memory's buffer changed.
 * @module
 */
import { ACCOUNT_RECORD_SIZE as REC } from "../engine/index.ts";
import { assert } from "../util/index.ts";

/**
 * Words per record in a page's word area: path (8), leaf hash (8), branch hash (8). Record s > 0
 * holds the hash of the branching node that splits the page between records s - 1 and s (each
 * s names exactly one such node): a block rehashes only the paths to the records it changed
 * (and the one-sided nodes above a branching node), not the whole page.
 */
export const WORDS = 24;
/** Bytes a page costs beyond its arrays (object, views), for the budget. */
const PAGE_OVERHEAD = 256;

/** Where pages live: `buffer` is the current backing store (replaced when the memory grows). */
export interface PageMemory {
  readonly buffer: ArrayBuffer;
}

/** A page's records and word area (see the module comment). */
export class Page {
  n = 0;
  /** Records changed in place since the page was last hashed. */
  changed: number[] = [];
  /** Differs from its copy in the log (or has none). */
  dirty = false;
  /** CLOCK reference bit. */
  ref = true;
  // Made on first use (bind): a page costs no views until it is read, and none extra to GC.
  private buf: ArrayBuffer | undefined;
  private r!: Uint8Array;
  private w!: Int32Array;
  private lo!: Uint8Array;
  private bo!: Uint8Array;

  /** Bytes of the arrays of a page of capacity `cap`. */
  static arrayBytes(cap: number): number {
    return cap * (REC + WORDS * 4 + 2);
  }

  constructor(
    readonly bucket: number,
    readonly cap: number,
    readonly mem: PageMemory,
    /** Byte offset of the records in `mem` (the word area follows them). */
    readonly base: number,
  ) {}

  private bind(): void {
    const b = this.mem.buffer;
    const { cap, base } = this;
    this.buf = b;
    this.r = new Uint8Array(b, base, cap * REC);
    this.w = new Int32Array(b, base + cap * REC, cap * WORDS);
    this.lo = new Uint8Array(b, base + cap * (REC + WORDS * 4), cap);
    this.bo = new Uint8Array(b, base + cap * (REC + WORDS * 4 + 1), cap);
  }

  /** The records, 48 bytes each, sorted by path. */
  get recs(): Uint8Array {
    if (this.buf !== this.mem.buffer) this.bind();
    return this.r;
  }

  /** The word area: per record path, leaf hash, branch hash (8 words each). */
  get words(): Int32Array {
    if (this.buf !== this.mem.buffer) this.bind();
    return this.w;
  }

  /** Leaf hash i is current. */
  get leafOk(): Uint8Array {
    if (this.buf !== this.mem.buffer) this.bind();
    return this.lo;
  }

  /** Branch hash s is current (all cleared when a record is inserted or removed). */
  get branchOk(): Uint8Array {
    if (this.buf !== this.mem.buffer) this.bind();
    return this.bo;
  }

  /** Byte offset of the word area in `mem`. */
  get wordsBase(): number {
    return this.base + this.cap * REC;
  }

  /** Bytes the page counts against the cache budget. */
  get bytes(): number {
    return Page.arrayBytes(this.cap) + PAGE_OVERHEAD;
  }

  /** Copies the contents (records, words, flags, state) into `into` (capacity ≥ n). */
  copyInto(into: Page): void {
    const n = this.n;
    into.n = n;
    into.recs.set(this.recs.subarray(0, n * REC));
    into.words.set(this.words.subarray(0, n * WORDS));
    into.leafOk.set(this.leafOk.subarray(0, n));
    into.branchOk.set(this.branchOk.subarray(0, n));
    into.changed = this.changed;
    into.dirty = this.dirty;
  }
}

/** A ts-engine page in its own ArrayBuffer. */
export function heapPage(bucket: number, cap: number): Page {
  return new Page(bucket, cap, { buffer: new ArrayBuffer(Page.arrayBytes(cap)) }, 0);
}

/** Common prefix, in bits, of the paths at words a and b (distinct paths). */
export function lcpBits(w: Int32Array, a: number, b: number): number {
  for (let i = 0; i < 8; i++) {
    const x = w[a + i]! ^ w[b + i]!;
    if (x !== 0) return i * 32 + Math.clz32(x);
  }
  assert(false, "two accounts with one path");
}

/** Bit d of the path at words[at..]. */
export function bitOf(words: Int32Array, at: number, d: number): number {
  return (words[at + (d >> 5)]! >>> (31 - (d & 31))) & 1;
}

/** First index of [lo, hi) of page `p` whose path has bit d set (paths sorted). */
export function splitAt(p: Page, lo: number, hi: number, d: number): number {
  const w = p.words;
  let a = lo;
  let b = hi;
  while (a < b) {
    const mid = (a + b) >>> 1;
    if (bitOf(w, mid * WORDS, d) === 0) a = mid + 1;
    else b = mid;
  }
  return a;
}

/** True if one of the changed record indices lies in [lo, hi). */
export function changedIn(changed: readonly number[], lo: number, hi: number): boolean {
  for (const j of changed) if (j >= lo && j < hi) return true;
  return false;
}
