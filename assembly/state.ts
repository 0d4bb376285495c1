/**
 * The ledger state machine in WASM: accounts (32-byte address → balance u64, nonce u64) in the
 * kv.ts hashmap, and `stateApply`, which runs a block of pre-verified transfers in order.
 *
 * A transfer is rejected, changing nothing, when from == to (SELF_TRANSFER), amount + fee or any
 * resulting balance or nonce overflows u64 (OVERFLOW), its nonce is not the sender's (BAD_NONCE),
 * or the sender's balance is below amount + fee (INSUFFICIENT_FUNDS); the checks run in that
 * order, before any write, and bindings/engine/state-ts.ts repeats them exactly. The fee goes to
 * the block's proposer (credited only when the fee is not zero), so supply is conserved.
 *
 * A block runs inside a kv checkpoint (`stateBegin` … `stateCommit` | `stateAbort`): each account
 * is journaled once per block (the epoch stamp in its value says whether it already was), and
 * the touched accounts form the block's change set, which the bindings make durable. Every
 * write also puts the account on the state tree's dirty list (commit.ts), which `stateRoot` hashes.
 * An account value is 24 bytes: balance u64 @0, nonce u64 @8, dirty stamp u32 @16, epoch u32 @20.
 * @module
 */
import {
  kvCreate, kvHash, kvSeed, kvFindHashed, kvPut, kvJournal, kvCheckpoint, kvRelease, kvRollback, kvSize,
  kvNextSlot, kvSlotEntry, kvSlots, kvMask, kvReserve, kvInsertHashed,
} from "./kv";
import { bufEnsure, bufPtr } from "./store-buf";
import { kvJournalTail, kvJournalExtend } from "./kv";
import { parApply, parEntries, parFees, parFlags, parThreads, PAR_JREC, PAR_FIRST_IN_BLOCK, PAR_FIRST_DIRTY } from "./parallel";
import { alloc, ALLOC_MAX } from "./store-alloc";
import { copy48 } from "./store-mem";
import {
  ACC_VALUE, V_DGEN, DGEN_DEAD, commitRoot, commitProve, dirtyReserve, dirtyDropDead, dirtyPush, dirtyStamp, goneReserve,
  markDirty, treeRemove,
} from "./commit";

/** Transfer record as the bindings pack it: from 32, to 32, amount u64, fee u64, nonce u64. */
export const TX_SIZE: u32 = 88;
/** Account record in packed exports: address 32, balance u64, nonce u64. */
export const REC_SIZE: u32 = 48;

/** Per-transfer status codes (bindings/engine/state-types.ts names them). */
export const ST_OK: u8 = 0;
export const ST_BAD_NONCE: u8 = 1;
export const ST_INSUFFICIENT: u8 = 2;
export const ST_OVERFLOW: u8 = 3;
export const ST_SELF: u8 = 4;

const VAL_SIZE: u32 = 24;
const V_BAL: usize = ACC_VALUE;
const V_NONCE: usize = ACC_VALUE + 8;
const V_EPOCH: usize = ACC_VALUE + 20;

const B_CHANGED: u32 = 0;
const B_CREATED: u32 = 1;
const B_TX: u32 = 2;
const B_STATUS: u32 = 3;
const B_PACK: u32 = 4;

const ZERO_VALUE: usize = memory.data(24, 8);
const ADDR_IO: usize = memory.data(32, 8);
const PROPOSER: usize = memory.data(32, 8);

let acc: usize = 0;
let epoch: u32 = 0;
let inBlock: bool = false;
let changedLen: u32 = 0;
let createdLen: u32 = 0;
let proposerEntry: usize = 0;

/** Sets up an empty state (the empty tree's root is 0^32); 0, or -1 when out of memory. */
export function stateInit(seedLo: u32, seedHi: u32): i32 {
  if (acc != 0) return -1;
  acc = kvCreate(seedLo, seedHi);
  if (acc == 0) return -1;
  return 0;
}

