/**
 * Side-by-side measurement of the two state engines on the same 1000-transfer blocks, in one
 * process: median block time after warm-up, exec only and exec + root, and the wasm/ts ratio.
 * Wall time and CPU time (process.cpuUsage) are both given: on a shared machine the CPU time is
 * the steadier figure (another process's load stretches wall time, not CPU time).
 * Usage: npx tsx scripts/measure-state-twin.ts [accounts=100000] [blocks=15] [warm=3]
 * @module
 */
import {
  ACCOUNT_RECORD_SIZE as REC,
  PACKED_TRANSFER_SIZE as TX,
  RECORD_BALANCE,
  createLedgerState,
  packTransfer,
} from "../bindings/engine/index.ts";
import type { LedgerState } from "../bindings/engine/index.ts";

const N = Number(process.argv[2] ?? 100_000);
const BLOCKS = Number(process.argv[3] ?? 15);
const WARM = Number(process.argv[4] ?? 3);
const TXS = 1000;

let seed = 12345;
const rand = (): number => {
  seed = (Math.imul(seed ^ (seed >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) | 0;
  return ((seed ^ (seed >>> 13)) >>> 0) / 2 ** 32;
};
const addrs = new Uint8Array(N * 32);
for (let i = 0; i < addrs.length; i++) addrs[i] = (rand() * 256) | 0;
const addr = (i: number): Uint8Array => addrs.subarray(i * 32, i * 32 + 32);
const genesis = new Uint8Array(N * REC);
const gdv = new DataView(genesis.buffer);
for (let i = 0; i < N; i++) {
  genesis.set(addr(i), i * REC);
  gdv.setBigUint64(i * REC + RECORD_BALANCE, 1_000_000_000n, true);
}
const nonces = new Float64Array(N);
function makeBlock(): Uint8Array {
  const out = new Uint8Array(TX * TXS);
  for (let t = 0; t < TXS; t++) {
    const f = (rand() * N) | 0;
    let to = (rand() * N) | 0;
    if (to === f) to = (to + 1) % N;
    packTransfer(out, t, addr(f), addr(to), 1n, 1n, BigInt(nonces[f]!++));
  }
  return out;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const engines = ["wasm", "ts"] as const;
const states: LedgerState[] = [];
for (const e of engines) {
  const s = await createLedgerState(e);
  const t0 = performance.now();
  s.load(genesis);
  s.root();
  console.log(`${e}: load + first root of ${N} accounts ${(performance.now() - t0).toFixed(0)} ms`);
  states.push(s);
}
const exec: number[][] = [[], []];
const full: number[][] = [[], []];
const cpuExec: number[][] = [[], []];
const cpuFull: number[][] = [[], []];
const cpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const proposer = addr(0);
for (let b = 0; b < WARM + BLOCKS; b++) {
  const block = makeBlock();
  const roots: string[] = [];
  states.forEach((s, k) => {
    const c0 = cpuMs();
    const t0 = performance.now();
    s.begin();
    const st = s.apply(block, TXS, proposer);
    s.commit();
    const t1 = performance.now();
    const c1 = cpuMs();
    roots.push(Buffer.from(s.root()).toString("hex") + st.reduce((a, x) => a + x, 0));
    const t2 = performance.now();
    const c2 = cpuMs();
    if (b >= WARM) {
      cpuExec[k]!.push(c1 - c0);
      cpuFull[k]!.push(c2 - c0);
      exec[k]!.push(t1 - t0);
      full[k]!.push(t2 - t0);
    }
  });
  if (roots[0] !== roots[1]) throw new Error(`roots differ at block ${b}`);
}
const tps = (ms: number): string => `${(((TXS / ms) * 1000) / 1000).toFixed(0)}k tx/s`;
engines.forEach((e, k) => {
  const x = median(exec[k]!);
  const f = median(full[k]!);
  const cx = median(cpuExec[k]!);
  const cf = median(cpuFull[k]!);
  console.log(
    `${e}: wall exec ${x.toFixed(2)} ms (${tps(x)}), exec+root ${f.toFixed(2)} ms (${tps(f)}) | cpu exec ${cx.toFixed(2)} ms (${tps(cx)}), exec+root ${cf.toFixed(2)} ms (${tps(cf)})`,
  );
});
const ratio = (m: number[][]): string => (median(m[1]!) / median(m[0]!)).toFixed(2);
console.log(
  `wasm/ts speed ratio: wall exec ${ratio(exec)}x, exec+root ${ratio(full)}x | cpu exec ${ratio(cpuExec)}x, exec+root ${ratio(cpuFull)}x  (N=${N}, ${BLOCKS} blocks after ${WARM} warm-up)`,
);
