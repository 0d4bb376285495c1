/**
 * A byte-keyed hashmap over linear memory with an undo journal (checkpoint / rollback).
 *
 * Open addressing with linear probing (Knuth, TAOCP vol. 3, 6.4, algorithm L) and backward-shift
 * deletion (algorithm R), so deletes leave no tombstones and lookups never degrade; the table
 * doubles when it passes a load factor of 3/4. Each slot keeps the key's 32-bit hash next to the
 * entry pointer, so probes compare keys only on a hash match, and growing rehashes no key bytes.
 * Entries are `[keyLen u32][valLen u32][key][value]` blocks from `store-alloc`; an entry does not
 * move while its value keeps its size class, which lets the ledger hold entry pointers.
 *
 * Checkpoints follow SQLite's savepoint model: while one is open, every mutation first appends
 * the key's previous state to the journal; rolling back replays the journal backwards to the
 * checkpoint's mark. Nested checkpoints are marks in one journal.
 * @module
 */
import { alloc, free, allocRound } from "./store-alloc";
import { copySmall } from "./store-mem";

/** Largest key, bytes. */
export const KEY_MAX: u32 = 1024;
/** Largest value, bytes. */
export const VALUE_MAX: u32 = 65536;
/** Deepest checkpoint nesting. */
export const DEPTH_MAX: u32 = 256;
const CAP_MIN: u32 = 16;
const CAP_MAX: u32 = 1 << 26;
const ABSENT: u32 = 0xffffffff;

/** Status codes shared with the bindings (bindings/engine/kv-wasm.ts). */
export const KV_OK: i32 = 0;
export const KV_OOM: i32 = -1;
export const KV_NO_CHECKPOINT: i32 = -2;
export const KV_TOO_DEEP: i32 = -3;
export const KV_BAD_LENGTH: i32 = -4;

// Store header fields (byte offsets).
const S_SLOTS = 0;
const S_CAP = 4;
const S_COUNT = 8;
const S_JPTR = 12;
const S_JLEN = 16;
const S_JCAP = 20;
const S_DEPTH = 24;
const S_MARKS = 28;
const S_SEED = 32;
const S_SIZE: u32 = 48;

/** IO area shared with the bindings: key at IO, value at IO + KEY_MAX. */
let ioPtr: usize = 0;

// ---- hashing and key comparison ---------------------------------------------------------

/** Seeded 32-bit hash of `len` bytes at `key` (a multiply-xorshift mix, 8 bytes a step). */
export function kvHash(seed: u64, key: usize, len: u32): u32 {
  let h: u64 = seed ^ (<u64>len * 0x9e3779b97f4a7c15);
  let i: u32 = 0;
  while (i + 8 <= len) {
    h = (h ^ load<u64>(key + i)) * 0xff51afd7ed558ccd;
    h ^= h >> 32;
    i += 8;
  }
  let tail: u64 = 0;
  let shift: u64 = 0;
  while (i < len) {
    tail |= (<u64>load<u8>(key + i)) << shift;
    shift += 8;
    i++;
  }
  h = (h ^ tail) * 0xc4ceb9fe1a85ec53;
  h ^= h >> 29;
  h *= 0x9e3779b97f4a7c15;
  h ^= h >> 32;
  return <u32>h;
}

// @ts-ignore: decorator
@inline function keyEquals(a: usize, b: usize, len: u32): bool {
  let i: u32 = 0;
  while (i + 8 <= len) {
    if (load<u64>(a + i) != load<u64>(b + i)) return false;
    i += 8;
  }
  while (i < len) {
    if (load<u8>(a + i) != load<u8>(b + i)) return false;
    i++;
  }
  return true;
}

/** Copies a value: inline for small ones (the ledger's 24 bytes), `memory.copy` for large ones. */
// @ts-ignore: decorator
@inline function copyValue(dst: usize, src: usize, n: u32): void {
  if (n <= 64) copySmall(dst, src, n);
  else memory.copy(dst, src, n);
}

// ---- entries -----------------------------------------------------------------------------