/** Scratch for one address (queries, proofs, loads). */
export function stateAddrIo(): usize { return ADDR_IO; }
/** Where the bindings write the block's proposer. */
export function stateProposerIo(): usize { return PROPOSER; }
/** Number of accounts. */
export function stateCount(): u32 { return kvSize(acc); }

/** A buffer for `count` packed transfers (statuses follow in their own buffer); 0 on OOM. */
export function stateTxBuffer(count: u32): usize {
  if (bufEnsure(B_STATUS, max<u32>(count, 1), 0) == 0) return 0;
  return bufEnsure(B_TX, max<u32>(count * TX_SIZE, 1), 0);
}

/** The status bytes of the last `stateApply`. */
export function stateStatusPtr(): usize { return bufPtr(B_STATUS); }

// @ts-ignore: decorator
@inline function find(addr: usize): usize {
  return kvFindHashed(acc, addr, 32, kvHash(kvSeed(acc), addr, 32));
}

// @ts-ignore: decorator
@inline function eq32(a: usize, b: usize): bool {
  return load<u64>(a) == load<u64>(b) && load<u64>(a, 8) == load<u64>(b, 8) &&
    load<u64>(a, 16) == load<u64>(b, 16) && load<u64>(a, 24) == load<u64>(b, 24);
}

/** Account entry for `addr` (address copied into the entry), or 0 when absent. */
export function stateGet(): usize { return find(ADDR_IO); }

/**
 * Creates a zero account (the tree takes it in at the next root); inside a block it is journaled
 * and recorded. Room on the dirty list must be reserved. 0 on OOM.
 */
function create(addr: usize): usize {
  if (kvPut(acc, addr, 32, ZERO_VALUE, VAL_SIZE) != 0) return 0;
  const e = find(addr);
  markDirty(e);
  if (inBlock) {
    store<u32>(e + V_EPOCH, epoch);
    store<u32>(bufPtr(B_CREATED) + (<usize>createdLen << 2), <u32>e);
    store<u32>(bufPtr(B_CHANGED) + (<usize>changedLen << 2), <u32>e);
    createdLen++;
    changedLen++;
  }
  return e;
}

/** Journals an existing account once per block before its first write; false on OOM. */
function touch(e: usize): bool {
  markDirty(e); // once per root (its stamp); a root in the middle of a block needs it again
  if (!inBlock || load<u32>(e + V_EPOCH) == epoch) return true;
  if (!kvJournal(acc, e + 8, 32, e)) return false;
  store<u32>(e + V_EPOCH, epoch);
  store<u32>(bufPtr(B_CHANGED) + (<usize>changedLen << 2), <u32>e);
  changedLen++;
  return true;
}

/** Opens a block: a kv checkpoint and a new epoch. 0, or -1 if a block is already open. */
export function stateBegin(): i32 {
  if (inBlock || kvCheckpoint(acc) < 0) return -1;
  inBlock = true;
  epoch++;
  changedLen = 0;
  createdLen = 0;
  proposerEntry = 0;
  return 0;
}

/** Keeps the open block's changes. */
export function stateCommit(): i32 {
  if (!inBlock) return -1;
  kvRelease(acc);
  inBlock = false;
  return 0;
}

/**
 * Undoes the open block: takes its new accounts out of the tree (newest first) and off the dirty
 * list, puts the other touched accounts on it (their old values need rehashing), then rolls the
 * kv back, which frees the new accounts. -1 if no block is open, -3 on OOM (state unchanged).
 */
