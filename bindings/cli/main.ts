/**
 * The `chaindb` command line: `mine`, `verify`, `simulate`, `node`, `cluster` and `bench`. Every
 * command answers `--help`/`-h`; errors are one line with a code. Exit codes: 0 success, 1 a failure
 * (a check failed, an invariant was violated, an operational error such as a port in use), 2
 * malformed input or usage.
 * @module
 */
import { ChainDbError, ErrorCode } from "../util/index.ts";
import { EXIT_CODES, intOption, parseCommand, wantsHelp, type CommandSpec, type Parsed } from "./args.ts";
import type { ExitCode } from "./exit-code.ts";
import { mineCommand, verifyCommand } from "./pow.ts";

const USAGE = `usage: chaindb <command> [options]        (chaindb <command> --help for its options)

commands:
  mine      mine a block header: --bits <hex> [--header <hex>] [--workers N] [--engine wasm|ts] [--json]
  verify    check a header's proof of work: --header <hex of 80 bytes> [--json]
  simulate  run seeded simulations and check their invariants:
              simulate replication --mode primary|pow --seeds <from>..<to> [--json]
              simulate consensus --validators N --byzantine F [--consensus tendermint|pos|dpos] --seeds <from>..<to> [--json]
              simulate 2pc --seeds <from>..<to> [--participants N] [--json]
  node      run one node over TCP: --data <dir> --listen <host:port> [--peers ...] [--mode ...] [--consensus ...]
              [--http-host 127.0.0.1] [--admin-token <token>] [--http-rate 20]
  cluster   run a local cluster of node processes with a load generator and a live status table:
              [--nodes 4] [--mode primary|pow] [--consensus pow|tendermint|pos|dpos] [--byzantine i,...] [--blocks N] [--dir <dir>] [--json]
  bench     run the benchmark suites and write results.json and report.html: [suite ...] [--quick] [--out <dir>] [--check]
              bench state --accounts 100k,1M,10M [--memory-only]: state cost against the number of accounts
              bench state --scale 1M,10M,50M --cache 6G: the paged ledger beyond memory (create, blocks, SIGKILL, reopen)
  help      show this text

${EXIT_CODES}
`;

const SIMULATE_USAGE = `usage: chaindb simulate <simulation> [options]        (chaindb simulate <simulation> --help for its options)

Runs a seeded simulation over a range of seeds, stops at the first invariant violation with the
seed and a one-line replay command, and ends with a one-line summary (--json: one JSON object).

simulations:
  replication  single-primary replication (--mode primary) or the proof-of-work chain (--mode pow)
  consensus    Tendermint BFT with N validators, F of them byzantine (tendermint, pos or dpos selection)
  2pc          two-phase commit across participants with crashes and partitions

example:
  chaindb simulate consensus --validators 4 --byzantine 1 --seeds 1..20

${EXIT_CODES}
`;

const BENCH: CommandSpec = {
  name: "bench",
  summary:
    "Runs the benchmark suites (all by default; name some to run only those) and writes results.json and report.html.",
  usage: "[suite ...] [options]",
  positionals: true,
  options: [
    {
      name: "quick",
      help: "shorter runs with fewer samples (what CI runs); with --accounts: the wasm engine only",
    },
    { name: "out", value: "<dir>", default: "bench/results", help: "where results.json and report.html go" },
    {
      name: "accounts",
      value: "<n,n,...>",
      help: "state only: cost against the number of accounts, 1k..60M, e.g. 100k,1M,10M; one child process per size (writes state-scale.json, .md and .svg)",
    },
    {
      name: "memory-only",
      help: "with --accounts: skip the durable store (no disk per account, durable open or reopen time)",
    },
    {
      name: "scale",
      value: "<n,n,...>",
      help: "state only: the paged ledger larger than memory, e.g. 1M,10M,50M: create, --blocks blocks, SIGKILL, reopen in a fresh process (writes state-paged.json and .md; not for CI)",
    },
    {
      name: "cache",
      value: "<bytes>",
      default: "1G",
      help: "with --scale: the paged ledger's cache budget, e.g. 512M, 6G",
    },
    {
      name: "blocks",
      value: "N",
      default: "100",
      help: "with --scale: 1000-transfer blocks before the SIGKILL",
    },
    {
      name: "genesis",
      value: "<n,n,...>",
      help: "state only: bulk genesis accounts/s from packed records, e.g. 1M,10M (median of 3 runs per size)",
    },
    { name: "check", help: "exit 1 when a target is missed (missed targets are always listed at the end)" },
  ],
  examples: [
    "chaindb bench pow state --quick",
    "chaindb bench state --accounts 100k,1M,10M",
    "chaindb bench state --scale 1M,10M,50M --cache 6G",
    "chaindb bench state --genesis 1M,10M",
  ],
};

