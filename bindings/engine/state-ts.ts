/**
 * The `ts` ledger state: the same state machine as assembly/state.ts on a JS Map and BigInt
 * arithmetic, with the same check order (so identical statuses) and the same tree (so identical
 * roots; the hashing definitions are shared with the proof verifier in bindings/chain/proof.ts).
 * @module
 */
import { assert } from "../util/index.ts";
import { accountRecord, bucketHash, bucketOf, nodeHash } from "./state-hash.ts";
import { binaryKey } from "./kv-ts.ts";
import type { AccountState, LedgerState } from "./state-types.ts";

const U64_MAX = (1n << 64n) - 1n;
const TX = 88;
const REC = 48;
const enum St { Ok = 0, BadNonce = 1, Insufficient = 2, Overflow = 3, Self = 4 }

interface Acc {
  readonly address: Uint8Array;
  balance: bigint;
  nonce: bigint;
  epoch: number;
}

function compareAddress(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < 32; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}

/** Creates an empty TypeScript ledger state with a tree of depth `treeDepth`. */
export function createTsState(treeDepth: number): LedgerState {
  return new TsState(treeDepth);
}

class TsState implements LedgerState {
  readonly engine = "ts" as const;
  private readonly accounts = new Map<string, Acc>();
  private readonly buckets = new Map<number, Acc[]>();
  private readonly nodes: Uint8Array;
  private readonly dirty = new Set<number>();
  private epoch = 0;
  private inBlock = false;
  private journal: Array<[Acc, bigint, bigint]> = [];
  private created: Acc[] = [];
  private changed: Acc[] = [];

  constructor(readonly treeDepth: number) {
    this.nodes = new Uint8Array(2 ** (treeDepth + 1) * 32);
    for (let level = treeDepth - 1; level >= 0; level--) {
      const first = 2 ** level;
      const child = this.node(2 * first);
      const h = nodeHash(child, child);
      for (let i = first; i < 2 * first; i++) this.nodes.set(h, i * 32);
    }
  }

  get accountCount(): number {
    return this.accounts.size;
  }

  private node(i: number): Uint8Array {
    return this.nodes.subarray(i * 32, i * 32 + 32);
  }

  private get(address: Uint8Array): Acc | undefined {
    return this.accounts.get(binaryKey(address));
  }

  private create(address: Uint8Array): Acc {
    const acc: Acc = { address: new Uint8Array(address.subarray(0, 32)), balance: 0n, nonce: 0n, epoch: this.epoch };
    this.accounts.set(binaryKey(acc.address), acc);
    const b = bucketOf(acc.address, this.treeDepth);
    let list = this.buckets.get(b);
    if (list === undefined) this.buckets.set(b, (list = []));
    list.push(acc);
    this.dirty.add(b);
    if (this.inBlock) {
      this.created.push(acc);
      this.changed.push(acc);
    }
    return acc;
  }

  private touch(acc: Acc): void {
    this.dirty.add(bucketOf(acc.address, this.treeDepth));
    if (!this.inBlock || acc.epoch === this.epoch) return;
    this.journal.push([acc, acc.balance, acc.nonce]);
    acc.epoch = this.epoch;
    this.changed.push(acc);
  }

  load(records: Uint8Array): void {
    assert(!this.inBlock, "load inside a block");
    const dv = new DataView(records.buffer, records.byteOffset, records.length);
    for (let o = 0; o + REC <= records.length; o += REC) {
      const address = records.subarray(o, o + 32);
      const acc = this.get(address) ?? this.create(address);
      this.touch(acc);
      acc.balance = dv.getBigUint64(o + 32, true);
      acc.nonce = dv.getBigUint64(o + 40, true);
    }
  }

  begin(): void {
    assert(!this.inBlock, "begin: a block is already open");
    this.inBlock = true;
    this.epoch++;
    this.journal = [];
    this.created = [];
    this.changed = [];
  }

  apply(packed: Uint8Array, count: number, proposer: Uint8Array): Uint8Array {
    assert(this.inBlock, "apply outside a block");
    const statuses = new Uint8Array(count);
    const dv = new DataView(packed.buffer, packed.byteOffset, packed.length);
    for (let i = 0; i < count; i++) statuses[i] = this.applyOne(packed, dv, i * TX, proposer);
    return statuses;
  }

