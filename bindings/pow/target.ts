/**
 * Compact targets ("bits"), work and the proof-of-work check, exactly as Bitcoin Core defines them:
 * `arith_uint256::SetCompact` / `GetCompact` (arith_uint256.cpp), `CheckProofOfWork` and
 * `GetBlockProof` (pow.cpp, chain.cpp) and `GetDifficulty` (rpc/blockchain.cpp).
 * Targets are 256-bit integers, held as bigint or as 32 bytes little-endian (byte 31 most
 * significant), the same order a sha256d block hash is compared in.
 * @module
 */
import { blockHashBytes, hashToHex, type BlockHeader } from "../chain/index.ts";
import type { Engine } from "../engine/index.ts";
import { ChainDbError, ErrorCode, abytes, aint } from "../util/index.ts";

const TWO_256 = 1n << 256n;
const MASK_256 = TWO_256 - 1n;

/** Bitcoin mainnet's proof-of-work limit in compact form (difficulty 1). */
export const MAINNET_POW_LIMIT_BITS = 0x1d00ffff;

/** The raw outcome of `SetCompact`: the value and the two flags Bitcoin reports beside it. */
export interface Compact {
  /** The decoded value (bits shifted beyond 256 are lost, as in arith_uint256). */
  target: bigint;
  /** Sign bit 0x00800000 set with a non-zero mantissa. */
  negative: boolean;
  /** The value does not fit in 256 bits. */
  overflow: boolean;
}

/** Bitcoin's `SetCompact`, flags and all; never throws on a u32 (see {@link bitsToTargetBigInt}). */
export function decodeCompact(bits: number): Compact {
  aint(bits, 0, 0xffffffff, "bits");
  const size = bits >>> 24;
  let word = bits & 0x007fffff;
  let target: bigint;
  if (size <= 3) {
    word >>>= 8 * (3 - size);
    target = BigInt(word);
  } else {
    target = (BigInt(word) << BigInt(8 * (size - 3))) & MASK_256;
  }
  const negative = word !== 0 && (bits & 0x00800000) !== 0;
  const overflow = word !== 0 && (size > 34 || (word > 0xff && size > 33) || (word > 0xffff && size > 32));
  return { target, negative, overflow };
}

/** Bitcoin's `GetCompact(negative)`: the shortest compact form; never sets the sign bit by accident. */
export function encodeCompact(value: bigint, negative = false): number {
  checkTarget(value);
  let size = value === 0n ? 0 : Math.ceil(value.toString(2).length / 8); // bytes in use, like bits()+7 / 8
  let compact = size <= 3 ? Number(value) << (8 * (3 - size)) : Number(value >> BigInt(8 * (size - 3)));
  // 0x00800000 is the sign bit: a mantissa that would set it moves one byte right instead.
  if (compact & 0x00800000) {
    compact >>>= 8;
    size++;
  }
  compact |= size << 24;
  if (negative && (compact & 0x007fffff) !== 0) compact |= 0x00800000;
  return compact >>> 0;
}

/** Compact bits → target as bigint; BAD_BITS for negative or overflowing bits. Zero is allowed. */
export function bitsToTargetBigInt(bits: number): bigint {
  const { target, negative, overflow } = decodeCompact(bits);
  const hex = `0x${(bits >>> 0).toString(16).padStart(8, "0")}`;
  if (negative)
    throw new ChainDbError(ErrorCode.BAD_BITS, `"bits" ${hex} is negative (sign bit 0x00800000 set)`);
  if (overflow) throw new ChainDbError(ErrorCode.BAD_BITS, `"bits" ${hex} overflows 256 bits`);
  return target;
}

/** Compact bits → 32-byte little-endian target; BAD_BITS for negative or overflowing bits. */
export function bitsToTarget(bits: number): Uint8Array {
  return bigIntToTarget(bitsToTargetBigInt(bits));
}

/** Target (32 bytes little-endian, or a bigint) → compact bits, as `GetCompact()` (lossy). */
export function targetToBits(target: Uint8Array | bigint): number {
  return encodeCompact(typeof target === "bigint" ? target : targetToBigInt(target));
}

/** Reads a 32-byte little-endian target as a bigint. */
export function targetToBigInt(target: Uint8Array): bigint {
  abytes(target, 32, "target");
  let n = 0n;
  for (let i = 31; i >= 0; i--) n = (n << 8n) | BigInt(target[i]!);
  return n;
}