/** Key length of an entry. */
// @ts-ignore: decorator
@inline export function entryKeyLen(e: usize): u32 { return load<u32>(e); }
/** Value length of an entry. */
// @ts-ignore: decorator
@inline export function entryValLen(e: usize): u32 { return load<u32>(e, 4); }
/** Pointer to an entry's key bytes. */
// @ts-ignore: decorator
@inline export function entryKey(e: usize): usize { return e + 8; }
/** Pointer to an entry's value bytes. */
// @ts-ignore: decorator
@inline export function entryValue(e: usize): usize { return e + 8 + <usize>load<u32>(e); }

function entryNew(key: usize, keyLen: u32, val: usize, valLen: u32): usize {
  const e = alloc(8 + keyLen + valLen);
  if (e == 0) return 0;
  store<u32>(e, keyLen);
  store<u32>(e, valLen, 4);
  copySmall(e + 8, key, keyLen);
  copyValue(e + 8 + keyLen, val, valLen);
  return e;
}

// @ts-ignore: decorator
@inline function entryFree(e: usize): void {
  free(e, 8 + load<u32>(e) + load<u32>(e, 4));
}

// ---- table -------------------------------------------------------------------------------

/** Creates an empty store; returns its header pointer, or 0 when out of memory. */
export function kvCreate(seedLo: u32, seedHi: u32): usize {
  const s = alloc(S_SIZE);
  const slots = alloc(CAP_MIN * 8);
  const marks = alloc(DEPTH_MAX * 4);
  if (s == 0 || slots == 0 || marks == 0) return 0;
  memory.fill(s, 0, S_SIZE);
  memory.fill(slots, 0, CAP_MIN * 8);
  store<u32>(s, <u32>slots, S_SLOTS);
  store<u32>(s, CAP_MIN, S_CAP);
  store<u32>(s, <u32>marks, S_MARKS);
  store<u64>(s, (<u64>seedHi << 32) | <u64>seedLo, S_SEED);
  return s;
}

/** The IO area (key at +0, value at +KEY_MAX), allocated on first use; 0 when out of memory. */
export function kvIo(): usize {
  if (ioPtr == 0) ioPtr = alloc(KEY_MAX + VALUE_MAX);
  return ioPtr;
}

/** Number of live entries. */
export function kvSize(s: usize): u32 { return load<u32>(s, S_COUNT); }
/** Slot count of the table (a power of two). */
export function kvCapacity(s: usize): u32 { return load<u32>(s, S_CAP); }
/** Open checkpoints. */
export function kvDepth(s: usize): u32 { return load<u32>(s, S_DEPTH); }
/** The store's hash seed. */
// @ts-ignore: decorator
@inline export function kvSeed(s: usize): u64 { return load<u64>(s, S_SEED); }

/** Entry of `key` (hash `h`), or 0. */
export function kvFindHashed(s: usize, key: usize, keyLen: u32, h: u32): usize {
  const slots = <usize>load<u32>(s, S_SLOTS);
  const mask = load<u32>(s, S_CAP) - 1;
  let i = h & mask;
  // Bounded: the load factor stays below 3/4, so an empty slot exists.
  while (true) {
    const slot = slots + (<usize>i << 3);
    const e = <usize>load<u32>(slot, 4);
    if (e == 0) return 0;
    if (load<u32>(slot) == h && load<u32>(e) == keyLen && keyEquals(e + 8, key, keyLen)) return e;
    i = (i + 1) & mask;
  }
  return 0;
}

/** Address of the slot table (it moves when the table grows). */
// @ts-ignore: decorator
@inline export function kvSlots(s: usize): usize { return <usize>load<u32>(s, S_SLOTS); }
/** Slot index mask (capacity - 1). */
// @ts-ignore: decorator
@inline export function kvMask(s: usize): u32 { return load<u32>(s, S_CAP) - 1; }

