/**
 * State commitment: a binary Merkle tree of fixed depth D over 2^D buckets; an account lives in
 * the bucket named by the top D bits of its address. Hashing is FIPS 180-4 SHA-256 throughout:
 *
 *   leaf(a)    = SHA256(address ‖ balance u64le ‖ nonce u64le ‖ 0^16)           (64-byte message)
 *   bucket(b)  = 0^32 if empty, else h := leaf(m0); h := SHA256(h ‖ leaf(mi)) over the members
 *                sorted by address ascending
 *   node(i)    = SHA256(node(2i) ‖ node(2i+1)); the root is node(1); bucket b is node(2^D + b)
 *
 * After a block only dirty buckets and their paths are rehashed: O(changed × D), never O(state).
 * All hashed messages are 64 bytes, so independent ones go four at a time through the 4-lane
 * SIMD `sha256Pairs4`; the levels are processed bottom-up so nodes shared near the root are hashed
 * once per block. bindings/chain/proof.ts verifies proofs against this definition.
 * @module
 */
import { alloc } from "./store-alloc";
import { bufEnsure, bufPtr } from "./store-buf";
import { sha256Bytes, sha256Pairs4 } from "./sha256";
import { copy32, copy48, copy64 } from "./store-mem";

/** Deepest tree: 2^23 nodes of 32 bytes is 256 MiB. */
export const TREE_DEPTH_MAX: u32 = 22;
/** Offset of the value in an account entry (8-byte header + 32-byte address). */
export const ACC_VALUE: usize = 40;
/** Offset of the bucket-list link inside an account value. */
export const V_NEXT: usize = 16;

const B_BUCKETS: u32 = 6; // dirty bucket ids (u32)
const B_MEMBERS: u32 = 7; // entry pointers of the members of dirty buckets, bucket by bucket
const B_SPANS: u32 = 8; // per dirty bucket: [first member u32, count u32]
const B_MSG: u32 = 9; // 64-byte messages to hash
const B_DIG: u32 = 10; // their digests
const B_ACC: u32 = 11; // per dirty bucket: running bucket hash
const B_IDX: u32 = 12; // node indices of the current level
const B_PROOF: u32 = 13;
const B_WHO: u32 = 14; // chain round: which bucket each message belongs to
const B_MULTI: u32 = 15; // dirty buckets with more than one member

const TAIL_SRC: usize = memory.data(256, 16);
const TAIL_DST: usize = memory.data(128, 16);

let depth: u32 = 0;
let nodes: usize = 0;
let heads: usize = 0;
let dirty: usize = 0;
let dirtyAny: bool = false;
let hashCount: u64 = 0;

/** SHA-256 compressions of 64-byte messages done by root updates so far (a benchmark metric). */
export function commitHashCount(): u64 { return hashCount; }

/** Sets up an empty tree of depth `d` (1..22); false when out of memory. */
export function commitInit(d: u32): bool {
  if (d < 1 || d > TREE_DEPTH_MAX) return false;
  depth = d;
  const buckets: u32 = 1 << d;
  nodes = alloc(buckets * 64);
  heads = alloc(buckets * 4);
  dirty = alloc(max<u32>(buckets >> 3, 4));
  if (nodes == 0 || heads == 0 || dirty == 0) return false;
  memory.fill(heads, 0, <usize>buckets * 4);
  memory.fill(dirty, 0, <usize>max<u32>(buckets >> 3, 4));
  // Empty subtrees: level D is 0^32, each level above hashes two copies of the one below.
  memory.fill(nodes + (<usize>buckets << 5), 0, <usize>buckets << 5);
  for (let level: i32 = <i32>d - 1; level >= 0; level--) {
    const first: usize = <usize>1 << level;
    const child = nodes + (first << 6);
    memory.copy(child + 32, child, 32);
    sha256Bytes(child, 64, nodes + (first << 5));
    for (let i: usize = 1; i < first; i++) copy32(nodes + ((first + i) << 5), nodes + (first << 5));
  }
  return true;
}

/** Tree depth. */
export function commitDepth(): u32 { return depth; }

/** Bucket of the address at `addr`: its top D bits. */
// @ts-ignore: decorator
@inline export function bucketOf(addr: usize): u32 {
  return bswap<u32>(load<u32>(addr)) >>> (32 - depth);
}

/** Marks bucket `b` for rehashing. */
// @ts-ignore: decorator
@inline export function markDirty(b: u32): void {
  const w = dirty + (<usize>(b >> 5) << 2);
  store<u32>(w, load<u32>(w) | (1 << (b & 31)));
  dirtyAny = true;
}

