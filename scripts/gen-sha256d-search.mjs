#!/usr/bin/env node
// Writes bindings/engine/sha256d-search.generated.ts: the fully unrolled SHA-256d nonce-search core
// of the `ts` engine (FIPS 180-4 §6.2 compression, specialised for an 80-byte Bitcoin header).
//
// Why generated and unrolled: with every round and schedule word in locals, V8 keeps the state in
// registers and the constant padding words fold into literals; measured side by side on this
// machine (2 cores, loaded), the unrolled core ran 1.3–1.5x the rolled-loop version.
//
//   node scripts/gen-sha256d-search.mjs            (write)
//   node scripts/gen-sha256d-search.mjs --check    (exit 1 when the file differs; npm run check:generated)
import { readFileSync, writeFileSync } from "node:fs";

const K = [
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
  0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
  0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
  0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
  0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
  0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
  0xc67178f2,
];
const IV = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];

const i32 = (x) => x | 0;
const rotr = (x, n) => ((x >>> n) | (x << (32 - n))) >>> 0;
const isConst = (w) => typeof w === "number";
const sig0 = (x) =>
  isConst(x)
    ? i32(rotr(x, 7) ^ rotr(x, 18) ^ (x >>> 3))
    : `(((${x} >>> 7) | (${x} << 25)) ^ ((${x} >>> 18) | (${x} << 14)) ^ (${x} >>> 3))`;
const sig1 = (x) =>
  isConst(x)
    ? i32(rotr(x, 17) ^ rotr(x, 19) ^ (x >>> 10))
    : `(((${x} >>> 17) | (${x} << 15)) ^ ((${x} >>> 19) | (${x} << 13)) ^ (${x} >>> 10))`;

/** Sum of terms, constants folded into one literal; `| 0` keeps V8 on int32. */
function sum(terms) {
  let k = 0;
  const vars = [];
  for (const t of terms)
    if (isConst(t)) k = i32(k + t);
    else vars.push(t);
  if (vars.length === 0) return k;
  if (k !== 0) vars.push(String(k));
  return `(${vars.join(" + ")}) | 0`;
}

/** Schedule word t from earlier words `w` (numbers are constants, strings are local names). */
function schedule(w, t, name, lines) {
  const v = sum([sig1(w[t - 2]), w[t - 7], sig0(w[t - 15]), w[t - 16]]);
  if (isConst(v)) w[t] = v;
  else {
    lines.push(`    const ${name} = ${v};`);
    w[t] = name;
  }
}

const REGS = ["a", "b", "c", "d", "e", "f", "g", "h"];
/** Register names at round t: instead of shifting eight values each round, the names rotate. */
const regsAt = (t) => REGS.map((_, i) => REGS[(((i - t) % 8) + 8) % 8]);

/** One compression round; `kw` is K[t] + W[t] as an expression or a folded constant. */
function round(t, kw, lines) {
  const [a, b, c, d, e, f, g, h] = regsAt(t);
  lines.push(
    `    t1 = (${h} + (((${e} >>> 6) | (${e} << 26)) ^ ((${e} >>> 11) | (${e} << 21)) ^ ((${e} >>> 25) | (${e} << 7))) + (${g} ^ (${e} & (${f} ^ ${g}))) + ${kw}) | 0;`,
    `    ${d} = (${d} + t1) | 0;`,
    `    ${h} = (t1 + (((${a} >>> 2) | (${a} << 30)) ^ ((${a} >>> 13) | (${a} << 19)) ^ ((${a} >>> 22) | (${a} << 10))) + ((${a} & ${b}) | (${c} & (${a} | ${b})))) | 0;`,
  );
}
/** Round constant t (0..63). */
const k = (t) => {
  const v = K[t];
  if (v === undefined) throw new RangeError(`round ${t} outside 0..63`);
  return v;
};
const kwOf = (t, w) => (isConst(w) ? i32(k(t) + w) : `${i32(k(t))} + ${w}`);