/** Address of the home slot of `key` (for grouped lookups that load slots ahead of use). */
// @ts-ignore: decorator
@inline export function kvHomeSlot(s: usize, key: usize, keyLen: u32): usize {
  const h = kvHash(kvSeed(s), key, keyLen);
  return <usize>load<u32>(s, S_SLOTS) + (<usize>(h & (load<u32>(s, S_CAP) - 1)) << 3);
}

/** Entry of `key`, or 0. */
export function kvFind(s: usize, key: usize, keyLen: u32): usize {
  return kvFindHashed(s, key, keyLen, kvHash(kvSeed(s), key, keyLen));
}

function slotOf(s: usize, key: usize, keyLen: u32, h: u32): u32 {
  const slots = <usize>load<u32>(s, S_SLOTS);
  const mask = load<u32>(s, S_CAP) - 1;
  let i = h & mask;
  while (true) {
    const slot = slots + (<usize>i << 3);
    const e = <usize>load<u32>(slot, 4);
    if (e == 0) return ABSENT;
    if (load<u32>(slot) == h && load<u32>(e) == keyLen && keyEquals(e + 8, key, keyLen)) return i;
    i = (i + 1) & mask;
  }
  return ABSENT;
}

/** Doubles the table; false when out of memory. */
function grow(s: usize): bool {
  const oldCap = load<u32>(s, S_CAP);
  if (oldCap >= CAP_MAX) return false;
  return growTo(s, oldCap << 1);
}

/** Rebuilds the table with `cap` slots (a power of two); false when out of memory. Rehashes from the stored hashes only. */
function growTo(s: usize, cap: u32): bool {
  const oldCap = load<u32>(s, S_CAP);
  const slots = alloc(cap * 8);
  if (slots == 0) return false;
  memory.fill(slots, 0, <usize>cap * 8);
  const old = <usize>load<u32>(s, S_SLOTS);
  const mask = cap - 1;
  for (let j: u32 = 0; j < oldCap; j++) {
    const src = old + (<usize>j << 3);
    if (load<u32>(src, 4) == 0) continue;
    let i = load<u32>(src) & mask;
    while (load<u32>(slots + (<usize>i << 3), 4) != 0) i = (i + 1) & mask;
    store<u64>(slots + (<usize>i << 3), load<u64>(src));
  }
  free(old, oldCap * 8);
  store<u32>(s, <u32>slots, S_SLOTS);
  store<u32>(s, cap, S_CAP);
  return true;
}

/**
 * Sizes the table for `n` entries in one step, so a bulk load (genesis: 10M accounts) rehashes
 * nothing on the way (a doubling from 16 slots would rebuild it 20 times); false when out of memory.
 */
export function kvReserve(s: usize, n: u32): bool {
  const need = (<u64>n * 4 + 2) / 3 + 1;
  let cap = load<u32>(s, S_CAP);
  if (<u64>cap >= need) return true;
  while (<u64>cap < need) {
    if (cap >= CAP_MAX) return false;
    cap <<= 1;
  }
  return growTo(s, cap);
}

/**
 * Inserts `key` → `val` for a key known to be absent (a `kvFindHashed` with hash `h` just missed):
 * one probe instead of `kvPut`'s lookup, insert and second lookup. Returns the entry, 0 when out
 * of memory (store unchanged).
 */
export function kvInsertHashed(s: usize, key: usize, keyLen: u32, h: u32, val: usize, valLen: u32): usize {
  if (!kvJournal(s, key, keyLen, 0)) return 0;
  const e = entryNew(key, keyLen, val, valLen);
  if (e == 0) {
    dropJournal(s, KV_OOM);
    return 0;
  }
  if (!insertNew(s, e, h)) {
    entryFree(e);
    dropJournal(s, KV_OOM);
    return 0;
  }
  return e;
}

