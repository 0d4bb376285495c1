// Quick side-by-side measurement of the nonce search (not a committed benchmark: bench/pow.bench.ts
// is). Runs samples of the wasm engine's searchNonce and of node:crypto sha256d per nonce, alternating
// so machine drift hits both, and prints median and min–max MH/s and their ratio, by wall clock and
// by this process's CPU time (steadier when other work shares the cores).
// Usage: npx tsx scripts/measure-pow.mjs [samples=9] [wasmNoncesPerSample=2097152]
import crypto from "node:crypto";
import { createWasmEngine } from "../bindings/engine/wasm.ts";

const samples = Number(process.argv[2] ?? 9);
const wasmCount = Number(process.argv[3] ?? 2 ** 21);
const nodeCount = 200_000;
const header = Buffer.from(
  "0100000000000000000000000000000000000000000000000000000000000000000000003ba3edfd7a7b12b27ac72c3e67768f617fc81bc3888a51323a9fb8aa4b1e5e4a29ab5f49ffff001d1dac2b7c",
  "hex",
);
const impossible = new Uint8Array(32); // only an all-zero hash would meet it: every nonce is tried

const engine = await createWasmEngine();
function timed(count, run) {
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  run();
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const c = process.cpuUsage(c0);
  return { wall: count / wall / 1e6, cpu: count / ((c.user + c.system) / 1e6) / 1e6 };
}
function wasmSample(start) {
  return timed(wasmCount, () => {
    const r = engine.searchNonce(header, impossible, start, wasmCount);
    if (r.nonce !== null || r.hashes !== wasmCount) throw new Error("unexpected result");
  });
}
function nodeSample(start) {
  const h = Buffer.from(header);
  let sink = 0;
  const r = timed(nodeCount, () => {
    for (let n = start; n < start + nodeCount; n++) {
      h.writeUInt32LE(n, 76);
      sink ^= crypto.hash("sha256", crypto.hash("sha256", h, "buffer"), "buffer").readUInt8(31);
    }
  });
  if (sink === 256) throw new Error("unreachable");
  return r;
}
const stats = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const med = s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  return { med, min: s[0], max: s.at(-1) };
};
wasmSample(0);
nodeSample(0); // warm-up: lets V8 tier up both
const wasm = [],
  node = [];
for (let i = 0; i < samples; i++) {
  wasm.push(wasmSample(1_000_000 + i * wasmCount));
  node.push(nodeSample(i * nodeCount));
}
const f = (x) => x.toFixed(2);
for (const clock of ["wall", "cpu"]) {
  const w = stats(wasm.map((r) => r[clock])),
    n = stats(node.map((r) => r[clock]));
  console.log(`[${clock}] wasm        median ${f(w.med)} MH/s  (min ${f(w.min)} – max ${f(w.max)})`);
  console.log(`[${clock}] node:crypto median ${f(n.med)} MH/s  (min ${f(n.min)} – max ${f(n.max)})`);
  console.log(`[${clock}] ratio wasm/node:crypto (medians) ${(w.med / n.med).toFixed(1)}×`);
}
console.log(
  `node ${process.version}, ${samples} samples, load average ${(await import("node:os")).loadavg().map(f).join(" ")}`,
);
