/**
 * The `ts` ledger state: the same state machine as assembly/state.ts with the same check order
 * (so identical statuses) and the same sparse Merkle tree (so identical roots; the definitions are
 * in state-hash.ts), written for the JIT: no Map, no BigInt and no object on the hot path.
 *
 * - Accounts are dense indices into flat typed arrays: one 64-byte record each (address, balance
 *   and nonce as u32 (lo, hi) halves, block epoch, stale flag: one cache line), then path words
 *   and tree parent apart; found through an open-addressing table (linear probing; an Int32Array
 *   of (hash, index + 1) pairs, so a probe costs one cache line). Accounts are only ever removed
 *   newest first (an aborted block's creations, in reverse), so a removal just clears its slot.
 * - `apply` finds the proposer once; a transfer compares account indices against it.
 * - Tree nodes live in one Int32Array arena in the WASM layout (assembly/commit.ts): 18 words a
 *   node, child refs c0, c1 (0 empty, > 0 a node, < 0 the leaf of account -ref - 1) then the two
 *   child digests side by side, so a node's hash message lies in place. Node 0 is the root slot.
 * - Invariant (when `root()` starts hashing): a stale leaf or node has only stale ancestors;
 *   changed leaves are queued and their paths marked there, walking parent pointers up to the
 *   first stale node; then `root()` rehashes exactly the stale nodes.
 * Before (object tree, BigInt, @noble/hashes): ~530 ms exec+root per 1000-transfer block at 100k
 * accounts; the profile's top entries were GC, noble's sha2 and BigInt record encoding.
 * Execution only, before the record layout and the proposer lookup (profile, 100k accounts, 800
 * blocks: applyOne 15% self, find 10%, touch 4% — loads scattered over five arrays and three
 * lookups per transfer): 469k transfers/s; after: 726k (CPU time, same blocks, one process).
 * @module
 */
import { assert } from "../util/index.ts";
import {
  ACCOUNT_RECORD_SIZE as REC,
  PACKED_AMOUNT,
  PACKED_FEE,
  PACKED_NONCE,
  PACKED_TO,
  PACKED_TRANSFER_SIZE as TX,
  RECORD_BALANCE,
  TransferCode,
} from "./records.ts";
import { SMT_DEPTH_MAX } from "./state-hash.ts";
import { digestBytes, pathDigest } from "./sha256-block.ts";
import * as L from "./state-ts-layout.ts";
import type { AccountState, LedgerState, LoadProgress, ProofMaterial } from "./state-types.ts";

// The record and node layouts (state-ts-layout.ts), as module-level aliases, not the imports
// themselves: V8 folds a module's own constants and inlines its own functions in the hot loops,
// not imported bindings (execution 1.6-2.5x slower through the imports, 200k accounts, Node 20).
const { NODE, ACC, ACC_BYTES, BAL, NON, EPOCH, STALE, TWO32, U32_MAX } = L;
const { u32le, addrHash, eq32, rehashNode } = L;

const LOAD_CHUNK = 1 << 16;
const LINK_CHUNK = 1 << 18; // accounts per progress report of a bulk tree build

function growI32(a: Int32Array, n: number): Int32Array {
  const b = new Int32Array(n);
  b.set(a);
  return b;
}

function growU32(a: Uint32Array, n: number): Uint32Array {
  const b = new Uint32Array(n);
  b.set(a);
  return b;
}

function growU8(a: Uint8Array, n: number): Uint8Array {
  const b = new Uint8Array(n);
  b.set(a);
  return b;
}

/** Path bits kept in the bulk build's sort keys (32; fewer only in tests, so that ties are common). */
let pathSortBits = 32;

/** Test hook: the bulk build's sort keys keep only `bits` (1..32) path bits. */
export function setPathSortBitsForTest(bits: number): void {
  pathSortBits = Math.max(1, Math.min(32, Math.floor(bits)));
}

/** Creates an empty TypeScript ledger state. */
export function createTsState(): LedgerState {
  return new TsState();
}

/**
 * Where the arrays that threads share live (state-ts-par.ts `ParMemory`: SharedArrayBuffers); the
 * serial state keeps plain typed arrays.
 */