/** Inserts a new entry for a key known to be absent; false when out of memory. */
function insertNew(s: usize, e: usize, h: u32): bool {
  const count = load<u32>(s, S_COUNT);
  if ((count + 1) * 4 > load<u32>(s, S_CAP) * 3 && !grow(s)) return false;
  const slots = <usize>load<u32>(s, S_SLOTS);
  const mask = load<u32>(s, S_CAP) - 1;
  let i = h & mask;
  while (load<u32>(slots + (<usize>i << 3), 4) != 0) i = (i + 1) & mask;
  store<u32>(slots + (<usize>i << 3), h);
  store<u32>(slots + (<usize>i << 3), <u32>e, 4);
  store<u32>(s, count + 1, S_COUNT);
  return true;
}

/** Removes slot `i` and shifts the following cluster back (no tombstones). */
function removeSlot(s: usize, i: u32): void {
  const slots = <usize>load<u32>(s, S_SLOTS);
  const mask = load<u32>(s, S_CAP) - 1;
  let hole = i;
  let j = i;
  while (true) {
    j = (j + 1) & mask;
    const slot = slots + (<usize>j << 3);
    if (load<u32>(slot, 4) == 0) break;
    const home = load<u32>(slot) & mask;
    // Move slot j into the hole unless its home lies cyclically in (hole, j].
    const stays = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
    if (stays) continue;
    store<u64>(slots + (<usize>hole << 3), load<u64>(slot));
    hole = j;
  }
  store<u64>(slots + (<usize>hole << 3), 0);
  store<u32>(s, load<u32>(s, S_COUNT) - 1, S_COUNT);
}

// ---- journal -----------------------------------------------------------------------------

function journalReserve(s: usize, more: u32): bool {
  const len = load<u32>(s, S_JLEN);
  const cap = load<u32>(s, S_JCAP);
  if (len + more <= cap) return true;
  let ncap = max<u32>(cap << 1, 4096);
  while (ncap < len + more) ncap <<= 1;
  const buf = alloc(ncap);
  if (buf == 0) return false;
  const old = <usize>load<u32>(s, S_JPTR);
  if (old != 0) {
    memory.copy(buf, old, len);
    free(old, cap);
  }
  store<u32>(s, <u32>buf, S_JPTR);
  store<u32>(s, ncap, S_JCAP);
  return true;
}

/**
 * Journals the previous state of `key` (entry `e`, or 0 if absent) when a checkpoint is open.
 * Returns false when out of memory (the caller must not mutate then).
 */
export function kvJournal(s: usize, key: usize, keyLen: u32, e: usize): bool {
  if (load<u32>(s, S_DEPTH) == 0) return true;
  const valLen: u32 = e == 0 ? 0 : load<u32>(e, 4);
  const body = (8 + keyLen + valLen + 3) & ~3;
  const rec = body + 4;
  if (!journalReserve(s, rec)) return false;
  const p = <usize>load<u32>(s, S_JPTR) + load<u32>(s, S_JLEN);
  store<u32>(p, keyLen);
  store<u32>(p, e == 0 ? ABSENT : valLen, 4);
  copySmall(p + 8, key, keyLen);
  if (e != 0) copyValue(p + 8 + keyLen, entryValue(e), valLen);
  store<u32>(p + body, rec);
  store<u32>(s, load<u32>(s, S_JLEN) + rec, S_JLEN);
  return true;
}

/** Opens a checkpoint; returns the new depth or KV_TOO_DEEP. */
export function kvCheckpoint(s: usize): i32 {
  const depth = load<u32>(s, S_DEPTH);
  if (depth >= DEPTH_MAX) return KV_TOO_DEEP;
  store<u32>(<usize>load<u32>(s, S_MARKS) + (<usize>depth << 2), load<u32>(s, S_JLEN));
  store<u32>(s, depth + 1, S_DEPTH);
  return <i32>(depth + 1);
}

/** Keeps the innermost checkpoint's changes (they stay undoable by an outer one). */
export function kvRelease(s: usize): i32 {
  const depth = load<u32>(s, S_DEPTH);
  if (depth == 0) return KV_NO_CHECKPOINT;
  store<u32>(s, depth - 1, S_DEPTH);
  if (depth == 1) store<u32>(s, 0, S_JLEN);
  return <i32>(depth - 1);
}