export function stateAbort(): i32 {
  if (!inBlock) return -1;
  if (!dirtyReserve(changedLen) || !goneReserve(createdLen)) return -3;
  const created = bufPtr(B_CREATED);
  for (let i = <i32>createdLen - 1; i >= 0; i--) {
    const e = <usize>load<u32>(created + (<usize>i << 2));
    if (!treeRemove(e)) return -3;
    store<u32>(e + ACC_VALUE + V_DGEN, DGEN_DEAD);
  }
  dirtyDropDead();
  const changed = bufPtr(B_CHANGED);
  for (let i: u32 = 0; i < changedLen; i++) {
    const e = <usize>load<u32>(changed + (<usize>i << 2));
    if (load<u32>(e + ACC_VALUE + V_DGEN) != DGEN_DEAD) markDirty(e);
  }
  kvRollback(acc);
  inBlock = false;
  changedLen = 0;
  createdLen = 0;
  proposerEntry = 0;
  return 0;
}

/** Applies one transfer; a status, or -1 when out of memory (the block must then be aborted). */
function applyOne(tx: usize, fromHash: u32, toHash: u32): i32 {
  const from = tx;
  const to = tx + 32;
  const amount = load<u64>(tx, 64);
  const fee = load<u64>(tx, 72);
  const nonce = load<u64>(tx, 80);
  if (eq32(from, to)) return ST_SELF;
  const total = amount + fee;
  if (total < amount) return ST_OVERFLOW;
  let fe = kvFindHashed(acc, from, 32, fromHash);
  const fromBal: u64 = fe == 0 ? 0 : load<u64>(fe + V_BAL);
  const fromNonce: u64 = fe == 0 ? 0 : load<u64>(fe + V_NONCE);
  if (nonce != fromNonce) return ST_BAD_NONCE;
  if (fromBal < total) return ST_INSUFFICIENT;
  if (fromNonce == u64.MAX_VALUE) return ST_OVERFLOW;
  let te = kvFindHashed(acc, to, 32, toHash);
  const toBal: u64 = te == 0 ? 0 : load<u64>(te + V_BAL);
  const proposerIsFrom = eq32(PROPOSER, from);
  const proposerIsTo = eq32(PROPOSER, to);
  const thirdParty = fee != 0 && !proposerIsFrom && !proposerIsTo;
  const toGain: u64 = proposerIsTo ? total : amount;
  if (toBal + toGain < toBal) return ST_OVERFLOW;
  let proposerBal: u64 = 0;
  if (thirdParty) {
    if (proposerEntry == 0) proposerEntry = find(PROPOSER);
    proposerBal = proposerEntry == 0 ? 0 : load<u64>(proposerEntry + V_BAL);
    if (proposerBal + fee < proposerBal) return ST_OVERFLOW;
  }
  // Journal (or create) every account first, so an OOM leaves nothing half-written.
  if (fe == 0) fe = create(from); else if (!touch(fe)) return -1;
  if (fe == 0) return -1;
  if (te == 0) te = create(to); else if (!touch(te)) return -1;
  if (te == 0) return -1;
  if (thirdParty) {
    if (proposerEntry == 0) proposerEntry = create(PROPOSER); else if (!touch(proposerEntry)) return -1;
    if (proposerEntry == 0) return -1;
    store<u64>(proposerEntry + V_BAL, proposerBal + fee);
  }
  store<u64>(fe + V_BAL, fromBal - total + (proposerIsFrom ? fee : 0));
  store<u64>(fe + V_NONCE, fromNonce + 1);
  store<u64>(te + V_BAL, toBal + toGain);
  return ST_OK;
}

/**
 * Lookahead of the grouped lookups, in accounts. With 1M accounts nearly every lookup misses the
 * cache (and the TLB: WASM memory gets no huge pages), twice: the slot, then the entry it points
 * to. WASM has no prefetch instruction, and a load that misses blocks retirement, so a load only
 * overlaps the misses issued close to it in the instruction stream. `stateApply` and `stateLoad`
 * therefore hash every key of the batch first (no misses), then walk it software-pipelined: a tight
 * loop of slot loads for the accounts 2·GROUP ahead, a tight loop of entry loads for those GROUP
 * ahead (slot addresses recomputed from the kept hash, so a table that grew meanwhile is no
 * hazard), then the work on the current group, whose lookups reuse the kept hashes.
 * Measured at 1M accounts (same-process A/B): see CHANGELOG.
 */
