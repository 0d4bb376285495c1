/**
 * Canonical encodings of consensus messages: the bytes a validator signs (domain tag, chain id,
 * type, height, round, and for a proposal its validRound, then the value id), and a strict binary
 * codec for the wire and the write-ahead log. Signatures are ed25519 (RFC 8032) through
 * bindings/chain's keys. The chain id in the signed bytes stops replay across chains, the type
 * byte stops a prevote from being replayed as a precommit.
 * @module
 */
import { createHash } from "node:crypto";
import { ed25519Sign, ed25519Verify } from "../chain/index.ts";
import { ChainDbError, ErrorCode, assert } from "../util/index.ts";
import {
  VoteType,
  type CommitCertificate,
  type Evidence,
  type Message,
  type Proposal,
  type Vote,
} from "./types.ts";

const DOMAIN = new TextEncoder().encode("chaindb/consensus/1");
/** Largest value (block) the codec accepts. */
export const VALUE_BYTES_MAX = 16 << 20;
/** Most precommits a certificate may carry (bounds decoding work). */
export const CERTIFICATE_VOTES_MAX = 1024;
/** Largest height the engine accepts (heights are plain numbers: keep them exact). */
export const HEIGHT_MAX = Number.MAX_SAFE_INTEGER;
/** Largest round (rounds are u32 on the wire; a run never gets near this). */
export const ROUND_MAX = 0x7fff_ffff;
const PROPOSAL_TYPE = 0;

/** The id of a value: sha256 of its bytes. */
export function valueIdOf(value: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha256").update(value).digest());
}

/** The bytes a proposer signs for `p` on chain `chainId`. */
export function proposalSignBytes(
  chainId: string,
  p: Pick<Proposal, "height" | "round" | "validRound" | "valueId">,
): Uint8Array {
  return signBytes(chainId, PROPOSAL_TYPE, p.height, p.round, p.validRound, p.valueId);
}

/** The bytes a validator signs for `v` on chain `chainId`. */
export function voteSignBytes(
  chainId: string,
  v: Pick<Vote, "type" | "height" | "round" | "valueId">,
): Uint8Array {
  return signBytes(chainId, v.type, v.height, v.round, -1, v.valueId);
}

function signBytes(
  chainId: string,
  type: number,
  height: number,
  round: number,
  validRound: number,
  id: Uint8Array | null,
): Uint8Array {
  const chain = new TextEncoder().encode(chainId);
  assert(chain.length <= 255, "chain id longer than 255 bytes");
  const w = new Writer(DOMAIN.length + 1 + chain.length + 1 + 8 + 4 + 4 + 1 + 32);
  w.bytes(DOMAIN)
    .u8(chain.length)
    .bytes(chain)
    .u8(type)
    .u64(height)
    .u32(round)
    .u32(validRound + 1);
  w.u8(id === null ? 0 : 1).bytes(id ?? new Uint8Array(32));
  return w.done();
}

/** Signs a proposal for `height`/`round` carrying `value`. */
export function signProposal(
  chainId: string,
  secretKey: Uint8Array,
  publicKey: Uint8Array,
  fields: { height: number; round: number; validRound: number; value: Uint8Array },
): Proposal {
  const valueId = valueIdOf(fields.value);
  const unsigned = { height: fields.height, round: fields.round, validRound: fields.validRound, valueId };
  const signature = ed25519Sign(secretKey, proposalSignBytes(chainId, unsigned));
  return { kind: "proposal", ...unsigned, value: fields.value, proposer: publicKey, signature };
}

/** Signs a vote. */
export function signVote(
  chainId: string,
  secretKey: Uint8Array,
  publicKey: Uint8Array,
  fields: { type: VoteType; height: number; round: number; valueId: Uint8Array | null },
): Vote {
  const signature = ed25519Sign(secretKey, voteSignBytes(chainId, fields));
  return { kind: "vote", ...fields, validator: publicKey, signature };
}

/** Checks a signature; injected so a simulation can share one cache across all its nodes. */
export type Verifier = (publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array) => boolean;

/** The plain ed25519 verifier. */
export const verifyEd25519: Verifier = ed25519Verify;

/**
 * A verifier that remembers results (verification is a pure function of key, message and
 * signature); at most `max` entries. The key is part of the cache key: without it a signature
 * verified for A would be accepted for the same bytes relabelled as C's.
 */
export function cachingVerifier(max = 1 << 16): Verifier {
  const cache = new Map<string, boolean>();
  return (publicKey, message, signature) => {
    // Lengths first, so no two (key, signature, message) triples concatenate to one string.
    const key =
      `${publicKey.length}/${signature.length}/` + latin1(publicKey) + latin1(signature) + latin1(message);
    const hit = cache.get(key);
    if (hit !== undefined) return hit;
    const ok = ed25519Verify(publicKey, message, signature);
    if (cache.size >= max) cache.clear();
    cache.set(key, ok);
    return ok;
  };
}

