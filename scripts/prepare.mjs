// The `prepare` lifecycle script: `npm install` / `npm ci` in a clone build everything.
// `npx chaindb …` inside the clone makes npm "install" this very directory into its npx cache (as a
// link), which runs `prepare` again: the checkout is already built then, so skip the rebuild.
import { execSync } from "node:child_process";
import { existsSync } from "node:fs";

if (process.env.npm_command === "exec" && existsSync("dist/bindings/cli/bin.js")) {
  console.log("chaindb: already built; skipping the build for npx");
} else {
  execSync("npm run build", { stdio: "inherit" });
}