export interface TsSharedArrays {
  /** The account records grown to `words` words (contents kept). */
  growAcc(words: number): Uint32Array;
  /** A zeroed account table of `words` words. */
  newTable(words: number): Int32Array;
  /** The node arena grown to `words` words (contents kept). */
  growTree(words: number): Int32Array;
  /** The nodes' stale flags grown to `n` (contents kept). */
  growNodeStale(n: number): Uint8Array;
}

/** The ts ledger state (state-ts-threads.ts extends it to run blocks on several threads). */
export class TsState implements LedgerState {
  readonly engine = "ts" as const;
  // ---- accounts (index i) ----
  private count = 0;
  private cap = 0;
  private acc: Uint32Array = new Uint32Array(0); // ACC words each
  private accB: Uint8Array = new Uint8Array(0); // the same records as bytes (address at i * ACC_BYTES)
  private path: Int32Array = new Int32Array(0); // 8 digest words each
  private hash: Int32Array = new Int32Array(0); // addrHash
  private parent: Int32Array = new Int32Array(0); // node holding the leaf
  private table: Int32Array = new Int32Array(0);
  protected mask = 0;
  // ---- tree ----
  protected tree: Int32Array = new Int32Array(NODE * 1024);
  private nodeParent: Int32Array = new Int32Array(1024);
  private nodeStale: Uint8Array = new Uint8Array(1024);
  private nodeCap = 1024;
  private nodeTop = 1; // node 0 is the root slot
  private freeList: number[] = [];
  private nodes = 0;
  // ---- the open block ----
  private epoch = 0;
  protected inBlock = false;
  private createdFrom = 0;
  private journalAcc: Int32Array = new Int32Array(1024);
  private journalVal: Uint32Array = new Uint32Array(4096);
  private journalLen = 0;
  private changedAcc: Int32Array = new Int32Array(1024);
  private changedLen = 0;
  /** Leaves marked stale whose ancestors are not marked yet. */
  private dirty: Int32Array = new Int32Array(1024);
  private dirtyLen = 0;
  /** Accounts loaded onto an empty tree wait outside it for one bulk build (`buildBulk`). */
  private bulk = false;
  /** The proposer's account during `apply` (-1 while it has none): found once, not per transfer. */
  protected propIdx = -1;

  constructor(private readonly shared?: TsSharedArrays) {
    if (shared !== undefined) {
      this.tree = shared.growTree(NODE * this.nodeCap);
      this.nodeStale = shared.growNodeStale(this.nodeCap);
    }
    this.reserveAccounts(1024);
    this.nodeParent[0] = -1;
  }

  get accountCount(): number {
    return this.count;
  }

  get nodeCount(): number {
    return this.nodes;
  }

  private reserveAccounts(n: number): void {
    if (n <= this.cap) return;
    let cap = Math.max(1024, this.cap);
    while (cap < n) cap *= 2;
    this.acc = this.shared?.growAcc(cap * ACC) ?? growU32(this.acc, cap * ACC);
    this.accB = new Uint8Array(this.acc.buffer, this.acc.byteOffset, this.acc.byteLength);
    this.path = growI32(this.path, cap * 8);
    this.hash = growI32(this.hash, cap);
    this.parent = growI32(this.parent, cap);
    this.cap = cap;
    // Load factor ≤ 1/2; reinserting in index order keeps "newest first" removal valid.
    this.table = this.shared?.newTable(cap * 4) ?? new Int32Array(cap * 4);
    this.mask = cap * 2 - 1;
    for (let i = 0; i < this.count; i++) this.tablePut(i);
  }

  private tablePut(i: number): void {
    const h = this.hash[i]!;
    let s = h & this.mask;
    while (this.table[2 * s + 1] !== 0) s = (s + 1) & this.mask;
    this.table[2 * s] = h;
    this.table[2 * s + 1] = i + 1;
  }

  /** Index of the account at bytes[o..o+32), or -1. */
  protected find(bytes: Uint8Array, o: number): number {
    const h = addrHash(bytes, o);
    const table = this.table;
    const mask = this.mask;
    for (let s = h & mask; ; s = (s + 1) & mask) {
      const e = table[2 * s + 1]!;
      if (e === 0) return -1;
      if (table[2 * s] === h && eq32(this.accB, (e - 1) * ACC_BYTES, bytes, o)) return e - 1;
    }
  }

