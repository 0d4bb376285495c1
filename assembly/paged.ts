/**
 * Hashing and memory for the paged ledger state on the wasm engine (bindings/store/paged-state.ts,
 * paged-wasm.ts): the page cache's word areas live in this instance's memory (allocated here from
 * the store allocator, whose size-class free lists reuse an evicted page's space), and the three
 * hashes of the sparse Merkle tree (engine/state-hash.ts; FIPS 180-4 SHA-256) run four at a time
 * through the 4-lane v128 compression of sha256.ts:
 *
 *   path(a) = SHA256(address)             one block     pagedPaths
 *   leaf(a) = SHA256(0x00 ‖ record 48)    one block     pagedLeaves
 *   node    = SHA256(left ‖ right)        two blocks    pagedNodes, pagedTopUpdate, pagedTopAll
 *
 * Digests are kept as the paged state keeps them, in "word layout": eight u32 state words stored
 * little-endian (bindings/engine/sha256-block.ts writes the same), so a node's message is its two
 * children's digests word for word and loads with no byte swap. The bindings plan a block's
 * dirty paths level by level into jobs of [source, destination, second destination or 0] u32;
 * jobs of one level are independent, so any four of them fill the four lanes.
 * @module
 */
import { alloc, free } from "./store-alloc";
import { IV, PAD64_W, SHA4_SCRATCH, bswap4, expand4, rounds4 } from "./sha256";
import { copy32, copy48 } from "./store-mem";

const SCR: usize = memory.data(<i32>SHA4_SCRATCH, 16);
/** Four padded one-block messages (leaves, paths), byte layout. */
const BLK4: usize = memory.data(256, 16);
/** Four digests, word layout. */
const DIG4: usize = memory.data(128, 16);
const SRC4: usize = memory.data(16, 16);
let hashCount: f64 = 0;

/** Allocates `size` bytes of the paged state's memory (8-byte aligned); 0 when out of memory. */
export function pagedAlloc(size: u32): usize {
  return alloc(size);
}

/** Returns `size` bytes at `ptr` (as allocated) to the allocator's free list. */
export function pagedFree(ptr: usize, size: u32): void {
  free(ptr, size);
}

/** SHA-256 compressions done by the paged kernels so far (lanes counted, padding lanes not). */
export function pagedHashCount(): f64 {
  return hashCount;
}

/** Transposes 16 bytes at each of four pointers: vector j at `dst + 16·j` holds word j of all four. */
// @ts-ignore: decorator
@inline function transpose4(r0: v128, r1: v128, r2: v128, r3: v128, dst: usize): void {
  const t0 = i32x4.shuffle(r0, r1, 0, 4, 1, 5);
  const t1 = i32x4.shuffle(r0, r1, 2, 6, 3, 7);
  const t2 = i32x4.shuffle(r2, r3, 0, 4, 1, 5);
  const t3 = i32x4.shuffle(r2, r3, 2, 6, 3, 7);
  v128.store(dst, i64x2.shuffle(t0, t2, 0, 2), 0);
  v128.store(dst, i64x2.shuffle(t0, t2, 1, 3), 16);
  v128.store(dst, i64x2.shuffle(t1, t3, 0, 2), 32);
  v128.store(dst, i64x2.shuffle(t1, t3, 1, 3), 48);
}

/** Sets the 4-lane state at `scr` to the initial hash value. */
function init4(scr: usize): void {
  for (let i: usize = 0; i < 8; i++) v128.store(scr + (i << 4), v128.load32_splat(IV + (i << 2)));
}

/** Writes the 4-lane state at SCR as four word-layout digests at DIG4 + 32·i. */
function storeWords4(): void {
  for (let h: usize = 0; h < 2; h++) {
    const s = SCR + (h << 6);
    const r0 = v128.load(s, 0);
    const r1 = v128.load(s, 16);
    const r2 = v128.load(s, 32);
    const r3 = v128.load(s, 48);
    const t0 = i32x4.shuffle(r0, r1, 0, 4, 1, 5);
    const t1 = i32x4.shuffle(r0, r1, 2, 6, 3, 7);
    const t2 = i32x4.shuffle(r2, r3, 0, 4, 1, 5);
    const t3 = i32x4.shuffle(r2, r3, 2, 6, 3, 7);
    const d = DIG4 + (h << 4);
    v128.store(d, i64x2.shuffle(t0, t2, 0, 2), 0);
    v128.store(d, i64x2.shuffle(t0, t2, 1, 3), 32);
    v128.store(d, i64x2.shuffle(t1, t3, 0, 2), 64);
    v128.store(d, i64x2.shuffle(t1, t3, 1, 3), 96);
  }
}

