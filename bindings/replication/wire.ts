/**
 * Wire form of replica messages: a strict binary codec with fixed-width fields and counted lists,
 * so decoding costs one pass over the bytes and nothing else — no number parsing, no nesting, no
 * per-object work beyond the counted entries. (The JSON form it replaces let one 16 MiB frame cost
 * 3–7 s of CPU: a 16M-digit bigint, 8M-deep nesting or 1M byte-array objects, issue 14.) Every
 * count is checked against the bytes that remain before anything is allocated.
 *
 * `version u8 = 1 ‖ type u8 ‖ epoch u64le ‖ body`, integers being safe integers (< 2^53):
 * - append (1): prevHeight u64 ‖ prevEpoch u64 ‖ commit u64 ‖ count u32 ‖
 *   count × (epoch u64 ‖ proposer 32 ‖ transfers u32 ‖ transfers × 157 bytes)
 * - appendReply (2): ok u8 (0|1) ‖ height u64
 * - vote (3): lastHeight u64 ‖ lastEpoch u64
 * - voteReply (4): granted u8 (0|1)
 * @module
 */
import { ChainDbError, ErrorCode, assert } from "../util/index.ts";
import type { Entry, ReplicaMessage } from "./types.ts";

/** Version byte of the wire form. */
export const REPLICA_WIRE_VERSION = 1;
/** Bytes of one encoded transfer inside an entry. */
export const WIRE_TRANSFER_SIZE = 157;
/** Most entries one append may carry (the primary sends at most `appendEntriesMax`, default 64). */
export const APPEND_ENTRIES_WIRE_MAX = 4096;
/** Most transfers one entry may carry on the wire. */
export const ENTRY_TRANSFERS_WIRE_MAX = 100_000;
const ENTRY_HEAD = 8 + 32 + 4;
const TYPE = { append: 1, appendReply: 2, vote: 3, voteReply: 4 } as const;

const bad = (why: string) => new ChainDbError(ErrorCode.BAD_MESSAGE, `bad replica message: ${why}`);

/** The encoded size of `m` in bytes. */
export function replicaMessageSize(m: ReplicaMessage): number {
  switch (m.t) {
    case "append":
      return 10 + 24 + 4 + m.entries.reduce((n, e) => n + ENTRY_HEAD + e.transfers.length, 0);
    case "appendReply":
      return 10 + 1 + 8;
    case "vote":
      return 10 + 16;
    case "voteReply":
      return 10 + 1;
  }
}

/** Encodes a replica message. */
export function encodeReplicaMessage(m: ReplicaMessage): Uint8Array {
  const w = new Writer(replicaMessageSize(m));
  w.u8(REPLICA_WIRE_VERSION).u8(TYPE[m.t]).u64(m.epoch);
  switch (m.t) {
    case "append":
      w.u64(m.prevHeight).u64(m.prevEpoch).u64(m.commit).u32(m.entries.length);
      for (const e of m.entries) {
        if (e.proposer.length !== 32 || e.transfers.length % WIRE_TRANSFER_SIZE !== 0)
          throw new ChainDbError(ErrorCode.BAD_ARGUMENT, "entry with a bad proposer or transfers length");
        w.u64(e.epoch)
          .bytes(e.proposer)
          .u32(e.transfers.length / WIRE_TRANSFER_SIZE)
          .bytes(e.transfers);
      }
      break;
    case "appendReply":
      w.u8(m.ok ? 1 : 0).u64(m.height);
      break;
    case "vote":
      w.u64(m.lastHeight).u64(m.lastEpoch);
      break;
    case "voteReply":
      w.u8(m.granted ? 1 : 0);
      break;
  }
  return w.done();
}

