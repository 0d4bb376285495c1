/**
 * Chain formats: the Bitcoin-compatible 80-byte block header (primitives/block.h).
 * @module
 */
export {
  HEADER_SIZE,
  TIME_OFFSET,
  BITS_OFFSET,
  NONCE_OFFSET,
  type BlockHeader,
  encodeHeader,
  decodeHeader,
  blockHash,
  blockHashBytes,
  hashToHex,
  hashFromHex,
  getNonce,
  setNonce,
  headerWithNonce,
  setTime,
} from "./header.ts";
