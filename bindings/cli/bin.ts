#!/usr/bin/env node
/**
 * Executable entry of the `chaindb` command (the package's `bin`); the commands live in main.ts.
 * The executable is the composition root: it hands the CLI the benchmark suites, which sit above
 * the library layers (DESIGN.md), so that bindings/cli/main.ts never imports bench/.
 * @module
 */
import { main } from "./main.ts";

process.exitCode = await main(process.argv.slice(2), { loadBench: () => import("../../bench/index.ts") });
