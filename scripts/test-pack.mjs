#!/usr/bin/env node
// The package as users meet it: packs the tarball (`npm pack`, without rebuilding: run after a
// build), installs it into a fresh temporary project made as `npm init -y` makes one (CommonJS),
// and runs there: a TypeScript check of an ESM app against the shipped .d.ts (tsc, nodenext), the
// ESM app (`import`), a CommonJS app (`require`, Node >= 20.19), and a Deno app (`deno check` and
// `deno run`). Each is one passed or failed count. The temporary folder is removed at the end.
//   node scripts/test-pack.mjs [--report <file.json>] [--keep]
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const repo = resolve(new URL("..", import.meta.url).pathname);
const args = process.argv.slice(2);
const at = args.indexOf("--report");
const report = at >= 0 ? args[at + 1] : undefined;
if (at >= 0 && report === undefined) throw new Error("--report expects a file name");
const bin = (name) => join(repo, "node_modules", ".bin", name);

// The apps: each hashes a header on the wasm engine (so build/*.wasm must ship and load), checks
// a known block hash, and shows that bad input is a ChainDbError with a code.
const GENESIS_HEADER =
  "0100000000000000000000000000000000000000000000000000000000000000000000003ba3edfd7a7b12b27ac72c3e67768f617fc81bc3888a51323a9fb8aa4b1e5e4a29ab5f49ffff001d1dac2b7c";
const GENESIS_HASH = "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f";
const body = (indent) =>
  [
    `const engine = await createEngine("wasm");`,
    `const header = decodeHeader(fromHex("${GENESIS_HEADER}"));`,
    `const hash = blockHash(encodeHeader(header));`,
    `if (hash !== "${GENESIS_HASH}") throw new Error("wrong genesis hash " + hash);`,
    `const digest = toHex(engine.sha256d(encodeHeader(header)));`,
    `let code = "";`,
    `try { decodeHeader(new Uint8Array(79)); } catch (e) { if (e instanceof ChainDbError) code = e.code; }`,
    `if (code === "") throw new Error("a 79-byte header was accepted");`,
    `console.log("ok", hash, digest.length, code);`,
  ]
    .map((l) => indent + l)
    .join("\n");
const NAMES = "ChainDbError, blockHash, createEngine, decodeHeader, encodeHeader, fromHex, toHex";
// A durable ledger in a fresh folder: @sqlite.org/sqlite-wasm and the node:fs VFS must load from
// the install; a block applied before a reopen must be there after it.
// The Deno app uses Deno's own file API: node: imports would need @types/node in the project.
const DURABLE = (deno) =>
  [
    `import { Ledger, keyPairFromSeed, signTransfer } from "chaindb";`,
    ...(deno
      ? [`const dir = Deno.makeTempDirSync({ prefix: "chaindb-pack-ledger-" });`]
      : [
          `import { mkdtempSync, rmSync } from "node:fs";`,
          `import { tmpdir } from "node:os";`,
          `import { join } from "node:path";`,
          `const dir = mkdtempSync(join(tmpdir(), "chaindb-pack-ledger-"));`,
        ]),
    `const alice = keyPairFromSeed(new Uint8Array(32).fill(1));`,
    `const bob = keyPairFromSeed(new Uint8Array(32).fill(2));`,
    `const genesis = [{ address: alice.publicKey, balance: 20n }, { address: bob.publicKey, balance: 5n }];`,
    `let ledger = await Ledger.open({ dir, chainId: 7, genesis });`,
    `await ledger.applyBlock([signTransfer(alice, { chainId: 7, to: bob.publicKey, amount: 10n, fee: 1n, nonce: 0n })], { proposer: bob.publicKey });`,
    `const root = toHex(ledger.root());`,
    `await ledger.close();`,
    `ledger = await Ledger.open({ dir, chainId: 7, genesis });`,
    `const reopened = toHex(ledger.root());`,
    `const bobAfter = ledger.account(bob.publicKey)?.balance;`,
    `await ledger.close();`,
    deno ? `Deno.removeSync(dir, { recursive: true });` : `rmSync(dir, { recursive: true, force: true });`,
    `if (reopened !== root || bobAfter !== 16n) throw new Error("the durable ledger lost its block: " + reopened + " " + String(bobAfter));`,
    `console.log("durable ok", root.slice(0, 16));`,
  ].join("\n");