export type { ExitCode } from "./exit-code.ts";

/** A run's results as the CLI passes them on (bench/lib.ts's BenchRun; only bench/ reads them). */
interface BenchRunLike {
  readonly suites: readonly unknown[];
}

/** The benchmark module as the executable loads it (bench/index.ts). */
export interface BenchModule {
  SUITES: readonly { name: string; description: string }[];
  runBench: (names: readonly string[], options: { quick: boolean; out?: string }) => Promise<BenchRunLike>;
  // A method, so bench's own BenchRun parameter is accepted (method parameters are bivariant).
  benchExitCode(this: void, run: BenchRunLike, check: boolean): ExitCode;
  runStateScale: (options: {
    accounts: number[];
    durable: boolean;
    tsMax?: number;
    out?: string;
  }) => Promise<unknown>;
  runPagedScaleReport: (options: {
    accounts: number[];
    cacheBytes: number;
    blocks: number;
    out: string;
  }) => Promise<unknown>;
  parseCounts: (text: string, option?: string) => number[];
  parseBytes: (text: string, option?: string) => number;
  runGenesisBench: (options: { accounts: number[] }) => unknown;
}

/** What the executable hands the CLI: bench/ sits above the library layers, so main.ts cannot import it. */
export interface CliWorld {
  /** Loads the benchmark suites (bench/index.ts); without it `chaindb bench` fails with exit 1. */
  loadBench?: () => Promise<BenchModule>;
}

/** Runs the CLI with `argv` (without node and script) and returns the exit code. */
export async function main(argv: string[], world: CliWorld = {}): Promise<ExitCode> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case "mine":
        return await mineCommand(rest);
      case "verify":
        return await verifyCommand(rest);
      case "simulate":
        return await simulate(rest);
      case "node":
        return await (await import("./node.ts")).nodeCommand(rest);
      case "cluster":
        return await (await import("./cluster.ts")).clusterCommand(rest);
      case "bench":
        return await benchCommand(rest, world);
      case undefined:
      case "help":
      case "--help":
      case "-h":
        process.stdout.write(USAGE);
        return command === undefined ? 2 : 0;
      default:
        process.stderr.write(
          `chaindb: unknown command "${command}" (commands: mine, verify, simulate, node, cluster, bench; see chaindb --help)\n`,
        );
        return 2;
    }
  } catch (error) {
    return reportError(error);
  }
}

async function simulate(args: string[]): Promise<ExitCode> {
  const [what, ...rest] = args;
  if (what === "2pc") return (await import("./simulate-2pc.ts")).simulateTwoPcCommand(rest);
  if (what === "consensus") return (await import("./simulate-consensus.ts")).simulateConsensusCommand(rest);
  if (what === "replication") return (await import("./simulate.ts")).simulateCommand(rest);
  if (what === undefined || wantsHelp([what])) {
    process.stdout.write(SIMULATE_USAGE);
    return what === undefined ? 2 : 0;
  }
  throw new ChainDbError(
    ErrorCode.BAD_ARGUMENT,
    `simulate: unknown simulation ${JSON.stringify(what)}, expected replication, consensus or 2pc (see chaindb simulate --help)`,
  );
}

async function benchCommand(args: string[], world: CliWorld): Promise<ExitCode> {
  // --help works without the suites (then it lists none); a run needs them.
  const bench = world.loadBench === undefined ? undefined : await world.loadBench();
  const suites = bench?.SUITES.map((s) => `  ${s.name.padEnd(12)}${s.description}`) ?? [];
  const parsed = parseCommand({ ...BENCH, notes: ["suites:", ...suites] }, args);
  if (parsed === null) return 0;
  if (bench === undefined) {
    process.stderr.write("chaindb: the benchmark suites are not available in this build\n");
    return 1;
  }
  const { runBench, runGenesisBench, parseCounts, benchExitCode } = bench;
  const out = parsed.values.out as string;
  if (parsed.values.genesis !== undefined) {
    // `bench state --genesis 1M,10M`: bulk genesis rate and where its time goes (bench/state-genesis.ts).
    runGenesisBench({ accounts: parseCounts(parsed.values.genesis as string, "--genesis") });
    return 0;
  }
  if (parsed.values.accounts !== undefined || parsed.values.scale !== undefined)
    return stateScale(bench, parsed, out);
  const run = await runBench(parsed.positionals, { quick: parsed.values.quick === true, out });
  // No process.exit here: every suite closes what it opened, and test/bench/bench-exit.test.ts fails
  // when one leaves a handle behind (the process would not end). Missed targets are listed at the
  // end of every run; --check makes them the exit status.
  return benchExitCode(run, parsed.values.check === true);
}

