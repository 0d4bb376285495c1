/**
 * Staking transactions and the transaction list a consensus block carries. A staking transaction
 * is signed by its account holder in the style of a transfer (bindings/chain/transfer.ts): ed25519
 * over a domain tag and the canonical encoding, chain id included (no cross-chain replay), the
 * account's nonce (no replay on one chain) and a fee for the proposer. Little-endian layout:
 *
 *   version u8 = 2 ‖ kind u8 ‖ chainId u32 ‖ from 32 ‖ amount u64 ‖ fee u64 ‖ nonce u64 ‖
 *   count u8 ‖ candidates 32·count ‖ signature 64
 *
 * Kinds: stake (bond `amount` of the balance; the holder becomes a PoS validator), unbond (start
 * returning `amount` of bonded stake), unjail, candidate (DPoS: stand for election), vote (DPoS: a
 * ballot naming 1..{@link BALLOT_CANDIDATES_MAX} distinct candidates, replacing the voter's earlier
 * ballot). Decoding is strict: exact length, known version and kind, amount and count in range for
 * the kind; anything else throws `BAD_TRANSFER` or `BAD_LENGTH`.
 * @module
 */
import { ChainDbError, ErrorCode, abytes, aint } from "../util/index.ts";
import {
  decodeTransfer,
  ed25519Sign,
  ed25519Verify,
  verifyTransferSignature,
  type KeyPair,
  type Transfer,
} from "../chain/index.ts";

/** Version byte of a staking transaction (a transfer's is 1). */
export const STAKING_TX_VERSION = 2;
/** Most candidates one ballot names. */
export const BALLOT_CANDIDATES_MAX = 8;
/** Size of a staking transaction without candidates. */
export const STAKING_TX_BASE_SIZE = 63 + 64;
/** Most transactions in one consensus block. */
export const BLOCK_TXS_MAX = 10_000;
const DOMAIN = new TextEncoder().encode("chaindb/staking/v1");
const U64_MAX = (1n << 64n) - 1n;

/** The kinds of staking transaction; the numeric value is part of the signed encoding. */
export const STAKING_KINDS = { stake: 1, unbond: 2, unjail: 3, candidate: 4, vote: 5 } as const;
/** A kind of staking transaction. */
export type StakingKind = keyof typeof STAKING_KINDS;

/** A decoded staking transaction. */
export interface StakingTransaction {
  readonly kind: StakingKind;
  readonly chainId: number;
  /** The account holder (its 32-byte ed25519 public key), also the validator or voter. */
  readonly from: Uint8Array;
  /** Stake or unbond amount (u64, ≥ 1); 0 for the other kinds. */
  readonly amount: bigint;
  /** Fee paid to the block's proposer (u64). */
  readonly fee: bigint;
  /** The account's nonce before this transaction (shared with its transfers). */
  readonly nonce: bigint;
  /** Ballot of a vote; empty for the other kinds. */
  readonly candidates: readonly Uint8Array[];
  readonly signature: Uint8Array;
}

/** What {@link signStakingTx} needs besides the key pair. */
export interface StakingTxFields {
  kind: StakingKind;
  chainId: number;
  amount?: bigint | number;
  fee: bigint | number;
  nonce: bigint | number;
  candidates?: readonly Uint8Array[];
}

/** A transaction of a block: a transfer or a staking transaction, with its encoding. */
export type ChainTx =
  | { readonly type: "transfer"; readonly tx: Transfer; readonly bytes: Uint8Array }
  | { readonly type: "staking"; readonly tx: StakingTransaction; readonly bytes: Uint8Array };

/** The transactions of one block and the account its fees go to (the proposer's choice). */
export interface BlockTxs {
  readonly feeRecipient: Uint8Array;
  readonly txs: readonly Uint8Array[];
}

function u64(value: bigint | number, name: string): bigint {
  const v = typeof value === "number" ? BigInt(aint(value, 0, Number.MAX_SAFE_INTEGER, name)) : value;
  if (typeof v !== "bigint" || v < 0n || v > U64_MAX)
    throw new ChainDbError(ErrorCode.BAD_RANGE, `"${name}" expected a u64, got ${String(value)}`);
  return v;
}

function badTx(message: string): ChainDbError {
  return new ChainDbError(ErrorCode.BAD_TRANSFER, message);
}

