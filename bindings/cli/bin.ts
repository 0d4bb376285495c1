#!/usr/bin/env node
/**
 * Executable entry of the `chaindb` command (the package's `bin`); the commands live in main.ts.
 * @module
 */
import { main } from "./main.ts";

process.exitCode = await main(process.argv.slice(2));
