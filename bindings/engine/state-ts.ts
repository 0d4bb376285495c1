/**
 * The `ts` ledger state: the same state machine as assembly/state.ts on a JS Map and BigInt
 * arithmetic, with the same check order (so identical statuses) and the same sparse Merkle tree
 * (so identical roots; the hashing definitions in state-hash.ts are shared with the proof verifier
 * in bindings/chain/proof.ts). The tree is built of objects: a leaf is the account itself, an
 * inner node holds two children and its cached hash. Invariant: when a leaf's hash is stale
 * (null), so is every node above it, so `root()` rehashes only the stale paths.
 * @module
 */
import { assert } from "../util/index.ts";
import { EMPTY_HASH, SMT_DEPTH_MAX, accountRecord, leafHash, nodeHash, pathBit, pathOf } from "./state-hash.ts";
import { binaryKey } from "./kv-ts.ts";
import type { AccountState, LedgerState, LoadProgress, ProofMaterial } from "./state-types.ts";

const U64_MAX = (1n << 64n) - 1n;
const TX = 88;
const REC = 48;
const LOAD_CHUNK = 1 << 16;
const enum St { Ok = 0, BadNonce = 1, Insufficient = 2, Overflow = 3, Self = 4 }

class Acc {
  /** SHA-256 of the address: the key in the tree. */
  readonly path: Uint8Array;
  /** leaf(a), or null when stale. */
  hash: Uint8Array | null = null;
  constructor(readonly address: Uint8Array, public balance: bigint, public nonce: bigint, public epoch: number) {
    this.path = pathOf(address);
  }
}

class Inner {
  c0: Child = null;
  c1: Child = null;
  /** SHA256(h(c0) ‖ h(c1)), or null when stale. */
  hash: Uint8Array | null = null;
}

type Child = Acc | Inner | null;

function compareAddress(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < 32; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}

function childAt(n: Inner, side: number): Child {
  return side === 0 ? n.c0 : n.c1;
}

function setChild(n: Inner, side: number, c: Child): void {
  if (side === 0) n.c0 = c;
  else n.c1 = c;
}

function hashOf(c: Child): Uint8Array {
  if (c === null) return EMPTY_HASH;
  if (c instanceof Acc) return (c.hash ??= leafHash(accountRecord(c.address, c.balance, c.nonce)));
  return (c.hash ??= nodeHash(hashOf(c.c0), hashOf(c.c1)));
}

/** Creates an empty TypeScript ledger state. */
export function createTsState(): LedgerState {
  return new TsState();
}

class TsState implements LedgerState {
  readonly engine = "ts" as const;
  private readonly accounts = new Map<string, Acc>();
  /** The root slot; `rootHolder.c0` is the tree. */
  private readonly rootHolder = new Inner();
  private nodes = 0;
  private epoch = 0;
  private inBlock = false;
  private journal: Array<[Acc, bigint, bigint]> = [];
  private created: Acc[] = [];
  private changed: Acc[] = [];

  get accountCount(): number {
    return this.accounts.size;
  }

  private get(address: Uint8Array): Acc | undefined {
    return this.accounts.get(binaryKey(address));
  }

  get nodeCount(): number {
    return this.nodes;
  }

  private create(address: Uint8Array): Acc {
    const acc = new Acc(new Uint8Array(address.subarray(0, 32)), 0n, 0n, this.epoch);
    this.accounts.set(binaryKey(acc.address), acc);
    this.insert(acc);
    if (this.inBlock) {
      this.created.push(acc);
      this.changed.push(acc);
    }
    return acc;
  }

  /** Puts a new account into the tree: into an empty slot, or splitting the leaf it meets. */
  private insert(acc: Acc): void {
    const path = acc.path;
    let n: Inner = this.rootHolder;
    let side = 0;
    let d = 0;
    for (let c = childAt(n, side); c instanceof Inner; c = childAt(n, side)) {
      c.hash = null;
      n = c;
      side = pathBit(path, d++);
    }
    const q = childAt(n, side);
    if (q === null) {
      setChild(n, side, acc);
      return;
    }
    assert(q instanceof Acc, "a leaf ends the walk");
    // Nodes down to the first bit where the two paths part, one per level.
    for (;;) {
      assert(d < SMT_DEPTH_MAX, "two addresses with one SHA-256 path");
      const m = new Inner();
      this.nodes++;
      setChild(n, side, m);
      const bq = pathBit(q.path, d);
      const ba = pathBit(path, d);
      if (bq !== ba) {
        setChild(m, bq, q);
        setChild(m, ba, acc);
        return;
      }
      n = m;
      side = ba;
      d++;
    }
  }

