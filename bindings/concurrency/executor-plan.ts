/**
 * Scheduling and running a block of pre-verified transfers in parallel, in the manner of Solana's
 * Sealevel (Yakovenko, "Sealevel — Parallel Processing Thousands of Smart Contracts", 2019):
 * every transfer declares the accounts it touches (from, to), and transfers whose account sets
 * are connected — directly or through others — form one group that runs in block order on one
 * thread; different groups touch disjoint accounts, so any interleaving of groups gives the serial
 * result. Groups are the connected components of the account graph (union–find, Tarjan 1975).
 *
 * The proposer's fee credit would connect every fee-paying transfer; it commutes instead when it
 * cannot overflow and the proposer sends or receives nothing in the block, so it is summed per
 * thread and credited once at the end. Otherwise {@link planBlock} reports no plan and the block
 * runs serially.
 *
 * {@link runGroups} mirrors the checks, and their order, of `applyOne` in assembly/state.ts and
 * bindings/engine/state-ts.ts, so statuses and balances are identical to the serial engines'.
 * @module
 */
import { assert, toHex } from "../util/index.ts";
import {
  PACKED_AMOUNT,
  PACKED_FEE,
  PACKED_NONCE,
  PACKED_TO,
  PACKED_TRANSFER_SIZE as TX,
  TransferCode,
} from "../engine/index.ts";

const U64_MAX = (1n << 64n) - 1n;
/** Slot flags: the account exists (before or after the block); the block wrote it. */
export const EXISTS = 1;
/** See {@link EXISTS}. */
export const TOUCHED = 2;

/** Shared memory of one planned block; every field is a view over SharedArrayBuffers. */
export interface BlockPlan {
  /** Transfers in the block. */
  readonly count: number;
  /** The packed transfers (engine records, 88 bytes each), shared. */
  readonly packed: Uint8Array;
  /** Slot of each transfer's sender and recipient. */
  readonly fromSlot: Int32Array;
  readonly toSlot: Int32Array;
  /** Per slot: balance, nonce, flags. */
  readonly balance: BigUint64Array;
  readonly nonce: BigUint64Array;
  readonly flags: Uint8Array;
  /** Transfer indices grouped by component, block order inside a group; groups largest first. */
  readonly order: Int32Array;
  /** Group g is order[groupStart[g] .. groupStart[g+1]). */
  readonly groupStart: Int32Array;
  /** Status per transfer (a `TransferCode`). */
  readonly status: Uint8Array;
  /** [0]: next group to claim; the rest unused. */
  readonly ctl: Int32Array;
  /** Fees collected per thread (index = thread slot). */
  readonly fees: BigUint64Array;
  /** Distinct accounts, by slot (main thread only). */
  readonly addresses: Uint8Array[];
  /** Size of the largest group. */
  readonly largestGroup: number;
}

/** How to read an account's current state (the ledger's `account`). */
export type AccountReader = (address: Uint8Array) => { balance: bigint; nonce: bigint } | undefined;

// Views of exactly the asked length (a zero-length SharedArrayBuffer is avoided: 8 bytes minimum).
const shared = (bytes: number) => new SharedArrayBuffer(Math.max(8, bytes));
const sharedU8 = (n: number) => new Uint8Array(shared(n), 0, n);
const sharedI32 = (n: number) => new Int32Array(shared(n * 4), 0, n);
const sharedU64 = (n: number) => new BigUint64Array(shared(n * 8), 0, n);

/**
 * Plans a block: slots for its accounts (read through `read`), groups of connected transfers.
 * Returns undefined when the proposer's fees cannot be deferred (see the module comment).
 */
export function planBlock(
  packed: Uint8Array,
  count: number,
  proposer: Uint8Array,
  read: AccountReader,
  threads: number,
): BlockPlan | undefined {
  assert(packed.length >= count * TX, "planBlock: packed too short");
  const slotOf = new Map<string, number>();
  const addresses: Uint8Array[] = [];
  const fromSlot = sharedI32(count);
  const toSlot = sharedI32(count);
  const dv = new DataView(packed.buffer, packed.byteOffset, packed.length);
  const proposerKey = toHex(proposer);
  let fees = 0n;
  const slot = (o: number): number => {
    const address = packed.subarray(o, o + 32);
    const key = toHex(address);
    let s = slotOf.get(key);
    if (s === undefined) {
      s = addresses.length;
      slotOf.set(key, s);
      addresses.push(new Uint8Array(address));
    }
    return s;
  };
  for (let i = 0; i < count; i++) {
    fromSlot[i] = slot(i * TX);
    toSlot[i] = slot(i * TX + PACKED_TO);
    // A transfer whose amount + fee overflows fails before it pays: its fee never reaches the proposer.
    const fee = dv.getBigUint64(i * TX + PACKED_FEE, true);
    if (dv.getBigUint64(i * TX + PACKED_AMOUNT, true) + fee <= U64_MAX) fees += fee;
  }
  if (slotOf.has(proposerKey)) return undefined; // the proposer trades in this block
  const proposerBalance = read(proposer)?.balance ?? 0n;
  if (proposerBalance + fees > U64_MAX) return undefined; // a fee credit could overflow
  const n = addresses.length;
  const balance = sharedU64(n);
  const nonce = sharedU64(n);
  const flags = sharedU8(n);
  addresses.forEach((address, s) => {
    const a = read(address);
    if (a === undefined) return;
    balance[s] = a.balance;
    nonce[s] = a.nonce;
    flags[s] = EXISTS;
  });
  const { order, groupStart, largestGroup } = groupTransfers(fromSlot, toSlot, count, n);
  const sharedPacked = sharedU8(count * TX);
  sharedPacked.set(packed.subarray(0, count * TX));
  return {
    count,
    packed: sharedPacked,
    fromSlot,
    toSlot,
    balance,
    nonce,
    flags,
    order,
    groupStart,
    status: sharedU8(count),
    ctl: new Int32Array(shared(8)),
    fees: sharedU64(threads),
    addresses,
    largestGroup,
  };
}

