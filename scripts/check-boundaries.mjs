#!/usr/bin/env node
// Import-boundary check: encodes DESIGN.md's layer order and fails on any import that breaks it.
//   1. A layer never imports one above it. From the bottom: util, runtime → protocol → engine →
//      store → chain → pow, net, concurrency → txn → replication → selection → consensus → cli; the
//      package root (bindings/index.ts) above the library layers; bench/ and examples/ on top.
//      Layers on one rung (util and runtime; pow, net and concurrency) may import each other.
//   2. Another layer is reached only through its index.ts (bindings/<layer>/index.ts).
//   3. Examples import only the package ("chaindb"), as a user would: never bindings/ by path.
//   4. No cycles between files, and none between folders (a layer's subfolders, such as
//      txn/two-phase, belong to its folder).
// Type-only imports count: a layer that names a type from above depends on it all the same.
// Imports are read with TypeScript's own scanner (ts.preProcessFile), so comments and strings
// that look like imports are not mistaken for them.
//   node scripts/check-boundaries.mjs [--report <file.json>]
import { readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import ts from "typescript";

/** DESIGN.md's layer picture, bottom first: each entry is one rung. */
export const RUNGS = [
  ["util", "runtime"],
  ["protocol"],
  ["engine"],
  ["store"],
  ["chain"],
  ["pow", "net", "concurrency"],
  ["txn"],
  ["replication"],
  ["selection"],
  ["consensus"],
  ["cli"],
  ["(package root)"],
  ["bench", "examples", "(executable)"],
];
/** The executable (the package's `bin`) is the composition root: it hands the CLI the bench suites. */
const EXECUTABLE = "bindings/cli/bin.ts";
const RANK = new Map(RUNGS.flatMap((names, rank) => names.map((n) => [n, rank])));
const ROOTS = ["bindings", "bench", "examples"];

/** Every .ts/.mjs file under the roots, as repo-relative paths with forward slashes. */
function sourceFiles(root) {
  const out = [];
  const walk = (dir) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) {
        if (name !== "results" && name !== "node_modules") walk(path);
      } else if (/\.(ts|mts|mjs|js)$/.test(name) && !name.endsWith(".d.ts"))
        out.push(relative(root, path).split("\\").join("/"));
    }
  };
  for (const r of ROOTS) walk(join(root, r));
  return out.sort();
}

/** The layer a file belongs to: bindings/<layer>/…, the package root, bench or examples. */
export function layerOf(file) {
  const parts = file.split("/");
  if (file === EXECUTABLE) return "(executable)";
  if (parts[0] !== "bindings") return parts[0];
  return parts.length === 2 ? "(package root)" : parts[1];
}

/**
 * The folder node of the folder-cycle rule: a layer (bindings/<layer>, its subfolders included:
 * a folder's files import each other freely, STYLE.md), the package root, bench/ or examples/.
 */
export function folderOf(file) {
  const parts = file.split("/");
  if (parts[0] !== "bindings") return parts[0];
  return parts.length === 2 ? "bindings" : `bindings/${parts[1]}`;
}

/** Relative import specifiers of one source text (static, re-exports, dynamic with a literal). */
export function importsOf(text) {
  const info = ts.preProcessFile(text, true, true);
  return info.importedFiles.map((f) => f.fileName);
}

/**
 * Checks one edge `from` → `to` (repo-relative files) and returns the broken rules as messages.
 * @param {string} from
 * @param {string} to
 */
export function edgeViolations(from, to) {
  const a = layerOf(from);
  const b = layerOf(to);
  if (a === b || dirname(from) === dirname(to)) return [];
  const out = [];
  const rankA = RANK.get(a);
  const rankB = RANK.get(b);
  if (rankA === undefined) out.push(`${from}: folder "${a}" is not in DESIGN.md's layer order`);
  else if (rankB === undefined)
    out.push(`${from} imports ${to}: folder "${b}" is not in DESIGN.md's layer order`);
  else if (rankB > rankA)
    out.push(`${from} imports ${to}: layer ${a} must not import ${b}, which sits above it`);
  if (a === "examples")
    out.push(`${from} imports ${to} by path: examples import the package ("chaindb") only`);
  else if (to.startsWith("bindings/") && b !== "(package root)" && to !== `bindings/${b}/index.ts`) {
    out.push(`${from} imports ${to}: reach layer ${b} through bindings/${b}/index.ts`);
  }
  return out;
}

/** Strongly connected components with more than one node (or a self-loop): the cycles. */
export function cycles(graph) {
  let index = 0;
  const stack = [];
  const on = new Set();
  const idx = new Map();
  const low = new Map();
  const found = [];
  const visit = (v) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v), idx.get(w)));
    }
    if (low.get(v) === idx.get(v)) {
      const scc = [];
      let w;
      do {
        w = stack.pop();
        on.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || graph.get(v)?.has(v)) found.push(scc.sort());
    }
  };
  for (const v of [...graph.keys()].sort()) if (!idx.has(v)) visit(v);
  return found;
}

/** Runs every rule over the tree at `root`; returns the violations, one message each. */
export function checkTree(root) {
  const files = sourceFiles(root);
  const known = new Set(files);
  /** @type {Map<string, Set<string>>} */
  const fileGraph = new Map(files.map((f) => [f, new Set()]));
  /** @type {Map<string, Set<string>>} */
  const folderGraph = new Map();
  const violations = [];
  for (const from of files) {
    for (const spec of importsOf(readFileSync(join(root, from), "utf8"))) {
      if (!spec.startsWith(".")) continue;
      const to = relative(root, resolve(root, dirname(from), spec))
        .split("\\")
        .join("/");
      if (!known.has(to)) {
        if (!/\.(wasm|json)$/.test(to) && !to.startsWith("build/"))
          violations.push(`${from} imports ${spec}: no such source file`);
        continue;
      }
      fileGraph.get(from)?.add(to);
      const [fa, fb] = [folderOf(from), folderOf(to)];
      if (fa !== fb) {
        const out = folderGraph.get(fa) ?? new Set();
        folderGraph.set(fa, out.add(fb));
      }
      violations.push(...edgeViolations(from, to));
    }
  }
  for (const c of cycles(fileGraph)) violations.push(`import cycle between files: ${c.join(" ↔ ")}`);
  for (const c of cycles(folderGraph)) violations.push(`import cycle between folders: ${c.join(" ↔ ")}`);
  return { files: files.length, violations: [...new Set(violations)] };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const at = args.indexOf("--report");
  const report = at >= 0 ? args[at + 1] : undefined;
  if (at >= 0 && report === undefined) throw new Error("--report expects a file name");
  const started = Date.now();
  const { files, violations } = checkTree(resolve(dirname(new URL(import.meta.url).pathname), ".."));
  for (const v of violations) console.log(v);
  console.log(`boundaries: ${files} files, ${violations.length} violation(s) (${Date.now() - started} ms)`);
  if (report !== undefined)
    writeFileSync(
      report,
      JSON.stringify({ passed: violations.length === 0 ? 1 : 0, failed: violations.length === 0 ? 0 : 1 }) +
        "\n",
    );
  process.exitCode = violations.length === 0 ? 0 : 1;
}
