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

// ledger: keys, transfers, the state machine and its proofs (storage engineer)
export { generateKeyPair, keyPairFromSeed, ed25519Sign, ed25519Verify, type KeyPair } from "./keys.ts";
export {
  signTransfer,
  decodeTransfer,
  verifyTransferSignature,
  packTransfers,
  TRANSFER_SIZE,
  PACKED_TRANSFER_SIZE,
  type Transfer,
  type TransferFields,
} from "./transfer.ts";
export {
  Ledger,
  BLOCK_TRANSFERS_MAX,
  type LedgerOptions,
  type ApplyOptions,
  type BlockResult,
  type GenesisAllocation,
  type LoadPhase,
} from "./ledger.ts";
export { verifyProof, decodeProof, encodeProof, type Account, type DecodedProof } from "./proof.ts";
