/**
 * State commitment: a sparse Merkle tree over the 256-bit key space (Diem's sparse Merkle tree,
 * the binary view of Aptos' Jellyfish Merkle tree), with single-leaf subtrees compressed.
 * Hashing is FIPS 180-4 SHA-256 throughout:
 *
 *   path(a)        = SHA256(address)                        the key: bit 0 is the top bit of byte 0
 *   leaf(a)        = SHA256(0x00 ‖ address ‖ balance u64le ‖ nonce u64le)       (49 bytes)
 *   empty          = 0^32
 *   subtree(S, d)  = empty if S = ∅; leaf(a) if S = {a}; else
 *                    SHA256(subtree(S0, d+1) ‖ subtree(S1, d+1))                 (64 bytes)
 *                    where S0/S1 are the accounts of S whose path bit d is 0/1
 *   root           = subtree(all accounts, 0)
 *
 * A leaf message is 49 bytes and a node message 64, so a leaf can never be read as a node (SHA-256
 * pads in the length); the 0x00 prefix names the leaf domain on top. A node hashes one block plus
 * the constant padding block, whose schedule `sha256Pairs4` precomputes; a leaf is one block.
 * Keys are hashed addresses, so nobody can make a path deeper than ~log2(N) + a few bits without
 * grinding SHA-256: the expected leaf depth is log2(N) + 1.3.
 *
 * In memory a node is 72 bytes: child pointers c0, c1 (0 empty; an account entry | 1, a leaf;
 * else a node) and the two child hashes h0, h1, contiguous: a node's hash message lies in place.
 * A slot (node, side) is named by `node | side`; the root is slot 0 of a static pseudo-node.
 *
 * Updates are lazy: changed accounts go on a dirty list (and removed paths on a gone list);
 * `commitRoot` hashes their paths, sorts them, and walks the tree breadth-first, one level at a
 * time, over the sorted keys: it inserts new leaves (splitting a leaf it meets into a chain of
 * nodes down to where the two paths part), collects the dirty nodes per level, and hashes leaves
 * then levels bottom-up, four at a time through the 4-lane SIMD SHA-256. Cost: O(changed × log N)
 * per block. A load onto an empty tree (genesis, snapshot) is built in one pass from the sorted
 * keys instead ("bulk build" below), with its nodes laid out for the walks that follow.
 * bindings/engine/state-ts.ts and bindings/chain/proof.ts implement the same definitions.
 * @module
 */
import { alloc, free } from "./store-alloc";
import { bufEnsure, bufPtr, bufDesc } from "./store-buf";
import { sha256Bytes, sha256Pairs4, sha256Block4, sha256Pairs4In, sha256Block4In, SHA4_SCRATCH } from "./sha256";
import { copy32, copy48, copy64 } from "./store-mem";

/** Offset of the value in an account entry (8-byte header + 32-byte address). */
export const ACC_VALUE: usize = 40;
/** Offset of the dirty-generation stamp inside an account value. */
export const V_DGEN: usize = 16;
/** A stamp that marks an entry about to be freed (filtered out of the dirty list). */
export const DGEN_DEAD: u32 = 0xffffffff;
/** Deepest node: depth 255 splits on the last bit. */
const DEPTH_MAX: u32 = 256;

const NODE_SIZE: u32 = 72;
const NODES_PER_CHUNK: u32 = 8192;

const B_DIRTY: u32 = 6; // dirty account entries (u32)
const B_GONE: u32 = 7; // paths of removed leaves (32 bytes each)
const B_PATH: u32 = 8; // the items' paths, dirty order
const B_SPATH: u32 = 9; // the items' paths, sorted
const B_SENT: u32 = 10; // the items' entries (0: a gone path), sorted
const B_CNT: u32 = 11; // bucket counts of the sort
const B_FRONT: u32 = 12; // frontier of the walk: [slot, lo, hi, carry] u32 each
const B_FRONT2: u32 = 13;
const B_LEVEL: u32 = 14; // dirty nodes level by level: [slot holding it, node] u32 each
const B_CARRY: u32 = 15; // leaves pushed down by a split: [entry, path 32, hash 32]
const B_PROOF: u32 = 16;
const B_ENT: u32 = 17; // the items' entries, dirty order
const B_LEAVES: u32 = 23; // leaves deferred by a subtree walk: [slot, entry] u32 each
/** Thread t's own walk buffers (front, front2, level, carry, leaves) are ids B_THREAD + 5t + 0..4. */
const B_THREAD: u32 = 24;
const CARRY_SIZE: u32 = 68;

const ROOT_NODE: usize = memory.data(80, 16); // slot 0 is the root
const MSG4: usize = memory.data(256, 16);
const DIG4: usize = memory.data(128, 16);
const LEAF_SLOTS: usize = memory.data(16, 16);
const PATH_IO: usize = memory.data(32, 16);
const LEVEL_START: usize = memory.data(<i32>((DEPTH_MAX + 2) * 4), 16);
const STACK: usize = memory.data(<i32>((DEPTH_MAX + 1) * 4), 16);
/**
 * Depth of the subtrees the threads walk and hash whole (parallel.ts): the main thread walks the
 * top SUB_BITS levels, and the frontier it reaches (at most 2^SUB_BITS slots) is the list of tasks.
 */
export const SUB_BITS: u32 = 5;
/** Most threads that walk subtrees (parallel.ts PAR_THREADS_MAX). */
const WALK_THREADS: u32 = 16;
/** Each thread's level starts for its subtree walks: (DEPTH_MAX + 2) u32 per thread. */
const THREAD_LSTART: usize = memory.data(<i32>((DEPTH_MAX + 2) * 4 * WALK_THREADS), 16);

let nodeFreeList: usize = 0;
let chunkNext: usize = 0;
let chunkEnd: usize = 0;
let nodeCount: u32 = 0;
let dirtyLen: u32 = 0;
let goneLen: u32 = 0;
let dirtyGen: u32 = 1;
let leafQueued: u32 = 0;
let hashCount: u64 = 0;
/**
 * The threads' hashing of a root (assembly/parallel.ts, which imports this module, plugs them in
 * at parInit; a function returns false when the caller must hash serially instead).
 */
let rootPaths: ((list: usize, n: u32, dst: usize) => bool) | null = null;
/** Runs the walk's `tasks` subtrees on the threads: 1 done, 0 not run (the caller runs them), -1 OOM. */
let rootTree: ((tasks: u32) => i32) | null = null;

/** Lets the threads hash the roots from now on (parallel.ts parInit). */
export function commitUseThreads(paths: (list: usize, n: u32, dst: usize) => bool, tree: (tasks: u32) => i32): void {
  rootPaths = paths;
  rootTree = tree;
}

/** The walk lists its leaves (a subtree walk hashes them after its levels are known). */
let leafDefer = false;
let leafLen: u32 = 0;

// The walk's buffers and level starts: the main thread's, or a thread's own in a subtree walk
// (instance globals: each thread's instance has its own).
let idFront: u32 = B_FRONT;
let idFront2: u32 = B_FRONT2;
let idLevel: u32 = B_LEVEL;
let idCarry: u32 = B_CARRY;
let idLeaves: u32 = B_LEAVES;
let lstartP: usize = LEVEL_START;
/** Hashing scratch for a carried leaf's path: 0 on the main thread's walk (sha256Bytes). */
let pathScr: usize = 0;