const GROUP: u32 = 16;
const B_HASH: u32 = 5; // the batch's key hashes (u32 each), in order
let prefetchSink: u32 = 0;

/** Loads the home slots of the keys with hashes [from, to) of the hash buffer. */
function touchSlots(hashes: usize, from: u32, to: u32): void {
  const slots = kvSlots(acc);
  const mask = kvMask(acc);
  let sink: u32 = 0;
  for (let i = from; i < to; i++) sink ^= load<u32>(slots + (<usize>(load<u32>(hashes + (<usize>i << 2)) & mask) << 3), 4);
  prefetchSink ^= sink;
}

/** Loads the entries the home slots of the keys [from, to) point to (slots are cached by now). */
function touchEntries(hashes: usize, from: u32, to: u32): void {
  const slots = kvSlots(acc);
  const mask = kvMask(acc);
  let sink: u32 = 0;
  for (let i = from; i < to; i++) {
    const e = <usize>load<u32>(slots + (<usize>(load<u32>(hashes + (<usize>i << 2)) & mask) << 3), 4);
    if (e != 0) sink ^= load<u32>(e + V_NONCE);
  }
  prefetchSink ^= sink;
}

/** Hashes `n` 32-byte keys, the i-th at `keys + i·stride + off`, into the hash buffer at `at`. */
function hashKeys(keys: usize, stride: u32, off: u32, n: u32, at: u32, step: u32): void {
  const hashes = bufPtr(B_HASH);
  const seed = kvSeed(acc);
  for (let i: u32 = 0; i < n; i++) {
    store<u32>(hashes + (<usize>(at + i * step) << 2), kvHash(seed, keys + <usize>i * stride + off, 32));
  }
}

/** Pipelined lookahead before group [i, i + GROUP) of `n` keys (see GROUP). */
// @ts-ignore: decorator
@inline function lookahead(hashes: usize, i: u32, n: u32): void {
  if (i == 0) {
    touchSlots(hashes, 0, min<u32>(2 * GROUP, n));
    touchEntries(hashes, 0, min<u32>(GROUP, n));
  }
  touchSlots(hashes, min<u32>(i + 2 * GROUP, n), min<u32>(i + 3 * GROUP, n));
  touchEntries(hashes, min<u32>(i + GROUP, n), min<u32>(i + 2 * GROUP, n));
}

/**
 * Applies the `count` transfers in the tx buffer, in order, inside the open block; writes one
 * status byte per transfer. Returns the number applied, -1 on OOM (abort the block), -2 if no
 * block is open.
 */
export function stateApply(count: u32): i32 {
  if (!inBlock) return -2;
  // Each transfer records at most 3 accounts: reserve up front, so the loop cannot fail there.
  const need = (changedLen + 3 * count) << 2;
  if (bufEnsure(B_CHANGED, need, changedLen << 2) == 0) return -1;
  if (bufEnsure(B_CREATED, (createdLen + 3 * count) << 2, createdLen << 2) == 0) return -1;
  if (!dirtyReserve(3 * count)) return -1;
  const hashes = bufEnsure(B_HASH, max<u32>(count, 1) << 3, 0);
  if (hashes == 0) return -1;
  const txs = bufPtr(B_TX);
  const statuses = bufPtr(B_STATUS);
  // Key 2i is transfer i's sender, key 2i + 1 its recipient.
  hashKeys(txs, TX_SIZE, 0, count, 0, 2);
  hashKeys(txs, TX_SIZE, 32, count, 1, 2);
  if (parThreads() != 0 && count >= PAR_MIN_BLOCK) {
    const rc = applyThreads(count, txs, hashes, statuses);
    if (rc != -2) return rc;
  }
  let applied: i32 = 0;
  for (let i: u32 = 0; i < count; i++) {
    if (i % (GROUP / 2) == 0) lookahead(hashes, 2 * i, 2 * count);
    const st = applyOne(txs + <usize>i * TX_SIZE, load<u32>(hashes + (<usize>i << 3)), load<u32>(hashes + (<usize>i << 3), 4));
    if (st < 0) return -1;
    store<u8>(statuses + i, <u8>st);
    if (st == 0) applied++;
  }
  return applied;
}

