// Copies the asc outputs next to the compiled bindings, so that the one relative URL
// "../../build/<name>.wasm" resolves both from bindings/engine/*.ts and dist/bindings/engine/*.js;
// and the .mjs worker bootstrap, which tsc does not emit, so that spawnWorker can start a `.ts`
// worker (under tsx) from the compiled package too.
import { cpSync, existsSync } from "node:fs";

if (!existsSync("build/release.wasm")) {
  console.error("build/release.wasm is missing: run `npm run build:wasm` first");
  process.exit(1);
}
cpSync("build", "dist/build", { recursive: true });
cpSync("bindings/runtime/ts-worker-bootstrap.mjs", "dist/bindings/runtime/ts-worker-bootstrap.mjs");
