// The `prepare` lifecycle script: `npm install` / `npm ci` in a fresh clone build everything.
// It skips the build when the outputs are newer than every source they come from: `npx chaindb …`
// in the clone (npm "installs" this very directory into its npx cache and runs prepare again), a
// second `npm install`, or installing the built folder into another project (`npm install ../chaindb`,
// which cost 16–18 s of rebuilding). A tarball install (`npm install chaindb-x.tgz`) never runs
// prepare: the tarball ships dist/ and build/.
import { execSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

/** Newest modification time (ms) of the files under `dir`, 0 when it is missing. */
function newest(dir) {
  if (!existsSync(dir)) return 0;
  let t = 0;
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const s = statSync(path);
    t = Math.max(t, s.isDirectory() ? newest(path) : s.mtimeMs);
  }
  return t;
}

const mtime = (file) => (existsSync(file) ? statSync(file).mtimeMs : 0);
const sources = Math.max(
  newest("assembly"),
  newest("bindings"),
  newest("bench"),
  mtime("asconfig.json"),
  mtime("tsconfig.build.json"),
);
const outputs = Math.min(
  mtime("build/release.wasm"),
  mtime("dist/bindings/index.js"),
  mtime("dist/build/release.wasm"),
);
if (outputs > sources) {
  console.log(
    "chaindb: dist/ and build/ are newer than the sources; skipping the build (npm run build forces it)",
  );
} else {
  execSync("npm run build", { stdio: "inherit" });
}
