/**
 * The wasm engine's merkle root for trees larger than its input buffer (2^11 hashes): aligned
 * blocks of 2^11 leaves reduced in the core, then the tree over the block nodes, against a direct
 * node:crypto implementation of Bitcoin's algorithm (sha256d of pairs, odd levels duplicate the last).
 * @module
 */
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { instantiateCore } from "../../bindings/engine/core.ts";
import { createWasmEngine } from "../../bindings/engine/wasm.ts";
import { toHex } from "../../bindings/util/index.ts";
import { prng, randomBytes } from "../helpers/engine.suite.ts";

const sha256 = (data: Uint8Array): Uint8Array => new Uint8Array(createHash("sha256").update(data).digest());

/** Bitcoin's merkle root, written as directly as possible. */
function referenceRoot(leaves: Uint8Array[]): Uint8Array {
  let level = leaves;
  while (level.length > 1) {
    const next: Uint8Array[] = [];
    for (let i = 0; i < level.length; i += 2) {
      const pair = new Uint8Array(64);
      pair.set(level[i]!, 0);
      pair.set(level[i + 1] ?? level[i]!, 32);
      next.push(sha256(sha256(pair)));
    }
    level = next;
  }
  return level[0]!;
}

describe("wasm merkle root beyond one input buffer of leaves", () => {
  it("equals the reference around the 2^11-leaf block size and its multiples", async () => {
    const engine = await createWasmEngine(await instantiateCore());
    const rand = prng(0x3e4c1e);
    const all = Array.from({ length: 3 * 2048 + 5 }, () => randomBytes(rand, 32));
    // (Above 2^22 leaves the block nodes are themselves cut into blocks: the same code, recursing.)
    for (const n of [2047, 2048, 2049, 2050, 3000, 4095, 4096, 4097, 6144, 6145, 6149]) {
      const leaves = all.slice(0, n);
      expect(toHex(engine.merkleRoot(leaves)), `${n} leaves`).toBe(toHex(referenceRoot(leaves)));
    }
  });
});
