/**
 * The 80-byte block header, byte-compatible with Bitcoin's `CBlockHeader` (primitives/block.h):
 * version i32, prevHash 32, merkleRoot 32, time u32, bits u32, nonce u32, all little-endian;
 * hashes in internal byte order. The block hash is sha256d(header), displayed byte-reversed.
 * @module
 */
import { sha256 } from "@noble/hashes/sha2.js";
import type { Engine } from "../engine/index.ts";
import { ChainDbError, ErrorCode, abytes, aint, fromHex, reverseBytes, toHex } from "../util/index.ts";

/** Size of an encoded header in bytes. */
export const HEADER_SIZE = 80;
/** Byte offset of the `time` field. */
export const TIME_OFFSET = 68;
/** Byte offset of the `bits` field. */
export const BITS_OFFSET = 72;
/** Byte offset of the `nonce` field. */
export const NONCE_OFFSET = 76;

/** A decoded block header; hashes are 32 bytes in internal (not display) byte order. */
export interface BlockHeader {
  /** Block version; Bitcoin's is an int32 (BIP9 versions look like 0x20000000). */
  version: number;
  /** Hash of the previous header, internal byte order. */
  prevHash: Uint8Array;
  /** Merkle root of the block's transactions, internal byte order. */
  merkleRoot: Uint8Array;
  /** Unix time in seconds (u32). */
  time: number;
  /** Compact target (u32), see `bitsToTarget` in pow/. */
  bits: number;
  /** Proof-of-work nonce (u32). */
  nonce: number;
}

const U32_MAX = 0xffffffff;

/** Checks a nonce: BAD_NONCE for anything but an integer in [0, 2^32). */
function anonce(nonce: unknown): number {
  if (typeof nonce !== "number" || !Number.isInteger(nonce) || nonce < 0 || nonce > U32_MAX) {
    throw new ChainDbError(
      ErrorCode.BAD_NONCE,
      `"nonce" expected an integer in [0, 2^32), got ${String(nonce)}`,
    );
  }
  return nonce;
}

/** Encodes a header to its 80 bytes (version is encoded as the u32 two's complement of the i32). */
export function encodeHeader(header: BlockHeader): Uint8Array {
  if (typeof header !== "object" || header === null) {
    throw new ChainDbError(
      ErrorCode.BAD_ARGUMENT,
      `"header" expected an object, got ${header === null ? "null" : typeof header}`,
    );
  }
  const out = new Uint8Array(HEADER_SIZE);
  const view = new DataView(out.buffer);
  view.setInt32(0, aint(header.version, -0x80000000, 0x7fffffff, "version"), true);
  out.set(abytes(header.prevHash, 32, "prevHash"), 4);
  out.set(abytes(header.merkleRoot, 32, "merkleRoot"), 36);
  view.setUint32(TIME_OFFSET, aint(header.time, 0, U32_MAX, "time"), true);
  view.setUint32(BITS_OFFSET, aint(header.bits, 0, U32_MAX, "bits"), true);
  view.setUint32(NONCE_OFFSET, anonce(header.nonce), true);
  return out;
}

/** Decodes 80 bytes into a header (copies the hashes); BAD_LENGTH on any other size. */
export function decodeHeader(bytes: Uint8Array): BlockHeader {
  abytes(bytes, HEADER_SIZE, "header");
  const view = new DataView(bytes.buffer, bytes.byteOffset, HEADER_SIZE);
  return {
    version: view.getInt32(0, true),
    prevHash: new Uint8Array(bytes.subarray(4, 36)),
    merkleRoot: new Uint8Array(bytes.subarray(36, 68)),
    time: view.getUint32(TIME_OFFSET, true),
    bits: view.getUint32(BITS_OFFSET, true),
    nonce: view.getUint32(NONCE_OFFSET, true),
  };
}

/** The 80 header bytes of `header`, encoding it if it is a decoded header. */
function headerBytes(header: Uint8Array | BlockHeader): Uint8Array {
  return header instanceof Uint8Array ? abytes(header, HEADER_SIZE, "header") : encodeHeader(header);
}

/** sha256d of the header in internal byte order (the form `prevHash` and PoW comparisons use). */
export function blockHashBytes(header: Uint8Array | BlockHeader, engine?: Engine): Uint8Array {
  const bytes = headerBytes(header);
  return engine ? engine.sha256d(bytes) : sha256(sha256(bytes));
}

/** The block hash as block explorers show it: sha256d(header) byte-reversed, lowercase hex. */
export function blockHash(header: Uint8Array | BlockHeader, engine?: Engine): string {
  return hashToHex(blockHashBytes(header, engine));
}

/** Display hex (byte-reversed) of a 32-byte hash held in internal byte order. */
export function hashToHex(hash: Uint8Array): string {
  return toHex(reverseBytes(abytes(hash, 32, "hash")));
}

/** Internal byte order of a hash given in display hex (as explorers print it); BAD_HEX/BAD_LENGTH. */
export function hashFromHex(hex: string): Uint8Array {
  return reverseBytes(abytes(fromHex(hex, "hash"), 32, "hash"));
}

/** Reads the nonce field of 80 header bytes. */
export function getNonce(header: Uint8Array): number {
  abytes(header, HEADER_SIZE, "header");
  return new DataView(header.buffer, header.byteOffset, HEADER_SIZE).getUint32(NONCE_OFFSET, true);
}

/** Writes `nonce` into 80 header bytes in place and returns them. */
export function setNonce(header: Uint8Array, nonce: number): Uint8Array {
  abytes(header, HEADER_SIZE, "header");
  new DataView(header.buffer, header.byteOffset, HEADER_SIZE).setUint32(NONCE_OFFSET, anonce(nonce), true);
  return header;
}

/** A copy of 80 header bytes with `nonce` written in; the input is left untouched. */
export function headerWithNonce(header: Uint8Array, nonce: number): Uint8Array {
  return setNonce(new Uint8Array(abytes(header, HEADER_SIZE, "header")), nonce);
}

/** Writes `time` (u32 seconds) into 80 header bytes in place and returns them (time rolling). */
export function setTime(header: Uint8Array, time: number): Uint8Array {
  abytes(header, HEADER_SIZE, "header");
  new DataView(header.buffer, header.byteOffset, HEADER_SIZE).setUint32(
    TIME_OFFSET,
    aint(time, 0, U32_MAX, "time"),
    true,
  );
  return header;
}
