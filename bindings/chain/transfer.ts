/**
 * The transfer transaction and its canonical binary encoding (157 bytes, little-endian):
 *
 *   version u8 = 1 ‖ chainId u32 ‖ from 32 ‖ to 32 ‖ amount u64 ‖ fee u64 ‖ nonce u64 ‖ signature 64
 *
 * `from` is the sender's ed25519 public key. The signature covers DOMAIN ‖ the first 93 bytes,
 * chain id included, so a transfer signed for one chain is invalid on every other (no replay).
 * Decoding is strict: exact length and version, else a typed error.
 * @module
 */
import { ChainDbError, ErrorCode, abytes, aint } from "../util/index.ts";
import { PACKED_TRANSFER_SIZE } from "../engine/index.ts";
import { ed25519Sign, ed25519Verify } from "./keys.ts";
import type { KeyPair } from "./keys.ts";

/** Encoded size of a transfer. */
export const TRANSFER_SIZE = 157;
/** Bytes covered by the signature (everything before it). */
export const TRANSFER_BODY_SIZE = 93;
// The packed form the state machines take, and its writer, are the engine's (engine/records.ts).
export { PACKED_TRANSFER_SIZE, packTransfer } from "../engine/index.ts";
/** Largest u64. */
export const U64_MAX = (1n << 64n) - 1n;
const VERSION = 1;
const DOMAIN = new TextEncoder().encode("chaindb/transfer/v1");

/** A decoded transfer. */
export interface Transfer {
  /** Chain the transfer is valid on. */
  readonly chainId: number;
  /** Sender's public key (32 bytes). */
  readonly from: Uint8Array;
  /** Recipient address (32 bytes). */
  readonly to: Uint8Array;
  /** Amount moved, u64. */
  readonly amount: bigint;
  /** Fee paid to the block's proposer, u64. */
  readonly fee: bigint;
  /** Sender's transfer count before this one, u64. */
  readonly nonce: bigint;
  /** 64-byte ed25519 signature. */
  readonly signature: Uint8Array;
}

/** What `signTransfer` needs besides the key pair. */
export interface TransferFields {
  /** Chain id (u32). */
  chainId: number;
  /** Recipient address (32 bytes). */
  to: Uint8Array;
  /** Amount (u64). */
  amount: bigint | number;
  /** Fee (u64). */
  fee: bigint | number;
  /** Sender nonce (u64). */
  nonce: bigint | number;
}

/** Checks a u64 given as bigint or safe integer and returns it as bigint. */
export function au64(value: unknown, name: string): bigint {
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value)) {
      throw new ChainDbError(
        ErrorCode.BAD_ARGUMENT,
        `"${name}" expected a safe integer or bigint, got ${value}`,
      );
    }
    value = BigInt(value);
  }
  if (typeof value !== "bigint")
    throw new ChainDbError(ErrorCode.BAD_ARGUMENT, `"${name}" expected a bigint, got ${typeof value}`);
  if (value < 0n || value > U64_MAX)
    throw new ChainDbError(ErrorCode.BAD_RANGE, `"${name}" expected a u64, got ${value}`);
  return value;
}

function encodeBody(
  chainId: number,
  from: Uint8Array,
  to: Uint8Array,
  amount: bigint,
  fee: bigint,
  nonce: bigint,
): Uint8Array {
  const out = new Uint8Array(TRANSFER_SIZE);
  const dv = new DataView(out.buffer);
  out[0] = VERSION;
  dv.setUint32(1, chainId, true);
  out.set(from, 5);
  out.set(to, 37);
  dv.setBigUint64(69, amount, true);
  dv.setBigUint64(77, fee, true);
  dv.setBigUint64(85, nonce, true);
  return out;
}

function signingMessage(encoded: Uint8Array): Uint8Array {
  const msg = new Uint8Array(DOMAIN.length + TRANSFER_BODY_SIZE);
  msg.set(DOMAIN);
  msg.set(encoded.subarray(0, TRANSFER_BODY_SIZE), DOMAIN.length);
  return msg;
}

/**
 * Encodes and signs a transfer without the amount + fee check (tests use it to build transfers
 * the ledger must reject); prefer {@link signTransfer}.
 */
export function signTransferUnchecked(keyPair: KeyPair, fields: TransferFields): Uint8Array {
  aint(fields.chainId, 0, 0xffffffff, "chainId");
  abytes(fields.to, 32, "to");
  abytes(keyPair.publicKey, 32, "publicKey");
  const out = encodeBody(
    fields.chainId,
    keyPair.publicKey,
    fields.to,
    au64(fields.amount, "amount"),
    au64(fields.fee, "fee"),
    au64(fields.nonce, "nonce"),
  );
  out.set(ed25519Sign(keyPair.secretKey, signingMessage(out)), TRANSFER_BODY_SIZE);
  return out;
}

/** Encodes and signs a transfer from `keyPair`; throws OVERFLOW if amount + fee exceeds a u64. */
export function signTransfer(keyPair: KeyPair, fields: TransferFields): Uint8Array {
  if (au64(fields.amount, "amount") + au64(fields.fee, "fee") > U64_MAX) {
    throw new ChainDbError(ErrorCode.OVERFLOW, "amount + fee exceeds a u64");
  }
  return signTransferUnchecked(keyPair, fields);
}

/** Decodes a transfer (strict: exactly 157 bytes, version 1); does not check the signature. */
export function decodeTransfer(bytes: Uint8Array): Transfer {
  abytes(bytes, undefined, "transfer");
  if (bytes.length !== TRANSFER_SIZE) {
    throw new ChainDbError(
      ErrorCode.BAD_LENGTH,
      `"transfer" expected ${TRANSFER_SIZE} bytes, got ${bytes.length}`,
    );
  }
  if (bytes[0] !== VERSION)
    throw new ChainDbError(ErrorCode.BAD_TRANSFER, `unknown transfer version ${bytes[0]}`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  return {
    chainId: dv.getUint32(1, true),
    from: new Uint8Array(bytes.subarray(5, 37)),
    to: new Uint8Array(bytes.subarray(37, 69)),
    amount: dv.getBigUint64(69, true),
    fee: dv.getBigUint64(77, true),
    nonce: dv.getBigUint64(85, true),
    signature: new Uint8Array(bytes.subarray(TRANSFER_BODY_SIZE, TRANSFER_SIZE)),
  };
}

/** True if the encoded transfer's signature is valid for its `from` key. */
export function verifyTransferSignature(bytes: Uint8Array): boolean {
  abytes(bytes, TRANSFER_SIZE, "transfer");
  return ed25519Verify(
    bytes.subarray(5, 37),
    signingMessage(bytes),
    bytes.subarray(TRANSFER_BODY_SIZE, TRANSFER_SIZE),
  );
}

/** Packs pre-verified encoded transfers into packed records (from, to, amount, fee, nonce). */
export function packTransfers(encoded: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(encoded.length * PACKED_TRANSFER_SIZE);
  for (let i = 0; i < encoded.length; i++) {
    out.set(encoded[i]!.subarray(5, TRANSFER_BODY_SIZE), i * PACKED_TRANSFER_SIZE);
  }
  return out;
}