function useThread(tid: u32, scr: usize): void {
  const b = B_THREAD + 5 * tid;
  idFront = b;
  idFront2 = b + 1;
  idLevel = b + 2;
  idCarry = b + 3;
  idLeaves = b + 4;
  lstartP = THREAD_LSTART + <usize>tid * ((DEPTH_MAX + 2) << 2);
  pathScr = scr;
}

function useMain(): void {
  idFront = B_FRONT;
  idFront2 = B_FRONT2;
  idLevel = B_LEVEL;
  idCarry = B_CARRY;
  idLeaves = B_LEAVES;
  lstartP = LEVEL_START;
  pathScr = 0;
}

/** SHA-256 compressions done by root updates so far (a benchmark metric). */
export function commitHashCount(): u64 { return hashCount; }
/** Tree nodes allocated (a benchmark metric: memory per account). */
export function commitNodeCount(): u32 { return nodeCount; }

// ---- slots and nodes ----------------------------------------------------------------------

// @ts-ignore: decorator
@inline function slotPtr(ref: usize): usize { return (ref & ~1) + ((ref & 1) << 2); }
// @ts-ignore: decorator
@inline function slotHash(ref: usize): usize { return (ref & ~1) + 8 + ((ref & 1) << 5); }
// @ts-ignore: decorator
@inline function bitAt(path: usize, d: u32): u32 { return (<u32>load<u8>(path + (d >> 3)) >> (7 - (d & 7))) & 1; }

function zero32(p: usize): void {
  v128.store(p, i32x4.splat(0));
  v128.store(p, i32x4.splat(0), 16);
}

/** A new node with two empty children; 0 on OOM. */
function nodeNew(): usize {
  let n = nodeFreeList;
  if (n != 0) nodeFreeList = <usize>load<u32>(n);
  else {
    if (chunkNext + NODE_SIZE > chunkEnd) {
      const chunk = alloc(NODE_SIZE * NODES_PER_CHUNK);
      if (chunk == 0) return 0;
      chunkNext = chunk;
      chunkEnd = chunk + NODE_SIZE * NODES_PER_CHUNK;
    }
    n = chunkNext;
    chunkNext += NODE_SIZE;
  }
  store<u64>(n, 0);
  zero32(n + 8);
  zero32(n + 40);
  nodeCount++;
  return n;
}

function nodeFree(n: usize): void {
  store<u32>(n, <u32>nodeFreeList);
  nodeFreeList = n;
  nodeCount--;
}

// ---- dirty tracking -------------------------------------------------------------------------

/** Makes room for `more` dirty entries; false on OOM. */
export function dirtyReserve(more: u32): bool {
  return bufEnsure(B_DIRTY, (dirtyLen + more) << 2, dirtyLen << 2) != 0;
}

/** Puts account entry `e` on the dirty list once per root (room must be reserved). */
// @ts-ignore: decorator
@inline export function markDirty(e: usize): void {
  if (load<u32>(e + ACC_VALUE + V_DGEN) == dirtyGen) return;
  store<u32>(e + ACC_VALUE + V_DGEN, dirtyGen);
  store<u32>(bufPtr(B_DIRTY) + (<usize>dirtyLen << 2), <u32>e);
  dirtyLen++;
}

/** The stamp of entries already on the dirty list (parallel.ts stamps entries on the threads). */
export function dirtyStamp(): u32 {
  return dirtyGen;
}

/** Puts entry `e`, stamped with dirtyStamp() by the caller, on the dirty list (room reserved). */
export function dirtyPush(e: usize): void {
  store<u32>(bufPtr(B_DIRTY) + (<usize>dirtyLen << 2), <u32>e);
  dirtyLen++;
}

/** Drops the entries stamped DGEN_DEAD from the dirty list (before they are freed). */
export function dirtyDropDead(): void {
  const list = bufPtr(B_DIRTY);
  let k: u32 = 0;
  for (let i: u32 = 0; i < dirtyLen; i++) {
    const e = load<u32>(list + (<usize>i << 2));
    if (load<u32>(<usize>e + ACC_VALUE + V_DGEN) == DGEN_DEAD) continue;
    store<u32>(list + (<usize>k << 2), e);
    k++;
  }
  dirtyLen = k;
}

/** Makes room for `more` gone paths (so a run of removals cannot fail halfway); false on OOM. */
export function goneReserve(more: u32): bool {
  return bufEnsure(B_GONE, (goneLen + more) << 5, goneLen << 5) != 0;
}

/**
 * Removes account entry `e` from the tree if it is there (undoing a creation), lifting a leaf
 * left alone in its subtree back up; the path goes on the gone list. False on OOM.
 */
export function treeRemove(e: usize): bool {
  const gone = bufEnsure(B_GONE, (goneLen + 1) << 5, goneLen << 5);
  if (gone == 0) return false;
  const path = gone + (<usize>goneLen << 5);
  sha256Bytes(e + 8, 32, path);
  goneLen++;
  let ref: usize = ROOT_NODE;
  let k: u32 = 0;
  for (let d: u32 = 0; d <= DEPTH_MAX; d++) {
    const p = <usize>load<u32>(slotPtr(ref));
    if (p == 0) return true;
    if (p & 1) {
      if ((p & ~1) != e) return true;
      break;
    }
    store<u32>(STACK + (<usize>k << 2), <u32>ref);
    k++;
    ref = p | bitAt(path, d);
  }
  store<u32>(slotPtr(ref), 0);
  zero32(slotHash(ref));
  // Collapse: a node left with one leaf and one empty child gives the leaf to its parent slot.
  while (k > 0) {
    const up = <usize>load<u32>(STACK + (<usize>(k - 1) << 2));
    const n = <usize>load<u32>(slotPtr(up));
    const c0 = load<u32>(n);
    const c1 = load<u32>(n, 4);
    let side: usize = 2;
    if (c1 == 0 && (c0 & 1)) side = 0;
    else if (c0 == 0 && (c1 & 1)) side = 1;
    if (side == 2) break;
    store<u32>(slotPtr(up), load<u32>(slotPtr(n | side)));
    copy32(slotHash(up), slotHash(n | side));
    nodeFree(n);
    k--;
  }
  return true;
}

// ---- hashing helpers --------------------------------------------------------------------------

/** Writes the padded one-block message of leaf(entry `e`) at `dst`. */
// @ts-ignore: decorator
@inline function leafBlock(e: usize, dst: usize): void {
  store<u8>(dst, 0);
  copy48(dst + 1, e + 8); // address, balance, nonce are contiguous in the entry
  store<u64>(dst, 0x80, 49); // 0x80 then zeros up to byte 56
  store<u64>(dst, bswap<u64>(49 * 8), 56);
}

/** Queues leaf(e) for slot `ref` (hashed four at a time, or listed in a subtree walk); false on OOM. */
function queueLeaf(ref: usize, e: usize): bool {
  if (leafDefer) {
    const l = bufEnsure(idLeaves, (leafLen + 1) << 3, leafLen << 3);
    if (l == 0) return false;
    store<u32>(l + (<usize>leafLen << 3), <u32>ref);
    store<u32>(l + (<usize>leafLen << 3), <u32>e, 4);
    leafLen++;
    return true;
  }
  leafBlock(e, MSG4 + (<usize>leafQueued << 6));
  store<u32>(LEAF_SLOTS + (<usize>leafQueued << 2), <u32>ref);
  leafQueued++;
  if (leafQueued == 4) flushLeaves();
  return true;
}

