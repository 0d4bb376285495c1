/**
 * Peer ledgers for `bench state`: other ways a JavaScript program could keep the same accounts
 * and apply the same packed transfers (88-byte records: from 32, to 32, amount, fee, nonce u64le),
 * with the rules of assembly/state.ts `applyOne` in the same order — SELF_TRANSFER, OVERFLOW of
 * amount + fee, BAD_NONCE, INSUFFICIENT_FUNDS, nonce OVERFLOW, recipient OVERFLOW, proposer
 * OVERFLOW — and the fee paid to the block's proposer. So their statuses equal the engines'
 * (test/bench/bench-peers.test.ts checks it against the ts engine on random blocks).
 *
 * What none of them does: no state root, no signatures, no change list for a block log, no undo
 * of a block (except the transaction rollback sqlite and lmdb have). The typed peers keep u64
 * values as JS numbers, exact to 2^53 − 1: a larger amount, balance or nonce is OVERFLOW there,
 * where chaindb's engines go to 2^64 − 1 (the benchmark's values stay far below 2^53).
 * @module
 */
import * as fs from "node:fs";
import * as path from "node:path";
import {
  ACCOUNT_RECORD_SIZE as REC,
  PACKED_TRANSFER_SIZE as TX,
  TransferCode,
} from "../bindings/engine/index.ts";
import { loadSqlite, NODE_VFS_NAME } from "../bindings/store/index.ts";

// The engines' status codes as module constants (what the peers' hot loops return).
const { ok: OK, BAD_NONCE, INSUFFICIENT_FUNDS: INSUFFICIENT, OVERFLOW, SELF_TRANSFER: SELF } = TransferCode;
const MAX = Number.MAX_SAFE_INTEGER;
const MAX_BIG = (1n << 64n) - 1n;

/** A ledger peer: applies one block of packed transfers at a time. */
export interface LedgerPeer {
  readonly id: LedgerPeerId;
  /** Short name for rows ("tuned Map + typed arrays"). */
  readonly label: string;
  /** One sentence: what it does and does not do. */
  readonly does: string;
  /** Applies `count` transfers as one block; one status code per transfer (0 = ok). */
  applyBlock(packed: Uint8Array, count: number, proposer: Uint8Array): Uint8Array;
  /** Balance and nonce of an account (for cross-checks), or undefined. */
  account(address: Uint8Array): { balance: bigint; nonce: bigint } | undefined;
  close(): Promise<void>;
}

/** The peers `bench state` measures, by id. */
export const LEDGER_PEERS = ["naive-map", "tuned-map", "sqlite-memory", "sqlite-durable", "lmdb"] as const;
/** A peer id. */
export type LedgerPeerId = (typeof LEDGER_PEERS)[number];

/** Opens a peer loaded with `genesis` (48-byte records: address, balance u64le, nonce u64le). */
export async function openLedgerPeer(
  id: LedgerPeerId,
  genesis: Uint8Array,
  dir: string,
): Promise<LedgerPeer> {
  fs.mkdirSync(dir, { recursive: true });
  switch (id) {
    case "naive-map":
      return new NaiveMapLedger(genesis);
    case "tuned-map":
      return new TunedMapLedger(genesis);
    case "sqlite-memory":
      return openSqliteLedger(genesis, undefined);
    case "sqlite-durable":
      return openSqliteLedger(genesis, path.join(dir, "peer-ledger.sqlite"));
    case "lmdb":
      return openLmdbLedger(genesis, path.join(dir, "peer-ledger.lmdb"));
  }
}

/** A u64le field as a number, or Infinity when it is above 2^53 − 1 (then OVERFLOW). */
function u64(bytes: Uint8Array, o: number): number {
  const lo = (bytes[o]! | (bytes[o + 1]! << 8) | (bytes[o + 2]! << 16) | (bytes[o + 3]! << 24)) >>> 0;
  const hi = (bytes[o + 4]! | (bytes[o + 5]! << 8) | (bytes[o + 6]! << 16) | (bytes[o + 7]! << 24)) >>> 0;
  return hi >= 0x200000 ? Infinity : hi * 4294967296 + lo;
}