/** Decodes and checks a replica message; throws `BAD_MESSAGE` on anything else. */
export function decodeReplicaMessage(bytes: Uint8Array): ReplicaMessage {
  const r = new Reader(bytes);
  const version = r.u8();
  if (version !== REPLICA_WIRE_VERSION) throw bad(`unknown wire version ${version} at byte 0`);
  const type = r.u8();
  const epoch = r.u64("epoch");
  let m: ReplicaMessage;
  switch (type) {
    case TYPE.append: {
      const prevHeight = r.u64("prevHeight");
      const prevEpoch = r.u64("prevEpoch");
      const commit = r.u64("commit");
      const count = r.u32();
      if (count > APPEND_ENTRIES_WIRE_MAX || count * ENTRY_HEAD > r.left)
        throw bad(`${count} entries do not fit in ${r.left} bytes`);
      const entries: Entry[] = [];
      for (let i = 0; i < count; i++) entries.push(readEntry(r));
      m = { t: "append", epoch, prevHeight, prevEpoch, commit, entries };
      break;
    }
    case TYPE.appendReply:
      m = { t: "appendReply", epoch, ok: r.bool("ok"), height: r.u64("height") };
      break;
    case TYPE.vote:
      m = { t: "vote", epoch, lastHeight: r.u64("lastHeight"), lastEpoch: r.u64("lastEpoch") };
      break;
    case TYPE.voteReply:
      m = { t: "voteReply", epoch, granted: r.bool("granted") };
      break;
    default:
      throw bad(`unknown type ${type}`);
  }
  if (r.left !== 0) throw bad(`${r.left} trailing bytes`);
  return m;
}

function readEntry(r: Reader): Entry {
  const epoch = r.u64("entry epoch");
  const proposer = r.bytes(32);
  const transfers = r.u32();
  if (transfers > ENTRY_TRANSFERS_WIRE_MAX || transfers * WIRE_TRANSFER_SIZE > r.left)
    throw bad(`entry of ${transfers} transfers does not fit in ${r.left} bytes`);
  return { epoch, proposer, transfers: r.bytes(transfers * WIRE_TRANSFER_SIZE) };
}

class Reader {
  private at = 0;
  private readonly view: DataView;
  constructor(private readonly input: Uint8Array) {
    this.view = new DataView(input.buffer, input.byteOffset, input.byteLength);
  }
  get left(): number {
    return this.input.length - this.at;
  }
  private need(n: number): void {
    if (this.left < n) throw bad(`truncated at byte ${this.at} of ${this.input.length}`);
  }
  u8(): number {
    this.need(1);
    return this.input[this.at++]!;
  }
  u32(): number {
    this.need(4);
    const v = this.view.getUint32(this.at, true);
    this.at += 4;
    return v;
  }
  u64(name: string): number {
    this.need(8);
    const lo = this.view.getUint32(this.at, true);
    const hi = this.view.getUint32(this.at + 4, true);
    this.at += 8;
    if (hi >= 0x200000) throw bad(`${name} is not a safe integer`);
    return hi * 2 ** 32 + lo;
  }
  bool(name: string): boolean {
    const v = this.u8();
    if (v > 1) throw bad(`${name} is ${v}, not 0 or 1`);
    return v === 1;
  }
  bytes(n: number): Uint8Array {
    this.need(n);
    const out = this.input.slice(this.at, this.at + n);
    this.at += n;
    return out;
  }
}

class Writer {
  private at = 0;
  private readonly out: Uint8Array;
  private readonly view: DataView;
  constructor(size: number) {
    this.out = new Uint8Array(size);
    this.view = new DataView(this.out.buffer);
  }
  u8(v: number): this {
    this.out[this.at++] = v;
    return this;
  }
  u32(v: number): this {
    this.view.setUint32(this.at, v, true);
    this.at += 4;
    return this;
  }
  u64(v: number): this {
    if (!Number.isSafeInteger(v) || v < 0)
      throw new ChainDbError(ErrorCode.BAD_ARGUMENT, `expected a safe non-negative integer, got ${v}`);
    this.view.setUint32(this.at, v % 2 ** 32, true);
    this.view.setUint32(this.at + 4, Math.floor(v / 2 ** 32), true);
    this.at += 8;
    return this;
  }
  bytes(b: Uint8Array): this {
    this.out.set(b, this.at);
    this.at += b.length;
    return this;
  }
  done(): Uint8Array {
    assert(this.at === this.out.length, `wrote ${this.at} of ${this.out.length} bytes`);
    return this.out;
  }
}