/** path(a) of entry `e` into `dst` (the walk's scratch: see pathScr). */
function pathOf(e: usize, dst: usize): void {
  if (pathScr == 0) {
    sha256Bytes(e + 8, 32, dst);
    return;
  }
  const m = pathScr; // lane 0 of the scratch's messages; the other lanes' digests are ignored
  copy32(m, e + 8);
  store<u64>(m, 0x80, 32);
  v128.store(m, i32x4.splat(0), 40);
  store<u64>(m, bswap<u64>(256), 56);
  sha256Block4In(m, pathScr + 256, pathScr + 384);
  copy32(dst, pathScr + 256);
}

function flushLeaves(): void {
  if (leafQueued == 0) return;
  hashCount += leafQueued;
  sha256Block4(MSG4, DIG4);
  for (let i: u32 = 0; i < leafQueued; i++) copy32(slotHash(<usize>load<u32>(LEAF_SLOTS + (<usize>i << 2))), DIG4 + (<usize>i << 5));
  leafQueued = 0;
}

/** path(a) of the `n` dirty entries into the path buffer, four at a time. */
function hashPaths(list: usize, n: u32, dst: usize): void {
  for (let i: u32 = 0; i < n; i += 4) {
    const lanes = min<u32>(4, n - i);
    for (let j: u32 = 0; j < lanes; j++) {
      const m = MSG4 + (<usize>j << 6);
      copy32(m, <usize>load<u32>(list + (<usize>(i + j) << 2)) + 8);
      store<u64>(m, 0x80, 32);
      v128.store(m, i32x4.splat(0), 40);
      store<u64>(m, bswap<u64>(256), 56);
    }
    sha256Block4(MSG4, DIG4);
    hashCount += lanes;
    for (let j: u32 = 0; j < lanes; j++) copy32(dst + (<usize>(i + j) << 5), DIG4 + (<usize>j << 5));
  }
}

// ---- kernels shared with the threads (assembly/parallel.ts) -----------------------------------
// Each takes its thread's own scratch of HASH_SCRATCH bytes: messages (4 × 64), digests (4 × 32),
// then the SHA-256 lanes' state and schedule. MSG4, DIG4 and sha256.ts's scratch are static
// data, one copy in the shared memory for every instance.

/** Bytes of a thread's hashing scratch (16-byte aligned). */
export const HASH_SCRATCH: u32 = 384 + SHA4_SCRATCH;
/** The main thread's scratch when it hashes the deferred leaves alone. */
const SCRATCH_MAIN: usize = memory.data(<i32>HASH_SCRATCH, 16);

/** path(a) of dirty entries [lo, hi) of `list` into `dst` (32 bytes each). */
export function hashPathRange(list: usize, dst: usize, lo: u32, hi: u32, scr: usize): void {
  const msg = scr;
  const dig = scr + 256;
  for (let i = lo; i < hi; i += 4) {
    const lanes = min<u32>(4, hi - i);
    for (let j: u32 = 0; j < lanes; j++) {
      const m = msg + (<usize>j << 6);
      copy32(m, <usize>load<u32>(list + (<usize>(i + j) << 2)) + 8);
      store<u64>(m, 0x80, 32);
      v128.store(m, i32x4.splat(0), 40);
      store<u64>(m, bswap<u64>(256), 56);
    }
    sha256Block4In(msg, dig, scr + 384);
    for (let j: u32 = 0; j < lanes; j++) copy32(dst + (<usize>(i + j) << 5), dig + (<usize>j << 5));
  }
}

/** leaf(e) of deferred leaves [lo, hi) of `leaves` ([slot, entry] each) into their slots. */
export function hashLeafRange(leaves: usize, lo: u32, hi: u32, scr: usize): void {
  const msg = scr;
  const dig = scr + 256;
  for (let i = lo; i < hi; i += 4) {
    const lanes = min<u32>(4, hi - i);
    for (let j: u32 = 0; j < lanes; j++) leafBlock(<usize>load<u32>(leaves + (<usize>(i + j) << 3), 4), msg + (<usize>j << 6));
    sha256Block4In(msg, dig, scr + 384);
    for (let j: u32 = 0; j < lanes; j++) copy32(slotHash(<usize>load<u32>(leaves + (<usize>(i + j) << 3))), dig + (<usize>j << 5));
  }
}

/** Hashes level nodes [lo, hi) of `level` ([slot, node] each) into their slots. */
export function hashLevelRange(level: usize, lo: u32, hi: u32, scr: usize): void {
  const msg = scr;
  const dig = scr + 256;
  touchSink ^= touchLevel(level, lo, hi);
  for (let i = lo; i < hi; i += 4) {
    const lanes = min<u32>(4, hi - i);
    for (let j: u32 = 0; j < lanes; j++) copy64(msg + (<usize>j << 6), <usize>load<u32>(level + (<usize>(i + j) << 3), 4) + 8);
    sha256Pairs4In(msg, dig, scr + 384);
    for (let j: u32 = 0; j < lanes; j++) copy32(slotHash(<usize>load<u32>(level + (<usize>(i + j) << 3))), dig + (<usize>j << 5));
  }
}

// ---- sorting the dirty keys ---------------------------------------------------------------

/** True if (path a, entry ea) sorts before (path b, entry eb). */
function itemLess(a: usize, ea: u32, b: usize, eb: u32): bool {
  for (let i: usize = 0; i < 32; i += 8) {
    const x = bswap<u64>(load<u64>(a + i));
    const y = bswap<u64>(load<u64>(b + i));
    if (x != y) return x < y;
  }
  return ea < eb;
}

/**
 * Sorts the n items (path at B_PATH + 32i, entry in B_ENT) into B_SPATH/B_SENT, dropping exact
 * duplicates; returns the count kept, -1 on OOM. Paths are SHA-256 outputs, so a bucket sort on
 * the top bits leaves buckets of about one item: O(n) expected.
 */
