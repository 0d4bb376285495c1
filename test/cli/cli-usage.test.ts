// The command line as people expect it (issue 17) and its bad-input cases (issue 14): --help and -h
// on every command and subcommand (usage line, every option, defaults, an example, exit codes);
// errors in one line with a code; exit 0 ok, 1 failure, 2 bad input. In-process through main() for
// the many help and argument cases, as a real process where the process itself matters (no stack
// trace, no LOCK file left behind, the process ends).
import { afterEach, describe, expect, it, vi } from "vitest";
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { main } from "../../bindings/cli/main.ts";
import { StatusScreen } from "../../bindings/cli/cluster.ts";

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  vi.spyOn(process.stdout, "write").mockImplementation((s) => (out.push(String(s)), true));
  vi.spyOn(process.stderr, "write").mockImplementation((s) => (err.push(String(s)), true));
  return { out: () => out.join(""), err: () => err.join("") };
}

afterEach(() => void vi.restoreAllMocks());

// Asynchronous on purpose: a blocking spawn would stall vitest's own messaging.
function chaindb(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["--import", "tsx", "bindings/cli/bin.ts", ...args],
      { encoding: "utf8", timeout: 60_000 },
      (error, stdout, stderr) => {
        resolve({ code: error ? (typeof error.code === "number" ? error.code : null) : 0, stdout, stderr });
      },
    );
  });
}

/** The options each command's help must list. */
const COMMANDS: Record<string, string[]> = {
  mine: ["--bits", "--header", "--workers", "--engine", "--json"],
  verify: ["--header", "--json"],
  bench: ["--quick", "--out"],
  "simulate replication": ["--mode", "--seeds", "--nodes", "--json"],
  "simulate consensus": ["--validators", "--byzantine", "--consensus", "--nodes", "--seeds", "--json"],
  "simulate 2pc": ["--seeds", "--participants", "--bug", "--json"],
  node: [
    "--data",
    "--listen",
    "--peers",
    "--key",
    "--mode",
    "--ack",
    "--backups",
    "--block-ms",
    "--consensus",
    "--validators",
    "--validator-key",
    "--byzantine",
    "--halt-height",
  ],
  cluster: [
    "--nodes",
    "--mode",
    "--consensus",
    "--byzantine",
    "--blocks",
    "--ack",
    "--rate",
    "--dir",
    "--json",
  ],
};

/** A one-line error with a code, nothing on stdout. */
function expectOneLineError(err: string, pattern: RegExp): void {
  expect(err).toMatch(/^chaindb: [^\n]+ \[[A-Z_]+\]\n$/);
  expect(err).toMatch(pattern);
}

describe("--help and -h on every command", () => {
  for (const [command, options] of Object.entries(COMMANDS)) {
    it(`chaindb ${command} --help / -h`, async () => {
      for (const flag of ["--help", "-h"]) {
        const io = capture();
        expect(await main([...command.split(" "), flag])).toBe(0);
        const text = io.out();
        vi.restoreAllMocks();
        expect(text).toMatch(new RegExp(`^usage: chaindb ${command} `));
        for (const o of options) expect(text, `${command} help lists ${o}`).toContain(`  ${o}`);
        expect(text).toMatch(/\n {2}chaindb \S/); // an example
        expect(text).toContain("exit codes: 0 ok, 1 failure");
        expect(io.err()).toBe("");
      }
    });
  }

  it("shows defaults, and help wins over other (even bad) options", async () => {
    const io = capture();
    expect(await main(["simulate", "consensus", "--validators", "x", "--help"])).toBe(0);
    expect(io.out()).toContain("--validators N");
    expect(io.out()).toContain("(default: 4)");
  });

  it("`simulate` alone lists its subcommands (exit 2); `simulate --help` too (exit 0)", async () => {
    let io = capture();
    expect(await main(["simulate"])).toBe(2);
    for (const s of ["replication", "consensus", "2pc"]) expect(io.out()).toContain(`  ${s} `);
    vi.restoreAllMocks();
    io = capture();
    expect(await main(["simulate", "--help"])).toBe(0);
    expect(io.out()).toMatch(/^usage: chaindb simulate <simulation>/);
    vi.restoreAllMocks();
    io = capture();
    expect(await main(["simulate", "paxos"])).toBe(2);
    expectOneLineError(io.err(), /unknown simulation "paxos", expected replication, consensus or 2pc/);
  });

  it("the top-level usage names every command, --byzantine and the exit codes", async () => {
    const io = capture();
    expect(await main(["--help"])).toBe(0);
    for (const c of [
      "mine",
      "verify",
      "simulate",
      "node",
      "cluster",
      "bench",
      "--byzantine",
      "exit codes: 0 ok, 1 failure",
    ])
      expect(io.out()).toContain(c);
  });
});