/**
 * `bench state --accounts …` (bench/state-scale.ts, in-memory and durable ledgers) and `--scale …`
 * (bench/state-paged.ts, the paged ledger beyond memory). Every argument is checked before either runs.
 */
async function stateScale(bench: BenchModule, parsed: Parsed, out: string): Promise<ExitCode> {
  const { values } = parsed;
  const accounts =
    values.accounts === undefined ? undefined : bench.parseCounts(values.accounts as string, "--accounts");
  const scale = values.scale === undefined ? undefined : bench.parseCounts(values.scale as string, "--scale");
  const cacheBytes = bench.parseBytes(values.cache as string, "--cache");
  const blocks = intOption(values.blocks, "blocks", 1, 100_000);
  if (parsed.positionals.some((p) => p !== "state"))
    throw new ChainDbError(
      ErrorCode.BAD_ARGUMENT,
      `bench: --accounts and --scale measure the state suite only, got ${parsed.positionals.join(" ")} (see chaindb bench --help)`,
    );
  // --quick: the wasm engine only (the ts engine is measured up to 1M accounts otherwise).
  const tsMax = values.quick === true ? 0 : undefined;
  if (accounts !== undefined)
    await bench.runStateScale({
      accounts,
      durable: values["memory-only"] !== true,
      out,
      ...(tsMax !== undefined ? { tsMax } : {}),
    });
  if (scale !== undefined) await bench.runPagedScaleReport({ accounts: scale, cacheBytes, blocks, out });
  return 0;
}

/** Codes that say the world failed (a port, a disk, a peer), not the input: exit 1. */
const OPERATIONAL: ReadonlySet<string> = new Set<ErrorCode>([
  ErrorCode.STORE_CORRUPT,
  ErrorCode.STORE_MISMATCH,
  ErrorCode.NOT_CHAINDB,
  ErrorCode.CLOSED,
  ErrorCode.BUSY,
  ErrorCode.OUT_OF_MEMORY,
  ErrorCode.WASM_UNAVAILABLE,
  ErrorCode.WORKER_FAILED,
  ErrorCode.WAL_CORRUPT,
  ErrorCode.HANDSHAKE_FAILED,
  ErrorCode.NOT_PRIMARY,
  ErrorCode.REPLICATION_TIMEOUT,
]);

/**
 * One line on stderr for an expected failure: a `ChainDbError` (exit 2, or 1 when operational) or
 * an operating-system error such as EADDRINUSE or EACCES (exit 1). Anything else is a bug and is
 * rethrown, stack and all.
 */
export function reportError(error: unknown): ExitCode {
  if (error instanceof ChainDbError) {
    process.stderr.write(`chaindb: ${oneLine(error.message)} [${error.code}]\n`);
    return OPERATIONAL.has(error.code) ? 1 : 2;
  }
  const sys = error as NodeJS.ErrnoException;
  if (error instanceof Error && typeof sys.code === "string" && typeof sys.syscall === "string") {
    process.stderr.write(`chaindb: ${oneLine(systemMessage(sys))} [${sys.code}]\n`);
    return 1;
  }
  if (error instanceof RangeError || error instanceof TypeError) {
    process.stderr.write(`chaindb: ${oneLine(error.message)}\n`);
    return 2;
  }
  throw error;
}

function systemMessage(e: NodeJS.ErrnoException & { address?: string; port?: number }): string {
  if (e.code === "EADDRINUSE")
    return `cannot listen on ${e.address ?? "?"}:${e.port ?? "?"}: the address is already in use`;
  if (e.code === "EADDRNOTAVAIL")
    return `cannot listen on ${e.address ?? "?"}:${e.port ?? "?"}: no such local address`;
  const what = e.path !== undefined ? `${e.path}: ` : "";
  const why = (
    {
      EACCES: "permission denied",
      EPERM: "operation not permitted",
      EROFS: "read-only file system",
      ENOSPC: "no space left on device",
      ENOTDIR: "a path component is not a directory",
      EISDIR: "is a directory",
      ENOENT: "no such file or directory",
    } as Record<string, string>
  )[e.code!];
  return `${e.syscall} ${what}${why ?? e.message}`;
}

const oneLine = (s: string) => s.replace(/\s*\n\s*/g, " ");
