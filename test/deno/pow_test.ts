// Deno smoke suite: imports the package by name (deno.json maps "chaindb" to the sources) and runs
// the core vectors and a small parallel mine under Deno.
import {
  bitsToTarget,
  blockHash,
  checkProofOfWork,
  createEngine,
  decodeHeader,
  encodeHeader,
  fromHex,
  mine,
  targetToBits,
  toHex,
  ChainDbError,
} from "chaindb";

function assertEquals(actual: unknown, expected: unknown, what: string): void {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new Error(`${what}: expected ${e}, got ${a}`);
}

const GENESIS = fromHex(
  "0100000000000000000000000000000000000000000000000000000000000000000000003ba3edfd7a7b12b27ac72c3e67768f617fc81bc3888a51323a9fb8aa4b1e5e4a29ab5f49ffff001d1dac2b7c",
);
const GENESIS_HASH = "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f";

for (const name of ["wasm", "ts"] as const) {
  Deno.test(`${name} engine: NIST SHA-256 vectors`, async () => {
    const engine = await createEngine(name);
    const enc = new TextEncoder();
    assertEquals(
      toHex(engine.sha256(new Uint8Array())),
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
      "empty",
    );
    assertEquals(
      toHex(engine.sha256(enc.encode("abc"))),
      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
      "abc",
    );
    assertEquals(
      toHex(engine.sha256(enc.encode("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"))),
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
      "448-bit",
    );
  });

  Deno.test(`${name} engine: the genesis nonce is found at its exact position`, async () => {
    const engine = await createEngine(name);
    const nonce = decodeHeader(GENESIS).nonce;
    const result = engine.searchNonce(GENESIS, bitsToTarget(0x1d00ffff), nonce - 1000, 2000);
    assertEquals(result, { nonce, hashes: 1001 }, "search");
  });
}

Deno.test("genesis header verifies end to end", () => {
  assertEquals(blockHash(GENESIS), GENESIS_HASH, "hash");
  assertEquals(checkProofOfWork(GENESIS).ok, true, "pow");
  assertEquals(targetToBits(bitsToTarget(0x1d00ffff)), 0x1d00ffff, "bits round trip");
});

Deno.test("bad input throws a typed ChainDbError", async () => {
  const engine = await createEngine("wasm");
  try {
    engine.searchNonce(new Uint8Array(79), new Uint8Array(32), 0, 1);
    throw new Error("no error thrown");
  } catch (error) {
    if (!(error instanceof ChainDbError) || error.code !== "BAD_LENGTH") throw error;
  }
});

Deno.test("a small parallel mine under Deno, with 2 workers", async () => {
  const header = encodeHeader({
    version: 2,
    prevHash: new Uint8Array(32),
    merkleRoot: new Uint8Array(32).fill(5),
    time: 1_700_000_000,
    bits: 0x1f00ffff,
    nonce: 0,
  });
  const result = await mine(header, { workers: 2, engine: "wasm" });
  assertEquals(result.workers, 2, "workers");
  assertEquals(checkProofOfWork(result.header).ok, true, "pow");
});