/** Undoes everything since the innermost checkpoint and closes it. */
export function kvRollback(s: usize): i32 {
  const depth = load<u32>(s, S_DEPTH);
  if (depth == 0) return KV_NO_CHECKPOINT;
  const mark = load<u32>(<usize>load<u32>(s, S_MARKS) + (<usize>(depth - 1) << 2));
  // Replay with journaling off, so restores do not journal themselves.
  store<u32>(s, 0, S_DEPTH);
  const base = <usize>load<u32>(s, S_JPTR);
  let len = load<u32>(s, S_JLEN);
  while (len > mark) {
    const rec = load<u32>(base + len - 4);
    len -= rec;
    const p = base + len;
    const keyLen = load<u32>(p);
    const valLen = load<u32>(p, 4);
    if (valLen == ABSENT) kvDelete(s, p + 8, keyLen);
    else if (kvPut(s, p + 8, keyLen, p + 8 + keyLen, valLen) != KV_OK) unreachable(); // sizes were live
  }
  store<u32>(s, len, S_JLEN);
  store<u32>(s, depth - 1, S_DEPTH);
  return <i32>(depth - 1);
}

// ---- operations --------------------------------------------------------------------------

/** Puts `key` → `val`; KV_OK or KV_OOM (store unchanged on failure). */
export function kvPut(s: usize, key: usize, keyLen: u32, val: usize, valLen: u32): i32 {
  if (keyLen == 0 || keyLen > KEY_MAX || valLen > VALUE_MAX) return KV_BAD_LENGTH;
  const h = kvHash(kvSeed(s), key, keyLen);
  const i = slotOf(s, key, keyLen, h);
  const slots = <usize>load<u32>(s, S_SLOTS);
  const e: usize = i == ABSENT ? 0 : <usize>load<u32>(slots + (<usize>i << 3), 4);
  if (!kvJournal(s, key, keyLen, e)) return KV_OOM;
  if (e != 0 && allocRound(8 + keyLen + valLen) == allocRound(8 + keyLen + load<u32>(e, 4))) {
    store<u32>(e, valLen, 4);
    copyValue(e + 8 + keyLen, val, valLen);
    return KV_OK;
  }
  const ne = entryNew(key, keyLen, val, valLen);
  if (ne == 0) return dropJournal(s, KV_OOM);
  if (e != 0) {
    store<u32>(slots + (<usize>i << 3), <u32>ne, 4);
    entryFree(e);
    return KV_OK;
  }
  if (!insertNew(s, ne, h)) {
    entryFree(ne);
    return dropJournal(s, KV_OOM);
  }
  return KV_OK;
}

/** Removes the journal record just written for a mutation that then failed. */
function dropJournal(s: usize, status: i32): i32 {
  if (load<u32>(s, S_DEPTH) != 0) {
    const base = <usize>load<u32>(s, S_JPTR);
    const len = load<u32>(s, S_JLEN);
    store<u32>(s, len - load<u32>(base + len - 4), S_JLEN);
  }
  return status;
}

/** Deletes `key`; 1 if it was present, 0 if not, KV_OOM if the journal could not grow. */
export function kvDelete(s: usize, key: usize, keyLen: u32): i32 {
  const h = kvHash(kvSeed(s), key, keyLen);
  const i = slotOf(s, key, keyLen, h);
  if (i == ABSENT) return 0;
  const e = <usize>load<u32>(<usize>load<u32>(s, S_SLOTS) + (<usize>i << 3), 4);
  if (!kvJournal(s, key, keyLen, e)) return KV_OOM;
  removeSlot(s, i);
  entryFree(e);
  return 1;
}