function sameAddress(a: Uint8Array, ao: number, b: Uint8Array, bo: number): boolean {
  for (let i = 0; i < 32; i++) if (a[ao + i] !== b[bo + i]) return false;
  return true;
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * What a JavaScript developer writes first: `Map<hex, { balance, nonce }>` with BigInt values
 * (full u64 range) and a fresh hex string per lookup.
 */
class NaiveMapLedger implements LedgerPeer {
  readonly id = "naive-map" as const;
  readonly label = "naive Map<hex, {balance, nonce}>";
  readonly does =
    "BigInt balances in one object per account, keyed by hex strings; in memory; no root, no signatures, no undo";
  private readonly accounts = new Map<string, { balance: bigint; nonce: bigint }>();

  constructor(genesis: Uint8Array) {
    const dv = new DataView(genesis.buffer, genesis.byteOffset, genesis.byteLength);
    for (let o = 0; o < genesis.length; o += REC) {
      this.accounts.set(Buffer.from(genesis.subarray(o, o + 32)).toString("hex"), {
        balance: dv.getBigUint64(o + 32, true),
        nonce: dv.getBigUint64(o + 40, true),
      });
    }
  }

  applyBlock(packed: Uint8Array, count: number, proposer: Uint8Array): Uint8Array {
    const statuses = new Uint8Array(count);
    const dv = new DataView(packed.buffer, packed.byteOffset, packed.byteLength);
    const p = Buffer.from(proposer).toString("hex");
    for (let i = 0; i < count; i++) {
      const o = i * TX;
      const from = Buffer.from(packed.subarray(o, o + 32)).toString("hex");
      const to = Buffer.from(packed.subarray(o + 32, o + 64)).toString("hex");
      statuses[i] = this.transfer(
        from,
        to,
        p,
        dv.getBigUint64(o + 64, true),
        dv.getBigUint64(o + 72, true),
        dv.getBigUint64(o + 80, true),
      );
    }
    return statuses;
  }

  private transfer(
    from: string,
    to: string,
    proposer: string,
    amount: bigint,
    fee: bigint,
    nonce: bigint,
  ): number {
    if (from === to) return SELF;
    const total = amount + fee;
    if (total > MAX_BIG) return OVERFLOW;
    const fa = this.accounts.get(from) ?? { balance: 0n, nonce: 0n };
    if (nonce !== fa.nonce) return BAD_NONCE;
    if (fa.balance < total) return INSUFFICIENT;
    if (fa.nonce === MAX_BIG) return OVERFLOW;
    const ta = this.accounts.get(to) ?? { balance: 0n, nonce: 0n };
    const thirdParty = fee !== 0n && proposer !== from && proposer !== to;
    const toGain = proposer === to ? total : amount;
    if (ta.balance + toGain > MAX_BIG) return OVERFLOW;
    const pa = thirdParty ? (this.accounts.get(proposer) ?? { balance: 0n, nonce: 0n }) : undefined;
    if (pa && pa.balance + fee > MAX_BIG) return OVERFLOW;
    if (pa) this.accounts.set(proposer, { balance: pa.balance + fee, nonce: pa.nonce });
    this.accounts.set(from, {
      balance: fa.balance - total + (proposer === from ? fee : 0n),
      nonce: fa.nonce + 1n,
    });
    this.accounts.set(to, { balance: ta.balance + toGain, nonce: ta.nonce });
    return OK;
  }

  account(address: Uint8Array): { balance: bigint; nonce: bigint } | undefined {
    const a = this.accounts.get(Buffer.from(address).toString("hex"));
    return a && { ...a };
  }

  async close(): Promise<void> {
    this.accounts.clear();
  }
}

/**
 * The fastest plain-JavaScript ledger we could write: `Map<hex, slot>` into two Float64Arrays
 * (balance, nonce), the hex string taken natively from a Buffer over the block without a copy.
 * Native hex was 4–8× faster than a 32-step table-lookup hex here (1M keys into a Map); latin1
 * or String.fromCharCode keys were no faster.
 */
class TunedMapLedger implements LedgerPeer {
  readonly id = "tuned-map" as const;
  readonly label = "tuned Map<hex, slot> + typed arrays";
  readonly does =
    "Map from hex to a slot in two Float64Arrays (exact to 2^53 − 1); in memory; no root, no signatures, no undo";
  private readonly slots = new Map<string, number>();
  private balances: Float64Array;
  private nonces: Float64Array;
  private count = 0;

  constructor(genesis: Uint8Array) {
    const n = genesis.length / REC;
    this.balances = new Float64Array(Math.max(16, n * 2));
    this.nonces = new Float64Array(this.balances.length);
    const g = asBuffer(genesis);
    for (let o = 0; o < genesis.length; o += REC) {
      const s = this.slotOf(g.toString("hex", o, o + 32), true);
      this.balances[s] = u64(genesis, o + 32);
      this.nonces[s] = u64(genesis, o + 40);
    }
  }

  private slotOf(key: string, create: boolean): number {
    const s = this.slots.get(key);
    if (s !== undefined || !create) return s ?? -1;
    if (this.count === this.balances.length) this.grow();
    this.slots.set(key, this.count);
    return this.count++;
  }

  private grow(): void {
    const b = new Float64Array(this.balances.length * 2);
    const n = new Float64Array(b.length);
    b.set(this.balances);
    n.set(this.nonces);
    this.balances = b;
    this.nonces = n;
  }

  applyBlock(packed: Uint8Array, count: number, proposer: Uint8Array): Uint8Array {
    const statuses = new Uint8Array(count);
    const block = asBuffer(packed);
    const pKey = asBuffer(proposer).toString("hex", 0, 32);
    for (let i = 0; i < count; i++) statuses[i] = this.transfer(packed, block, i * TX, proposer, pKey);
    return statuses;
  }

  private transfer(packed: Uint8Array, block: Buffer, o: number, proposer: Uint8Array, pKey: string): number {
    if (sameAddress(packed, o, packed, o + 32)) return SELF;
    const amount = u64(packed, o + 64);
    const fee = u64(packed, o + 72);
    const total = amount + fee;
    if (total > MAX) return OVERFLOW;
    const fromKey = block.toString("hex", o, o + 32);
    let fSlot = this.slotOf(fromKey, false);
    const fromBal = fSlot < 0 ? 0 : this.balances[fSlot]!;
    const fromNonce = fSlot < 0 ? 0 : this.nonces[fSlot]!;
    if (u64(packed, o + 80) !== fromNonce) return BAD_NONCE;
    if (fromBal < total) return INSUFFICIENT;
    if (fromNonce === MAX) return OVERFLOW;
    const toKey = block.toString("hex", o + 32, o + 64);
    let tSlot = this.slotOf(toKey, false);
    const toBal = tSlot < 0 ? 0 : this.balances[tSlot]!;
    const pFrom = sameAddress(proposer, 0, packed, o);
    const pTo = sameAddress(proposer, 0, packed, o + 32);
    const thirdParty = fee !== 0 && !pFrom && !pTo;
    const toGain = pTo ? total : amount;
    if (toBal + toGain > MAX) return OVERFLOW;
    let pSlot = thirdParty ? this.slotOf(pKey, false) : -1;
    if (thirdParty && (pSlot < 0 ? 0 : this.balances[pSlot]!) + fee > MAX) return OVERFLOW;
    if (fSlot < 0) fSlot = this.slotOf(fromKey, true);
    if (tSlot < 0) tSlot = this.slotOf(toKey, true);
    if (thirdParty) {
      if (pSlot < 0) pSlot = this.slotOf(pKey, true);
      this.balances[pSlot]! += fee;
    }
    this.balances[fSlot] = fromBal - total + (pFrom ? fee : 0);
    this.nonces[fSlot] = fromNonce + 1;
    this.balances[tSlot] = toBal + toGain;
    return OK;
  }

  account(address: Uint8Array): { balance: bigint; nonce: bigint } | undefined {
    const s = this.slotOf(asBuffer(address).toString("hex", 0, 32), false);
    return s < 0 ? undefined : { balance: BigInt(this.balances[s]!), nonce: BigInt(this.nonces[s]!) };
  }

  async close(): Promise<void> {
    this.slots.clear();
  }
}

/** Reads and writes accounts of a keyed store (sqlite, lmdb) as numbers. */
interface NumberAccounts {
  /** Balance and nonce of `key` into `out[at]`, `out[at + 1]` (0, 0 when absent). */
  read(key: Uint8Array, out: Float64Array, at: number): void;
  write(key: Uint8Array, balance: number, nonce: number): void;
}

/** The transfer rules over a keyed store; the same checks in the same order as the engines. */
function applyKeyed(
  store: NumberAccounts,
  packed: Uint8Array,
  count: number,
  proposer: Uint8Array,
): Uint8Array {
  const statuses = new Uint8Array(count);
  const v = new Float64Array(6); // from balance, nonce; to balance, nonce; proposer balance, nonce
  for (let i = 0; i < count; i++) {
    const o = i * TX;
    statuses[i] = keyedTransfer(store, packed, o, proposer, v);
  }
  return statuses;
}

function keyedTransfer(
  store: NumberAccounts,
  packed: Uint8Array,
  o: number,
  proposer: Uint8Array,
  v: Float64Array,
): number {
  if (sameAddress(packed, o, packed, o + 32)) return SELF;
  const amount = u64(packed, o + 64);
  const fee = u64(packed, o + 72);
  const total = amount + fee;
  if (total > MAX) return OVERFLOW;
  const from = packed.subarray(o, o + 32);
  store.read(from, v, 0);
  if (u64(packed, o + 80) !== v[1]) return BAD_NONCE;
  if (v[0]! < total) return INSUFFICIENT;
  if (v[1] === MAX) return OVERFLOW;
  const to = packed.subarray(o + 32, o + 64);
  store.read(to, v, 2);
  const pFrom = sameAddress(proposer, 0, packed, o);
  const pTo = sameAddress(proposer, 0, packed, o + 32);
  const thirdParty = fee !== 0 && !pFrom && !pTo;
  const toGain = pTo ? total : amount;
  if (v[2]! + toGain > MAX) return OVERFLOW;
  if (thirdParty) {
    store.read(proposer, v, 4);
    if (v[4]! + fee > MAX) return OVERFLOW;
    store.write(proposer, v[4]! + fee, v[5]!);
  }
  store.write(from, v[0]! - total + (pFrom ? fee : 0), v[1]! + 1);
  store.write(to, v[2]! + toGain, v[3]!);
  return OK;
}

/**
 * sqlite-wasm (the same build chaindb's durable log uses): a WITHOUT ROWID table of accounts,
 * prepared statements, one transaction per block; on disk through the node:fs VFS with WAL and
 * `synchronous=FULL` (an fsync per committed block), as bindings/store/durable.ts opens its files.
 */
async function openSqliteLedger(genesis: Uint8Array, file: string | undefined): Promise<LedgerPeer> {
  const sqlite3 = await loadSqlite();
  const db =
    file === undefined
      ? new sqlite3.oo1.DB(":memory:", "c")
      : new sqlite3.oo1.DB({ filename: file, flags: "c", vfs: NODE_VFS_NAME });
  if (file !== undefined)
    db.exec("PRAGMA locking_mode=EXCLUSIVE; PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL");
  db.exec(
    "CREATE TABLE account (address BLOB PRIMARY KEY, balance INTEGER NOT NULL, nonce INTEGER NOT NULL) WITHOUT ROWID",
  );
  const select = db.prepare("SELECT balance, nonce FROM account WHERE address = ?");
  const upsert = db.prepare("INSERT OR REPLACE INTO account VALUES (?, ?, ?)");
  const store: NumberAccounts = {
    read(key, out, at) {
      select.bind([key]);
      const found = select.step();
      out[at] = found ? Number(select.get(0)) : 0;
      out[at + 1] = found ? Number(select.get(1)) : 0;
      select.reset();
    },
    write(key, balance, nonce) {
      upsert.bind([key, balance, nonce]).stepReset();
    },
  };
  db.exec("BEGIN");
  for (let o = 0; o < genesis.length; o += REC)
    store.write(genesis.subarray(o, o + 32), u64(genesis, o + 32), u64(genesis, o + 40));
  db.exec("COMMIT");
  const where = file === undefined ? "in memory" : "on disk (node:fs VFS, WAL, fsync per block)";
  return {
    id: file === undefined ? ("sqlite-memory" as const) : ("sqlite-durable" as const),
    label: `sqlite-wasm ${file === undefined ? "in memory" : "durable"}`,
    does: `a WITHOUT ROWID account table ${where}, prepared statements, one transaction per block; no root, no signatures`,
    applyBlock(packed, count, proposer) {
      db.exec("BEGIN");
      try {
        const statuses = applyKeyed(store, packed, count, proposer);
        db.exec("COMMIT");
        return statuses;
      } catch (e) {
        db.exec("ROLLBACK");
        throw e;
      }
    },
    account(address) {
      select.bind([address]);
      const found = select.step()
        ? { balance: BigInt(select.get(0)), nonce: BigInt(select.get(1)) }
        : undefined;
      select.reset();
      return found;
    },
    async close() {
      select.finalize();
      upsert.finalize();
      db.close();
    },
  };
}

/** Minimal typing of the lmdb package (a devDependency, loaded dynamically). */
interface LmdbDb {
  getBinaryFast(key: Uint8Array): Uint8Array | undefined;
  put(key: Uint8Array, value: Uint8Array): unknown;
  transactionSync<T>(fn: () => T): T;
  close(): Promise<void>;
}

/** Why lmdb cannot load here, or undefined when it can (the suite goes on without it). */
export async function lmdbUnavailable(): Promise<string | undefined> {
  try {
    await import("lmdb");
    return undefined;
  } catch (e) {
    return `lmdb could not be loaded: ${(e as Error).message.split("\n")[0]}`;
  }
}

/** lmdb (native, memory-mapped B+tree): 16-byte values, one synchronous write transaction (fsync) per block. */
async function openLmdbLedger(genesis: Uint8Array, file: string): Promise<LedgerPeer> {
  const { open } = (await import("lmdb")) as unknown as { open(this: void, o: object): LmdbDb };
  // A path with an extension is one file (lmdb's noSubdir), beside sqlite's in the peer's folder.
  const db = open({ path: file, keyEncoding: "binary", encoding: "binary" });
  const value = Buffer.alloc(16);
  const store: NumberAccounts = {
    read(key, out, at) {
      const v = db.getBinaryFast(key);
      out[at] = v ? u64(v, 0) : 0;
      out[at + 1] = v ? u64(v, 8) : 0;
    },
    write(key, balance, nonce) {
      value.writeUInt32LE(balance % 4294967296, 0);
      value.writeUInt32LE(Math.floor(balance / 4294967296), 4);
      value.writeUInt32LE(nonce % 4294967296, 8);
      value.writeUInt32LE(Math.floor(nonce / 4294967296), 12);
      db.put(key, value);
    },
  };
  db.transactionSync(() => {
    for (let o = 0; o < genesis.length; o += REC)
      store.write(genesis.subarray(o, o + 32), u64(genesis, o + 32), u64(genesis, o + 40));
  });
  return {
    id: "lmdb" as const,
    label: "lmdb durable",
    does: "lmdb 3 (native B+tree, memory-mapped) with 16-byte account values, one synchronous write transaction (fsync) per block; no root, no signatures",
    applyBlock: (packed, count, proposer) =>
      db.transactionSync(() => applyKeyed(store, packed, count, proposer)),
    account(address) {
      const v = db.getBinaryFast(address);
      return v ? { balance: BigInt(u64(v, 0)), nonce: BigInt(u64(v, 8)) } : undefined;
    },
    close: () => db.close(),
  };
}