  protected create(bytes: Uint8Array, o: number): number {
    this.reserveAccounts(this.count + 1);
    const i = this.count++;
    this.accB.set(bytes.subarray(o, o + 32), i * ACC_BYTES);
    this.acc.fill(0, i * ACC + BAL, i * ACC + ACC);
    this.hash[i] = addrHash(bytes, o);
    this.acc[i * ACC + EPOCH] = this.epoch;
    pathDigest(bytes, o, this.path, i * 8);
    this.tablePut(i);
    if (this.bulk) this.acc[i * ACC + STALE] = 1;
    else this.insert(i);
    if (this.inBlock) this.pushChanged(i);
    return i;
  }

  /** Removes the newest account (undoing a creation). */
  private dropNewest(i: number): void {
    assert(i === this.count - 1, "accounts are removed newest first");
    const h = this.hash[i]!;
    let s = h & this.mask;
    while (this.table[2 * s + 1] !== i + 1) s = (s + 1) & this.mask;
    this.table[2 * s + 1] = 0;
    this.remove(i);
    this.count--;
  }

  private pushChanged(i: number): void {
    if (this.changedLen === this.changedAcc.length)
      this.changedAcc = growI32(this.changedAcc, this.changedLen * 2);
    this.changedAcc[this.changedLen++] = i;
  }

  private bit(i: number, d: number): number {
    return (this.path[i * 8 + (d >> 5)]! >>> (31 - (d & 31))) & 1;
  }

  // ---- tree ----

  private nodeNew(parent: number): number {
    let n = this.freeList.pop();
    if (n === undefined) {
      if (this.nodeTop === this.nodeCap) {
        const cap = this.nodeCap * 2;
        this.tree = this.shared?.growTree(cap * NODE) ?? growI32(this.tree, cap * NODE);
        this.nodeParent = growI32(this.nodeParent, cap);
        this.nodeStale = this.shared?.growNodeStale(cap) ?? growU8(this.nodeStale, cap);
        this.nodeCap = cap;
      }
      n = this.nodeTop++;
    }
    this.tree.fill(0, n * NODE, n * NODE + NODE);
    this.nodeParent[n] = parent;
    this.nodeStale[n] = 1;
    this.nodes++;
    return n;
  }

  /** Marks node n and its ancestors stale, up to the first one already stale. */
  private staleUp(n: number): void {
    while (n >= 0 && this.nodeStale[n] === 0) {
      this.nodeStale[n] = 1;
      n = this.nodeParent[n]!;
    }
  }

  /** Copies the 8 digest words of slot (from, fs) to slot (to, ts). */
  private copySlotHash(from: number, fs: number, to: number, ts: number): void {
    const t = this.tree;
    t.copyWithin(to * NODE + 2 + ts * 8, from * NODE + 2 + fs * 8, from * NODE + 10 + fs * 8);
  }

  /** Puts account i into the tree: into an empty slot, or splitting the leaf it meets. */
  private insert(i: number): void {
    const t = this.tree;
    this.nodeStale[0] = 1;
    let n = 0;
    let side = 0;
    let d = 0;
    for (let c = t[0]!; c > 0; c = t[n * NODE + side]!) {
      this.nodeStale[c] = 1;
      n = c;
      side = this.bit(i, d++);
    }
    const ref = -(i + 1);
    this.acc[i * ACC + STALE] = 1;
    const qref = this.tree[n * NODE + side]!;
    if (qref === 0) {
      this.tree[n * NODE + side] = ref;
      this.parent[i] = n;
      return;
    }
    const q = -qref - 1;
    const qNode = n; // q's digest stays in this slot until the new nodes are hashed
    const qSide = side;
    // Nodes down to the first bit where the two paths part, one per level.
    for (;;) {
      assert(d < SMT_DEPTH_MAX, "two addresses with one SHA-256 path");
      const m = this.nodeNew(n);
      this.tree[n * NODE + side] = m;
      const bq = this.bit(q, d);
      const ba = this.bit(i, d);
      if (bq !== ba) {
        this.tree[m * NODE + bq] = qref;
        this.copySlotHash(qNode, qSide, m, bq);
        this.parent[q] = m;
        this.tree[m * NODE + ba] = ref;
        this.parent[i] = m;
        return;
      }
      n = m;
      side = ba;
      d++;
    }
  }