/** Removes every entry (journaled when a checkpoint is open); KV_OK or KV_OOM. */
export function kvClear(s: usize): i32 {
  const cap = load<u32>(s, S_CAP);
  const slots = <usize>load<u32>(s, S_SLOTS);
  if (load<u32>(s, S_DEPTH) != 0) {
    for (let j: u32 = 0; j < cap; j++) {
      const e = <usize>load<u32>(slots + (<usize>j << 3), 4);
      if (e != 0 && !kvJournal(s, e + 8, load<u32>(e), e)) return KV_OOM;
    }
  }
  for (let j: u32 = 0; j < cap; j++) {
    const e = <usize>load<u32>(slots + (<usize>j << 3), 4);
    if (e != 0) entryFree(e);
  }
  const fresh = alloc(CAP_MIN * 8);
  if (fresh == 0) return KV_OOM; // cannot happen: the old table just freed a larger block
  memory.fill(fresh, 0, CAP_MIN * 8);
  free(slots, cap * 8);
  store<u32>(s, <u32>fresh, S_SLOTS);
  store<u32>(s, CAP_MIN, S_CAP);
  store<u32>(s, 0, S_COUNT);
  return KV_OK;
}

/** First slot index ≥ `from` holding an entry, or -1 (iteration: see every live entry once). */
export function kvNextSlot(s: usize, from: u32): i32 {
  const cap = load<u32>(s, S_CAP);
  const slots = <usize>load<u32>(s, S_SLOTS);
  for (let j = from; j < cap; j++) {
    if (load<u32>(slots + (<usize>j << 3), 4) != 0) return <i32>j;
  }
  return -1;
}

/** Entry pointer in slot `i` (0 if empty). */
export function kvSlotEntry(s: usize, i: u32): usize {
  return <usize>load<u32>(<usize>load<u32>(s, S_SLOTS) + (<usize>i << 3), 4);
}

// ---- IO-area wrappers for the bindings ----------------------------------------------------

/** Entry pointer for the key in the IO area, or 0. */
export function kvGetIo(s: usize, keyLen: u32): usize {
  if (keyLen == 0 || keyLen > KEY_MAX) return 0;
  return kvFind(s, ioPtr, keyLen);
}

/** Puts the key and value from the IO area. */
export function kvPutIo(s: usize, keyLen: u32, valLen: u32): i32 {
  return kvPut(s, ioPtr, keyLen, ioPtr + KEY_MAX, valLen);
}

/** Deletes the key in the IO area. */
export function kvDeleteIo(s: usize, keyLen: u32): i32 {
  if (keyLen == 0 || keyLen > KEY_MAX) return 0;
  return kvDelete(s, ioPtr, keyLen);
}

// ---- journal records written in place (parallel execution: assembly/parallel.ts) -------------

/** Bytes of the journal record of an entry with these key and value lengths. */
// @ts-ignore: decorator
@inline export function kvJournalRecordSize(keyLen: u32, valLen: u32): u32 {
  return ((8 + keyLen + valLen + 3) & ~3) + 4;
}

/**
 * Room for `bytes` of journal records past the journal's end, written in place by other threads
 * (`kvJournalPlace`) and then kept by `kvJournalExtend`; returns their address, 0 on OOM. Only
 * inside a checkpoint.
 */
export function kvJournalTail(s: usize, bytes: u32): usize {
  if (!journalReserve(s, bytes)) return 0;
  return <usize>load<u32>(s, S_JPTR) + load<u32>(s, S_JLEN);
}

/** Keeps `bytes` of records written at `kvJournalTail` (the rollback replays them too). */
export function kvJournalExtend(s: usize, bytes: u32): void {
  store<u32>(s, load<u32>(s, S_JLEN) + bytes, S_JLEN);
}

/**
 * Writes entry `e`'s current key and value as a journal record at `p` (the layout of
 * `kvJournal`); returns its size. Touches nothing but `p` and `e`: safe from any thread.
 */
// @ts-ignore: decorator
@inline export function kvJournalPlace(p: usize, e: usize): u32 {
  const keyLen = load<u32>(e);
  const valLen = load<u32>(e, 4);
  const rec = kvJournalRecordSize(keyLen, valLen);
  store<u32>(p, keyLen);
  store<u32>(p, valLen, 4);
  copySmall(p + 8, e + 8, keyLen + valLen);
  store<u32>(p + rec - 4, rec);
  return rec;
}
