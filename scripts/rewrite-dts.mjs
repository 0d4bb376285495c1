// tsc's rewriteRelativeImportExtensions rewrites `./x.ts` to `./x.js` in the emitted JavaScript but
// not in the declarations: dist/**/*.d.ts would import `./x.ts`, which exists in no installed
// package (deno check: TS2307). This rewrites the relative `.ts` specifiers of every emitted
// .d.ts to `.js`, which tsc and Deno both resolve to the sibling .d.ts. Run by `npm run build:ts`.
import { readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const SPECIFIER = /((?:from|import)\s*\(?\s*)(["'])(\.{1,2}\/[^"']*?)\.ts\2/g;

/** Returns `text` with every relative `.ts` import/export specifier ending in `.js`. */
export function rewriteDeclaration(text) {
  return text.replace(SPECIFIER, (_m, lead, quote, path) => `${lead}${quote}${path}.js${quote}`);
}

function walk(dir, visit) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path, visit);
    else if (name.endsWith(".d.ts")) visit(path);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  let changed = 0;
  walk(process.argv[2] ?? "dist", (path) => {
    const text = readFileSync(path, "utf8");
    const out = rewriteDeclaration(text);
    if (out !== text) (writeFileSync(path, out), changed++);
  });
  console.log(`rewrite-dts: .ts specifiers rewritten to .js in ${changed} declaration file(s)`);
}
