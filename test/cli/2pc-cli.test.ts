// `chaindb simulate 2pc`: a clean range exits 0 with the one-line summary; a broken protocol exits 1
// with the seed, the violated invariant and the replay command; bad arguments exit 2.
import { afterEach, describe, expect, it, vi } from "vitest";
import { main } from "../../bindings/cli/main.ts";

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  vi.spyOn(process.stdout, "write").mockImplementation((s) => (out.push(String(s)), true));
  vi.spyOn(process.stderr, "write").mockImplementation((s) => (err.push(String(s)), true));
  return { out, err };
}

afterEach(() => void vi.restoreAllMocks());

describe("chaindb simulate 2pc", () => {
  it("runs a seed range and prints the summary", async () => {
    const { out } = capture();
    expect(await main(["simulate", "2pc", "--seeds", "1..10"])).toBe(0);
    expect(out.join("")).toMatch(/^10 seeds \(1\.\.10\), 0 violations: 2pc, /);
  });

  it("exits 1 on a violation with the seed, the invariant and the replay command", async () => {
    const { out, err } = capture();
    expect(await main(["simulate", "2pc", "--seeds", "1..50", "--bug", "no-locks"])).toBe(1);
    expect(err.join("")).toMatch(
      /^seed (\d+) \(\d participants\) violated "conservation[^\n]*\nreplay: npx chaindb simulate 2pc --seeds (\d+)\.\.\2 --bug no-locks\n$/,
    );
    expect(out.join("")).toMatch(/^\d+ seeds \(1\.\.\d+\), 1 violation \(seed \d+\): 2pc, /);
  });

  it("rejects bad arguments with exit 2", async () => {
    capture();
    expect(await main(["simulate", "2pc", "--seeds", "9..1"])).toBe(2);
    expect(await main(["simulate", "2pc", "--bug", "nope"])).toBe(2);
  });
});
