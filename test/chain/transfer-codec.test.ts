/**
 * Transfer codec and keys: known structure, round trips, strict decoding, signatures bound to the
 * chain id, and fast-check fuzzing of every decoder (transfer, proof) with random bytes: a decoder
 * either returns or throws a ChainDbError, never anything else.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { ChainDbError } from "../../bindings/util/index.ts";
import {
  decodeTransfer,
  signTransfer,
  verifyTransferSignature,
  TRANSFER_SIZE,
} from "../../bindings/chain/transfer.ts";
import { generateKeyPair, keyPairFromSeed } from "../../bindings/chain/keys.ts";
import { decodeProof, verifyProof } from "../../bindings/chain/proof.ts";
import { fromHex, toHex } from "../../bindings/util/index.ts";
import { xorAt } from "../helpers/bytes.ts";

describe("keys", () => {
  it("RFC 8032 test 1: seed → public key", () => {
    const kp = keyPairFromSeed(fromHex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"));
    expect(toHex(kp.publicKey)).toBe("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
  });
  it("generateKeyPair gives distinct 32-byte keys", () => {
    const a = generateKeyPair();
    const b = generateKeyPair();
    expect(a.publicKey.length).toBe(32);
    expect(a.secretKey.length).toBe(32);
    expect(toHex(a.publicKey)).not.toBe(toHex(b.publicKey));
    expect(keyPairFromSeed(a.secretKey).publicKey).toEqual(a.publicKey);
  });
});

describe("transfer codec", () => {
  const kp = keyPairFromSeed(new Uint8Array(32).fill(1));
  const to = new Uint8Array(32).fill(2);
  const fields = { chainId: 0xdeadbeef, to, amount: 2n ** 63n + 5n, fee: 17n, nonce: 2n ** 40n };

  it("round trips with the documented layout", () => {
    const bytes = signTransfer(kp, fields);
    expect(bytes.length).toBe(TRANSFER_SIZE);
    expect(bytes[0]).toBe(1);
    expect(toHex(bytes.subarray(1, 5))).toBe("efbeadde");
    const t = decodeTransfer(bytes);
    expect(t).toMatchObject({ chainId: 0xdeadbeef, amount: fields.amount, fee: 17n, nonce: 2n ** 40n });
    expect(t.from).toEqual(kp.publicKey);
    expect(t.to).toEqual(to);
    expect(verifyTransferSignature(bytes)).toBe(true);
  });

  it("signature covers every byte, the chain id included", () => {
    const bytes = signTransfer(kp, fields);
    for (let i = 0; i < 93; i++) {
      const bad = bytes.slice();
      xorAt(bad, i, 0x40);
      if (i === 0) continue; // version: decode rejects it
      expect(verifyTransferSignature(bad), `byte ${i}`).toBe(false);
    }
  });

  it("strict decoding: length, version, argument checks", () => {
    const bytes = signTransfer(kp, fields);
    expect(() => decodeTransfer(bytes.subarray(0, 156))).toThrow(
      expect.objectContaining({ code: "BAD_LENGTH" }),
    );
    expect(() => decodeTransfer(new Uint8Array(158))).toThrow(
      expect.objectContaining({ code: "BAD_LENGTH" }),
    );
    const v2 = bytes.slice();
    v2[0] = 2;
    expect(() => decodeTransfer(v2)).toThrow(expect.objectContaining({ code: "BAD_TRANSFER" }));
    expect(() => signTransfer(kp, { ...fields, amount: -1n })).toThrow(
      expect.objectContaining({ code: "BAD_RANGE" }),
    );
    expect(() => signTransfer(kp, { ...fields, nonce: 2n ** 64n })).toThrow(
      expect.objectContaining({ code: "BAD_RANGE" }),
    );
    expect(() => signTransfer(kp, { ...fields, chainId: 2 ** 32 })).toThrow(
      expect.objectContaining({ code: "BAD_RANGE" }),
    );
    expect(() => signTransfer(kp, { ...fields, to: new Uint8Array(31) })).toThrow(
      expect.objectContaining({ code: "BAD_LENGTH" }),
    );
  });
});

describe("decoder fuzzing", () => {
  const onlyTyped = (fn: () => unknown) => {
    try {
      fn();
    } catch (e) {
      if (!(e instanceof ChainDbError)) throw e;
    }
  };
  it("decodeTransfer on random bytes and mutations", () => {
    const valid = signTransfer(keyPairFromSeed(new Uint8Array(32).fill(3)), {
      chainId: 1,
      to: new Uint8Array(32),
      amount: 1n,
      fee: 1n,
      nonce: 0n,
    });
    fc.assert(
      fc.property(
        fc.oneof(fc.uint8Array({ maxLength: 400 }), fc.uint8Array({ minLength: 157, maxLength: 157 })),
        (bytes) => {
          onlyTyped(() => decodeTransfer(bytes));
          onlyTyped(() => verifyTransferSignature(bytes));
        },
      ),
      { numRuns: 2000, seed: 42 },
    );
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 156 }), fc.integer({ min: 1, max: 255 }), (at, x) => {
        const bad = valid.slice();
        xorAt(bad, at, x);
        onlyTyped(() => {
          decodeTransfer(bad);
          expect(verifyTransferSignature(bad)).toBe(false);
        });
      }),
      { numRuns: 300, seed: 43 },
    );
  });
  it("decodeProof and verifyProof on random bytes", () => {
    const root = new Uint8Array(32);
    const addr = new Uint8Array(32);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), fc.boolean(), (bytes, shaped) => {
        if (shaped && bytes.length >= 6) {
          bytes[0] = 1;
          bytes[1] = (bytes[1]! % 22) + 1;
        }
        onlyTyped(() => decodeProof(bytes));
        onlyTyped(() => expect(verifyProof(root, addr, undefined, bytes)).toBe(false));
      }),
      { numRuns: 3000, seed: 44 },
    );
  });
});