/** Checks the amount and the ballot against the kind (shared by signing and decoding). */
function checkShape(kind: StakingKind, amount: bigint, candidates: readonly Uint8Array[]): void {
  const bonds = kind === "stake" || kind === "unbond";
  if (bonds && amount === 0n) throw badTx(`a ${kind} transaction moves at least 1, got 0`);
  if (!bonds && amount !== 0n) throw badTx(`a ${kind} transaction carries no amount, got ${amount}`);
  if (kind !== "vote" && candidates.length !== 0) throw badTx(`a ${kind} transaction names no candidates`);
  if (kind === "vote" && (candidates.length < 1 || candidates.length > BALLOT_CANDIDATES_MAX)) {
    throw badTx(`a ballot names 1..${BALLOT_CANDIDATES_MAX} candidates, got ${candidates.length}`);
  }
  const distinct = new Set(candidates.map((c) => Buffer.from(c).toString("hex")));
  if (distinct.size !== candidates.length) throw badTx("a ballot names a candidate twice");
}

function signingMessage(encoded: Uint8Array): Uint8Array {
  const body = encoded.subarray(0, encoded.length - 64);
  const msg = new Uint8Array(DOMAIN.length + body.length);
  msg.set(DOMAIN);
  msg.set(body, DOMAIN.length);
  return msg;
}

/** Encodes and signs a staking transaction from `keyPair`; throws on fields out of range. */
export function signStakingTx(keyPair: KeyPair, fields: StakingTxFields): Uint8Array {
  const code = STAKING_KINDS[fields.kind];
  if (code === undefined)
    throw new ChainDbError(ErrorCode.BAD_ARGUMENT, `unknown staking kind ${String(fields.kind)}`);
  aint(fields.chainId, 0, 0xffffffff, "chainId");
  const amount = u64(fields.amount ?? 0, "amount");
  const fee = u64(fields.fee, "fee");
  const nonce = u64(fields.nonce, "nonce");
  const candidates = (fields.candidates ?? []).map((c, i) => abytes(c, 32, `candidates[${i}]`));
  checkShape(fields.kind, amount, candidates);
  if (amount + fee > U64_MAX) throw new ChainDbError(ErrorCode.OVERFLOW, "amount + fee exceeds a u64");
  const out = new Uint8Array(STAKING_TX_BASE_SIZE + 32 * candidates.length);
  const dv = new DataView(out.buffer);
  out[0] = STAKING_TX_VERSION;
  out[1] = code;
  dv.setUint32(2, fields.chainId, true);
  out.set(abytes(keyPair.publicKey, 32, "publicKey"), 6);
  dv.setBigUint64(38, amount, true);
  dv.setBigUint64(46, fee, true);
  dv.setBigUint64(54, nonce, true);
  out[62] = candidates.length;
  candidates.forEach((c, i) => out.set(c, 63 + 32 * i));
  out.set(ed25519Sign(keyPair.secretKey, signingMessage(out)), out.length - 64);
  return out;
}

/** Decodes a staking transaction (strict); does not check the signature. */
export function decodeStakingTx(bytes: Uint8Array): StakingTransaction {
  abytes(bytes, undefined, "staking transaction");
  if (bytes.length < STAKING_TX_BASE_SIZE)
    throw new ChainDbError(
      ErrorCode.BAD_LENGTH,
      `"staking transaction" expected at least ${STAKING_TX_BASE_SIZE} bytes, got ${bytes.length}`,
    );
  if (bytes[0] !== STAKING_TX_VERSION) throw badTx(`unknown staking transaction version ${bytes[0]}`);
  const kind = (Object.keys(STAKING_KINDS) as StakingKind[]).find((k) => STAKING_KINDS[k] === bytes[1]);
  if (kind === undefined) throw badTx(`unknown staking kind ${bytes[1]}`);
  const count = bytes[62]!;
  const size = STAKING_TX_BASE_SIZE + 32 * count;
  if (bytes.length !== size)
    throw new ChainDbError(
      ErrorCode.BAD_LENGTH,
      `"staking transaction" with ${count} candidates expected ${size} bytes, got ${bytes.length}`,
    );
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const amount = dv.getBigUint64(38, true);
  const fee = dv.getBigUint64(46, true);
  const candidates = Array.from(
    { length: count },
    (_, i) => new Uint8Array(bytes.subarray(63 + 32 * i, 95 + 32 * i)),
  );
  checkShape(kind, amount, candidates);
  if (amount + fee > U64_MAX) throw new ChainDbError(ErrorCode.OVERFLOW, "amount + fee exceeds a u64");
  return {
    kind,
    chainId: dv.getUint32(2, true),
    from: new Uint8Array(bytes.subarray(6, 38)),
    amount,
    fee,
    nonce: dv.getBigUint64(54, true),
    candidates,
    signature: new Uint8Array(bytes.subarray(size - 64)),
  };
}