/** Node hash of the four 64-byte word-layout messages whose addresses are at SRC4 → DIG4. */
function node4(): void {
  const w = SCR + 128;
  const p0 = <usize>load<u32>(SRC4, 0);
  const p1 = <usize>load<u32>(SRC4, 4);
  const p2 = <usize>load<u32>(SRC4, 8);
  const p3 = <usize>load<u32>(SRC4, 12);
  for (let o: usize = 0; o < 64; o += 16)
    transpose4(v128.load(p0 + o), v128.load(p1 + o), v128.load(p2 + o), v128.load(p3 + o), w + (o << 2));
  init4(SCR);
  expand4(w);
  rounds4(SCR, w);
  rounds4(SCR, PAD64_W);
  storeWords4();
}

/** Hash of the four padded one-block messages at BLK4 (byte layout) → DIG4. */
function block4(): void {
  const w = SCR + 128;
  for (let o: usize = 0; o < 64; o += 16)
    transpose4(
      bswap4(v128.load(BLK4 + o)),
      bswap4(v128.load(BLK4 + 64 + o)),
      bswap4(v128.load(BLK4 + 128 + o)),
      bswap4(v128.load(BLK4 + 192 + o)),
      w + (o << 2),
    );
  init4(SCR);
  expand4(w);
  rounds4(SCR, w);
  storeWords4();
}

/** Copies digest `lane` of DIG4 to the job's destinations (dst2 = 0: none). */
// @ts-ignore: decorator
@inline function deliver(job: usize, lane: usize): void {
  const d = DIG4 + (lane << 5);
  copy32(<usize>load<u32>(job, 4), d);
  const d2 = <usize>load<u32>(job, 8);
  if (d2 != 0) copy32(d2, d);
}

/**
 * Node jobs [message, dst, dst2] u32 × n: SHA256 of each 64-byte word-layout message, four at a
 * time (a short last group repeats its last job: same input, same output, same place).
 */
export function pagedNodes(jobs: usize, n: u32): void {
  for (let i: u32 = 0; i < n; i += 4) {
    for (let l: u32 = 0; l < 4; l++) {
      const job = jobs + <usize>(min<u32>(i + l, n - 1) * 12);
      store<u32>(SRC4 + (l << 2), load<u32>(job));
    }
    node4();
    for (let l: u32 = 0; l < 4; l++) deliver(jobs + <usize>(min<u32>(i + l, n - 1) * 12), l);
  }
  hashCount += <f64>n * 2;
}

/** Leaf jobs [record, dst, dst2] u32 × n: leaf(a) = SHA256(0x00 ‖ record 48), four at a time. */
export function pagedLeaves(jobs: usize, n: u32): void {
  for (let i: u32 = 0; i < n; i += 4) {
    for (let l: u32 = 0; l < 4; l++) {
      const rec = <usize>load<u32>(jobs + <usize>(min<u32>(i + l, n - 1) * 12));
      const b = BLK4 + (l << 6);
      v128.store(b, i32x4.splat(0), 48);
      store<u8>(b, 0);
      copy48(b + 1, rec);
      store<u8>(b, 0x80, 49);
      store<u64>(b, bswap<u64>(49 * 8), 56);
    }
    block4();
    for (let l: u32 = 0; l < 4; l++) deliver(jobs + <usize>(min<u32>(i + l, n - 1) * 12), l);
  }
  hashCount += <f64>n;
}

/** path(a) of `n` 32-byte addresses at `src + stride·i` → word-layout digests at `dst + 32·i`. */
export function pagedPaths(src: usize, stride: u32, n: u32, dst: usize): void {
  for (let i: u32 = 0; i < n; i += 4) {
    for (let l: u32 = 0; l < 4; l++) {
      const a = src + <usize>(min<u32>(i + l, n - 1) * stride);
      const b = BLK4 + (l << 6);
      copy32(b, a);
      v128.store(b, i32x4.splat(0), 32);
      store<u8>(b, 0x80, 32);
      v128.store(b, i32x4.splat(0), 48);
      store<u64>(b, bswap<u64>(256), 56);
    }
    block4();
    const m = min<u32>(4, n - i);
    for (let l: u32 = 0; l < m; l++) copy32(dst + (<usize>(i + l) << 5), DIG4 + (l << 5));
  }
  hashCount += <f64>n;
}

/**
 * The heap node `i` from its children (a count of 0 is the empty hash, 1 passes the one leaf up);
 * returns true when it needs a node hash (queued by the caller), after setting its count.
 */
// @ts-ignore: decorator
@inline function combineOrQueue(top: usize, cnt: usize, i: usize): bool {
  const c0 = load<u32>(cnt + (i << 3));
  const c1 = load<u32>(cnt + (i << 3), 4);
  store<u32>(cnt + (i << 2), c0 + c1);
  const at = top + (i << 5);
  if (c0 + c1 == 0) {
    v128.store(at, i32x4.splat(0));
    v128.store(at, i32x4.splat(0), 16);
    return false;
  }
  if (c0 + c1 == 1) {
    copy32(at, top + (((i << 1) + (c0 == 1 ? 0 : 1)) << 5));
    return false;
  }
  return true;
}