/** Links a new account entry into its bucket list and marks the bucket dirty. */
export function bucketLink(e: usize): void {
  const b = bucketOf(e + 8);
  const h = heads + (<usize>b << 2);
  store<u32>(e + ACC_VALUE + V_NEXT, load<u32>(h));
  store<u32>(h, <u32>e);
  markDirty(b);
}

/** Unlinks the newest account of its bucket (undoing `bucketLink`, newest first). */
export function bucketUnlink(e: usize): void {
  const b = bucketOf(e + 8);
  const h = heads + (<usize>b << 2);
  if (<usize>load<u32>(h) != e) unreachable(); // creations are undone newest first
  store<u32>(h, load<u32>(e + ACC_VALUE + V_NEXT));
  markDirty(b);
}

/** True if address a < address b (lexicographic bytes). */
// @ts-ignore: decorator
@inline function addrLess(a: usize, b: usize): bool {
  for (let i: usize = 0; i < 32; i += 8) {
    const x = bswap<u64>(load<u64>(a + i));
    const y = bswap<u64>(load<u64>(b + i));
    if (x != y) return x < y;
  }
  return false;
}

/** Writes bucket `b`'s members, sorted by address, as entry pointers at `dst`; returns the count. */
function sortedMembers(b: u32, dst: usize): u32 {
  let n: u32 = 0;
  for (let e = <usize>load<u32>(heads + (<usize>b << 2)); e != 0; e = <usize>load<u32>(e + ACC_VALUE + V_NEXT)) {
    // Insertion sort: buckets hold a few accounts when D suits the state size.
    let j = n;
    while (j > 0 && addrLess(e + 8, <usize>load<u32>(dst + (<usize>(j - 1) << 2)) + 8)) {
      store<u32>(dst + (<usize>j << 2), load<u32>(dst + (<usize>(j - 1) << 2)));
      j--;
    }
    store<u32>(dst + (<usize>j << 2), <u32>e);
    n++;
  }
  return n;
}

/** Bucket member count (bounds the proof buffer). */
function memberCount(b: u32): u32 {
  let n: u32 = 0;
  for (let e = <usize>load<u32>(heads + (<usize>b << 2)); e != 0; e = <usize>load<u32>(e + ACC_VALUE + V_NEXT)) n++;
  return n;
}

/** SHA-256 of `count` 64-byte messages at `src` into `dst` (32 bytes each), four lanes at a time. */
function hashMany(src: usize, count: u32, dst: usize): void {
  hashCount += count;
  let i: u32 = 0;
  for (; i + 4 <= count; i += 4) sha256Pairs4(src + (<usize>i << 6), dst + (<usize>i << 5));
  const rest = count - i;
  if (rest == 0) return;
  memory.copy(TAIL_SRC, src + (<usize>i << 6), <usize>rest << 6);
  sha256Pairs4(TAIL_SRC, TAIL_DST);
  memory.copy(dst + (<usize>i << 5), TAIL_DST, <usize>rest << 5);
}

/** Writes the leaf message of account entry `e` at `dst`. */
// @ts-ignore: decorator
@inline function leafMessage(e: usize, dst: usize): void {
  copy48(dst, e + 8); // address, balance, nonce are contiguous in the entry
  store<u64>(dst, 0, 48);
  store<u64>(dst, 0, 56);
}

/** Collects the dirty buckets (ascending) and clears their marks; returns how many, or -1 on OOM. */
function takeDirty(): i32 {
  const words: u32 = max<u32>((<u32>1 << depth) >> 5, 1);
  let n: u32 = 0;
  for (let w: u32 = 0; w < words; w++) {
    let x = load<u32>(dirty + (<usize>w << 2));
    if (x == 0) continue;
    store<u32>(dirty + (<usize>w << 2), 0);
    while (x != 0) {
      const list = bufEnsure(B_BUCKETS, (n + 1) << 2, n << 2);
      if (list == 0) return -1;
      store<u32>(list + (<usize>n << 2), (w << 5) + ctz<u32>(x));
      n++;
      x &= x - 1;
    }
  }
  dirtyAny = false;
  return <i32>n;
}

/**
 * Appends bucket `b`'s members, sorted by address, to the member buffer from index `at`;
 * returns their count, or -1 on OOM. One walk of the bucket list, insertion-sorted as it goes.
 */