function latin1(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("latin1");
}

const EMPTY_ID = valueIdOf(new Uint8Array(0));

/**
 * A proposal's header: the same signed fields with the value left out. The signature covers the
 * value's id, not its bytes, so a header proves what the proposer signed at a few hundred bytes
 * instead of a block's size; headers are what is relayed for equivocation detection and kept in
 * evidence.
 */
export function proposalHeader(p: Proposal): Proposal {
  return p.value.length === 0 ? p : { ...p, value: new Uint8Array(0) };
}

/** True if `p` is a header: no value bytes, and an id that is not the empty value's. */
export function isProposalHeader(p: Proposal): boolean {
  return p.value.length === 0 && !equal32(p.valueId, EMPTY_ID);
}

/** True if the proposer's signature over the proposal's fields (the value's id included) holds. */
export function verifyProposalSignature(
  chainId: string,
  p: Proposal,
  verify: Verifier = verifyEd25519,
): boolean {
  return verify(p.proposer, proposalSignBytes(chainId, p), p.signature);
}

/** True if the proposal's signature holds and its value matches its id. */
export function verifyProposal(chainId: string, p: Proposal, verify: Verifier = verifyEd25519): boolean {
  if (!equal32(valueIdOf(p.value), p.valueId)) return false;
  return verify(p.proposer, proposalSignBytes(chainId, p), p.signature);
}

/** True if the vote's signature holds. */
export function verifyVote(chainId: string, v: Vote, verify: Verifier = verifyEd25519): boolean {
  return verify(v.validator, voteSignBytes(chainId, v), v.signature);
}

