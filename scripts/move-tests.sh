#!/usr/bin/env bash
# One-off: moves the flat test/*.ts files into folders that mirror the layers (test/engine,
# test/chain, test/consensus, …; STYLE.md "Tests mirror the layers") and merges test/fixtures into
# test/helpers, the one folder of fixtures and helpers. Run it once, from the repository root, on a
# clean tree after every branch is merged (it touches every test file); then commit.
#   bash scripts/move-tests.sh          (prints each git mv, then the number of rewritten files)
# It first rewrites, in the old layout, every relative path in test files (imports, new URL(…),
# "..") so it points at the same file from the new place, and every "test/<old path>" mention in
# the repository (replay commands, comments, spawned helper paths); then it runs git mv.
# A test/*.ts file that no rule places is left where it is and named at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -n "$(git status --porcelain -- test)" ]; then
  echo "move-tests: test/ has uncommitted changes; commit or stash them first" >&2
  exit 1
fi

node --input-type=module - <<'EOF'
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import ts from "typescript";

// Where each flat test file goes: the first rule whose pattern matches its name.
const RULES = [
  [/^2pc-cli\.test\.ts$/, "cli"],
  [/^(cli|cli-.*|trace-cli)\.test\.ts$/, "cli"],
  [/^(state-engines|state-u64)/, "engine"],
  [/^(util-|byte-views)/, "util"],
  [/^2pc-/, "txn"],
  [/^(txn-|lock-manager)/, "txn"],
  [/^bench-/, "bench"],
  [/^check-boundaries/, "tooling"],
  [/^(bits|miner)\.test\.ts$/, "pow"],
  [/^(concurrency-|executor-)/, "concurrency"],
  [/^consensus-cluster-node\.ts$/, "helpers"],
  [/^engine\.suite\.ts$/, "helpers"],
  [/^(consensus-|proposer-selection)/, "consensus"],
  [/^(engine|sha256-simd|wasm-|kv-)/, "engine"],
  [/^(header|transfer-codec|ledger|state-proof)/, "chain"],
  [/^net-/, "net"],
  [/^replication-/, "replication"],
  [/^runtime-/, "runtime"],
  [/^selection-/, "selection"],
  [/^store-/, "store"],
];

const root = process.cwd();
const moves = new Map(); // old repo-relative path -> new repo-relative path
const unplaced = [];
for (const name of readdirSync("test")) {
  const path = `test/${name}`;
  if (statSync(path).isDirectory()) continue;
  if (!/\.(ts|mts|mjs)$/.test(name)) continue;
  const rule = RULES.find(([pattern]) => pattern.test(name));
  if (rule === undefined) unplaced.push(path);
  else moves.set(path, `test/${rule[1]}/${name}`);
}
if (existsSync("test/fixtures")) for (const name of readdirSync("test/fixtures")) moves.set(`test/fixtures/${name}`, `test/helpers/${name}`);

const newPathOf = (p) => moves.get(p) ?? p;
const posix = (p) => p.split("\\").join("/");

/** Every file under `dir` (repo-relative). */
function filesUnder(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...filesUnder(path));
    else out.push(posix(path));
  }
  return out;
}

/** The new spec for `spec` written in `file`, or undefined to leave it. */
function moved(file, spec) {
  const oldDir = dirname(file);
  const newDir = dirname(newPathOf(file));
  let target = posix(relative(root, resolve(oldDir, spec)));
  if (target.startsWith("..")) return undefined;
  // A file that does not exist in a folder that moved (a base URL such as "./fixtures/echo.ts").
  if (!existsSync(target) && dirname(target) === "test/fixtures") target = `test/helpers/${target.split("/").pop()}`;
  let next = posix(relative(newDir, newPathOf(target)));
  if (spec !== ".." && !next.startsWith(".")) next = `./${next}`;
  return next === spec ? undefined : next;
}

/**
 * Rewrites the relative paths of one test file for its new place: the specifiers of its real
 * imports (found by TypeScript's scanner, so paths inside other strings, such as test-fixture
 * sources, stay), `new URL("./…", import.meta.url)` and `import.meta.dirname, ".."`.
 */
function rewriteRelative(file, text) {
  const edits = [];
  for (const f of ts.preProcessFile(text, true, true).importedFiles) {
    if (!f.fileName.startsWith(".")) continue;
    const next = moved(file, f.fileName);
    // pos is the opening quote (TypeScript 5.9); the path follows it.
    if (next !== undefined) edits.push([f.pos + 1, f.pos + 1 + f.fileName.length, next]);
  }
  const patterns = [/new URL\((["'])(\.\.?\/[^"'\n]*)\1,\s*import\.meta\.url\)/g, /import\.meta\.dirname,\s*(["'])(\.\.?(?:\/[^"'\n]*)?)\1/g];
  for (const re of patterns) {
    for (const m of text.matchAll(re)) {
      const next = moved(file, m[2]);
      const start = m.index + m[0].indexOf(m[1] + m[2]) + 1;
      if (next !== undefined) edits.push([start, start + m[2].length, next]);
    }
  }
  for (const [start, end, next] of edits.sort((a, b) => b[0] - a[0])) text = text.slice(0, start) + next + text.slice(end);
  return text;
}

let rewritten = 0;
// 1. Relative paths inside test files.
for (const file of filesUnder("test").filter((f) => /\.(ts|mts|mjs)$/.test(f) && !f.startsWith("test/vectors/"))) {
  const text = readFileSync(file, "utf8");
  const next = rewriteRelative(file, text);
  if (next !== text) (writeFileSync(file, next), rewritten++);
}
// 2. "test/<old path>" mentions anywhere in the repository's text files.
const tracked = execFileSync("git", ["ls-files"], { encoding: "utf8" }).split("\n").filter((f) => /\.(ts|mts|mjs|js|json|md|sh)$|^\.ci\/run$/.test(f) && f !== "CHANGELOG.md" && f !== "scripts/move-tests.sh");
const mention = new RegExp(`\\b(${[...moves.keys()].map((k) => k.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|")})\\b`, "g");
for (const file of tracked) {
  if (!existsSync(file)) continue;
  const text = readFileSync(file, "utf8");
  const next = text.replace(mention, (m) => newPathOf(m));
  if (next !== text) (writeFileSync(file, next), rewritten++);
}
// 3. "fixtures/<name>" mentions without the test/ prefix, inside test files.
for (const file of filesUnder("test").filter((f) => /\.(ts|mts|mjs)$/.test(f))) {
  const text = readFileSync(file, "utf8");
  let next = text;
  for (const [from, to] of moves) if (from.startsWith("test/fixtures/")) next = next.split(from.slice(5)).join(to.slice(5));
  if (next !== text) (writeFileSync(file, next), rewritten++);
}
// 4. git mv, now that every path points at the new layout.
for (const [from, to] of [...moves].sort()) {
  execFileSync("mkdir", ["-p", dirname(to)]);
  execFileSync("git", ["mv", from, to]);
  console.log(`git mv ${from} ${to}`);
}
console.log(`move-tests: ${moves.size} files moved, ${rewritten} file(s) rewritten`);
if (unplaced.length > 0) console.log(`move-tests: left in place (no rule): ${unplaced.join(", ")}`);
EOF