const body = [];
// First hash, second block: W0..W2 (used only by the precomputed rounds 0..2) and W16, W17 are per-search inputs, W3 is the nonce, the rest is
// the padding of an 80-byte message (0x80000000, zeros, length 640).
const w = ["w0", "w1", "w2", "w3", i32(0x80000000), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 640, "w16", "w17"];
body.push("    const w18 = (w18Base + " + sig0("w3") + ") | 0;", "    const w19 = (w19Base + w3) | 0;");
w[18] = "w18";
w[19] = "w19";
for (let t = 20; t < 64; t++) schedule(w, t, `w${t}`, body);
body.push("    a = p0; b = p1; c = p2; d = p3; e = p4; f = p5; g = p6; h = p7;");
for (let t = 3; t < 64; t++) round(t - 3, kwOf(t, w[t]), body);
const fin = regsAt(61);
body.push(fin.map((r, i) => `    const x${i} = (${r} + m${i}) | 0;`).join("\n"));
// Second hash: one block, the 32-byte digest then constant padding (0x80000000, zeros, length 256).
const x = ["x0", "x1", "x2", "x3", "x4", "x5", "x6", "x7", i32(0x80000000), 0, 0, 0, 0, 0, 0, 256];
for (let t = 16; t < 61; t++) schedule(x, t, `x${t}`, body);
body.push(
  `    a = ${i32(IV[0])}; b = ${i32(IV[1])}; c = ${i32(IV[2])}; d = ${i32(IV[3])}; e = ${i32(IV[4])}; f = ${i32(IV[5])}; g = ${i32(IV[6])}; h = ${i32(IV[7])};`,
);
for (let t = 0; t < 61; t++) round(t, kwOf(t, x[t]), body);
// After round 60 the new `e` is what rounds 61..63 only shift into `h`: H7 is known here.
body.push(`    const h7 = (${regsAt(61)[4]} + ${i32(IV[7])}) | 0;`);

const src = `// DO NOT EDIT: generated by scripts/gen-sha256d-search.mjs (run it to regenerate).
/**
 * Fully unrolled SHA-256d nonce-search core of the \`ts\` engine (FIPS 180-4 §6.2), specialised for
 * an 80-byte Bitcoin header: midstate in, constant padding folded, the last compression stopped
 * after round 60 once H7 (the hash's top 32 bits as a little-endian number) is known.
 * @module
 */

/**
 * Index i in [0, count) of the first nonce startNonce + i whose hash's top 32 bits (little-endian)
 * are ≤ targetTop, or -1. A candidate solves the target unless its top bits only tie: the caller
 * checks candidates in full. \`plan\` holds p0..p7 (state after 3 rounds of block two), m0..m7
 * (midstate), W16, W17, and W18 - σ0(W3), W19 - W3 (the nonce-independent parts).
 */
export function searchCandidates(plan: Int32Array, targetTop: number, startNonce: number, count: number): number {
  const p0 = plan[0]!, p1 = plan[1]!, p2 = plan[2]!, p3 = plan[3]!, p4 = plan[4]!, p5 = plan[5]!, p6 = plan[6]!, p7 = plan[7]!;
  const m0 = plan[8]!, m1 = plan[9]!, m2 = plan[10]!, m3 = plan[11]!, m4 = plan[12]!, m5 = plan[13]!, m6 = plan[14]!, m7 = plan[15]!;
  const w16 = plan[16]!, w17 = plan[17]!, w18Base = plan[18]!, w19Base = plan[19]!;
  let a = 0, b = 0, c = 0, d = 0, e = 0, f = 0, g = 0, h = 0, t1 = 0;
  for (let i = 0; i < count; i++) {
    const n = (startNonce + i) | 0;
    const w3 = ((n & 0xff) << 24) | ((n & 0xff00) << 8) | ((n >>> 8) & 0xff00) | (n >>> 24);
${body.join("\n")}
    const top = (((h7 & 0xff) << 24) | ((h7 & 0xff00) << 8) | ((h7 >>> 8) & 0xff00) | (h7 >>> 24)) >>> 0;
    if (top <= targetTop) return i;
  }
  return -1;
}

/** Number of int32 slots of the plan {@link searchCandidates} reads. */
export const PLAN_LENGTH = 20;
`;
const target = new URL("../bindings/engine/sha256d-search.generated.ts", import.meta.url);
if (process.argv.includes("--check")) {
  const same = readFileSync(target, "utf8") === src;
  if (!same)
    console.error(
      `${target.pathname} differs from its generator's output: run node scripts/gen-sha256d-search.mjs`,
    );
  process.exitCode = same ? 0 : 1;
} else {
  writeFileSync(target, src);
}