/** Fewest transfers worth waking the threads for (assembly/parallel.ts). */
const PAR_MIN_BLOCK: u32 = 128;

/**
 * Lists an account a thread changed, journaled and stamped already (parallel execution), by its
 * flags: on the dirty list once per root, on the touched list once per block. The entry itself
 * is not loaded (it may sit in the other core's cache).
 */
// @ts-ignore: decorator
@inline function touchStamped(e: usize, flags: u8): void {
  if (flags & PAR_FIRST_DIRTY) dirtyPush(e);
  if (flags & PAR_FIRST_IN_BLOCK) {
    store<u32>(bufPtr(B_CHANGED) + (<usize>changedLen << 2), <u32>e);
    changedLen++;
  }
}

/**
 * `stateApply` on all threads (assembly/parallel.ts), then a walk in block order that touches the
 * accounts and credits the proposer as serial execution would. The applied count, -1 on OOM, or
 * -2 when the block must run serially (nothing changed): the proposer is a sender or recipient,
 * the fees could overflow its balance, an account is missing, or the schedule is too deep.
 */
function applyThreads(count: u32, txs: usize, hashes: usize, statuses: usize): i32 {
  const ph = kvHash(kvSeed(acc), PROPOSER, 32);
  let fees: u64 = 0;
  for (let i: u32 = 0; i < count; i++) {
    if (load<u32>(hashes + (<usize>i << 3)) == ph || load<u32>(hashes + (<usize>i << 3), 4) == ph) return -2;
    const fee = load<u64>(txs + <usize>i * TX_SIZE, 72);
    fees += fee;
    if (fees < fee) return -2;
  }
  if (proposerEntry == 0) proposerEntry = find(PROPOSER);
  const proposerBal: u64 = proposerEntry == 0 ? 0 : load<u64>(proposerEntry + V_BAL);
  if (proposerBal + fees < proposerBal) return -2;
  const jbytes = 2 * count * PAR_JREC;
  const journal = kvJournalTail(acc, jbytes);
  if (journal == 0) return -1;
  const rc = parApply(acc, txs, hashes, statuses, journal, count, epoch, dirtyStamp());
  if (rc <= 0) return rc == 0 ? -2 : -1;
  kvJournalExtend(acc, jbytes);
  const ents = parEntries();
  const flags = parFlags();
  let applied: i32 = 0;
  for (let i: u32 = 0; i < count; i++) {
    if (load<u8>(statuses + i) != ST_OK) continue;
    applied++;
    touchStamped(<usize>load<u32>(ents + (<usize>i << 3)), load<u8>(flags + (<usize>i << 1)));
    touchStamped(<usize>load<u32>(ents + (<usize>i << 3), 4), load<u8>(flags + (<usize>i << 1), 1));
    if (load<u64>(txs + <usize>i * TX_SIZE, 72) == 0) continue;
    if (proposerEntry == 0) proposerEntry = create(PROPOSER);
    else if (!touch(proposerEntry)) return -1;
    if (proposerEntry == 0) return -1;
  }
  const earned = parFees();
  if (earned != 0) store<u64>(proposerEntry + V_BAL, load<u64>(proposerEntry + V_BAL) + earned);
  return applied;
}

/** Number of accounts the open (or last) block touched. */
export function stateChangedCount(): u32 { return changedLen; }

