// The chaindb command line, run as a user runs it: a separate process, exit codes and output.
import { describe, expect, it } from "vitest";
import { execFile } from "node:child_process";
import { checkProofOfWork } from "../../bindings/pow/index.ts";
import { fromHex } from "../../bindings/util/index.ts";

const GENESIS =
  "0100000000000000000000000000000000000000000000000000000000000000000000003ba3edfd7a7b12b27ac72c3e67768f617fc81bc3888a51323a9fb8aa4b1e5e4a29ab5f49ffff001d1dac2b7c";

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

describe("chaindb CLI", async () => {
  it("verify: the genesis block holds (exit 0) and shows its hash and target", async () => {
    const r = await chaindb("verify", "--header", GENESIS);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f");
    expect(r.stdout).toContain("00000000ffff0000000000000000000000000000000000000000000000000000");
    expect(r.stdout).toContain("holds");
  });

  it("verify: a wrong nonce fails the proof of work (exit 1)", async () => {
    const r = await chaindb("verify", "--header", GENESIS.slice(0, -8) + "00000000");
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("does not hold (high-hash)");
  });

  it("verify: malformed input exits 2 with a clear message", async () => {
    expect((await chaindb("verify", "--header", "zz")).code).toBe(2);
    const short = await chaindb("verify", "--header", GENESIS.slice(2));
    expect(short.code).toBe(2);
    expect(short.stderr).toContain("expected 80 bytes, got 79");
    expect((await chaindb("verify")).code).toBe(2);
    expect((await chaindb("frobnicate")).code).toBe(2);
  });

  it("mine --json: one JSON object with a valid solution, starting at the header's nonce", async () => {
    const header = GENESIS.slice(0, 144) + "ffff001f" + "10000000"; // bits 0x1f00ffff, nonce 16
    const r = await chaindb("mine", "--header", header, "--workers", "0", "--json");
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(Object.keys(out).sort()).toEqual(["hash", "hashes", "hashrate", "header", "nonce", "seconds"]);
    expect(out.nonce).toBeGreaterThanOrEqual(16);
    expect(out.hashes).toBe(out.nonce - 16 + 1);
    const check = checkProofOfWork(fromHex(out.header));
    expect(check.ok).toBe(true);
    expect(check.hash).toBe(out.hash);
  });

  it("mine: --bits overrides a header's bits; bad options exit 2", async () => {
    const r = await chaindb("mine", "--bits", "2000ffff", "--workers", "1", "--json");
    expect(r.code).toBe(0);
    expect(checkProofOfWork(fromHex(JSON.parse(r.stdout).header)).ok).toBe(true);
    expect((await chaindb("mine")).code).toBe(2);
    expect((await chaindb("mine", "--bits", "xyz")).code).toBe(2);
    expect((await chaindb("mine", "--bits", "1f00ffff", "--engine", "gpu")).code).toBe(2);
    expect((await chaindb("mine", "--bits", "1f00ffff", "--bogus")).code).toBe(2);
  });

  it("bench: an unknown suite exits 2 and names the known ones", async () => {
    const r = await chaindb("bench", "nosuch");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("pow");
  });
});