  /**
   * Accounts in path order: a native sort of doubles that pack (first path bits, index) into 53
   * bits, then insertion sort by the whole path, which only moves accounts whose first bits tie.
   */
  private pathOrder(): Uint32Array {
    const n = this.count;
    const indexBits = Math.max(1, Math.ceil(Math.log2(n)));
    const keyBits = Math.min(pathSortBits, 53 - indexBits);
    const scale = 2 ** indexBits;
    const keys = new Float64Array(n);
    for (let i = 0; i < n; i++) keys[i] = (this.path[i * 8]! >>> (32 - keyBits)) * scale + i;
    keys.sort();
    const order = new Uint32Array(n);
    for (let i = 0; i < n; i++) order[i] = keys[i]! % scale;
    for (let i = 1; i < n; i++) {
      const a = order[i]!;
      let j = i;
      while (j > 0 && this.pathCompare(a, order[j - 1]!) < 0) {
        order[j] = order[j - 1]!;
        j--;
      }
      order[j] = a;
    }
    return order;
  }

  /** Compares the paths of accounts a and b as unsigned 256-bit numbers. */
  private pathCompare(a: number, b: number): number {
    for (let w = 0; w < 8; w++) {
      const x = this.path[a * 8 + w]! >>> 0;
      const y = this.path[b * 8 + w]! >>> 0;
      if (x !== y) return x < y ? -1 : 1;
    }
    return 0;
  }

  /** Common prefix, in bits, of the paths of accounts a and b (distinct addresses). */
  private pathLcp(a: number, b: number): number {
    for (let w = 0; w < 8; w++) {
      const x = this.path[a * 8 + w]! ^ this.path[b * 8 + w]!;
      if (x !== 0) return w * 32 + Math.clz32(x);
    }
    throw new Error("two addresses with one SHA-256 path");
  }

  /**
   * Builds the tree of the accounts loaded onto an empty tree in one pass over them in path order,
   * as assembly/commit.ts's bulk build: with lcp(i) the common prefix of sorted neighbours i-1 and
   * i (-1 at both ends), account i opens the nodes at depths lcp(i)+1 … lcp(i+1) and its leaf
   * sits at depth max(lcp(i), lcp(i+1)) + 1. Every node and leaf is stale: `root()` hashes them.
   * 1M accounts: ~5× faster than inserting one by one, which walks the tree from the root each time.
   */
  private buildBulk(onProgress?: LoadProgress): void {
    this.bulk = false;
    const order = this.pathOrder();
    const n = order.length;
    const stack = new Int32Array(SMT_DEPTH_MAX + 1);
    this.nodeStale[0] = 1;
    let prev = -1;
    for (let k = 0; k < n; k++) {
      if (onProgress !== undefined && k > 0 && k % LINK_CHUNK === 0) onProgress(k, n);
      const i = order[k]!;
      const next = k + 1 < n ? this.pathLcp(i, order[k + 1]!) : -1;
      for (let d = prev + 1; d <= next; d++) {
        const up = d === 0 ? 0 : stack[d - 1]!;
        const m = this.nodeNew(up);
        this.tree[up * NODE + (d === 0 ? 0 : this.bit(i, d - 1))] = m;
        stack[d] = m;
      }
      const depth = Math.max(prev, next) + 1;
      const up = depth === 0 ? 0 : stack[depth - 1]!;
      this.tree[up * NODE + (depth === 0 ? 0 : this.bit(i, depth - 1))] = -(i + 1);
      this.parent[i] = up;
      prev = next;
    }
  }