const APPS = {
  "esm.mjs": `import { ${NAMES} } from "chaindb";\n${body("")}\n${DURABLE(false)}\n`,
  "index.js": `const { ${NAMES} } = require("chaindb");\n(async () => {\n${body("  ")}\n})().catch((e) => {\n  console.error(e);\n  process.exitCode = 1;\n});\n`,
  "typed.mts": `import { ${NAMES}, type BlockHeader, type Engine } from "chaindb";\n${body("")}\nconst h: BlockHeader = decodeHeader(fromHex("${GENESIS_HEADER}"));\nconst e: Engine = engine;\nconsole.log(h.version, typeof e.sha256d);\n`,
  "deno.ts": `import { ${NAMES}, type Engine } from "chaindb";\n${body("")}\nconst e: Engine = engine;\nconsole.log(typeof e.sha256d);\n${DURABLE(true)}\n`,
};

/** Runs a command (inherits nothing but output), returns {ok, ms, out}. */
function run(cmd, cmdArgs, cwd, timeout = 300_000) {
  const started = Date.now();
  const r = spawnSync(cmd, cmdArgs, {
    cwd,
    encoding: "utf8",
    timeout,
    env: { ...process.env, NO_COLOR: "1" },
  });
  return {
    ok: r.status === 0,
    ms: Date.now() - started,
    out: `${r.stdout ?? ""}${r.stderr ?? ""}${r.error ? String(r.error) : ""}`,
  };
}

let passed = 0;
let failed = 0;
function step(name, r) {
  r.ok ? passed++ : failed++;
  console.log(`${r.ok ? "ok  " : "FAIL"} ${name} (${(r.ms / 1000).toFixed(1)} s)`);
  if (!r.ok) console.log(r.out.trim());
  return r.ok;
}

const dir = mkdtempSync(join(tmpdir(), "chaindb-pack-"));
try {
  // --ignore-scripts: pack what the build made; `prepare` would rebuild everything first.
  const pack = run("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", dir], repo);
  if (!step("npm pack", pack)) throw new Error("npm pack failed");
  const packed = JSON.parse(pack.out.slice(pack.out.indexOf("[")))[0];
  const tarball = join(dir, packed.filename);
  const shipped = new Set(packed.files.map((f) => f.path));
  for (const need of [
    "dist/bindings/index.js",
    "dist/bindings/index.d.ts",
    "dist/build/release.wasm",
    "build/release.wasm",
    "dist/bindings/runtime/ts-worker-bootstrap.mjs",
  ]) {
    if (!shipped.has(need)) throw new Error(`the tarball lacks ${need}`);
  }
  console.log(
    `     ${packed.filename}: ${packed.files.length} files, ${(packed.size / 1e6).toFixed(2)} MB packed`,
  );

  const app = join(dir, "app");
  run("mkdir", ["-p", app], dir);
  writeFileSync(
    join(app, "package.json"),
    JSON.stringify({ name: "app", version: "1.0.0", main: "index.js", license: "ISC" }, null, 2),
  );
  for (const [file, text] of Object.entries(APPS)) writeFileSync(join(app, file), text);
  const install = run("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", tarball], app);
  if (!step("npm install <tarball> (no build)", install)) throw new Error("install failed");
  const warnings = install.out.split("\n").filter((l) => /EBADENGINE|warn/i.test(l));
  if (warnings.length > 0)
    console.log(`     install warnings:\n${warnings.map((w) => `       ${w}`).join("\n")}`);
  if (!existsSync(join(app, "node_modules/chaindb/dist/bindings/index.js")))
    throw new Error("chaindb was not installed");

  step(
    "tsc --noEmit (nodenext, strict) against the shipped .d.ts",
    run(
      bin("tsc"),
      [
        "--noEmit",
        "--strict",
        "--module",
        "nodenext",
        "--moduleResolution",
        "nodenext",
        "--target",
        "es2022",
        "--skipLibCheck",
        "false",
        "--typeRoots",
        join(repo, "node_modules/@types"),
        "--types",
        "node",
        "typed.mts",
      ],
      app,
    ),
  );
  step("node esm.mjs (import; a durable ledger over sqlite-wasm)", run(process.execPath, ["esm.mjs"], app));
  step("node index.js (require, CommonJS project)", run(process.execPath, ["index.js"], app));
  step("deno check deno.ts", run(bin("deno"), ["check", "deno.ts"], app));
  step("deno run deno.ts (a durable ledger too)", run(bin("deno"), ["run", "-A", "deno.ts"], app));
} catch (error) {
  failed++;
  console.log(`FAIL ${error instanceof Error ? error.message : String(error)}`);
} finally {
  if (args.includes("--keep")) console.log(`kept ${dir}`);
  else rmSync(dir, { recursive: true, force: true });
}
console.log(`pack: ${passed} passed, ${failed} failed`);
if (report !== undefined) writeFileSync(report, JSON.stringify({ passed, failed }) + "\n");
process.exitCode = failed === 0 ? 0 : 1;
