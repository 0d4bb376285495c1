/**
 * Side-by-side nonce-search speed of the `ts` engine's hand-written SHA-256d against
 * @noble/hashes with a midstate and node:crypto `crypto.hash` twice per nonce (the steadier
 * yardstick), plus the `wasm` engine when build/release.wasm exists. Same work for all: sha256d
 * over an 80-byte header, compared with a target nobody meets. Rounds are interleaved so machine
 * noise hits all alike; prints medians and ratios.
 *
 *   npx tsx scripts/bench-ts-search.ts [rounds=7] [noncesPerRound=200000]
 * @module
 */
import { createHash, hash as nodeHash } from "node:crypto";
import { sha256 } from "@noble/hashes/sha2.js";
import { createEngine, type Engine } from "../bindings/engine/index.ts";
import { searchNonceTs } from "../bindings/engine/sha256-ts.ts";

const rounds = Number(process.argv[2] ?? 7);
const perRound = Number(process.argv[3] ?? 200_000);
const header = new Uint8Array(80).map((_, i) => (i * 37 + 11) & 0xff);
const target = new Uint8Array(32); // zero target: no nonce solves it, so every nonce is tried

function tsEngine(start: number, count: number): number {
  const r = searchNonceTs(header, target, start, count);
  if (r.nonce !== null) throw new Error("unexpected solution");
  return r.hashes;
}

function nobleMidstate(start: number, count: number): number {
  const base = sha256.create().update(header.subarray(0, 64));
  const tail = header.slice(64, 80);
  const view = new DataView(tail.buffer);
  let sink = 0;
  for (let i = 0; i < count; i++) {
    view.setUint32(12, start + i, true);
    const h = sha256(base.clone().update(tail).digest());
    sink |= h[31]!;
  }
  return count + (sink & 0);
}

function nodeCryptoTwice(start: number, count: number): number {
  const h = header.slice();
  const view = new DataView(h.buffer);
  let sink = 0;
  const useHash = typeof nodeHash === "function";
  for (let i = 0; i < count; i++) {
    view.setUint32(76, start + i, true);
    const d = useHash
      ? nodeHash("sha256", nodeHash("sha256", h, "buffer"), "buffer")
      : createHash("sha256").update(createHash("sha256").update(h).digest()).digest();
    sink |= d[31]!;
  }
  return count + (sink & 0);
}

const wasm: Engine | null = await createEngine("wasm").catch(() => null);
function wasmEngine(start: number, count: number): number {
  const r = wasm!.searchNonce(header, target, start, count);
  if (r.nonce !== null) throw new Error("unexpected solution");
  return r.hashes;
}

const impls: Record<string, (start: number, count: number) => number> = {
  ts: tsEngine,
  "noble-midstate": nobleMidstate,
  "node:crypto x2": nodeCryptoTwice,
  ...(wasm ? { wasm: wasmEngine } : {}),
};
const rates: Record<string, number[]> = Object.fromEntries(Object.keys(impls).map((k) => [k, []]));
for (const [, f] of Object.entries(impls)) f(0, 20_000); // warm-up
for (let r = 0; r < rounds; r++) {
  for (const [name, f] of Object.entries(impls)) {
    const t0 = performance.now();
    const n = f(r * perRound, perRound);
    rates[name]!.push(n / ((performance.now() - t0) / 1000));
  }
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const m = Object.fromEntries(Object.entries(rates).map(([k, v]) => [k, median(v)]));
for (const [k, v] of Object.entries(m))
  console.log(`${k.padEnd(16)} ${(v / 1e6).toFixed(3)} MH/s median of ${rounds}`);
console.log(`ts / noble-midstate = ${(m.ts! / m["noble-midstate"]!).toFixed(2)}x`);
console.log(`ts / node:crypto x2 = ${(m.ts! / m["node:crypto x2"]!).toFixed(2)}x`);
if (m.wasm) console.log(`wasm / ts = ${(m.wasm / m.ts!).toFixed(2)}x`);
console.log(`node ${process.version}, ${new Date().toISOString()}`);