function sortItems(n: u32): i32 {
  let bits: u32 = 1;
  while (bits < 22 && (<u32>1 << bits) < n) bits++;
  const buckets: u32 = 1 << bits;
  const cnt = bufEnsure(B_CNT, (buckets + 1) << 2, 0);
  const sp = bufEnsure(B_SPATH, n << 5, 0);
  const se = bufEnsure(B_SENT, n << 2, 0);
  if (cnt == 0 || sp == 0 || se == 0) return -1;
  const paths = bufPtr(B_PATH);
  const ents = bufPtr(B_ENT);
  memory.fill(cnt, 0, <usize>(buckets + 1) << 2);
  const shift = 32 - bits;
  for (let i: u32 = 0; i < n; i++) {
    const b = bswap<u32>(load<u32>(paths + (<usize>i << 5))) >>> shift;
    store<u32>(cnt + (<usize>(b + 1) << 2), load<u32>(cnt + (<usize>(b + 1) << 2)) + 1);
  }
  for (let b: u32 = 1; b <= buckets; b++) store<u32>(cnt + (<usize>b << 2), load<u32>(cnt + (<usize>b << 2)) + load<u32>(cnt + (<usize>(b - 1) << 2)));
  for (let i: u32 = 0; i < n; i++) {
    const src = paths + (<usize>i << 5);
    const b = bswap<u32>(load<u32>(src)) >>> shift;
    const at = load<u32>(cnt + (<usize>b << 2));
    store<u32>(cnt + (<usize>b << 2), at + 1);
    copy32(sp + (<usize>at << 5), src);
    store<u32>(se + (<usize>at << 2), load<u32>(ents + (<usize>i << 2)));
  }
  // Insertion sort: after the bucket scatter an item only moves within its bucket.
  for (let i: u32 = 1; i < n; i++) {
    const e = load<u32>(se + (<usize>i << 2));
    if (!itemLess(sp + (<usize>i << 5), e, sp + (<usize>(i - 1) << 5), load<u32>(se + (<usize>(i - 1) << 2)))) continue;
    copy32(PATH_IO, sp + (<usize>i << 5));
    let j = i;
    while (j > 0 && itemLess(PATH_IO, e, sp + (<usize>(j - 1) << 5), load<u32>(se + (<usize>(j - 1) << 2)))) {
      copy32(sp + (<usize>j << 5), sp + (<usize>(j - 1) << 5));
      store<u32>(se + (<usize>j << 2), load<u32>(se + (<usize>(j - 1) << 2)));
      j--;
    }
    copy32(sp + (<usize>j << 5), PATH_IO);
    store<u32>(se + (<usize>j << 2), e);
  }
  // Exact duplicates (an entry dirtied again after an abort) are adjacent now.
  let k: u32 = 0;
  for (let i: u32 = 0; i < n; i++) {
    const p = sp + (<usize>i << 5);
    const e = load<u32>(se + (<usize>i << 2));
    if (k > 0 && e == load<u32>(se + (<usize>(k - 1) << 2)) && !itemLess(sp + (<usize>(k - 1) << 5), e, p, e)) continue;
    if (k != i) {
      copy32(sp + (<usize>k << 5), p);
      store<u32>(se + (<usize>k << 2), e);
    }
    k++;
  }
  return <i32>k;
}

// ---- the breadth-first walk -----------------------------------------------------------------

let frontLen: u32 = 0;
let nextLen: u32 = 0;
let levelLen: u32 = 0;
let carryLen: u32 = 0;

/** Appends a frontier item for depth d + 1; false on OOM. */
function pushNext(ref: usize, lo: u32, hi: u32, carry: u32): bool {
  const f = bufEnsure(idFront2, (nextLen + 1) << 4, nextLen << 4);
  if (f == 0) return false;
  const p = f + (<usize>nextLen << 4);
  store<u32>(p, <u32>ref);
  store<u32>(p, lo, 4);
  store<u32>(p, hi, 8);
  store<u32>(p, carry, 12);
  nextLen++;
  return true;
}

/** The first real (non-gone) item of [lo, hi) other than `skip`, or hi. */
function firstReal(lo: u32, hi: u32, skip: u32): u32 {
  const se = bufPtr(B_SENT);
  for (let i = lo; i < hi; i++) {
    const e = load<u32>(se + (<usize>i << 2));
    if (e != 0 && e != skip) return i;
  }
  return hi;
}

/** Index of entry `e` in [lo, hi), or hi. */
function findEntry(lo: u32, hi: u32, e: u32): u32 {
  const se = bufPtr(B_SENT);
  for (let i = lo; i < hi; i++) if (load<u32>(se + (<usize>i << 2)) == e) return i;
  return hi;
}

/** First index of [lo, hi) whose path has bit d set (the range shares its first d bits). */
function splitAt(lo: u32, hi: u32, d: u32): u32 {
  const sp = bufPtr(B_SPATH);
  let a = lo;
  let b = hi;
  while (a < b) {
    const mid = (a + b) >>> 1;
    if (bitAt(sp + (<usize>mid << 5), d) == 0) a = mid + 1;
    else b = mid;
  }
  return a;
}

/** Makes the leaf at slot `ref` a carry (it moves down a split); returns its carry id, 0 on OOM. */
function carryOf(ref: usize): u32 {
  const c = bufEnsure(idCarry, (carryLen + 2) * CARRY_SIZE, (carryLen + 1) * CARRY_SIZE);
  if (c == 0) return 0;
  carryLen++;
  const p = c + <usize>carryLen * CARRY_SIZE;
  const e = <usize>load<u32>(slotPtr(ref)) & ~1;
  store<u32>(p, <u32>e);
  pathOf(e, p + 4);
  copy32(p + 36, slotHash(ref));
  return carryLen;
}

/**
 * Visits one frontier item at depth d: places, splits or descends (see the module comment).
 * Returns false on OOM.
 */
function visit(ref: usize, lo: u32, hi: u32, carry: u32, d: u32): bool {
  const se = bufPtr(B_SENT);
  let p = <usize>load<u32>(slotPtr(ref));
  if (p == 0) {
    const first = firstReal(lo, hi, 0);
    const reals: u32 = (first < hi ? 1 : 0) + (first < hi && firstReal(first + 1, hi, 0) < hi ? 1 : 0) + (carry != 0 ? 1 : 0);
    if (reals == 0) return true;
    if (reals == 1) {
      if (carry != 0) {
        const c = bufPtr(idCarry) + <usize>carry * CARRY_SIZE;
        store<u32>(slotPtr(ref), load<u32>(c) | 1);
        copy32(slotHash(ref), c + 36);
      } else {
        const e = load<u32>(se + (<usize>first << 2));
        store<u32>(slotPtr(ref), e | 1);
        return queueLeaf(ref, <usize>e);
      }
      return true;
    }
    p = nodeNew();
    if (p == 0) return false;
    store<u32>(slotPtr(ref), <u32>p);
  } else if (p & 1) {
    if (carry != 0) unreachable(); // a carry only goes down into new, empty subtrees
    const q = <u32>(p & ~1);
    const self = findEntry(lo, hi, q);
    if (firstReal(lo, hi, q) == hi) {
      return self < hi ? queueLeaf(ref, <usize>q) : true;
    }
    // Another account arrives at this leaf: the slot becomes a node and the leaf moves down.
    if (self == hi) {
      carry = carryOf(ref);
      if (carry == 0) return false;
    }
    p = nodeNew();
    if (p == 0) return false;
    store<u32>(slotPtr(ref), <u32>p);
  }
  if (d >= DEPTH_MAX) unreachable(); // two distinct addresses with one SHA-256 path
  const level = bufEnsure(idLevel, (levelLen + 1) << 3, levelLen << 3);
  if (level == 0) return false;
  store<u32>(level + (<usize>levelLen << 3), <u32>ref);
  store<u32>(level + (<usize>levelLen << 3), <u32>p, 4); // hashLevels then need not load the slot
  levelLen++;
  const m = splitAt(lo, hi, d);
  const carrySide: u32 = carry == 0 ? 2 : bitAt(bufPtr(idCarry) + <usize>carry * CARRY_SIZE + 4, d);
  if ((m > lo || carrySide == 0) && !pushNext(p, lo, m, carrySide == 0 ? carry : 0)) return false;
  if ((hi > m || carrySide == 1) && !pushNext(p | 1, m, hi, carrySide == 1 ? carry : 0)) return false;
  return true;
}

