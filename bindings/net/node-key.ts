/**
 * Node identity keys for the transport handshake: ed25519 (RFC 8032) through node:crypto, keys
 * as raw 32-byte seeds and public keys (the same representation as bindings/chain/keys.ts), and
 * key files holding the seed in hex, created on first start and kept.
 * @module
 */
import { createPrivateKey, createPublicKey, randomBytes, sign, verify } from "node:crypto";
import type { KeyObject } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { ChainDbError, ErrorCode, abytes, fromHex, toHex } from "../util/index.ts";

const PKCS8_PREFIX = fromHex("302e020100300506032b657004220420");
const SPKI_PREFIX = fromHex("302a300506032b6570032100");

/** A node's signing identity. */
export interface NodeKey {
  /** 32-byte ed25519 public key. */
  readonly publicKey: Uint8Array;
  /** Signs `message` (64-byte signature). */
  sign(message: Uint8Array): Uint8Array;
}

/** The node key for a 32-byte seed. */
export function nodeKeyFromSeed(seed: Uint8Array): NodeKey {
  abytes(seed, 32, "seed");
  const privateKey = createPrivateKey({
    key: Buffer.concat([PKCS8_PREFIX, seed]),
    format: "der",
    type: "pkcs8",
  });
  const spki = createPublicKey(privateKey).export({ format: "der", type: "spki" });
  const publicKey = new Uint8Array(spki.subarray(spki.length - 32));
  return { publicKey, sign: (message) => new Uint8Array(sign(null, message, privateKey)) };
}

/** A fresh random node key. */
export function generateNodeKey(): { key: NodeKey; seed: Uint8Array } {
  const seed = new Uint8Array(randomBytes(32));
  return { key: nodeKeyFromSeed(seed), seed };
}

/** True if `signature` is `publicKey`'s signature of `message`. */
export function verifyNodeSignature(
  publicKey: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
): boolean {
  if (publicKey.length !== 32 || signature.length !== 64) return false;
  let key: KeyObject;
  try {
    key = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, publicKey]), format: "der", type: "spki" });
    return verify(null, message, key, signature);
  } catch {
    return false;
  }
}

/** Loads the hex seed in `file`, or creates the file (mode 0600) with a fresh seed. */
export function loadOrCreateNodeKey(file: string): NodeKey {
  if (existsSync(file)) {
    const text = readFileSync(file, "utf8").trim();
    const seed = fromHex(text, file);
    if (seed.length !== 32)
      throw new ChainDbError(
        ErrorCode.BAD_LENGTH,
        `key file ${file} expected 32 bytes of hex, got ${seed.length}`,
      );
    return nodeKeyFromSeed(seed);
  }
  const { key, seed } = generateNodeKey();
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, toHex(seed) + "\n", { mode: 0o600, flag: "wx" });
  return key;
}
