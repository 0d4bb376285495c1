import { afterEach, describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Ledger } from "../../bindings/chain/index.ts";
import { transactional } from "../../bindings/txn/index.ts";
import { toHex } from "../../bindings/util/index.ts";
import { ALICE, BOB, CAROL, balances, openBank } from "../helpers/txn-fixtures.ts";

// A crash between the debit and the credit leaves neither: a real SIGKILL of a child process
// between the two writes, and an injected failure of the durable write, each followed by a reopen.

const CHILD = fileURLToPath(new URL("../helpers/txn-crash-child.ts", import.meta.url));
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), "chaindb-txn-crash-"));
  dirs.push(d);
  return d;
};

/** Runs the child until it prints "debited", then SIGKILLs it; resolves with its output. */
function runAndKill(dir: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", CHILD, dir], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    const bound = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`child never reached the debit within 20 s: ${out} ${err}`));
    }, 20_000);
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes("debited\n")) child.kill("SIGKILL");
    });
    child.stderr.on("data", (d: Buffer) => void (err += d.toString()));
    child.on("exit", (code, signal) => {
      clearTimeout(bound);
      if (signal === "SIGKILL" && out.includes("debited")) resolve(out);
      else reject(new Error(`child exited with ${code ?? signal} before the kill: ${out} ${err}`));
    });
  });
}

describe("transactions: a crash between debit and credit leaves neither", () => {
  it("SIGKILL after the debit: the reopened ledger has the earlier commit and nothing of the killed one", async () => {
    const dir = tempDir();
    const out = await runAndKill(dir);
    const committedRoot = /committed ([0-9a-f]{64})/.exec(out)![1];
    const ledger = await openBank(dir);
    expect(balances(ledger)).toEqual([17, 8, 0]);
    expect(toHex(ledger.root())).toBe(committedRoot);
    expect(ledger.height).toBe(1);
    await ledger.close();
  }, 30_000);

  it("a failed durable write rolls the transaction back; reopening recovers the last commit", async () => {
    const dir = tempDir();
    const ledger = await openBank(dir);
    const db = transactional(ledger);
    await db.transaction((tx) => tx.transfer(ALICE, BOB, 3n));
    const root = toHex(ledger.root());
    // Inject the failure into the ledger's durable log (a private field: test-only access), so the
    // real commit path runs: both writes reach the in-memory state, then the fsynced write fails.
    const log = (ledger as unknown as { log: { appendBlock: (...args: unknown[]) => void } }).log;
    let calls = 0;
    log.appendBlock = () => {
      calls++;
      throw new Error("injected: fsync failed");
    };
    const tx = db.begin();
    await tx.transfer(ALICE, CAROL, 10n);
    await expect(tx.commit()).rejects.toThrow("injected");
    expect(calls).toBe(1);
    expect(tx.active).toBe(false);
    expect(db.locks.holders(toHex(ALICE)).size).toBe(0);
    expect(() => ledger.account(ALICE)).toThrow(expect.objectContaining({ code: "CLOSED" }));
    const reopened: Ledger = await openBank(dir);
    expect(balances(reopened)).toEqual([17, 8, 0]);
    expect(toHex(reopened.root())).toBe(root);
    await reopened.close();
  });
});