/**
 * Walks slot `ref` at depth `d0` over sorted items [lo, hi) (and `carry`), level by level, down to
 * depth `dEnd` (exclusive): the items left for depth `dEnd` stay in the next frontier
 * (nextLen of them). Level starts go to lstartP; false on OOM.
 */
function walkFrom(ref: usize, lo: u32, hi: u32, carry: u32, d0: u32, dEnd: u32): bool {
  levelLen = 0;
  nextLen = 0;
  if (!pushNext(ref, lo, hi, carry)) return false;
  let d = d0;
  for (; nextLen > 0 && d < dEnd; d++) {
    // The next level becomes the current one: swap the two frontier buffers' descriptors.
    swapFronts();
    frontLen = nextLen;
    nextLen = 0;
    store<u32>(lstartP + (<usize>d << 2), levelLen);
    const f = bufPtr(idFront);
    touchFront(f, frontLen);
    for (let i: u32 = 0; i < frontLen; i++) {
      const it = f + (<usize>i << 4);
      if (!visit(<usize>load<u32>(it), load<u32>(it, 4), load<u32>(it, 8), load<u32>(it, 12), d)) return false;
    }
  }
  store<u32>(lstartP + (<usize>d << 2), levelLen);
  levelDepth = d;
  return true;
}

/**
 * Walks and hashes subtree task `k` of the last top walk (commitRoot) as thread `tid`, in the
 * thread's own buffers and hashing scratch `scr`: its new nodes come from this instance's node
 * chunk (the allocator is shared and locked). The subtree's nodes read only its own deeper nodes
 * and leaves, so no other thread waits on any of it. False on OOM.
 */
export function commitTaskRun(tid: u32, k: u32, scr: usize): bool {
  const task = bufPtr(B_FRONT2) + (<usize>k << 4);
  const carryTop = load<u32>(task, 12);
  useThread(tid, scr);
  carryLen = 0;
  let carry: u32 = 0;
  let ok = true;
  if (carryTop != 0) {
    // The leaf the top walk carried down: a copy as this walk's carry 1.
    const c = bufEnsure(idCarry, 2 * CARRY_SIZE, 0);
    if (c == 0) ok = false;
    else {
      memory.copy(c + CARRY_SIZE, bufPtr(B_CARRY) + <usize>carryTop * CARRY_SIZE, CARRY_SIZE);
      carryLen = 1;
      carry = 1;
    }
  }
  leafDefer = true;
  leafLen = 0;
  ok = ok && walkFrom(<usize>load<u32>(task), load<u32>(task, 4), load<u32>(task, 8), carry, SUB_BITS, DEPTH_MAX + 1);
  leafDefer = false;
  if (ok) {
    hashLeafRange(bufPtr(idLeaves), 0, leafLen, scr);
    const level = bufPtr(idLevel);
    for (let d = <i32>levelDepth - 1; d >= <i32>SUB_BITS; d--) {
      hashLevelRange(level, load<u32>(lstartP + (<usize>d << 2)), load<u32>(lstartP + (<usize>(d + 1) << 2)), scr);
    }
    hashCount += <u64>leafLen + (<u64>levelLen << 1);
  }
  useMain();
  return ok;
}

/** Adds a worker's root work (compressions, new nodes) to this instance's counts (main instance). */
export function commitAddCounts(hashes: u32, nodes: u32): void {
  hashCount += hashes;
  nodeCount += nodes;
}

let levelDepth: u32 = 0;
let touchSink: u32 = 0;

/**
 * Loads every frontier slot in one tight loop before the level is visited. Below the top ~11
 * levels each node of a path is a cache (and TLB) miss; WASM has no prefetch, and inside the
 * long `visit` body the misses of consecutive items barely overlap. Issued back to back here,
 * they are in flight together (the kv lookups in state.ts use the same trick).
 */
function touchFront(f: usize, n: u32): void {
  let sink: u32 = 0;
  for (let i: u32 = 0; i < n; i++) sink ^= load<u32>(slotPtr(<usize>load<u32>(f + (<usize>i << 4))));
  touchSink ^= sink;
}

// store-buf keeps (pointer, capacity) per id; swapping two ids swaps the buffers.
function swapFronts(): void {
  const a = bufDesc(idFront);
  const b = bufDesc(idFront2);
  const t = load<u64>(a);
  store<u64>(a, load<u64>(b));
  store<u64>(b, t);
}

/** Loads a level's nodes and their parents' slots in one tight loop (see touchFront). */
function touchLevel(level: usize, from: u32, to: u32): u32 {
  let sink: u32 = 0;
  for (let i = from; i < to; i++) {
    sink ^= load<u32>(<usize>load<u32>(level + (<usize>i << 3), 4) + 8);
    sink ^= load<u32>(slotHash(<usize>load<u32>(level + (<usize>i << 3))));
  }
  return sink;
}

/** Hashes the collected nodes, deepest level first, four at a time, into their slots. */
function hashLevels(): void {
  const level = bufPtr(B_LEVEL);
  for (let d = <i32>levelDepth - 1; d >= 0; d--) {
    const from = load<u32>(LEVEL_START + (<usize>d << 2));
    const to = load<u32>(LEVEL_START + (<usize>(d + 1) << 2));
    touchSink ^= touchLevel(level, from, to);
    for (let i = from; i < to; i += 4) {
      const lanes = min<u32>(4, to - i);
      for (let j: u32 = 0; j < lanes; j++) {
        copy64(MSG4 + (<usize>j << 6), <usize>load<u32>(level + (<usize>(i + j) << 3), 4) + 8);
      }
      sha256Pairs4(MSG4, DIG4);
      hashCount += <u64>lanes * 2;
      for (let j: u32 = 0; j < lanes; j++) {
        copy32(slotHash(<usize>load<u32>(level + (<usize>(i + j) << 3))), DIG4 + (<usize>j << 5));
      }
    }
  }
}

/** Brings the tree and the root up to date; returns the root's address (32 bytes), 0 on OOM. */
export function commitRoot(): usize {
  const n = dirtyLen + goneLen;
  if (n == 0) return ROOT_NODE + 8;
  // An empty tree (genesis, a snapshot load): one bulk build.
  const bulk = commitBulkBegin();
  if (bulk == -1) return 0;
  if (bulk >= 0) {
    commitBulkLink(<u32>bulk);
    return commitBulkEnd();
  }
  const paths = bufEnsure(B_PATH, n << 5, 0);
  const ents = bufEnsure(B_ENT, n << 2, 0);
  if (paths == 0 || ents == 0) return 0;
  const list = bufPtr(B_DIRTY);
  const paral = rootPaths;
  const tree = rootTree;
  const threaded = tree != null;
  if (paral != null && paral(list, dirtyLen, paths)) hashCount += dirtyLen;
  else hashPaths(list, dirtyLen, paths);
  for (let i: u32 = 0; i < dirtyLen; i++) store<u32>(ents + (<usize>i << 2), load<u32>(list + (<usize>i << 2)));
  const gone = bufPtr(B_GONE);
  for (let i: u32 = 0; i < goneLen; i++) {
    copy32(paths + (<usize>(dirtyLen + i) << 5), gone + (<usize>i << 5));
    store<u32>(ents + (<usize>(dirtyLen + i) << 2), 0);
  }
  const m = sortItems(n);
  if (m < 0) return 0;
  carryLen = 0;
  // With threads (and items enough to share) the main thread walks the top SUB_BITS levels; the
  // subtrees below them are walked and hashed whole on all threads, then the top levels here.
  const split = threaded && <u32>m >= ROOT_SPLIT_MIN;
  if (!walkFrom(ROOT_NODE, 0, <u32>m, 0, 0, split ? SUB_BITS : DEPTH_MAX + 1)) return 0;
  flushLeaves();
  if (split && nextLen > 0) {
    const topDepth = levelDepth;
    const topLen = levelLen;
    const tasks = nextLen;
    const rc = tree!(tasks);
    if (rc < 0) return 0;
    if (rc == 0) {
      for (let k: u32 = 0; k < tasks; k++) if (!commitTaskRun(0, k, SCRATCH_MAIN)) return 0;
    }
    levelDepth = topDepth;
    levelLen = topLen;
  }
  hashLevels();
  return commitDone();
}