/** Hashes the queued heap nodes (SRC4 holds their children's message addresses; `k` of 4 real). */
function flushTop(top: usize, k: u32): void {
  for (let l: u32 = k; l < 4; l++) store<u32>(SRC4 + (l << 2), load<u32>(SRC4 + ((k - 1) << 2)));
  node4();
  for (let l: u32 = 0; l < k; l++) {
    const msg = <usize>load<u32>(SRC4 + (l << 2));
    copy32(top + (((msg - top) >> 6) << 5), DIG4 + (l << 5));
  }
  hashCount += <f64>k * 2;
}

/** Combines the heap nodes in `list` (u32 indices, `n`, all at one level, distinct), four hashes at a time. */
function combineLevel(top: usize, cnt: usize, list: usize, n: u32): void {
  let k: u32 = 0;
  for (let j: u32 = 0; j < n; j++) {
    const i = <usize>load<u32>(list + (<usize>j << 2));
    if (!combineOrQueue(top, cnt, i)) continue;
    store<u32>(SRC4 + (k << 2), <u32>(top + (i << 6)));
    if (++k == 4) {
      flushTop(top, 4);
      k = 0;
    }
  }
  if (k > 0) flushTop(top, k);
}

/**
 * The dense heap above the pages (node i: children 2i, 2i + 1; 8 words each at `top`, a u32
 * account count each at `cnt`): brings every ancestor of the `n` bucket nodes in `list`
 * (ascending u32 heap indices at level `bits`, whose hashes and counts are current) up to date,
 * level by level. Overwrites `list`.
 */
export function pagedTopUpdate(top: usize, cnt: usize, list: usize, n: u32, bits: u32): void {
  for (let d: u32 = 0; d < bits; d++) {
    let m: u32 = 0;
    for (let j: u32 = 0; j < n; j++) {
      const parent = load<u32>(list + (<usize>j << 2)) >> 1;
      if (m > 0 && load<u32>(list + (<usize>(m - 1) << 2)) == parent) continue;
      store<u32>(list + (<usize>m << 2), parent);
      m++;
    }
    n = m;
    combineLevel(top, cnt, list, n);
  }
}

/** Recomputes every heap node above the 2^bits buckets (open, bulk load), level by level. */
export function pagedTopAll(top: usize, cnt: usize, bits: u32): void {
  for (let d: i32 = <i32>bits - 1; d >= 0; d--) {
    let k: u32 = 0;
    const lo: usize = <usize>1 << <usize>d;
    for (let i = lo; i < lo << 1; i++) {
      if (!combineOrQueue(top, cnt, i)) continue;
      store<u32>(SRC4 + (k << 2), <u32>(top + (i << 6)));
      if (++k == 4) {
        flushTop(top, 4);
        k = 0;
      }
    }
    if (k > 0) flushTop(top, k);
  }
}

/** CRC-32C (Castagnoli, reflected 0x82F63B78) slice-by-8 tables: 8 × 256 u32. */
const CRC_T: usize = memory.data(8 * 256 * 4, 16);

function initCrcTables(): void {
  for (let i: u32 = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    store<u32>(CRC_T + (<usize>i << 2), c);
  }
  for (let i: usize = 0; i < 256; i++) {
    let c = load<u32>(CRC_T + (i << 2));
    for (let t: usize = 1; t < 8; t++) {
      c = load<u32>(CRC_T + (<usize>(c & 0xff) << 2)) ^ (c >>> 8);
      store<u32>(CRC_T + (t << 10) + (i << 2), c);
    }
  }
}
initCrcTables();

// @ts-ignore: decorator
@inline function crcT(t: usize, b: u32): u32 {
  return load<u32>(CRC_T + (t << 10) + (<usize>b << 2));
}

/**
 * CRC-32C of memory[ptr, ptr + len) continuing from `crc` (0 to start), the same value as
 * bindings/store/append-log.ts `crc32c`: the page log's frames are checked here when they lie in
 * this memory (read straight into a page, or encoded in it).
 */
export function pagedCrc32c(ptr: usize, len: u32, crc: u32): u32 {
  let c = ~crc;
  const end = ptr + <usize>len;
  let p = ptr;
  for (; p + 8 <= end; p += 8) {
    const lo = c ^ load<u32>(p);
    const hi = load<u32>(p, 4);
    c = crcT(7, lo & 0xff) ^ crcT(6, (lo >>> 8) & 0xff) ^ crcT(5, (lo >>> 16) & 0xff) ^ crcT(4, lo >>> 24) ^
      crcT(3, hi & 0xff) ^ crcT(2, (hi >>> 8) & 0xff) ^ crcT(1, (hi >>> 16) & 0xff) ^ crcT(0, hi >>> 24);
  }
  for (; p < end; p++) c = crcT(0, (c ^ <u32>load<u8>(p)) & 0xff) ^ (c >>> 8);
  return ~c;
}