/** Packs the touched accounts as 48-byte records; returns the buffer (0 on OOM). */
export function stateChanges(): usize {
  const out = bufEnsure(B_PACK, max<u32>(changedLen * REC_SIZE, 1), 0);
  if (out == 0) return 0;
  const changed = bufPtr(B_CHANGED);
  for (let i: u32 = 0; i < changedLen; i++) {
    copy48(out + <usize>i * REC_SIZE, <usize>load<u32>(changed + (<usize>i << 2)) + 8);
  }
  return out;
}

/** Packs every account as 48-byte records (snapshot order: table order); 0 on OOM. */
export function stateExportAll(): usize {
  const count = kvSize(acc);
  const out = bufEnsure(B_PACK, max<u32>(count * REC_SIZE, 1), 0);
  if (out == 0) return 0;
  let k: u32 = 0;
  for (let i = kvNextSlot(acc, 0); i >= 0; i = kvNextSlot(acc, <u32>i + 1)) {
    copy48(out + <usize>k * REC_SIZE, kvSlotEntry(acc, <u32>i) + 8);
    k++;
  }
  return out;
}

/** A buffer for `count` 48-byte account records to load; 0 on OOM. */
export function stateLoadBuffer(count: u32): usize {
  return bufEnsure(B_PACK, max<u32>(count * REC_SIZE, 1), 0);
}

/**
 * Sets the accounts in the load buffer (genesis, snapshot, log replay) outside any block, without
 * journaling; the root is recomputed lazily. Returns 0, -1 on OOM, -2 inside a block.
 */
export function stateLoad(count: u32): i32 {
  if (inBlock) return -2;
  const hashes = bufEnsure(B_HASH, max<u32>(count, 1) << 2, 0);
  if (hashes == 0 || !dirtyReserve(count)) return -1;
  const recs = bufPtr(B_PACK);
  hashKeys(recs, REC_SIZE, 0, count, 0, 1);
  for (let i: u32 = 0; i < count; i++) {
    const r = recs + <usize>i * REC_SIZE;
    if (i % GROUP == 0) lookahead(hashes, i, count);
    const h = load<u32>(hashes + (<usize>i << 2));
    let e = kvFindHashed(acc, r, 32, h);
    // A later record for the same address overwrites the earlier one (the ledger refuses such a
    // genesis by counting accounts afterwards: bindings/chain/ledger.ts `checkDistinct`).
    if (e == 0) e = kvInsertHashed(acc, r, 32, h, ZERO_VALUE, VAL_SIZE);
    if (e == 0) return -1;
    markDirty(e);
    store<u64>(e + V_BAL, load<u64>(r, 32));
    store<u64>(e + V_NONCE, load<u64>(r, 40));
  }
  return 0;
}

/**
 * Makes room for `more` accounts before a bulk load: the table sized once (no rehash while
 * loading) and the dirty list reserved. 0, or -1 on OOM (nothing loaded yet, state unchanged).
 */
export function stateReserve(more: u32): i32 {
  if (!kvReserve(acc, kvSize(acc) + more) || !dirtyReserve(more)) return -1;
  return 0;
}

/** Brings the state root up to date; returns its address (32 bytes), 0 on OOM. */
export function stateRoot(): usize { return commitRoot(); }

/** Proof material for the address in the address IO area (see commit.ts); 0 on OOM. */
export function stateProve(): usize {
  if (commitRoot() == 0) return 0;
  return commitProve(ADDR_IO);
}

/**
 * Test hook: moves the heap past `bytes` of untouched memory (allocated once and never used), so
 * that everything the state allocates afterwards lies at addresses of 2 GiB and more, which JS
 * receives as negative i32. 0, or -1 when out of memory.
 */
export function stateTestSkipHeap(bytes: u32): i32 {
  while (bytes > 0) {
    const step = min<u32>(bytes, ALLOC_MAX);
    if (alloc(step) == 0) return -1;
    bytes -= step;
  }
  return 0;
}