/** Dirty keys below which a root is walked on the main thread alone (a job costs more). */
const ROOT_SPLIT_MIN: u32 = 64;

/** Empties the dirty and gone lists after a root; returns the root's address. */
function commitDone(): usize {
  dirtyLen = 0;
  goneLen = 0;
  dirtyGen++;
  if (dirtyGen == DGEN_DEAD) dirtyGen = 1;
  return ROOT_NODE + 8;
}

/**
 * Writes the proof material for the address at `addr` (the root must be current): [depth u32]
 * [leaf present u32][the leaf's record: address 32, balance 8, nonce 8][depth × 32 siblings, the
 * root's children first]. The walk stops at the first empty slot or leaf on the address's path.
 * Returns the buffer, 0 on OOM.
 */
export function commitProve(addr: usize): usize {
  const out = bufEnsure(B_PROOF, 56 + (DEPTH_MAX << 5), 0);
  if (out == 0) return 0;
  sha256Bytes(addr, 32, PATH_IO);
  let ref: usize = ROOT_NODE;
  let d: u32 = 0;
  let p = <usize>load<u32>(slotPtr(ref));
  while (p != 0 && (p & 1) == 0) {
    const b = bitAt(PATH_IO, d);
    copy32(out + 56 + (<usize>d << 5), slotHash(p | (b ^ 1)));
    ref = p | b;
    p = <usize>load<u32>(slotPtr(ref));
    d++;
  }
  store<u32>(out, d);
  store<u32>(out, p != 0 ? 1 : 0, 4);
  if (p != 0) copy48(out + 8, (p & ~1) + 8);
  return out;
}

// ---- bulk build onto an empty tree ------------------------------------------------------------
//
// When the tree is empty (genesis, a snapshot load) the root is built in one pass instead of the
// walk: hash every key's path (four lanes), sort by the first 64 path bits (a bucket scatter on
// the top bits, then insertion sort inside the buckets of about one item), and read the tree off
// the sorted keys. With lcp(i) the common prefix, in bits, of keys i-1 and i (-1 at both ends),
// the nodes are exactly the prefixes shared by two neighbours: key i opens the nodes at depths
// lcp(i)+1 … lcp(i+1), and its leaf sits at depth max(lcp(i), lcp(i+1)) + 1. Counting first gives
// each depth's node count, so the nodes are laid out level by level in key order; every level is
// then hashed four at a time as one sequential sweep, deepest first, writing into the level above.

const B_BPREFIX: u32 = 18; // sort keys: the first path bits (u64), dirty order
const B_BKEY: u32 = 19; // sort keys, sorted
const B_BENT: u32 = 20; // entries, sorted (u32)
const B_BCHUNK: u32 = 21; // node chunk bases (u32)
const B_BLIST: u32 = 22; // the nodes level by level, in key order (u32 addresses)
/** A node chunk: exactly one store-alloc size class (5 · 2^18 bytes), so nothing is rounded away. */
const BULK_CHUNK_BYTES: u32 = 1310720;
const BULK_CHUNK_NODES: u32 = BULK_CHUNK_BYTES / NODE_SIZE;
/** Entries are loaded this many keys ahead of the build (see touchFront: WASM has no prefetch). */
const BULK_AHEAD: u32 = 16;

const LEVEL_NODES: usize = memory.data(<i32>((DEPTH_MAX + 2) * 4), 16);
const LEVEL_FILL: usize = memory.data(<i32>((DEPTH_MAX + 2) * 4), 16);
/**
 * Depths per band of the node layout. A node's address is not its level-order position: each band
 * of BAND_LEVELS depths gets the level-order range of its depths, filled in key (pre-)order, so a
 * subtree of BAND_LEVELS levels (≤ 31 nodes, 2.2 KB) lies in one or two 4 KiB pages, and a path
 * from the root crosses ~5 bands instead of ~25 separate level regions. At 10M accounts, where
 * every node below the top levels is a TLB miss (4 KiB pages, nested paging on this VM), a
 * root's dirty paths touch about half as many pages.
 */
const BAND_LEVELS: u32 = 5;
const BAND_FILL: usize = memory.data(<i32>((DEPTH_MAX / BAND_LEVELS + 2) * 4), 16);
const FULL_A: usize = memory.data(32, 16);
const FULL_B: usize = memory.data(32, 16);

/** Path bits the sort keys keep (64; fewer only in tests, to exercise the full-path tie breaks). */
let prefixBits: u32 = 64;

/** Test hook: sort keys keep only the first `bits` (1..64) path bits, so ties are common. */
export function commitTestPrefixBits(bits: u32): void {
  prefixBits = max<u32>(1, min<u32>(64, bits));
}

// @ts-ignore: decorator
@inline function prefixOf(digest: usize): u64 {
  const p = bswap<u64>(load<u64>(digest));
  return prefixBits == 64 ? p : p & ~(u64.MAX_VALUE >> prefixBits);
}

/** Releases a scratch buffer (a genesis build's run to hundreds of MB). */
function bufRelease(id: u32): void {
  const d = bufDesc(id);
  const p = <usize>load<u32>(d);
  if (p != 0) free(p, load<u32>(d, 4));
  store<u64>(d, 0);
}

/** Sort keys (first path bits) of the `n` entries on the dirty list, four at a time. */
function bulkPrefixes(list: usize, n: u32, dst: usize): void {
  for (let i: u32 = 0; i < n; i += 4) {
    const lanes = min<u32>(4, n - i);
    for (let j: u32 = 0; j < lanes; j++) {
      const m = MSG4 + (<usize>j << 6);
      copy32(m, <usize>load<u32>(list + (<usize>(i + j) << 2)) + 8);
      store<u64>(m, 0x80, 32);
      v128.store(m, i32x4.splat(0), 40);
      store<u64>(m, bswap<u64>(256), 56);
    }
    sha256Block4(MSG4, DIG4);
    hashCount += lanes;
    for (let j: u32 = 0; j < lanes; j++) store<u64>(dst + (<usize>(i + j) << 3), prefixOf(DIG4 + (<usize>j << 5)));
  }
}

