// Group commit: the commits that reach a ledger in one event-loop turn share one durable step
// (one fsync). Each still resolves only once durable; a failed write fails the whole group; and a
// SIGKILL in the middle of a stream of concurrent commits loses no acknowledged one.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { Ledger } from "../../bindings/chain/index.ts";
import { transactional } from "../../bindings/txn/index.ts";
import { toHex } from "../../bindings/util/index.ts";
import { GROUP_CLIENTS, GROUP_START, groupGenesis, groupPair } from "../helpers/txn-fixtures.ts";

const CHILD = fileURLToPath(new URL("../helpers/txn-group-child.ts", import.meta.url));
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), "chaindb-group-"));
  dirs.push(d);
  return d;
};
const open = (dir?: string) => Ledger.open({ chainId: 9, genesis: groupGenesis(), ...(dir ? { dir } : {}) });
const balance = (ledger: Ledger, a: Uint8Array) => ledger.account(a)?.balance ?? 0n;

describe("group commit", () => {
  it("commits concurrent transactions on disjoint accounts in one durable step", async () => {
    const ledger = await open(tempDir());
    const db = transactional(ledger);
    const before = ledger.height;
    await Promise.all(
      Array.from({ length: GROUP_CLIENTS }, (_, c) => {
        const [a, b] = groupPair(c);
        return db.transaction((tx) => tx.transfer(a, b, BigInt(c + 1)));
      }),
    );
    expect(ledger.height).toBe(before + 1);
    for (let c = 0; c < GROUP_CLIENTS; c++) expect(balance(ledger, groupPair(c)[1])).toBe(BigInt(c + 1));
    // One after another, each commit is its own step.
    const [a, b] = groupPair(0);
    await db.transaction((tx) => tx.transfer(a, b, 1n));
    await db.transaction((tx) => tx.transfer(a, b, 1n));
    expect(ledger.height).toBe(before + 3);
    await ledger.close();
  });

  it("leaves a transaction that fails its invariant out of the group", async () => {
    const ledger = await open();
    const db = transactional(ledger);
    const [a0, b0] = groupPair(0);
    const [a1, b1] = groupPair(1);
    const results = await Promise.allSettled([
      db.transaction((tx) => tx.transfer(a0, b0, 5n)),
      db.transaction((tx) => tx.transfer(a1, b1, GROUP_START + 1n)), // overdraft
    ]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "rejected"]);
    expect((results[1] as PromiseRejectedResult).reason).toMatchObject({ code: "TX_INVARIANT" });
    expect([balance(ledger, b0), balance(ledger, b1), ledger.height]).toEqual([5n, 0n, 1]);
    await ledger.close();
  });

  it("fails every commit of a group whose durable write fails, and rolls each back", async () => {
    const dir = tempDir();
    const ledger = await open(dir);
    const db = transactional(ledger);
    const root = toHex(ledger.root());
    // Inject the failure into the ledger's durable log (test-only access to a private field).
    const log = (ledger as unknown as { log: { appendBlock: (...args: unknown[]) => void } }).log;
    let calls = 0;
    log.appendBlock = () => {
      calls++;
      throw new Error("injected: fsync failed");
    };
    const txs = await Promise.all(
      [0, 1, 2].map(async (c) => {
        const tx = db.begin();
        const [a, b] = groupPair(c);
        await tx.transfer(a, b, 1n);
        return tx;
      }),
    );
    const outcomes = await Promise.allSettled(txs.map((tx) => tx.commit()));
    expect(outcomes.every((o) => o.status === "rejected")).toBe(true);
    expect(calls).toBe(1);
    for (const [i, tx] of txs.entries()) {
      expect(tx.active).toBe(false);
      expect(db.locks.holders(toHex(groupPair(i)[0])).size).toBe(0);
    }
    const reopened = await open(dir);
    expect(toHex(reopened.root())).toBe(root);
    await reopened.close();
  });

  it("loses no acknowledged commit when SIGKILLed in a stream of concurrent commits", async () => {
    const dir = tempDir();
    const acked = await runAndKill(dir, 400);
    const ledger = await open(dir);
    let lost = 0;
    for (let c = 0; c < GROUP_CLIENTS; c++) {
      const [a, b] = groupPair(c);
      const got = balance(ledger, b);
      expect(balance(ledger, a) + got).toBe(GROUP_START); // never half a transfer
      // Every acknowledged transfer is there; at most the one in flight beyond it.
      if (got < BigInt(acked[c] ?? 0)) lost++;
      expect(got - BigInt(acked[c] ?? 0)).toBeLessThanOrEqual(1n);
    }
    expect(lost).toBe(0);
    await ledger.close();
  }, 60_000);
});

/** Runs the child until it has printed `acks` acknowledgements, then SIGKILLs it. */
function runAndKill(dir: string, acks: number): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", CHILD, dir], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    const acked: number[] = [];
    let seen = 0;
    let partial = "";
    let err = "";
    const bound = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`child acknowledged only ${seen} commits in 40 s: ${err}`));
    }, 40_000);
    child.stdout.on("data", (d: Buffer) => {
      const lines = (partial + d.toString()).split("\n");
      partial = lines.pop()!;
      for (const line of lines) {
        const m = /^ack (\d+) (\d+)$/.exec(line);
        if (m === null) continue;
        acked[Number(m[1])] = Math.max(acked[Number(m[1])] ?? 0, Number(m[2]));
        if (++seen === acks) child.kill("SIGKILL");
      }
    });
    child.stderr.on("data", (d: Buffer) => void (err += d.toString()));
    child.on("exit", (code, signal) => {
      clearTimeout(bound);
      if (signal === "SIGKILL" && seen >= acks) resolve(acked);
      else reject(new Error(`child exited with ${code ?? signal} after ${seen} acks: ${err}`));
    });
  });
}
