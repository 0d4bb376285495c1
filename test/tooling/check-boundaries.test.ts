// The import-boundary check (scripts/check-boundaries.mjs) on small trees that break one rule
// each, and on this repository, which must pass.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
// @ts-expect-error: a plain .mjs script without declarations
import { checkTree } from "../../scripts/check-boundaries.mjs";

const check = checkTree as (root: string) => { files: number; violations: string[] };
const roots: string[] = [];

/** Writes `files` (path → source) into a fresh temporary tree and returns its root. */
function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), "chaindb-boundaries-"));
  roots.push(root);
  for (const dir of ["bindings", "bench", "examples"]) mkdirSync(join(root, dir), { recursive: true });
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

afterEach(() => {
  for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
});

describe("check-boundaries", () => {
  it("passes a tree whose imports point down through index.ts files", () => {
    const root = tree({
      "bindings/util/index.ts": "export const x = 1;\n",
      "bindings/chain/index.ts": 'export { y } from "./y.ts";\n',
      "bindings/chain/y.ts": 'import { x } from "../util/index.ts";\nexport const y = x;\n',
      "examples/a.ts": 'import { y } from "chaindb";\nconsole.log(y);\n',
    });
    expect(check(root)).toEqual({ files: 4, violations: [] });
  });

  it("reports an import of a layer above (selection → consensus, as selection/state.ts did)", () => {
    const root = tree({
      "bindings/consensus/index.ts": "export const MAX = 1;\n",
      "bindings/selection/index.ts": 'import { MAX } from "../consensus/index.ts";\nexport const m = MAX;\n',
    });
    expect(check(root).violations).toEqual([
      "bindings/selection/index.ts imports bindings/consensus/index.ts: layer selection must not import consensus, which sits above it",
    ]);
  });

  it("reports a type-only import past another layer's index.ts (store → engine internals)", () => {
    const root = tree({
      "bindings/engine/index.ts": "export {};\n",
      "bindings/engine/kv-types.ts": "export interface KvStore { get(k: string): string }\n",
      "bindings/store/index.ts": 'export type { KvStore } from "../engine/kv-types.ts";\n',
    });
    expect(check(root).violations).toEqual([
      "bindings/store/index.ts imports bindings/engine/kv-types.ts: reach layer engine through bindings/engine/index.ts",
    ]);
  });

  it("reports the CLI importing bench/, and an example importing bindings/ by path", () => {
    const root = tree({
      "bindings/cli/main.ts": 'export const run = () => import("../../bench/index.ts");\n',
      "bench/index.ts": "export const runBench = 1;\n",
      "bindings/runtime/index.ts": "export const spawnWorker = 1;\n",
      "examples/e.ts":
        'import { spawnWorker } from "../bindings/runtime/index.ts";\nconsole.log(spawnWorker);\n',
    });
    expect(check(root).violations).toEqual([
      "bindings/cli/main.ts imports bench/index.ts: layer cli must not import bench, which sits above it",
      'examples/e.ts imports bindings/runtime/index.ts by path: examples import the package ("chaindb") only',
    ]);
  });

  it("reports cycles between files of one folder and between folders", () => {
    const root = tree({
      "bench/index.ts":
        'import { render } from "./report.ts";\nexport type Run = number;\nexport const r = render;\n',
      "bench/report.ts": 'import type { Run } from "./index.ts";\nexport const render = (r: Run) => r;\n',
      "bindings/net/index.ts": 'import { c } from "../concurrency/index.ts";\nexport const n = c;\n',
      "bindings/concurrency/index.ts": 'import { n } from "../net/index.ts";\nexport const c = () => n;\n',
    });
    expect(check(root).violations).toEqual([
      "import cycle between files: bench/index.ts ↔ bench/report.ts",
      "import cycle between files: bindings/concurrency/index.ts ↔ bindings/net/index.ts",
      "import cycle between folders: bindings/concurrency ↔ bindings/net",
    ]);
  });

  it("ignores import-like text in comments and strings", () => {
    const root = tree({
      "bindings/engine/index.ts":
        '// import { x } from "../cli/main.ts";\nexport const s = \'from "../cli/main.ts"\';\n',
    });
    expect(check(root).violations).toEqual([]);
  });

  it("passes on this repository", () => {
    expect(check(join(import.meta.dirname, "../..")).violations).toEqual([]);
  });
});