/** (key a, entry ea) before (key b, entry eb): by path (whole paths on a key tie), then entry. */
function bulkLess(ka: u64, ea: u32, kb: u64, eb: u32): bool {
  if (ka != kb) return ka < kb;
  if (ea == eb) return false;
  sha256Bytes(<usize>ea + 8, 32, FULL_A);
  sha256Bytes(<usize>eb + 8, 32, FULL_B);
  return itemLess(FULL_A, ea, FULL_B, eb);
}

/**
 * Sorts the n dirty entries by path into B_BKEY/B_BENT, dropping repeats; the count kept, -1 on
 * OOM. A scatter into buckets on the top key bits, then insertion sort inside the buckets of about
 * one item. (An in-place American flag sort saves the 8-byte key copy, but its chains of dependent
 * random loads made the 1M-account build 1.2 s slower here.)
 */
function bulkSort(n: u32): i32 {
  let bits: u32 = 1;
  while (bits < 22 && (<u32>1 << bits) < n) bits++;
  const buckets: u32 = 1 << bits;
  const pre = bufEnsure(B_BPREFIX, n << 3, 0);
  const cnt = bufEnsure(B_CNT, (buckets + 1) << 2, 0);
  const keys = bufEnsure(B_BKEY, n << 3, 0);
  const ents = bufEnsure(B_BENT, n << 2, 0);
  if (pre == 0 || cnt == 0 || keys == 0 || ents == 0) return -1;
  const list = bufPtr(B_DIRTY);
  bulkPrefixes(list, n, pre);
  memory.fill(cnt, 0, <usize>(buckets + 1) << 2);
  const shift: u64 = 64 - bits;
  for (let i: u32 = 0; i < n; i++) {
    const at = cnt + ((<usize>(load<u64>(pre + (<usize>i << 3)) >> shift) + 1) << 2);
    store<u32>(at, load<u32>(at) + 1);
  }
  for (let b: u32 = 1; b <= buckets; b++) store<u32>(cnt + (<usize>b << 2), load<u32>(cnt + (<usize>b << 2)) + load<u32>(cnt + (<usize>(b - 1) << 2)));
  for (let i: u32 = 0; i < n; i++) {
    const k = load<u64>(pre + (<usize>i << 3));
    const c = cnt + (<usize>(k >> shift) << 2);
    const at = load<u32>(c);
    store<u32>(c, at + 1);
    store<u64>(keys + (<usize>at << 3), k);
    store<u32>(ents + (<usize>at << 2), load<u32>(list + (<usize>i << 2)));
  }
  bufRelease(B_BPREFIX);
  for (let i: u32 = 1; i < n; i++) {
    const k = load<u64>(keys + (<usize>i << 3));
    const e = load<u32>(ents + (<usize>i << 2));
    let j = i;
    while (j > 0 && bulkLess(k, e, load<u64>(keys + (<usize>(j - 1) << 3)), load<u32>(ents + (<usize>(j - 1) << 2)))) {
      store<u64>(keys + (<usize>j << 3), load<u64>(keys + (<usize>(j - 1) << 3)));
      store<u32>(ents + (<usize>j << 2), load<u32>(ents + (<usize>(j - 1) << 2)));
      j--;
    }
    store<u64>(keys + (<usize>j << 3), k);
    store<u32>(ents + (<usize>j << 2), e);
  }
  let kept: u32 = 0;
  for (let i: u32 = 0; i < n; i++) {
    const e = load<u32>(ents + (<usize>i << 2));
    if (kept > 0 && e == load<u32>(ents + (<usize>(kept - 1) << 2))) continue; // the same entry twice
    store<u64>(keys + (<usize>kept << 3), load<u64>(keys + (<usize>i << 3)));
    store<u32>(ents + (<usize>kept << 2), e);
    kept++;
  }
  return <i32>kept;
}

/** Common prefix, in bits, of the paths of sorted items i and i + 1 (distinct addresses). */
function bulkLcp(keys: usize, ents: usize, i: u32): i32 {
  const a = load<u64>(keys + (<usize>i << 3));
  const b = load<u64>(keys + (<usize>(i + 1) << 3));
  if (a != b) return <i32>clz<u64>(a ^ b);
  sha256Bytes(<usize>load<u32>(ents + (<usize>i << 2)) + 8, 32, FULL_A);
  sha256Bytes(<usize>load<u32>(ents + (<usize>(i + 1) << 2)) + 8, 32, FULL_B);
  for (let k: usize = 0; k < 32; k++) {
    const x = <u32>(load<u8>(FULL_A + k) ^ load<u8>(FULL_B + k));
    if (x != 0) return <i32>(k << 3) + <i32>clz<u32>(x) - 24;
  }
  unreachable(); // two distinct addresses with one SHA-256 path
  return 0;
}

/** Bit d of the path of the item with key `k` and entry `e`. */
// @ts-ignore: decorator
@inline function bulkBit(k: u64, e: u32, d: u32): u32 {
  if (d < prefixBits) return <u32>(k >> (63 - <u64>d)) & 1;
  sha256Bytes(<usize>e + 8, 32, FULL_A);
  return bitAt(FULL_A, d);
}

/** Address of node k (level order) in the chunks. */
// @ts-ignore: decorator
@inline function bulkNode(chunks: usize, k: u32): usize {
  return <usize>load<u32>(chunks + (<usize>(k / BULK_CHUNK_NODES) << 2)) + <usize>(k % BULK_CHUNK_NODES) * NODE_SIZE;
}

/** Counts the nodes per depth into LEVEL_NODES; returns the total. */
function bulkCount(keys: usize, ents: usize, n: u32): u32 {
  memory.fill(LEVEL_NODES, 0, (DEPTH_MAX + 2) * 4);
  let prev: i32 = -1;
  let total: u32 = 0;
  for (let i: u32 = 0; i < n; i++) {
    const next: i32 = i + 1 < n ? bulkLcp(keys, ents, i) : -1;
    for (let d = prev + 1; d <= next; d++) {
      const at = LEVEL_NODES + (<usize>d << 2);
      store<u32>(at, load<u32>(at) + 1);
    }
    if (next > prev) total += <u32>(next - prev);
    prev = next;
  }
  return total;
}

/** Allocates the chunks for `total` nodes into B_BCHUNK; false on OOM (all freed again). */
function bulkChunks(total: u32): bool {
  const count = (total + BULK_CHUNK_NODES - 1) / BULK_CHUNK_NODES;
  const chunks = bufEnsure(B_BCHUNK, count << 2, 0);
  if (chunks == 0) return false;
  for (let c: u32 = 0; c < count; c++) {
    const p = alloc(BULK_CHUNK_BYTES);
    if (p == 0) {
      for (let k: u32 = 0; k < c; k++) free(<usize>load<u32>(chunks + (<usize>k << 2)), BULK_CHUNK_BYTES);
      return false;
    }
    store<u32>(chunks + (<usize>c << 2), <u32>p);
  }
  return true;
}

/** Sets the level and band cursors of a bulk build from the per-depth node counts. */
function bulkLevels(): void {
  let fill: u32 = 0;
  for (let d: u32 = 0; d <= DEPTH_MAX; d++) {
    store<u32>(LEVEL_FILL + (<usize>d << 2), fill);
    if (d % BAND_LEVELS == 0) store<u32>(BAND_FILL + (<usize>(d / BAND_LEVELS) << 2), fill);
    fill += load<u32>(LEVEL_NODES + (<usize>d << 2));
  }
}