function equal32(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

// ---------------------------------------------------------------- binary codec

const TAG = { proposal: 1, vote: 2, commit: 3, evidence: 4 } as const;

/** The wire/WAL encoding of a message. */
export function encodeMessage(m: Message): Uint8Array {
  // Sized up front: growing by doubling copied a 88 KB block about ten times (a fifth of the bench).
  const value =
    m.kind === "proposal"
      ? m.value.length
      : m.kind === "commit"
        ? m.proposal.value.length + 160 * m.precommits.length
        : 0;
  const w = new Writer(512 + value);
  writeMessage(w, m);
  return w.done();
}

/** Decodes {@link encodeMessage}'s output; throws `BAD_MESSAGE` on any malformed input. */
export function decodeMessage(bytes: Uint8Array): Message {
  const r = new Reader(bytes);
  const m = readMessage(r, 0);
  if (r.offset !== bytes.length) throw bad(`${bytes.length - r.offset} trailing bytes`);
  return m;
}

function writeMessage(w: Writer, m: Message): void {
  switch (m.kind) {
    case "proposal":
      w.u8(TAG.proposal)
        .u64(m.height)
        .u32(m.round)
        .u32(m.validRound + 1)
        .bytes(m.valueId)
        .bytes(m.proposer)
        .bytes(m.signature);
      w.u32(m.value.length).bytes(m.value);
      return;
    case "vote":
      w.u8(TAG.vote)
        .u8(m.type)
        .u64(m.height)
        .u32(m.round)
        .u8(m.valueId === null ? 0 : 1)
        .bytes(m.valueId ?? new Uint8Array(32));
      w.bytes(m.validator).bytes(m.signature);
      return;
    case "commit":
      w.u8(TAG.commit);
      writeMessage(w, m.proposal);
      w.u32(m.precommits.length);
      for (const v of m.precommits) writeMessage(w, v);
      return;
    case "evidence":
      w.u8(TAG.evidence).u8(m.type === "vote" ? 0 : 1);
      writeMessage(w, m.a);
      writeMessage(w, m.b);
      return;
  }
}

function readMessage(r: Reader, depth: number): Message {
  const tag = r.u8();
  if (tag === TAG.proposal) {
    const height = r.u64(),
      round = r.u32(),
      validRound = r.u32() - 1;
    if (round > ROUND_MAX || validRound >= round)
      throw bad(`proposal validRound ${validRound} not below round ${round}`);
    const valueId = r.bytes(32),
      proposer = r.bytes(32),
      signature = r.bytes(64);
    const length = r.u32();
    if (length > VALUE_BYTES_MAX) throw bad(`value of ${length} bytes exceeds ${VALUE_BYTES_MAX}`);
    return {
      kind: "proposal",
      height,
      round,
      validRound,
      valueId,
      value: r.bytes(length),
      proposer,
      signature,
    };
  }
  if (tag === TAG.vote) {
    const type = r.u8();
    if (type !== VoteType.Prevote && type !== VoteType.Precommit) throw bad(`vote type ${type}`);
    const height = r.u64(),
      round = r.u32(),
      hasId = r.u8();
    if (hasId > 1 || round > ROUND_MAX) throw bad("vote flag or round out of range");
    const id = r.bytes(32);
    // A nil vote carries zeros: one vote, one encoding (otherwise its signature rides on 2^256).
    if (hasId === 0 && id.some((b) => b !== 0)) throw bad("nil vote with a value id");
    return {
      kind: "vote",
      type,
      height,
      round,
      valueId: hasId === 1 ? id : null,
      validator: r.bytes(32),
      signature: r.bytes(64),
    };
  }
  if ((tag === TAG.commit || tag === TAG.evidence) && depth === 0)
    return tag === TAG.commit ? readCommit(r) : readEvidence(r);
  throw bad(`unknown message tag ${tag}`);
}

function readCommit(r: Reader): CommitCertificate {
  const proposal = readMessage(r, 1);
  if (proposal.kind !== "proposal") throw bad("certificate without a proposal");
  const count = r.u32();
  if (count > CERTIFICATE_VOTES_MAX) throw bad(`certificate with ${count} votes`);
  const precommits: Vote[] = [];
  for (let i = 0; i < count; i++) {
    const v = readMessage(r, 1);
    if (v.kind !== "vote") throw bad("certificate entry is not a vote");
    precommits.push(v);
  }
  return { kind: "commit", proposal, precommits };
}

function readEvidence(r: Reader): Evidence {
  const type = r.u8();
  if (type > 1) throw bad(`evidence type ${type}`);
  const a = readMessage(r, 1),
    b = readMessage(r, 1);
  const kind = type === 0 ? "vote" : "proposal";
  if (a.kind !== kind || b.kind !== kind) throw bad("evidence halves of the wrong kind");
  return { kind: "evidence", type: kind, a, b };
}

function bad(message: string): ChainDbError {
  return new ChainDbError(ErrorCode.BAD_MESSAGE, `malformed consensus message: ${message}`);
}

class Writer {
  private buf: Uint8Array;
  private view: DataView;
  private n = 0;
  constructor(capacity: number) {
    this.buf = new Uint8Array(capacity);
    this.view = new DataView(this.buf.buffer);
  }
  private room(k: number): void {
    if (this.n + k <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.n + k));
    next.set(this.buf.subarray(0, this.n));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
  u8(x: number): this {
    this.room(1);
    this.buf[this.n++] = x;
    return this;
  }
  u32(x: number): this {
    assert(Number.isInteger(x) && x >= 0 && x <= 0xffff_ffff, `u32 out of range: ${x}`);
    this.room(4);
    this.view.setUint32(this.n, x, true);
    this.n += 4;
    return this;
  }
  u64(x: number): this {
    assert(Number.isSafeInteger(x) && x >= 0, `u64 out of range: ${x}`);
    this.room(8);
    this.view.setUint32(this.n, x % 2 ** 32, true);
    this.view.setUint32(this.n + 4, Math.floor(x / 2 ** 32), true);
    this.n += 8;
    return this;
  }
  bytes(b: Uint8Array): this {
    this.room(b.length);
    this.buf.set(b, this.n);
    this.n += b.length;
    return this;
  }
  done(): Uint8Array {
    return this.buf.slice(0, this.n);
  }
}

class Reader {
  offset = 0;
  private readonly view: DataView;
  constructor(private readonly buf: Uint8Array) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }
  private need(k: number): void {
    if (this.offset + k > this.buf.length)
      throw bad(`truncated: need ${k} bytes at offset ${this.offset} of ${this.buf.length}`);
  }
  u8(): number {
    this.need(1);
    return this.buf[this.offset++]!;
  }
  u32(): number {
    this.need(4);
    const x = this.view.getUint32(this.offset, true);
    this.offset += 4;
    return x;
  }
  u64(): number {
    this.need(8);
    const lo = this.view.getUint32(this.offset, true),
      hi = this.view.getUint32(this.offset + 4, true);
    this.offset += 8;
    const x = hi * 2 ** 32 + lo;
    if (!Number.isSafeInteger(x)) throw bad(`height ${x} beyond ${HEIGHT_MAX}`);
    return x;
  }
  bytes(k: number): Uint8Array {
    this.need(k);
    // A copy: a Node Buffer's own `slice` would alias the (possibly pooled) input.
    const out = new Uint8Array(this.buf.subarray(this.offset, this.offset + k));
    this.offset += k;
    return out;
  }
}
