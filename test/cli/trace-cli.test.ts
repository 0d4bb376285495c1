// `chaindb simulate … --trace <file.html>`: the page is written for the seed run (the failing one
// when a seed fails), as a separate process would; bad trace options exit 2 with one line.
import { afterEach, describe, expect, it, vi } from "vitest";
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { main } from "../../bindings/cli/main.ts";

function chaindb(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ["--import", "tsx", "bindings/cli/bin.ts", ...args],
      { encoding: "utf8", timeout: 120_000 },
      (error, stdout, stderr) => {
        resolve({ code: error ? (typeof error.code === "number" ? error.code : null) : 0, stdout, stderr });
      },
    );
  });
}

function capture() {
  const err: string[] = [];
  vi.spyOn(process.stdout, "write").mockImplementation(() => true);
  vi.spyOn(process.stderr, "write").mockImplementation((s) => (err.push(String(s)), true));
  return err;
}

afterEach(() => void vi.restoreAllMocks());

describe("simulate --trace", () => {
  it("simulate consensus --seeds 1..1 --trace x.html writes the page of that seed", async () => {
    const file = join(mkdtempSync(join(tmpdir(), "chaindb-trace-")), "sub", "x.html");
    const r = await chaindb("simulate", "consensus", "--seeds", "1..1", "--trace", file);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(
      `trace: simulate consensus, seed 1: 4 validators, 1 byzantine, tendermint drawn to ${file}`,
    );
    const html = readFileSync(file, "utf8");
    expect(html).toContain('<svg class="trace"');
    expect([...html.matchAll(/<g class="lane" data-node="n\d">/g)]).toHaveLength(4);
    expect(html).toContain("no invariant violated");
    expect(html).toContain("npx chaindb simulate consensus --validators 4 --byzantine 1 --seeds 1..1");
  }, 120_000);

  it("writes the failing seed's page with its violation (2PC, broken protocol) and exits 1", async () => {
    const file = join(mkdtempSync(join(tmpdir(), "chaindb-trace-")), "2pc.html");
    const err = capture();
    expect(await main(["simulate", "2pc", "--seeds", "1..50", "--bug", "no-locks", "--trace", file])).toBe(1);
    const seed = /^seed (\d+)/m.exec(err.join(""))![1];
    const html = readFileSync(file, "utf8");
    expect(html).toContain(`simulate 2pc, seed ${seed}: `);
    expect(html).toContain("violated: conservation");
    expect(html).toContain('<g class="violation">');
  });

  it("draws only the requested window", async () => {
    const file = join(mkdtempSync(join(tmpdir(), "chaindb-trace-")), "w.html");
    capture();
    expect(
      await main([
        "simulate",
        "replication",
        "--seeds",
        "3..3",
        "--trace",
        file,
        "--trace-window",
        "400..600",
      ]),
    ).toBe(0);
    const html = readFileSync(file, "utf8");
    const sent = [...html.matchAll(/, sent (\d+) ms,/g)].map((m) => Number(m[1]));
    expect(sent.length).toBeGreaterThan(0);
    for (const t of sent) expect(t >= 400 && t <= 600).toBe(true);
  }, 60_000);

  it("bad trace options exit 2 with one line and write nothing", async () => {
    const dir = mkdtempSync(join(tmpdir(), "chaindb-trace-"));
    const err = capture();
    expect(
      await main([
        "simulate",
        "consensus",
        "--seeds",
        "1..1",
        "--trace",
        join(dir, "a.html"),
        "--trace-window",
        "5..1",
      ]),
    ).toBe(2);
    expect(await main(["simulate", "2pc", "--seeds", "1..1", "--trace-window", "0..10"])).toBe(2);
    expect(await main(["simulate", "replication", "--seeds", "1..1", "--trace", ""])).toBe(2);
    expect(err).toEqual([
      "chaindb: --trace-window expected <from>..<to> in ms with from < to, got 5..1 [BAD_ARGUMENT]\n",
      "chaindb: --trace-window needs --trace <file.html> [BAD_ARGUMENT]\n",
      "chaindb: --trace expected a file name [BAD_ARGUMENT]\n",
    ]);
    expect(existsSync(join(dir, "a.html"))).toBe(false);
  });
});