/**
 * Links the nodes and leaves of sorted items [bulkAt, to) (see the section comment) and lists the
 * nodes level by level for bulkHash; queues the leaves. Resumable: the open path is in STACK.
 */
function bulkLink(keys: usize, ents: usize, to: u32, chunks: usize, list: usize): void {
  const n = bulkN;
  let prev = bulkPrev;
  let sink: u32 = 0;
  for (let i = bulkAt; i < to; i++) {
    if (i % BULK_AHEAD == 0) {
      for (let j = i + BULK_AHEAD; j < min<u32>(n, i + 2 * BULK_AHEAD); j++) sink ^= load<u32>(<usize>load<u32>(ents + (<usize>j << 2)) + 8);
    }
    const k = load<u64>(keys + (<usize>i << 3));
    const e = load<u32>(ents + (<usize>i << 2));
    const next: i32 = i + 1 < n ? bulkLcp(keys, ents, i) : -1;
    for (let d = prev + 1; d <= next; d++) {
      const at = LEVEL_FILL + (<usize>d << 2);
      const idx = load<u32>(at);
      store<u32>(at, idx + 1);
      const band = BAND_FILL + (<usize>(<u32>d / BAND_LEVELS) << 2);
      const pos = load<u32>(band);
      store<u32>(band, pos + 1);
      const m = bulkNode(chunks, pos);
      store<u32>(list + (<usize>idx << 2), <u32>m);
      store<u64>(m, 0);
      zero32(m + 8);
      zero32(m + 40);
      const ref: usize = d == 0 ? ROOT_NODE : <usize>load<u32>(STACK + (<usize>(d - 1) << 2)) | bulkBit(k, e, <u32>d - 1);
      store<u32>(slotPtr(ref), <u32>m);
      store<u32>(STACK + (<usize>d << 2), <u32>m);
    }
    const depth = max<i32>(prev, next) + 1;
    const ref: usize = depth == 0 ? ROOT_NODE : <usize>load<u32>(STACK + (<usize>(depth - 1) << 2)) | bulkBit(k, e, <u32>depth - 1);
    store<u32>(slotPtr(ref), e | 1);
    queueLeaf(ref, <usize>e);
    prev = next;
  }
  bulkPrev = prev;
  bulkAt = to;
  touchSink ^= sink;
}

const PULL_DST: usize = memory.data(16, 16);
let pulled: u32 = 0;

/** Queues node `child`'s hash for the 32 bytes at `dst`; hashes four at a time. */
function pullNode(child: usize, dst: usize): void {
  copy64(MSG4 + (<usize>pulled << 6), child + 8);
  store<u32>(PULL_DST + (<usize>pulled << 2), <u32>dst);
  pulled++;
  if (pulled == 4) flushPulled();
}

function flushPulled(): void {
  if (pulled == 0) return;
  sha256Pairs4(MSG4, DIG4);
  hashCount += <u64>pulled * 2;
  for (let j: u32 = 0; j < pulled; j++) copy32(<usize>load<u32>(PULL_DST + (<usize>j << 2)), DIG4 + (<usize>j << 5));
  pulled = 0;
}

/**
 * Hashes the nodes deepest level first: each node of a level pulls its node children's hashes
 * (the level below, complete by then) into its own slots, so no node needs its parent's address
 * and both levels are read in key order. The root node goes last, into the root slot.
 */
function bulkHash(list: usize): void {
  let start: u32 = 0;
  for (let d: u32 = 0; d <= DEPTH_MAX; d++) {
    store<u32>(LEVEL_FILL + (<usize>d << 2), start);
    start += load<u32>(LEVEL_NODES + (<usize>d << 2));
  }
  for (let d = <i32>DEPTH_MAX - 1; d >= 0; d--) {
    const from = load<u32>(LEVEL_FILL + (<usize>d << 2));
    const to = from + load<u32>(LEVEL_NODES + (<usize>d << 2));
    if (load<u32>(LEVEL_NODES + (<usize>(d + 1) << 2)) == 0) continue; // no node below pulls anything
    for (let i = from; i < to; i++) {
      const p = <usize>load<u32>(list + (<usize>i << 2));
      const c0 = <usize>load<u32>(p);
      const c1 = <usize>load<u32>(p, 4);
      if (c0 != 0 && (c0 & 1) == 0) pullNode(c0, p + 8);
      if (c1 != 0 && (c1 & 1) == 0) pullNode(c1, p + 40);
    }
    flushPulled();
  }
  const top = <usize>load<u32>(ROOT_NODE);
  if (top != 0 && (top & 1) == 0) {
    pullNode(top, ROOT_NODE + 8);
    flushPulled();
  }
}

let bulkN: u32 = 0;
let bulkAt: u32 = 0;
let bulkPrev: i32 = -1;
let bulkTotal: u32 = 0;

/**
 * Starts a bulk build when the tree is empty and accounts wait for it: sorts them, counts and
 * allocates the nodes. Returns the number of accounts to link (`commitBulkLink`, then
 * `commitBulkEnd`: the bindings report progress in between), -2 when no bulk build is due (use
 * `commitRoot`), -1 on OOM (nothing changed: every buffer and chunk is allocated before the tree
 * is touched).
 */
export function commitBulkBegin(): i32 {
  if (load<u32>(ROOT_NODE) != 0 || dirtyLen + goneLen == 0) return -2;
  goneLen = 0; // gone paths name nothing in an empty tree
  const m = bulkSort(dirtyLen);
  if (m < 0) return -1;
  const n = <u32>m;
  const total = bulkCount(bufPtr(B_BKEY), bufPtr(B_BENT), n);
  if (bufEnsure(B_BLIST, total << 2, 0) == 0 || !bulkChunks(total)) return -1;
  bulkN = n;
  bulkAt = 0;
  bulkPrev = -1;
  bulkTotal = total;
  bulkLevels();
  return <i32>n;
}

/** Links up to `count` more accounts of the started bulk build; returns how many are linked. */
export function commitBulkLink(count: u32): u32 {
  const to = min<u32>(bulkN, bulkAt + count);
  bulkLink(bufPtr(B_BKEY), bufPtr(B_BENT), to, bufPtr(B_BCHUNK), bufPtr(B_BLIST));
  return bulkAt;
}

/** Finishes the bulk build (every account linked): hashes the levels; returns the root's address. */
export function commitBulkEnd(): usize {
  flushLeaves();
  bulkHash(bufPtr(B_BLIST));
  nodeCount += bulkTotal;
  // nodeNew carries on in the last chunk's free tail.
  const chunks = bufPtr(B_BCHUNK);
  if (bulkTotal % BULK_CHUNK_NODES != 0) {
    chunkNext = bulkNode(chunks, bulkTotal);
    chunkEnd = <usize>load<u32>(chunks + (<usize>(bulkTotal / BULK_CHUNK_NODES) << 2)) + BULK_CHUNK_BYTES;
  }
  for (let id = B_BPREFIX; id <= B_BLIST; id++) bufRelease(id);
  bufRelease(B_CNT);
  return commitDone();
}
