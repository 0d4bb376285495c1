// Copies the asc outputs next to the compiled bindings, so that the one relative URL
// "../../build/<name>.wasm" resolves both from bindings/engine/*.ts and dist/bindings/engine/*.js.
import { cpSync, existsSync } from "node:fs";

if (!existsSync("build/release.wasm")) {
  console.error("build/release.wasm is missing: run `npm run build:wasm` first");
  process.exit(1);
}
cpSync("build", "dist/build", { recursive: true });
