/**
 * The `chaindb` command line: `mine`, `verify` and `bench`. Exit codes: 0 success, 1 a failed
 * check (e.g. the proof of work does not hold), 2 malformed input or usage.
 * @module
 */
import { parseArgs } from "node:util";
import { ChainDbError } from "../util/index.ts";
import { mineCommand, verifyCommand } from "./pow.ts";

const USAGE = `usage: chaindb <command> [options]

commands:
  mine    --bits <hex> [--header <hex of 80 bytes>] [--workers N] [--engine wasm|ts] [--json]
          mine a block header (default: a fresh header; with --header, its nonce is the start)
  verify  --header <hex of 80 bytes>
          print the block hash, the target and whether the proof of work holds (exit 0/1)
  simulate replication --mode primary|pow --seeds <from>..<to>
          run the seeded replication simulations; exit 1 on the first invariant violation
  simulate consensus --validators N --byzantine F [--consensus tendermint|pos|dpos] --seeds <from>..<to> [--json]
          run the seeded Tendermint simulations; exit 1 on the first invariant violation
  simulate 2pc --seeds <from>..<to> [--participants N]
          run the seeded two-phase-commit simulations; exit 1 on the first invariant violation
  node    --data <dir> --listen <host:port> [--peers <host:port@pubkeyhex,...>] [--key <file>]
          [--mode primary|secondary|pow] [--ack sync|async] [--backups k] [--block-ms ms]
          [--consensus pow|tendermint|pos|dpos --validators <pubkeyhex,...> [--validator-key <file>]]
          run one replica over TCP (HTTP API on the listen port + 1); --consensus pow is --mode pow,
          the others run a Tendermint validator with that selection
  cluster [--nodes 4] [--mode primary|pow] [--consensus pow|tendermint|pos|dpos] [--blocks N] [--json]
          [--ack sync|async] [--dir <dir>]
          run a local cluster of node processes with a load generator and live status
  bench   [suite ...] [--quick] [--out <dir>] [--check]
          run the benchmark suites (all by default) and write results.json and report.html;
          missed targets are listed at the end; with --check they make the exit status 1
  help    show this text
`;

/** Exit status of a command. */
export type ExitCode = 0 | 1 | 2;

/** Runs the CLI with `argv` (without node and script) and returns the exit code. */
export async function main(argv: string[]): Promise<ExitCode> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case "mine":
        return await mineCommand(rest);
      case "verify":
        return await verifyCommand(rest);
      case "simulate":
        if (rest[0] === "2pc") return await (await import("./simulate-2pc.ts")).simulateTwoPcCommand(rest.slice(1));
        if (rest[0] === "consensus") return await (await import("./simulate-consensus.ts")).simulateConsensusCommand(rest.slice(1));
        return await (await import("./simulate.ts")).simulateCommand(rest);
      case "node":
        return await (await import("./node.ts")).nodeCommand(rest);
      case "cluster":
        return await (await import("./cluster.ts")).clusterCommand(rest);
      case "bench":
        return await benchCommand(rest);
      case undefined:
      case "help":
      case "--help":
      case "-h":
        process.stdout.write(USAGE);
        return command === undefined ? 2 : 0;
      default:
        process.stderr.write(`chaindb: unknown command "${command}"\n\n${USAGE}`);
        return 2;
    }
  } catch (error) {
    return reportError(error);
  }
}

async function benchCommand(args: string[]): Promise<ExitCode> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { quick: { type: "boolean", default: false }, out: { type: "string" }, check: { type: "boolean", default: false } },
  });
  const { runBench, benchExitCode } = await import("../../bench/index.ts");
  const run = await runBench(positionals, { quick: values.quick, ...(values.out ? { out: values.out } : {}) });
  // No process.exit here: every suite closes what it opened, and test/bench-exit.test.ts fails
  // when one leaves a handle behind (the process would not end).
  return benchExitCode(run, values.check);
}

function reportError(error: unknown): ExitCode {
  if (error instanceof ChainDbError || error instanceof RangeError || error instanceof TypeError || isParseArgsError(error)) {
    const code = error instanceof ChainDbError ? ` [${error.code}]` : "";
    process.stderr.write(`chaindb: ${(error as Error).message}${code}\n`);
    return 2;
  }
  throw error;
}

function isParseArgsError(error: unknown): boolean {
  return typeof (error as { code?: unknown })?.code === "string" && String((error as { code: string }).code).startsWith("ERR_PARSE_ARGS");
}