/** True if the staking transaction's signature is valid for its `from` key. */
export function verifyStakingTxSignature(bytes: Uint8Array): boolean {
  abytes(bytes, undefined, "staking transaction");
  if (bytes.length < STAKING_TX_BASE_SIZE) return false;
  return ed25519Verify(bytes.subarray(6, 38), signingMessage(bytes), bytes.subarray(bytes.length - 64));
}

/**
 * Decodes one block transaction by its version byte (1 transfer, 2 staking) and checks its chain
 * id and signature; throws `BAD_TRANSFER`, `BAD_LENGTH`, `WRONG_CHAIN` or `BAD_SIGNATURE`.
 */
export function decodeChainTx(input: Uint8Array, chainId: number): ChainTx {
  const bytes = new Uint8Array(abytes(input, undefined, "transaction")); // kept: a copy, never the caller's view
  let out: ChainTx;
  if (bytes[0] === 1) {
    out = { type: "transfer", tx: decodeTransfer(bytes), bytes };
    if (!verifyTransferSignature(bytes))
      throw new ChainDbError(ErrorCode.BAD_SIGNATURE, "transfer has a bad signature");
  } else if (bytes[0] === STAKING_TX_VERSION) {
    out = { type: "staking", tx: decodeStakingTx(bytes), bytes };
    if (!verifyStakingTxSignature(bytes))
      throw new ChainDbError(ErrorCode.BAD_SIGNATURE, "staking transaction has a bad signature");
  } else {
    throw badTx(`unknown transaction version ${bytes[0]}`);
  }
  if (out.tx.chainId !== chainId)
    throw new ChainDbError(
      ErrorCode.WRONG_CHAIN,
      `transaction is for chain ${out.tx.chainId}, this is chain ${chainId}`,
    );
  return out;
}

/** Encodes a block's transactions: `version u8 = 1 ‖ feeRecipient 32 ‖ count u32 ‖ (length u16 ‖ tx)*`. */
export function encodeBlockTxs(b: BlockTxs): Uint8Array {
  abytes(b.feeRecipient, 32, "feeRecipient");
  aint(b.txs.length, 0, BLOCK_TXS_MAX, "txs.length");
  const size = b.txs.reduce(
    (n, t) => n + 2 + aint(abytes(t, undefined, "tx").length, 1, 0xffff, "tx.length"),
    37,
  );
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  out[0] = 1;
  out.set(b.feeRecipient, 1);
  dv.setUint32(33, b.txs.length, true);
  let at = 37;
  for (const t of b.txs) {
    dv.setUint16(at, t.length, true);
    out.set(t, at + 2);
    at += 2 + t.length;
  }
  return out;
}

/** Decodes {@link encodeBlockTxs}'s output (strict); the transactions themselves are not decoded. */
export function decodeBlockTxs(bytes: Uint8Array): BlockTxs {
  abytes(bytes, undefined, "block txs");
  if (bytes.length < 37)
    throw new ChainDbError(
      ErrorCode.BAD_LENGTH,
      `"block txs" expected at least 37 bytes, got ${bytes.length}`,
    );
  if (bytes[0] !== 1) throw new ChainDbError(ErrorCode.BAD_MESSAGE, `unknown block txs version ${bytes[0]}`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const count = dv.getUint32(33, true);
  if (count > BLOCK_TXS_MAX)
    throw new ChainDbError(ErrorCode.BAD_RANGE, `block has ${count} transactions, at most ${BLOCK_TXS_MAX}`);
  const txs: Uint8Array[] = [];
  let at = 37;
  for (let i = 0; i < count; i++) {
    if (at + 2 > bytes.length)
      throw new ChainDbError(ErrorCode.BAD_LENGTH, `block txs truncated at transaction ${i}`);
    const len = dv.getUint16(at, true);
    if (len === 0 || at + 2 + len > bytes.length)
      throw new ChainDbError(
        ErrorCode.BAD_LENGTH,
        `block txs: transaction ${i} of ${len} bytes does not fit`,
      );
    txs.push(new Uint8Array(bytes.subarray(at + 2, at + 2 + len)));
    at += 2 + len;
  }
  if (at !== bytes.length)
    throw new ChainDbError(
      ErrorCode.BAD_LENGTH,
      `${bytes.length - at} trailing bytes after the block's transactions`,
    );
  return { feeRecipient: new Uint8Array(bytes.subarray(1, 33)), txs };
}
