/**
 * Blocks of the multi-primary (proof-of-work) chain: a Bitcoin-format 80-byte header whose merkle
 * root commits to the transfers and to the state root after them (the state root is the last
 * leaf, so the proof of work covers it), followed by the state root and the transfers:
 *
 *   header 80 ‖ stateRoot 32 ‖ count u32le ‖ transfers (157 bytes each)
 *
 * Decoding checks lengths; {@link checkBlockStateless} checks what needs no state: the chain's
 * bits, the proof of work (Bitcoin's CheckProofOfWork), the merkle root, and each transfer's
 * chain id and signature.
 * @module
 */
import { ChainDbError, ErrorCode, toHex } from "../util/index.ts";
import {
  decodeHeader,
  decodeTransfer,
  encodeHeader,
  verifyTransferSignature,
  TRANSFER_SIZE,
} from "../chain/index.ts";
import type { Engine } from "../engine/index.ts";
import { checkProofOfWork } from "../pow/index.ts";

/** Most transfers in one proof-of-work block. */
export const POW_BLOCK_TRANSFERS_MAX = 500;

/** A decoded block. */
export interface PowBlock {
  /** The 80-byte header. */
  readonly header: Uint8Array;
  /** State root after the block's transfers. */
  readonly stateRoot: Uint8Array;
  /** The encoded transfers. */
  readonly transfers: readonly Uint8Array[];
  /** Block hash, internal byte order, as hex (the block's id). */
  readonly id: string;
  /** Parent's id (hex of prevHash). */
  readonly parent: string;
  /** Compact target. */
  readonly bits: number;
}

/** Id of the (virtual) parent of the first block. */
export const GENESIS_ID = "00".repeat(32);

/** Encodes a block. */
export function encodeBlock(b: Pick<PowBlock, "header" | "stateRoot" | "transfers">): Uint8Array {
  const out = new Uint8Array(80 + 32 + 4 + b.transfers.length * TRANSFER_SIZE);
  out.set(b.header, 0);
  out.set(b.stateRoot, 80);
  new DataView(out.buffer).setUint32(112, b.transfers.length, true);
  b.transfers.forEach((t, i) => out.set(t, 116 + i * TRANSFER_SIZE));
  return out;
}

/** Decodes a block (lengths only); throws `BAD_MESSAGE`. */
export function decodeBlock(bytes: Uint8Array, engine: Engine): PowBlock {
  if (bytes.length < 116)
    throw new ChainDbError(ErrorCode.BAD_MESSAGE, `block of ${bytes.length} bytes is too short`);
  const count = new DataView(bytes.buffer, bytes.byteOffset + 112, 4).getUint32(0, true);
  if (count > POW_BLOCK_TRANSFERS_MAX || bytes.length !== 116 + count * TRANSFER_SIZE) {
    throw new ChainDbError(
      ErrorCode.BAD_MESSAGE,
      `block length ${bytes.length} does not match ${count} transfers`,
    );
  }
  // Copies (new Uint8Array): a Node Buffer's slice would alias the input.
  const header = new Uint8Array(bytes.subarray(0, 80));
  const h = decodeHeader(header);
  const transfers = Array.from(
    { length: count },
    (_, i) => new Uint8Array(bytes.subarray(116 + i * TRANSFER_SIZE, 116 + (i + 1) * TRANSFER_SIZE)),
  );
  return {
    header,
    stateRoot: new Uint8Array(bytes.subarray(80, 112)),
    transfers,
    id: toHex(engine.sha256d(header)),
    parent: toHex(h.prevHash),
    bits: h.bits,
  };
}

/** The merkle root committing to `transfers` and `stateRoot`. */
export function blockMerkleRoot(
  engine: Engine,
  transfers: readonly Uint8Array[],
  stateRoot: Uint8Array,
): Uint8Array {
  return engine.merkleRoot([...transfers.map((t) => engine.sha256d(t)), stateRoot]);
}

/** A header for a new block (nonce 0; the miner fills it in). */
export function newHeader(
  engine: Engine,
  parent: string,
  transfers: readonly Uint8Array[],
  stateRoot: Uint8Array,
  bits: number,
  time: number,
): Uint8Array {
  const prevHash = Uint8Array.from(Buffer.from(parent, "hex"));
  return encodeHeader({
    version: 1,
    prevHash,
    merkleRoot: blockMerkleRoot(engine, transfers, stateRoot),
    time,
    bits,
    nonce: 0,
  });
}

/** Why a block fails the checks that need no state, or undefined when it passes them. */
export function checkBlockStateless(
  b: PowBlock,
  engine: Engine,
  chainId: number,
  bits: number,
): string | undefined {
  if (b.bits !== bits) return `bits ${b.bits.toString(16)} are not the chain's ${bits.toString(16)}`;
  const pow = checkProofOfWork(b.header, { engine });
  if (!pow.ok) return `proof of work: ${pow.reason}`;
  const merkle = blockMerkleRoot(engine, b.transfers, b.stateRoot);
  if (toHex(merkle) !== toHex(decodeHeader(b.header).merkleRoot))
    return "merkle root does not match the transfers and state root";
  for (const [i, t] of b.transfers.entries()) {
    let chain: number;
    try {
      chain = decodeTransfer(t).chainId;
    } catch {
      return `transfer ${i} does not decode`;
    }
    if (chain !== chainId) return `transfer ${i} is for chain ${chain}`;
    if (!verifyTransferSignature(t)) return `transfer ${i} has a bad signature`;
  }
  return undefined;
}
