/**
 * Mine a block header at a chosen difficulty with worker threads, then verify it.
 *
 *   npx tsx examples/mine-block.ts [bits-hex] [workers]     (Node)
 *   npx deno run -A examples/mine-block.ts [bits-hex] [workers]   (Deno)
 *
 * bits 1f00ffff needs about 65 thousand hashes, 1e00ffff about 16 million, 1d00ffff (Bitcoin's
 * difficulty 1) about 4.3 billion.
 */
import { blockHash, checkProofOfWork, decodeHeader, difficulty, encodeHeader, mine } from "chaindb";

const bits = parseInt(process.argv[2] ?? "1f00ffff", 16);
const workers = Number(process.argv[3] ?? 2);

const header = encodeHeader({
  version: 0x20000000,
  prevHash: new Uint8Array(32), // a genesis block: no parent
  merkleRoot: new Uint8Array(32).fill(0xab),
  time: 1_700_000_000,
  bits,
  nonce: 0,
});

console.log(
  `mining at bits ${bits.toString(16)} (difficulty ${difficulty(bits).toExponential(3)}) with ${workers} worker(s)…`,
);
const result = await mine(header, {
  workers,
  engine: "wasm",
  onProgress: (p) => console.log(`  ${(p.hashrate / 1e6).toFixed(2)} MH/s, ${p.hashes} hashes`),
  progressIntervalMs: 1000,
});
console.log(`found nonce ${result.nonce} after ${result.hashes} hashes in ${result.seconds.toFixed(2)} s`);
console.log(`block hash ${result.hash}`);

const check = checkProofOfWork(result.header);
if (
  !check.ok ||
  blockHash(result.header) !== result.hash ||
  decodeHeader(result.header).nonce !== result.nonce
) {
  throw new Error(`verification failed: ${check.reason}`);
}
console.log("proof of work verified ✓");