/** Checks a target bigint is in [0, 2^256) and returns it; BAD_RANGE otherwise. */
function checkTarget(value: bigint): bigint {
  if (typeof value !== "bigint" || value < 0n || value > MASK_256) {
    throw new ChainDbError(
      ErrorCode.BAD_RANGE,
      `"target" expected a bigint in [0, 2^256), got ${String(value)}`,
    );
  }
  return value;
}

/** Writes a bigint in [0, 2^256) as 32 bytes little-endian; BAD_RANGE otherwise. */
export function bigIntToTarget(value: bigint): Uint8Array {
  checkTarget(value);
  const out = new Uint8Array(32);
  let n = value;
  for (let i = 0; i < 32; i++, n >>= 8n) out[i] = Number(n & 0xffn);
  return out;
}

/**
 * Expected hashes to meet `target`: 2^256 / (target + 1), as `GetBlockProof`. A zero target is no
 * valid target and carries no work (0n), as in Bitcoin.
 */
export function workFromTarget(target: Uint8Array | bigint): bigint {
  const t = typeof target === "bigint" ? checkTarget(target) : targetToBigInt(target);
  return t === 0n ? 0n : TWO_256 / (t + 1n);
}

/** Work of a block with these bits (`GetBlockProof`); BAD_BITS for negative/overflowing bits. */
export function chainWork(bits: number): bigint {
  return workFromTarget(bitsToTargetBigInt(bits));
}

/**
 * Difficulty relative to 0x1d00ffff, computed as Bitcoin's `GetDifficulty` does (a double, from the
 * 24-bit mantissa; like Bitcoin it does not reject a set sign bit). A zero mantissa gives Infinity.
 */
export function difficulty(bits: number): number {
  aint(bits, 0, 0xffffffff, "bits");
  let shift = bits >>> 24;
  let diff = 0x0000ffff / (bits & 0x00ffffff);
  while (shift < 29) {
    diff *= 256;
    shift++;
  }
  while (shift > 29) {
    diff /= 256;
    shift--;
  }
  return diff;
}

/** `hash ≤ target`, both 32 bytes read as 256-bit little-endian integers. */
export function hashMeetsTarget(hash: Uint8Array, target: Uint8Array): boolean {
  abytes(hash, 32, "hash");
  abytes(target, 32, "target");
  for (let i = 31; i >= 0; i--) if (hash[i] !== target[i]) return hash[i]! < target[i]!;
  return true;
}

/** Why a header failed (or passed) {@link checkProofOfWork}. */
export type PowVerdict = "ok" | "bad-bits" | "zero-target" | "above-pow-limit" | "high-hash";

/** Outcome of {@link checkProofOfWork}. */
export interface PowCheck {
  /** The header's hash meets its (valid) target. */
  ok: boolean;
  /** Which rule decided. */
  reason: PowVerdict;
  /** Block hash in display hex. */
  hash: string;
  /** Decoded target (32 bytes little-endian), or null when the bits are negative or overflow. */
  target: Uint8Array | null;
}

/** Options of {@link checkProofOfWork}. */
export interface PowCheckOptions {
  /** Highest target allowed (compact bits, or a bigint); none by default. */
  powLimit?: number | bigint;
  /** Engine to hash with; @noble/hashes by default. */
  engine?: Engine;
}

/**
 * Bitcoin's `CheckProofOfWork`: the bits must decode to a non-negative, non-overflowing, non-zero
 * target (not above `powLimit` if given), and sha256d(header) must be ≤ that target.
 * Returns a verdict rather than throwing, since a bad header from the network is expected input.
 */
export function checkProofOfWork(header: Uint8Array | BlockHeader, options: PowCheckOptions = {}): PowCheck {
  const hashBytes = blockHashBytes(header, options.engine);
  const hash = hashToHex(hashBytes);
  const bits =
    header instanceof Uint8Array
      ? new DataView(header.buffer, header.byteOffset, 80).getUint32(72, true)
      : header.bits;
  const { target, negative, overflow } = decodeCompact(bits);
  if (negative || overflow) return { ok: false, reason: "bad-bits", hash, target: null };
  const targetBytes = bigIntToTarget(target);
  const verdict = (reason: PowVerdict): PowCheck => ({
    ok: reason === "ok",
    reason,
    hash,
    target: targetBytes,
  });
  if (target === 0n) return verdict("zero-target");
  if (options.powLimit !== undefined) {
    const limit =
      typeof options.powLimit === "bigint" ? options.powLimit : bitsToTargetBigInt(options.powLimit);
    if (target > limit) return verdict("above-pow-limit");
  }
  return verdict(hashMeetsTarget(hashBytes, targetBytes) ? "ok" : "high-hash");
}