  /** Takes account i's leaf out of the tree, lifting a leaf left alone back up. */
  private remove(i: number): void {
    const t = this.tree;
    let n = this.parent[i]!;
    const side = t[n * NODE] === -(i + 1) ? 0 : 1;
    assert(t[n * NODE + side] === -(i + 1), "remove: the account is in the tree");
    t[n * NODE + side] = 0;
    t.fill(0, n * NODE + 2 + side * 8, n * NODE + 10 + side * 8);
    this.staleUp(n);
    // While n holds one leaf and one empty child, the leaf moves up to n's slot in its parent.
    while (n !== 0) {
      const c0 = t[n * NODE]!;
      const c1 = t[n * NODE + 1]!;
      let lone = 2;
      if (c1 === 0 && c0 < 0) lone = 0;
      else if (c0 === 0 && c1 < 0) lone = 1;
      if (lone === 2) return;
      const up = this.nodeParent[n]!;
      const upSide = t[up * NODE] === n ? 0 : 1;
      const leaf = t[n * NODE + lone]!;
      t[up * NODE + upSide] = leaf;
      this.copySlotHash(n, lone, up, upSide);
      this.parent[-leaf - 1] = up;
      this.freeList.push(n);
      this.nodes--;
      n = up;
    }
  }

  /**
   * Marks account i's leaf stale (once per root) and queues it: the nodes above it are marked by
   * `root()`, as the WASM engine defers its dirty paths, so execution does not walk the tree
   * (at 1M accounts that walk is ~20 scattered loads per account).
   */
  private stale(i: number): void {
    if (this.acc[i * ACC + STALE] === 1) return;
    this.acc[i * ACC + STALE] = 1;
    if (this.dirtyLen === this.dirty.length) this.dirty = growI32(this.dirty, this.dirtyLen * 2);
    this.dirty[this.dirtyLen++] = i;
  }

  /** Marks the paths above the queued leaves stale (skipping accounts an abort removed). */
  private markDirtyPaths(): void {
    for (let k = 0; k < this.dirtyLen; k++) {
      const i = this.dirty[k]!;
      if (i < this.count) this.staleUp(this.parent[i]!);
    }
    this.dirtyLen = 0;
  }

  /** Marks an account changed; inside a block, journals it once per block. */
  protected touch(i: number): void {
    this.touchJournaled(i, this.acc, i * ACC + BAL);
  }

  /**
   * `touch`, journaling the balance and nonce words at from[at..at+4) as account i's value before
   * the block (the parallel path's record of it, taken before the threads changed it).
   */
  protected touchJournaled(i: number, from: Uint32Array, at: number): void {
    this.stale(i);
    if (!this.inBlock || this.acc[i * ACC + EPOCH] === this.epoch) return;
    this.acc[i * ACC + EPOCH] = this.epoch;
    if (this.journalLen === this.journalAcc.length) {
      this.journalAcc = growI32(this.journalAcc, this.journalLen * 2);
      this.journalVal = growU32(this.journalVal, this.journalLen * 8);
    }
    const j = this.journalLen++;
    this.journalAcc[j] = i;
    for (let k = 0; k < 4; k++) this.journalVal[j * 4 + k] = from[at + k]!;
    this.pushChanged(i);
  }

  load(records: Uint8Array, onProgress?: LoadProgress): void {
    assert(!this.inBlock, "load inside a block");
    const total = Math.floor(records.length / REC);
    this.reserveAccounts(this.count + total);
    if (this.count === 0 && this.tree[0] === 0) this.bulk = true;
    for (let r = 0; r < total; r++) {
      if (onProgress !== undefined && r > 0 && r % LOAD_CHUNK === 0) onProgress(r, total);
      const o = r * REC;
      let i = this.find(records, o);
      if (i < 0) i = this.create(records, o);
      this.touch(i);
      for (let k = 0; k < 4; k++) this.acc[i * ACC + BAL + k] = u32le(records, o + RECORD_BALANCE + 4 * k);
    }
    onProgress?.(total, total);
  }

  begin(): void {
    assert(!this.inBlock, "begin: a block is already open");
    if (this.bulk) this.buildBulk(); // a block's insertions and removals walk the tree
    this.inBlock = true;
    this.epoch++;
    this.createdFrom = this.count;
    this.journalLen = 0;
    this.changedLen = 0;
  }

  apply(packed: Uint8Array, count: number, proposer: Uint8Array): Uint8Array {
    assert(this.inBlock, "apply outside a block");
    const statuses = new Uint8Array(count);
    const prop = Uint8Array.prototype.slice.call(proposer, 0, 32);
    this.propIdx = this.find(prop, 0);
    for (let i = 0; i < count; i++) statuses[i] = this.applyOne(packed, i * TX, prop);
    return statuses;
  }