describe("bad input: one line with a code, exit 2", () => {
  const cases: [string[], RegExp][] = [
    [["mine", "--workers", "-1"], /--workers expected an integer in 0\.\.256, got "-1" \[BAD_ARGUMENT\]/],
    [["mine", "--bits", "0x00000000"], /zero target, which no hash meets \[BAD_BITS\]/],
    [["mine", "--bits", "0x00800000", "--workers", "0"], /\[BAD_BITS\]/],
    [
      ["mine", "--frobnicate"],
      /mine: unknown option --frobnicate \(see chaindb mine --help\) \[BAD_ARGUMENT\]/,
    ],
    [["mine", "--bits"], /mine: --bits needs a value/],
    [["mine", "--json=yes"], /mine: --json takes no value/],
    [["verify", "--header", "00", "extra"], /verify: unexpected argument extra/],
    [
      ["simulate", "2pc", "--seeds", "0..100000000000000000000"],
      /--seeds expected <from>\.\.<to> with from <= to <= 4294967295/,
    ],
    [["simulate", "consensus", "--seeds", "0..1e20"], /--seeds expected <from>\.\.<to>/],
    [
      ["simulate", "replication", "--seeds", "0..4294967295"],
      /4294967296 seeds is more than 10000000 in one run; split the range \[BAD_RANGE\]/,
    ],
    [
      ["simulate", "consensus", "--validators", "-4"],
      /--validators expected an integer in 1\.\.128, got "-4"/,
    ],
    [
      ["simulate", "consensus", "--validators", "4", "--byzantine", "5"],
      /--byzantine 5 is more than --validators 4/,
    ],
    [["simulate", "replication", "--mode", "raft"], /--mode expected one of primary, pow, got "raft"/],
    [["simulate", "consensus", "--nodes", "--validators", "17"], /--nodes runs 1\.\.16 validators, got 17/],
    [["simulate", "consensus", "--nodes", "--trace", "x.html"], /--trace is not supported with --nodes/],
    [
      ["simulate", "consensus", "--nodes", "--validators", "4", "--byzantine", "2"],
      /no 2 validators hold less than 1\/3 of the power/,
    ],
    [["cluster", "--nodes", "0"], /--nodes expected an integer in 1\.\.16/],
    [["cluster", "--byzantine", "1"], /--byzantine needs --consensus/],
    [["node", "--listen", "127.0.0.1:1"], /--data and --listen are required/],
  ];
  for (const [args, pattern] of cases) {
    it(`chaindb ${args.join(" ")}`, async () => {
      const io = capture();
      expect(await main(args)).toBe(2);
      expectOneLineError(io.err(), pattern);
      expect(io.out()).toBe("");
    });
  }
});

describe("simulators report alike, with --json on all three", () => {
  it("one summary line of the same shape, and one JSON object", async () => {
    const runs: [string[], string][] = [
      [["simulate", "replication", "--mode", "primary", "--seeds", "1..2"], "replication"],
      [["simulate", "consensus", "--validators", "4", "--byzantine", "1", "--seeds", "1..2"], "consensus"],
      [["simulate", "2pc", "--seeds", "1..2"], "2pc"],
    ];
    for (const [args, name] of runs) {
      let io = capture();
      expect(await main(args)).toBe(0);
      expect(io.out()).toMatch(
        new RegExp(
          `^2 seeds \\(1\\.\\.2\\), 0 violations: ${name}, [^\\n]+ — [^\\n]+ \\(\\d+(\\.\\d)? s\\)\\n$`,
        ),
      );
      vi.restoreAllMocks();
      io = capture();
      expect(await main([...args, "--json"])).toBe(0);
      const json = JSON.parse(io.out());
      vi.restoreAllMocks();
      expect(json).toMatchObject({ ok: true, simulation: name, seeds: 2, from: 1, to: 2, violations: 0 });
      expect(typeof json.seconds).toBe("number");
    }
  }, 120_000);
});

describe("simulate consensus --nodes", () => {
  it("runs the shipping ConsensusNode with power losses and reports it in the JSON object", async () => {
    const io = capture();
    expect(
      await main([
        "simulate",
        "consensus",
        "--nodes",
        "--validators",
        "1",
        "--byzantine",
        "0",
        "--seeds",
        "1..2",
        "--json",
      ]),
    ).toBe(0);
    const json = JSON.parse(io.out());
    vi.restoreAllMocks();
    expect(json).toMatchObject({ ok: true, simulation: "consensus", seeds: 2, nodes: true, validators: 1 });
    expect(json.committedBlocks).toBeGreaterThan(3);
    expect(json.powerLosses).toBeGreaterThan(0);
    expect(json.transfers).toBeGreaterThan(0);
  }, 60_000);
});