function collectMembers(b: u32, at: u32): i32 {
  let members = bufPtr(B_MEMBERS);
  let n: u32 = 0;
  for (let e = <usize>load<u32>(heads + (<usize>b << 2)); e != 0; e = <usize>load<u32>(e + ACC_VALUE + V_NEXT)) {
    members = bufEnsure(B_MEMBERS, (at + n + 1) << 2, (at + n) << 2);
    if (members == 0) return -1;
    const dst = members + (<usize>at << 2);
    let j = n;
    while (j > 0 && addrLess(e + 8, <usize>load<u32>(dst + (<usize>(j - 1) << 2)) + 8)) {
      store<u32>(dst + (<usize>j << 2), load<u32>(dst + (<usize>(j - 1) << 2)));
      j--;
    }
    store<u32>(dst + (<usize>j << 2), <u32>e);
    n++;
  }
  return <i32>n;
}

/**
 * Walks every dirty bucket's list once, breadth-first, before the sorted walks: round j loads the
 * j-th entry of every list still that long, in one tight loop, so the cache misses of a round
 * (one per bucket: other members of a bucket were not touched by the block) are in flight
 * together instead of one after another down each list. Bounded by the longest list.
 */
function touchBuckets(list: usize, nb: u32): u32 {
  const cursors = bufEnsure(B_IDX, max<u32>(nb, 1) << 2, 0);
  if (cursors == 0) return 0; // only a prefetch: the walks below report the OOM
  let sink: u32 = 0;
  for (let i: u32 = 0; i < nb; i++) sink ^= load<u32>(heads + (<usize>load<u32>(list + (<usize>i << 2)) << 2));
  let live: u32 = 0;
  for (let i: u32 = 0; i < nb; i++) {
    const e = load<u32>(heads + (<usize>load<u32>(list + (<usize>i << 2)) << 2));
    if (e != 0) {
      store<u32>(cursors + (<usize>live << 2), e);
      live++;
    }
  }
  while (live > 0) {
    let k: u32 = 0;
    for (let i: u32 = 0; i < live; i++) {
      const next = load<u32>(<usize>load<u32>(cursors + (<usize>i << 2)) + ACC_VALUE + V_NEXT);
      if (next != 0) {
        store<u32>(cursors + (<usize>k << 2), next);
        k++;
      }
    }
    live = k;
  }
  return sink;
}

let touchSink: u32 = 0;

/** Recomputes the hashes of the dirty buckets (into the tree's bucket level); false on OOM. */
function hashBuckets(nb: u32): bool {
  const list = bufPtr(B_BUCKETS);
  const spans = bufEnsure(B_SPANS, nb << 3, 0);
  const multi = bufEnsure(B_MULTI, max<u32>(nb, 1) << 2, 0);
  if (spans == 0 || multi == 0) return false;
  touchSink ^= touchBuckets(list, nb);
  // 1. members of every dirty bucket, sorted; leaf messages for all of them
  let total: u32 = 0;
  let multiCount: u32 = 0;
  for (let i: u32 = 0; i < nb; i++) {
    const count = collectMembers(load<u32>(list + (<usize>i << 2)), total);
    if (count < 0) return false;
    store<u32>(spans + (<usize>i << 3), total);
    store<u32>(spans + (<usize>i << 3), <u32>count, 4);
    total += <u32>count;
    if (count > 1) {
      store<u32>(multi + (<usize>multiCount << 2), i);
      multiCount++;
    }
  }
  const msg = bufEnsure(B_MSG, max<u32>(total, nb) << 6, 0);
  const dig = bufEnsure(B_DIG, max<u32>(total, nb) << 5, 0);
  const accs = bufEnsure(B_ACC, nb << 5, 0);
  const who = bufEnsure(B_WHO, nb << 2, 0);
  if (msg == 0 || dig == 0 || accs == 0 || who == 0) return false;
  const members = bufPtr(B_MEMBERS);
  for (let m: u32 = 0; m < total; m++) leafMessage(<usize>load<u32>(members + (<usize>m << 2)), msg + (<usize>m << 6));
  hashMany(msg, total, dig);
  // 2. bucket hash = first leaf, then chained with the next leaves round by round
  for (let i: u32 = 0; i < nb; i++) {
    const first = load<u32>(spans + (<usize>i << 3));
    const count = load<u32>(spans + (<usize>i << 3), 4);
    if (count == 0) {
      v128.store(accs + (<usize>i << 5), i32x4.splat(0));
      v128.store(accs + (<usize>i << 5), i32x4.splat(0), 16);
    }
    else copy32(accs + (<usize>i << 5), dig + (<usize>first << 5));
  }
  // Round r chains leaf r of every bucket longer than r (the `multi` list, shrinking each round);
  // the leaf digests in `dig` stay intact, the round's messages reuse `msg`, digests go to B_IDX.
  for (let r: u32 = 1; multiCount > 0; r++) {
    let k: u32 = 0;
    let keep: u32 = 0;
    for (let j: u32 = 0; j < multiCount; j++) {
      const i = load<u32>(multi + (<usize>j << 2));
      const first = load<u32>(spans + (<usize>i << 3));
      const count = load<u32>(spans + (<usize>i << 3), 4);
      const m = msg + (<usize>k << 6);
      copy32(m, accs + (<usize>i << 5));
      copy32(m + 32, dig + (<usize>(first + r) << 5));
      store<u32>(who + (<usize>k << 2), i);
      k++;
      if (count > r + 1) {
        store<u32>(multi + (<usize>keep << 2), i);
        keep++;
      }
    }
    multiCount = keep;
    const out = bufEnsure(B_IDX, k << 5, 0);
    if (out == 0) return false;
    hashMany(msg, k, out);
    for (let j: u32 = 0; j < k; j++) {
      copy32(accs + (<usize>load<u32>(who + (<usize>j << 2)) << 5), out + (<usize>j << 5));
    }
  }
  const base = nodes + ((<usize>1 << depth) << 5);
  for (let i: u32 = 0; i < nb; i++) {
    copy32(base + (<usize>load<u32>(list + (<usize>i << 2)) << 5), accs + (<usize>i << 5));
  }
  return true;
}