  /**
   * One transfer; the checks and their order mirror assembly/state.ts `applyOne`. u64 values are
   * (lo, hi) u32 halves in doubles: a sum of two halves is exact, carries are explicit.
   */
  private applyOne(p: Uint8Array, o: number, prop: Uint8Array): number {
    if (eq32(p, o, p, o + PACKED_TO)) return TransferCode.SELF_TRANSFER;
    const aLo = u32le(p, o + PACKED_AMOUNT),
      aHi = u32le(p, o + PACKED_AMOUNT + 4);
    const fLo = u32le(p, o + PACKED_FEE),
      fHi = u32le(p, o + PACKED_FEE + 4);
    const nLo = u32le(p, o + PACKED_NONCE),
      nHi = u32le(p, o + PACKED_NONCE + 4);
    let tLo = aLo + fLo;
    let tHi = aHi + fHi;
    if (tLo >= TWO32) {
      tLo -= TWO32;
      tHi++;
    }
    if (tHi > U32_MAX) return TransferCode.OVERFLOW;
    const acc = this.acc;
    let fa = this.find(p, o);
    const fbLo = fa < 0 ? 0 : acc[fa * ACC + BAL]!,
      fbHi = fa < 0 ? 0 : acc[fa * ACC + BAL + 1]!;
    const fnLo = fa < 0 ? 0 : acc[fa * ACC + NON]!,
      fnHi = fa < 0 ? 0 : acc[fa * ACC + NON + 1]!;
    if (nLo !== fnLo || nHi !== fnHi) return TransferCode.BAD_NONCE;
    if (fbHi < tHi || (fbHi === tHi && fbLo < tLo)) return TransferCode.INSUFFICIENT_FUNDS;
    if (fnLo === U32_MAX && fnHi === U32_MAX) return TransferCode.OVERFLOW;
    let ta = this.find(p, o + PACKED_TO);
    // An existing proposer is an index compare; the bytes only while it has no account.
    let pa = this.propIdx;
    const propIsFrom = pa >= 0 ? fa === pa : eq32(prop, 0, p, o);
    const propIsTo = pa >= 0 ? ta === pa : eq32(prop, 0, p, o + PACKED_TO);
    const thirdParty = (fLo !== 0 || fHi !== 0) && !propIsFrom && !propIsTo;
    const gLo = propIsTo ? tLo : aLo,
      gHi = propIsTo ? tHi : aHi;
    if (ta >= 0 && !this.fits(ta, gLo, gHi)) return TransferCode.OVERFLOW;
    if (ta < 0 && gHi > U32_MAX) return TransferCode.OVERFLOW;
    if (thirdParty && pa >= 0 && !this.fits(pa, fLo, fHi)) return TransferCode.OVERFLOW;
    if (fa < 0) {
      fa = this.create(p, o);
      if (propIsFrom) this.propIdx = fa;
    } else this.touch(fa);
    if (ta < 0) {
      ta = this.create(p, o + PACKED_TO);
      if (propIsTo) this.propIdx = ta;
    } else this.touch(ta);
    if (thirdParty) {
      if (pa < 0) pa = this.propIdx = this.create(prop, 0);
      else this.touch(pa);
      this.add(pa, fLo, fHi);
    }
    // from = fromBal - total (+ fee when the sender proposes): no borrow past the top, checked above.
    let bLo = fbLo - tLo;
    let bHi = fbHi - tHi;
    if (bLo < 0) {
      bLo += TWO32;
      bHi--;
    }
    const v = this.acc;
    v[fa * ACC + BAL] = bLo;
    v[fa * ACC + BAL + 1] = bHi;
    if (propIsFrom) this.add(fa, fLo, fHi);
    let nl = fnLo + 1;
    let nh = fnHi;
    if (nl === TWO32) {
      nl = 0;
      nh++;
    }
    v[fa * ACC + NON] = nl;
    v[fa * ACC + NON + 1] = nh;
    this.add(ta, gLo, gHi);
    return TransferCode.ok;
  }

  /** True if account i's balance + (lo, hi) fits in u64. */
  protected fits(i: number, lo: number, hi: number): boolean {
    const v = this.acc;
    const s = v[i * ACC + BAL]! + lo;
    return v[i * ACC + BAL + 1]! + hi + (s >= TWO32 ? 1 : 0) <= U32_MAX;
  }