describe("node: operational failures are one line, exit 1, and leave nothing behind", () => {
  const dir = mkdtempSync(join(tmpdir(), "chaindb-cli-usage-"));
  const listening = (port: number) =>
    new Promise<Server>((resolve) => {
      const s = createServer();
      s.listen(port, "127.0.0.1", () => resolve(s));
    });
  const port = 31_000 + (process.pid % 2000) * 2;

  it("a file as --data (exit 2), an unwritable data dir, the peer port or the HTTP port in use (exit 1)", async () => {
    const file = join(dir, "a-file");
    writeFileSync(file, "x");
    // As root every directory is writable; /sys refuses mkdir even to root.
    const unwritable = process.getuid?.() === 0 ? "/sys/chaindb-cli-test" : "/proc/chaindb-cli-test";
    const peerBusy = await listening(port);
    const httpBusy = await listening(port + 3);
    try {
      const [asFile, readOnly, peerInUse, httpInUse] = await Promise.all([
        chaindb("node", "--data", file, "--listen", `127.0.0.1:${port + 10}`),
        chaindb("node", "--data", unwritable, "--listen", `127.0.0.1:${port + 12}`),
        chaindb("node", "--data", join(dir, "p"), "--listen", `127.0.0.1:${port}`),
        chaindb("node", "--data", join(dir, "h"), "--listen", `127.0.0.1:${port + 2}`),
      ]);
      expect(asFile.code).toBe(2);
      expectOneLineError(asFile.stderr, /--data \S+ is a file, expected a directory \[BAD_ARGUMENT\]/);
      expect(readOnly.code).toBe(1);
      expectOneLineError(
        readOnly.stderr,
        /chaindb-cli-test: (operation not permitted|permission denied|no such file or directory) \[E[A-Z]+\]/,
      );
      expect(peerInUse.code).toBe(1);
      expectOneLineError(
        peerInUse.stderr,
        new RegExp(
          `cannot listen on 127\\.0\\.0\\.1:${port}: the address is already in use \\[EADDRINUSE\\]`,
        ),
      );
      expect(httpInUse.code).toBe(1);
      expectOneLineError(
        httpInUse.stderr,
        new RegExp(
          `cannot listen on 127\\.0\\.0\\.1:${port + 3}: the address is already in use \\[EADDRINUSE\\]`,
        ),
      );
      expect(existsSync(join(dir, "h", "ledger")), "the ledger was opened before the HTTP port").toBe(true);
      expect(readdirSync(join(dir, "h", "ledger"))).not.toContain("LOCK");
    } finally {
      peerBusy.close();
      httpBusy.close();
    }
  }, 90_000);

  it("mine --bits 0x00000000 ends at once as a process (it used to search forever)", async () => {
    const r = await chaindb("mine", "--bits", "0x00000000", "--workers", "0");
    expect(r.code).toBe(2);
    expectOneLineError(r.stderr, /zero target/);
  });
});

describe("cluster status table", () => {
  const stream = (isTTY: boolean) => {
    const writes: string[] = [];
    return {
      writes,
      out: { isTTY, write: (s: string) => (writes.push(s), true) } as unknown as NodeJS.WriteStream,
    };
  };

  it("redraws in place on a terminal: cursor up over the last table, each line cleared", () => {
    const { writes, out } = stream(true);
    const screen = new StatusScreen(out);
    screen.draw(["header", "  n0 height 1", "  3 transactions"]);
    screen.draw(["header", "  n0 height 2", "  5 transactions"]);
    expect(writes[0]).toBe("\x1b[2Kheader\n\x1b[2K  n0 height 1\n\x1b[2K  3 transactions\n");
    expect(writes[1]).toBe("\x1b[3A\x1b[2Kheader\n\x1b[2K  n0 height 2\n\x1b[2K  5 transactions\n");
  });

  it("prints plain lines when piped, and only the rows that changed", () => {
    const { writes, out } = stream(false);
    const screen = new StatusScreen(out);
    screen.draw(["header", "  n0 height 1", "  n1 height 1"]);
    screen.draw(["header", "  n0 height 2", "  n1 height 1"]);
    expect(writes.join("")).toBe("header\n  n0 height 1\n  n1 height 1\n  n0 height 2\n");
    expect(writes.join("")).not.toContain("\x1b");
  });
});