  /** One transfer; the checks and their order mirror assembly/state.ts `applyOne`. */
  private applyOne(packed: Uint8Array, dv: DataView, o: number, proposer: Uint8Array): St {
    const from = packed.subarray(o, o + 32);
    const to = packed.subarray(o + 32, o + 64);
    const amount = dv.getBigUint64(o + 64, true);
    const fee = dv.getBigUint64(o + 72, true);
    const nonce = dv.getBigUint64(o + 80, true);
    if (compareAddress(from, to) === 0) return St.Self;
    const total = amount + fee;
    if (total > U64_MAX) return St.Overflow;
    let fa = this.get(from);
    const fromBal = fa?.balance ?? 0n;
    const fromNonce = fa?.nonce ?? 0n;
    if (nonce !== fromNonce) return St.BadNonce;
    if (fromBal < total) return St.Insufficient;
    if (fromNonce === U64_MAX) return St.Overflow;
    let ta = this.get(to);
    const toBal = ta?.balance ?? 0n;
    const proposerIsFrom = compareAddress(proposer, from) === 0;
    const proposerIsTo = compareAddress(proposer, to) === 0;
    const thirdParty = fee !== 0n && !proposerIsFrom && !proposerIsTo;
    const toGain = proposerIsTo ? total : amount;
    if (toBal + toGain > U64_MAX) return St.Overflow;
    let pa: Acc | undefined;
    if (thirdParty) {
      pa = this.get(proposer);
      if ((pa?.balance ?? 0n) + fee > U64_MAX) return St.Overflow;
    }
    if (fa === undefined) fa = this.create(from);
    else this.touch(fa);
    if (ta === undefined) ta = this.create(to);
    else this.touch(ta);
    if (thirdParty) {
      if (pa === undefined) pa = this.create(proposer);
      else this.touch(pa);
      pa.balance += fee;
    }
    fa.balance = fromBal - total + (proposerIsFrom ? fee : 0n);
    fa.nonce = fromNonce + 1n;
    ta.balance = toBal + toGain;
    return St.Ok;
  }

  commit(): void {
    assert(this.inBlock, "commit: no block is open");
    this.inBlock = false;
  }

  abort(): void {
    assert(this.inBlock, "abort: no block is open");
    for (let i = this.created.length - 1; i >= 0; i--) {
      const acc = this.created[i]!;
      const b = bucketOf(acc.address, this.treeDepth);
      const list = this.buckets.get(b)!;
      assert(list[list.length - 1] === acc, "creations are undone newest first");
      list.pop();
      this.accounts.delete(binaryKey(acc.address));
    }
    for (let i = this.journal.length - 1; i >= 0; i--) {
      const [acc, balance, nonce] = this.journal[i]!;
      acc.balance = balance;
      acc.nonce = nonce;
    }
    for (const acc of this.changed) this.dirty.add(bucketOf(acc.address, this.treeDepth));
    this.inBlock = false;
    this.journal = [];
    this.created = [];
    this.changed = [];
  }

  changes(): Uint8Array {
    const out = new Uint8Array(this.changed.length * REC);
    this.changed.forEach((a, i) => out.set(accountRecord(a.address, a.balance, a.nonce), i * REC));
    return out;
  }

  exportAll(): Uint8Array {
    const out = new Uint8Array(this.accounts.size * REC);
    let i = 0;
    for (const a of this.accounts.values()) out.set(accountRecord(a.address, a.balance, a.nonce), REC * i++);
    return out;
  }

  private sortedRecords(b: number): Uint8Array[] {
    const list = (this.buckets.get(b) ?? []).slice().sort((x, y) => compareAddress(x.address, y.address));
    return list.map((a) => accountRecord(a.address, a.balance, a.nonce));
  }

  root(): Uint8Array {
    if (this.dirty.size > 0) {
      let level = [...this.dirty].sort((a, b) => a - b).map((b) => {
        const i = 2 ** this.treeDepth + b;
        this.nodes.set(bucketHash(this.sortedRecords(b)), i * 32);
        return i;
      });
      this.dirty.clear();
      for (let d = 0; d < this.treeDepth; d++) {
        const parents = [...new Set(level.map((i) => Math.floor(i / 2)))];
        for (const p of parents) this.nodes.set(nodeHash(this.node(2 * p), this.node(2 * p + 1)), p * 32);
        level = parents;
      }
    }
    return this.node(1).slice();
  }

  account(address: Uint8Array): AccountState | undefined {
    const a = this.get(address);
    return a === undefined ? undefined : { balance: a.balance, nonce: a.nonce };
  }

  proofMaterial(address: Uint8Array): { members: Uint8Array; siblings: Uint8Array } {
    this.root();
    const b = bucketOf(address, this.treeDepth);
    const records = this.sortedRecords(b);
    const members = new Uint8Array(records.length * REC);
    records.forEach((r, i) => members.set(r, i * REC));
    const siblings = new Uint8Array(this.treeDepth * 32);
    let i = 2 ** this.treeDepth + b;
    for (let level = 0; level < this.treeDepth; level++) {
      siblings.set(this.node(i ^ 1), level * 32);
      i = Math.floor(i / 2);
    }
    return { members, siblings };
  }
}
