/**
 * The binary records the state machines exchange, and the transfer status codes: declared once
 * here for the engines (state-ts.ts, state-wasm.ts), the parallel executor, selection and the
 * chain. assembly/state.ts (`TX_SIZE`, `REC_SIZE`, `ST_*`) and assembly/kv.ts (the entry header)
 * hold the same numbers on the WebAssembly side; the differential tests (test/engine/) catch a
 * drift, and test/engine/records.test.ts pins these values.
 *
 *   packed transfer (88 bytes)  from 32 ‖ to 32 ‖ amount u64le ‖ fee u64le ‖ nonce u64le
 *   account record (48 bytes)   address 32 ‖ balance u64le ‖ nonce u64le
 *   core store entry            keyLen u32le ‖ valLen u32le ‖ key ‖ value
 * @module
 */

/** Size of a pre-verified transfer as the state machines take it: from, to, amount, fee, nonce. */
export const PACKED_TRANSFER_SIZE = 88;
/** Offset of the sender (32 bytes) in a packed transfer. */
export const PACKED_FROM = 0;
/** Offset of the recipient (32 bytes) in a packed transfer. */
export const PACKED_TO = 32;
/** Offset of the amount (u64le) in a packed transfer. */
export const PACKED_AMOUNT = 64;
/** Offset of the fee (u64le) in a packed transfer. */
export const PACKED_FEE = 72;
/** Offset of the sender's nonce (u64le) in a packed transfer. */
export const PACKED_NONCE = 80;

/** Size of an account record: address, balance u64le, nonce u64le. */
export const ACCOUNT_RECORD_SIZE = 48;
/** Offset of the balance (u64le) in an account record. */
export const RECORD_BALANCE = 32;
/** Offset of the nonce (u64le) in an account record. */
export const RECORD_NONCE = 40;

/** Bytes before the key in an entry of the core's store (assembly/kv.ts: keyLen u32, valLen u32). */
export const CORE_ENTRY_HEADER = 8;

/** Transfer status codes, as the state machines write them (one byte per transfer). */
export const TransferCode = {
  /** Applied. */
  ok: 0,
  /** The nonce is not the sender's transfer count. */
  BAD_NONCE: 1,
  /** The sender's balance is below amount + fee. */
  INSUFFICIENT_FUNDS: 2,
  /** amount + fee, a balance or the sender's nonce would pass 2^64 - 1. */
  OVERFLOW: 3,
  /** from == to. */
  SELF_TRANSFER: 4,
} as const;

/** Transfer status by code (index = code; the inverse of {@link TransferCode}). */
export const TRANSFER_STATUSES = [
  "ok",
  "BAD_NONCE",
  "INSUFFICIENT_FUNDS",
  "OVERFLOW",
  "SELF_TRANSFER",
] as const satisfies readonly (keyof typeof TransferCode)[];

/** A transfer's outcome: applied, or the code of the rule it broke. */
export type TransferStatus = (typeof TRANSFER_STATUSES)[number];

/** Writes one packed transfer at record `index` of `out` (benchmarks and tests feed the engines directly). */
export function packTransfer(
  out: Uint8Array,
  index: number,
  from: Uint8Array,
  to: Uint8Array,
  amount: bigint,
  fee: bigint,
  nonce: bigint,
): void {
  const o = index * PACKED_TRANSFER_SIZE;
  out.set(from.subarray(0, 32), o + PACKED_FROM);
  out.set(to.subarray(0, 32), o + PACKED_TO);
  const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
  dv.setBigUint64(o + PACKED_AMOUNT, amount, true);
  dv.setBigUint64(o + PACKED_FEE, fee, true);
  dv.setBigUint64(o + PACKED_NONCE, nonce, true);
}

/** An account record: address ‖ balance u64le ‖ nonce u64le. */
export function accountRecord(address: Uint8Array, balance: bigint, nonce: bigint): Uint8Array {
  const r = new Uint8Array(ACCOUNT_RECORD_SIZE);
  r.set(address.subarray(0, 32));
  const dv = new DataView(r.buffer);
  dv.setBigUint64(RECORD_BALANCE, balance, true);
  dv.setBigUint64(RECORD_NONCE, nonce, true);
  return r;
}
