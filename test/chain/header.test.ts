/**
 * The 80-byte header codec against real Bitcoin mainnet headers, plus its typed errors.
 * @module
 */
import { describe, expect, it } from "vitest";
import {
  blockHash,
  blockHashBytes,
  decodeHeader,
  encodeHeader,
  getNonce,
  hashFromHex,
  hashToHex,
  headerWithNonce,
  setNonce,
  setTime,
  type BlockHeader,
} from "../../bindings/chain/index.ts";
import { createEngine } from "../../bindings/engine/index.ts";
import { fromHex, toHex } from "../../bindings/util/index.ts";
import { HEADER_VECTORS, expectCode } from "../helpers/engine.suite.ts";
import { xorAt } from "../helpers/bytes.ts";

const genesis = HEADER_VECTORS.find((v) => v.height === 0)!;

function sample(): BlockHeader {
  return {
    version: 0x20000000,
    prevHash: Uint8Array.from({ length: 32 }, (_, i) => i),
    merkleRoot: Uint8Array.from({ length: 32 }, (_, i) => 255 - i),
    time: 1_700_000_000,
    bits: 0x1d00ffff,
    nonce: 0xdeadbeef,
  };
}

describe("decodeHeader / encodeHeader on mainnet headers", () => {
  it.each(HEADER_VECTORS.map((v) => [v.height, v] as const))(
    "block %i decodes to its fields and re-encodes byte for byte",
    (_h, v) => {
      const bytes = fromHex(v.header);
      const h = decodeHeader(bytes);
      expect([h.version, h.time, h.bits, h.nonce]).toEqual([v.version, v.time, Number(v.bits), v.nonce]);
      expect(toHex(encodeHeader(h))).toBe(v.header);
      expect(blockHash(bytes)).toBe(v.hash);
      expect(blockHash(h)).toBe(v.hash);
    },
  );

  it("genesis: zero prevHash and the well-known merkle root (display order)", () => {
    const h = decodeHeader(fromHex(genesis.header));
    expect(h.prevHash).toEqual(new Uint8Array(32));
    expect(hashToHex(h.merkleRoot)).toBe("4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b");
  });

  it("block 1's prevHash is the genesis hash", () => {
    const h = decodeHeader(fromHex(HEADER_VECTORS.find((v) => v.height === 1)!.header));
    expect(hashToHex(h.prevHash)).toBe(genesis.hash);
    expect(h.prevHash).toEqual(blockHashBytes(fromHex(genesis.header)));
  });

  it("decodes a subarray at a non-zero offset and returns copies of the hashes", () => {
    const buf = new Uint8Array(100);
    buf.set(fromHex(genesis.header), 7);
    const view = buf.subarray(7, 87);
    const h = decodeHeader(view);
    expect(h.nonce).toBe(genesis.nonce);
    expect(h.time).toBe(genesis.time);
    xorAt(h.merkleRoot, 0, 0xff);
    expect(toHex(view)).toBe(genesis.header);
  });
});

describe("encodeHeader fields", () => {
  it("round-trips a sample header with little-endian fields", () => {
    const bytes = encodeHeader(sample());
    expect(toHex(bytes.subarray(0, 4))).toBe("00000020");
    expect(toHex(bytes.subarray(68, 80))).toBe("00f15365" + "ffff001d" + "efbeadde");
    expect(decodeHeader(bytes)).toEqual(sample());
  });

  it("version is an int32 encoded as u32 two's complement (as Bitcoin's nVersion)", () => {
    const bytes = encodeHeader({ ...sample(), version: -1 });
    expect(toHex(bytes.subarray(0, 4))).toBe("ffffffff");
    expect(decodeHeader(bytes).version).toBe(-1);
    expect(decodeHeader(encodeHeader({ ...sample(), version: -0x80000000 })).version).toBe(-0x80000000);
    expect(decodeHeader(encodeHeader({ ...sample(), version: 0x7fffffff })).version).toBe(0x7fffffff);
  });

  it("rejects out-of-range and non-integer fields with typed errors", () => {
    expectCode(() => encodeHeader({ ...sample(), version: 0x80000000 }), "BAD_RANGE");
    expectCode(() => encodeHeader({ ...sample(), version: 1.5 }), "BAD_ARGUMENT");
    expectCode(() => encodeHeader({ ...sample(), time: 2 ** 32 }), "BAD_RANGE");
    expectCode(() => encodeHeader({ ...sample(), time: -1 }), "BAD_RANGE");
    expectCode(() => encodeHeader({ ...sample(), bits: 2 ** 32 }), "BAD_RANGE");
    expectCode(() => encodeHeader({ ...sample(), nonce: 2 ** 32 }), "BAD_NONCE");
    expectCode(() => encodeHeader({ ...sample(), nonce: 0.5 }), "BAD_NONCE");
    expectCode(() => encodeHeader({ ...sample(), prevHash: new Uint8Array(31) }), "BAD_LENGTH");
    expectCode(() => encodeHeader({ ...sample(), merkleRoot: new Uint8Array(33) }), "BAD_LENGTH");
    expectCode(
      () => encodeHeader({ ...sample(), merkleRoot: "00" as unknown as Uint8Array }),
      "BAD_ARGUMENT",
    );
    expectCode(() => encodeHeader(null as unknown as BlockHeader), "BAD_ARGUMENT");
  });

  it("decodeHeader rejects anything but 80 bytes with BAD_LENGTH", () => {
    expectCode(() => decodeHeader(new Uint8Array(79)), "BAD_LENGTH");
    expectCode(() => decodeHeader(new Uint8Array(81)), "BAD_LENGTH");
    expectCode(() => decodeHeader(new Uint8Array(0)), "BAD_LENGTH");
    expectCode(() => decodeHeader([1, 2] as unknown as Uint8Array), "BAD_ARGUMENT");
  });
});

