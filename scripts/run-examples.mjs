// Runs every example in Node (through tsx, importing the package by its own name, as a user
// would) and in Deno (through the import map in deno.json), so examples never rot.
// Usage: node scripts/run-examples.mjs [--report <file.json>] [name ...]
import { spawnSync } from "node:child_process";
import { readdirSync, writeFileSync } from "node:fs";

const args = process.argv.slice(2);
const reportAt = args.indexOf("--report");
const report = reportAt >= 0 ? args.splice(reportAt, 2)[1] : undefined;
const only = new Set(args);
// Examples that need a runtime feature the other lacks say so in their first lines:
// "// runs on: node" or "// runs on: deno"; the default is both.
const examples = readdirSync("examples").filter(
  (f) => f.endsWith(".ts") && (only.size === 0 || only.has(f.replace(/\.ts$/, ""))),
);
/** @type {Record<string, (file: string) => [string, string[]]>} */
const runtimes = {
  node: (file) => ["npx", ["tsx", file]],
  deno: (file) => ["npx", ["deno", "run", "-A", "--no-check", file]],
};

let passed = 0;
let failed = 0;
for (const file of examples.sort()) {
  const path = `examples/${file}`;
  const head = (await import("node:fs")).readFileSync(path, "utf8").split("\n").slice(0, 10).join("\n");
  const on = /\/\/ runs on: (\w+)/.exec(head)?.[1];
  for (const [name, command] of Object.entries(runtimes)) {
    if (on && on !== name) continue;
    const [cmd, cmdArgs] = command(path);
    const started = Date.now();
    const r = spawnSync(cmd, cmdArgs, {
      encoding: "utf8",
      timeout: 300_000,
      env: { ...process.env, CHAINDB_EXAMPLE_CI: "1" },
    });
    const ok = r.status === 0;
    ok ? passed++ : failed++;
    console.log(`${ok ? "ok  " : "FAIL"} ${name} ${path} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
    if (!ok) console.log(r.stdout, r.stderr, r.error ?? "");
  }
}
console.log(`examples: ${passed} passed, ${failed} failed`);
if (report) writeFileSync(report, JSON.stringify({ passed, failed }) + "\n");
process.exitCode = failed === 0 ? 0 : 1;