  /** Takes a leaf out of the tree (undoing a creation), lifting a leaf left alone back up. */
  private remove(acc: Acc): void {
    const stack: Array<[Inner, number]> = [];
    let n: Inner = this.rootHolder;
    let side = 0;
    let d = 0;
    for (let c = childAt(n, side); c instanceof Inner; c = childAt(n, side)) {
      c.hash = null;
      stack.push([n, side]);
      n = c;
      side = pathBit(acc.path, d++);
    }
    assert(childAt(n, side) === acc, "remove: the account is in the tree");
    setChild(n, side, null);
    // n is the deepest node; while it holds one leaf and one empty child, the leaf moves up.
    while (stack.length > 0) {
      const lone = n.c0 === null && n.c1 instanceof Acc ? n.c1 : n.c1 === null && n.c0 instanceof Acc ? n.c0 : undefined;
      if (lone === undefined) return;
      const [up, upSide] = stack.pop()!;
      setChild(up, upSide, lone);
      this.nodes--;
      n = up;
    }
  }

  /** Marks an account's leaf and the nodes above it stale (once per root). */
  private stale(acc: Acc): void {
    if (acc.hash === null) return;
    acc.hash = null;
    let n: Inner = this.rootHolder;
    let side = 0;
    let d = 0;
    for (let c = childAt(n, side); c instanceof Inner; c = childAt(n, side)) {
      c.hash = null;
      n = c;
      side = pathBit(acc.path, d++);
    }
  }

  /** Marks an account changed; inside a block, journals it once per block. */
  private touch(acc: Acc): void {
    this.stale(acc);
    if (!this.inBlock || acc.epoch === this.epoch) return;
    this.journal.push([acc, acc.balance, acc.nonce]);
    acc.epoch = this.epoch;
    this.changed.push(acc);
  }

  load(records: Uint8Array, onProgress?: LoadProgress): void {
    assert(!this.inBlock, "load inside a block");
    const dv = new DataView(records.buffer, records.byteOffset, records.length);
    const total = Math.floor(records.length / REC);
    for (let o = 0; o + REC <= records.length; o += REC) {
      if (onProgress !== undefined && o > 0 && (o / REC) % LOAD_CHUNK === 0) onProgress(o / REC, total);
      const address = records.subarray(o, o + 32);
      const acc = this.get(address) ?? this.create(address);
      this.touch(acc);
      acc.balance = dv.getBigUint64(o + 32, true);
      acc.nonce = dv.getBigUint64(o + 40, true);
    }
    onProgress?.(total, total);
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
      this.remove(acc);
      this.accounts.delete(binaryKey(acc.address));
    }
    for (let i = this.journal.length - 1; i >= 0; i--) {
      const [acc, balance, nonce] = this.journal[i]!;
      this.stale(acc);
      acc.balance = balance;
      acc.nonce = nonce;
    }
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

  root(): Uint8Array {
    return hashOf(this.rootHolder.c0).slice();
  }

  account(address: Uint8Array): AccountState | undefined {
    const a = this.get(address);
    return a === undefined ? undefined : { balance: a.balance, nonce: a.nonce };
  }

  proofMaterial(address: Uint8Array): ProofMaterial {
    this.root();
    const path = pathOf(address);
    const siblings: Uint8Array[] = [];
    let c = this.rootHolder.c0;
    for (let d = 0; c instanceof Inner; d++) {
      const b = pathBit(path, d);
      siblings.push(hashOf(childAt(c, b ^ 1)));
      c = childAt(c, b);
    }
    const out = new Uint8Array(siblings.length * 32);
    siblings.forEach((h, i) => out.set(h, i * 32));
    const leaf = c === null ? undefined : accountRecord(c.address, c.balance, c.nonce);
    return { depth: siblings.length, leaf, siblings: out };
  }
}