describe("blockHash", () => {
  it("with an engine gives the same hash as the sync form", async () => {
    const engine = await createEngine("ts");
    for (const v of HEADER_VECTORS) expect(blockHash(fromHex(v.header), engine)).toBe(v.hash);
  });

  it("hashToHex / hashFromHex convert between internal and display order", () => {
    const internal = blockHashBytes(fromHex(genesis.header));
    expect(toHex(internal).endsWith("0000000000")).toBe(true); // the zeros are at the end internally
    expect(hashToHex(internal)).toBe(genesis.hash);
    expect(hashFromHex(genesis.hash)).toEqual(internal);
    expectCode(() => hashFromHex("00ff"), "BAD_LENGTH");
    expectCode(() => hashFromHex("zz".repeat(32)), "BAD_HEX");
  });

  it("rejects a 79-byte header", () => {
    expectCode(() => blockHash(new Uint8Array(79)), "BAD_LENGTH");
  });
});

describe("nonce and time helpers", () => {
  it("headerWithNonce copies; setNonce writes in place; getNonce reads back", () => {
    const bytes = fromHex(genesis.header);
    const copy = headerWithNonce(bytes, 0x01020304);
    expect(toHex(copy.subarray(76))).toBe("04030201");
    expect(getNonce(copy)).toBe(0x01020304);
    expect(getNonce(bytes)).toBe(genesis.nonce); // input untouched
    expect(setNonce(bytes, 0xffffffff)).toBe(bytes);
    expect(getNonce(bytes)).toBe(0xffffffff);
    expect(toHex(bytes.subarray(0, 76))).toBe(genesis.header.slice(0, 152));
  });

  it("setNonce restores the real nonce and with it the real hash", () => {
    const bytes = headerWithNonce(fromHex(genesis.header), 0);
    expect(blockHash(bytes)).not.toBe(genesis.hash);
    expect(blockHash(setNonce(bytes, genesis.nonce))).toBe(genesis.hash);
  });

  it("setTime writes the time field in place (time rolling)", () => {
    const bytes = fromHex(genesis.header);
    setTime(bytes, genesis.time + 1);
    expect(decodeHeader(bytes).time).toBe(genesis.time + 1);
    expect(decodeHeader(bytes).nonce).toBe(genesis.nonce);
  });

  it("works on a subarray at an offset", () => {
    const buf = new Uint8Array(90);
    buf.set(fromHex(genesis.header), 5);
    const view = buf.subarray(5, 85);
    setNonce(view, 7);
    expect(buf[81]).toBe(7);
    expect(getNonce(view)).toBe(7);
  });

  it("rejects bad nonces, times and header lengths with typed errors", () => {
    const bytes = new Uint8Array(80);
    expectCode(() => setNonce(bytes, 2 ** 32), "BAD_NONCE");
    expectCode(() => setNonce(bytes, -1), "BAD_NONCE");
    expectCode(() => headerWithNonce(bytes, 1.25), "BAD_NONCE");
    expectCode(() => setTime(bytes, 2 ** 32), "BAD_RANGE");
    expectCode(() => setNonce(new Uint8Array(79), 1), "BAD_LENGTH");
    expectCode(() => getNonce(new Uint8Array(81)), "BAD_LENGTH");
  });
});