/** Rehashes the paths from the dirty buckets up to the root, level by level; false on OOM. */
function hashPaths(nb: u32): bool {
  // Node indices of the current level, ascending; parents of sorted children are sorted.
  const idx = bufEnsure(B_BUCKETS, nb << 2, nb << 2);
  if (idx == 0) return false;
  const leafBase: u32 = 1 << depth;
  for (let i: u32 = 0; i < nb; i++) store<u32>(idx + (<usize>i << 2), leafBase + load<u32>(idx + (<usize>i << 2)));
  let n = nb;
  for (let level: u32 = 0; level < depth; level++) {
    let k: u32 = 0;
    let last: u32 = 0;
    for (let i: u32 = 0; i < n; i++) {
      const p = load<u32>(idx + (<usize>i << 2)) >> 1;
      if (p == last) continue;
      last = p;
      store<u32>(idx + (<usize>k << 2), p);
      k++;
    }
    const msg = bufEnsure(B_MSG, k << 6, 0);
    const dig = bufEnsure(B_DIG, k << 5, 0);
    if (msg == 0 || dig == 0) return false;
    for (let i: u32 = 0; i < k; i++) {
      copy64(msg + (<usize>i << 6), nodes + (<usize>load<u32>(idx + (<usize>i << 2)) << 6));
    }
    hashMany(msg, k, dig);
    for (let i: u32 = 0; i < k; i++) {
      copy32(nodes + (<usize>load<u32>(idx + (<usize>i << 2)) << 5), dig + (<usize>i << 5));
    }
    n = k;
  }
  return true;
}

/** Brings the root up to date; returns its address (32 bytes), or 0 when out of memory. */
export function commitRoot(): usize {
  if (dirtyAny) {
    const nb = takeDirty();
    if (nb < 0 || !hashBuckets(<u32>nb) || !hashPaths(<u32>nb)) return 0;
  }
  return nodes + 32;
}

/**
 * Writes the proof material for `addr` into a buffer: [count u32][count × (address 32, balance 8,
 * nonce 8)][D × 32 siblings, bucket level first]; returns its address (length implied), 0 on OOM.
 * The root must be current (call `commitRoot` first).
 */
export function commitProve(addr: usize): usize {
  const b = bucketOf(addr);
  const count = memberCount(b);
  const members = bufEnsure(B_MEMBERS, count << 2, 0);
  const out = bufEnsure(B_PROOF, 4 + count * 48 + depth * 32, 0);
  if (members == 0 || out == 0) return 0;
  sortedMembers(b, members);
  store<u32>(out, count);
  let p = out + 4;
  for (let i: u32 = 0; i < count; i++) {
    memory.copy(p, <usize>load<u32>(members + (<usize>i << 2)) + 8, 48);
    p += 48;
  }
  let node: u32 = (1 << depth) + b;
  for (let level: u32 = 0; level < depth; level++) {
    memory.copy(p, nodes + (<usize>(node ^ 1) << 5), 32);
    p += 32;
    node >>= 1;
  }
  return out;
}