/** Connected components of the transfers' account graph, as groups (largest first, block order inside). */
function groupTransfers(fromSlot: Int32Array, toSlot: Int32Array, count: number, slots: number) {
  const parent = new Int32Array(slots);
  for (let s = 0; s < slots; s++) parent[s] = s;
  const find = (s: number): number => {
    // Path halving; bounded by the tree height.
    while (parent[s] !== s) s = parent[s] = parent[parent[s]!]!;
    return s;
  };
  for (let i = 0; i < count; i++) {
    const a = find(fromSlot[i]!);
    const b = find(toSlot[i]!);
    if (a !== b) parent[a] = b;
  }
  const size = new Map<number, number>();
  for (let i = 0; i < count; i++) {
    const r = find(fromSlot[i]!);
    size.set(r, (size.get(r) ?? 0) + 1);
  }
  const roots = [...size.keys()].sort((x, y) => size.get(y)! - size.get(x)! || x - y);
  const start = new Map<number, number>();
  const groupStart = sharedI32(roots.length + 1);
  let at = 0;
  roots.forEach((r, g) => {
    groupStart[g] = at;
    start.set(r, at);
    at += size.get(r)!;
  });
  groupStart[roots.length] = at;
  assert(at === count, "every transfer is in one group");
  const order = sharedI32(count);
  for (let i = 0; i < count; i++) {
    const r = find(fromSlot[i]!);
    const p = start.get(r)!;
    order[p] = i;
    start.set(r, p + 1);
  }
  return { order, groupStart, largestGroup: roots.length > 0 ? size.get(roots[0]!)! : 0 };
}

/**
 * Claims groups from `plan.ctl[0]` until none are left, running each in block order; fees go to
 * `plan.fees[thread]`. Safe to call from several threads at once: groups share no slot.
 */
export function runGroups(plan: BlockPlan, thread: number): number {
  const { packed, fromSlot, toSlot, balance, nonce, flags, order, groupStart, status } = plan;
  const groups = groupStart.length - 1;
  const dv = new DataView(packed.buffer, packed.byteOffset, packed.length);
  let fees = 0n;
  let ran = 0;
  // Bounded: each iteration claims a distinct group index.
  for (;;) {
    const g = Atomics.add(plan.ctl, 0, 1);
    if (g >= groups) break;
    for (let p = groupStart[g]!; p < groupStart[g + 1]!; p++) {
      const i = order[p]!;
      const f = fromSlot[i]!;
      const t = toSlot[i]!;
      const o = i * TX;
      const amount = dv.getBigUint64(o + PACKED_AMOUNT, true);
      const fee = dv.getBigUint64(o + PACKED_FEE, true);
      // Same checks, same order as applyOne (the proposer is neither party: see planBlock).
      if (f === t) {
        status[i] = TransferCode.SELF_TRANSFER;
        continue;
      }
      const total = amount + fee;
      if (total > U64_MAX) {
        status[i] = TransferCode.OVERFLOW;
        continue;
      }
      const fromBal = balance[f]!;
      const fromNonce = nonce[f]!;
      if (dv.getBigUint64(o + PACKED_NONCE, true) !== fromNonce) {
        status[i] = TransferCode.BAD_NONCE;
        continue;
      }
      if (fromBal < total) {
        status[i] = TransferCode.INSUFFICIENT_FUNDS;
        continue;
      }
      if (fromNonce === U64_MAX || balance[t]! + amount > U64_MAX) {
        status[i] = TransferCode.OVERFLOW;
        continue;
      }
      balance[f] = fromBal - total;
      nonce[f] = fromNonce + 1n;
      balance[t] = balance[t]! + amount;
      flags[f] = EXISTS | TOUCHED;
      flags[t] = EXISTS | TOUCHED;
      fees += fee;
      status[i] = TransferCode.ok;
    }
    ran++;
  }
  plan.fees[thread] = plan.fees[thread]! + fees;
  return ran;
}