  /** Adds (lo, hi) to account i's balance (the caller checked that it fits). */
  protected add(i: number, lo: number, hi: number): void {
    const v = this.acc;
    const s = v[i * ACC + BAL]! + lo;
    v[i * ACC + BAL] = s;
    v[i * ACC + BAL + 1] = v[i * ACC + BAL + 1]! + hi + (s >= TWO32 ? 1 : 0);
  }

  commit(): void {
    assert(this.inBlock, "commit: no block is open");
    this.inBlock = false;
  }

  abort(): void {
    assert(this.inBlock, "abort: no block is open");
    while (this.count > this.createdFrom) this.dropNewest(this.count - 1);
    for (let j = this.journalLen - 1; j >= 0; j--) {
      const i = this.journalAcc[j]!;
      this.stale(i);
      for (let k = 0; k < 4; k++) this.acc[i * ACC + BAL + k] = this.journalVal[j * 4 + k]!;
    }
    this.inBlock = false;
    this.journalLen = 0;
    this.changedLen = 0;
  }

  /** Writes account i's record at out[o..o+48): address, then balance and nonce as u32le halves. */
  private record(i: number, out: Uint8Array, o: number): void {
    out.set(this.accB.subarray(i * ACC_BYTES, i * ACC_BYTES + 32), o);
    for (let k = 0; k < 4; k++) {
      const x = this.acc[i * ACC + BAL + k]!;
      const b = o + RECORD_BALANCE + 4 * k;
      out[b] = x;
      out[b + 1] = x >>> 8;
      out[b + 2] = x >>> 16;
      out[b + 3] = x >>> 24;
    }
  }

  changes(): Uint8Array {
    const out = new Uint8Array(this.changedLen * REC);
    for (let j = 0; j < this.changedLen; j++) this.record(this.changedAcc[j]!, out, j * REC);
    return out;
  }

  exportAll(): Uint8Array {
    const out = new Uint8Array(this.count * REC);
    for (let i = 0; i < this.count; i++) this.record(i, out, i * REC);
    return out;
  }

  root(onProgress?: LoadProgress): Uint8Array {
    const built = this.bulk;
    if (this.bulk) this.buildBulk(onProgress);
    const changed = built ? this.count : this.dirtyLen;
    this.markDirtyPaths();
    if (this.nodeStale[0] === 1) this.hashStale(changed);
    const out = new Uint8Array(32);
    digestBytes(this.tree, 2, out, 0);
    return out;
  }

  /**
   * Rehashes the stale nodes, `changed` leaves having changed since the last root (the threaded
   * state shares the work out first: state-ts-threads.ts).
   */
  protected hashStale(changed: number): void {
    void changed;
    rehashNode(this.tree, this.nodeStale, this.acc, this.accB, 0);
  }

  account(address: Uint8Array): AccountState | undefined {
    const i = this.find(address, 0);
    if (i < 0) return undefined;
    const v = this.acc;
    const r = i * ACC;
    return {
      balance: (BigInt(v[r + BAL + 1]!) << 32n) | BigInt(v[r + BAL]!),
      nonce: (BigInt(v[r + NON + 1]!) << 32n) | BigInt(v[r + NON]!),
    };
  }

  proofMaterial(address: Uint8Array): ProofMaterial {
    this.root();
    const path = new Int32Array(8);
    pathDigest(address, 0, path, 0);
    const t = this.tree;
    const sib: number[] = [];
    let c = t[0]!;
    for (let d = 0; c > 0; d++) {
      const b = (path[d >> 5]! >>> (31 - (d & 31))) & 1;
      sib.push(c * NODE + 2 + (b ^ 1) * 8);
      c = t[c * NODE + b]!;
    }
    const out = new Uint8Array(sib.length * 32);
    sib.forEach((at, k) => digestBytes(t, at, out, k * 32));
    let leaf: Uint8Array | undefined;
    if (c < 0) {
      leaf = new Uint8Array(REC);
      this.record(-c - 1, leaf, 0);
    }
    return { depth: sib.length, leaf, siblings: out };
  }
}
