/**
 * Durable ledger: exact recovery (same height, root and accounts) from snapshot + log on both
 * engines, meta checks, one process per directory, and clear errors for foreign, truncated and
 * corrupted files.
 */
import { afterAll, describe, expect, it } from "vitest";
import * as fs from "node:fs";
import * as path from "node:path";
import { Ledger } from "../../bindings/chain/ledger.ts";
import { signTransfer } from "../../bindings/chain/transfer.ts";
import { loadSqlite } from "../../bindings/store/sqlite.ts";
import { NODE_VFS_NAME } from "../../bindings/store/node-vfs.ts";
import { nodeFilePort, type FilePort } from "../../bindings/store/index.ts";
import { CRASH_CHAIN, applyNextBlock, crashGenesis } from "../helpers/crash-blocks.ts";
import { testKey } from "../helpers/ledger-fixtures.ts";
import { xorAt } from "../helpers/bytes.ts";

const root = fs.mkdtempSync(path.join(process.cwd(), ".chaindb-tmp-durable-"));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
let dirCount = 0;
const freshDir = () => path.join(root, `l${dirCount++}`);
const open = (dir: string, engine: "wasm" | "ts" = "wasm", extra: object = {}) =>
  Ledger.open({ dir, engine, chainId: CRASH_CHAIN, genesis: crashGenesis(), snapshotEvery: 3, ...extra });

function accounts(l: Ledger): string[] {
  const recs = l.exportAccounts();
  const out: string[] = [];
  for (let o = 0; o < recs.length; o += 48) out.push(Buffer.from(recs.subarray(o, o + 48)).toString("hex"));
  return out.sort();
}

describe("durable ledger", () => {
  for (const engine of ["wasm", "ts"] as const) {
    it(`recovers exactly: snapshot + log (${engine})`, async () => {
      const dir = freshDir();
      const a = await open(dir, engine);
      expect(a.height).toBe(0);
      const genesisRoot = a.root();
      const roots = [genesisRoot];
      for (let i = 0; i < 8; i++) roots.push(await applyNextBlock(a));
      const before = accounts(a);
      await a.close();
      const b = await open(dir, engine);
      expect(b.height).toBe(8);
      expect(b.root()).toEqual(roots[8]);
      expect(accounts(b)).toEqual(before);
      // and it goes on from there
      roots.push(await applyNextBlock(b));
      await b.close();
      const c = await open(dir, engine === "wasm" ? "ts" : "wasm"); // the other engine reads the same files
      expect(c.height).toBe(9);
      expect(c.root()).toEqual(roots[9]);
      await c.close();
      // same blocks in memory give the same roots
      const mem = await Ledger.open({ engine, chainId: CRASH_CHAIN, genesis: crashGenesis() });
      for (let i = 1; i <= 9; i++) expect(await applyNextBlock(mem)).toEqual(roots[i]);
    });
  }

  it("signed blocks are stored; a rejected block leaves storage untouched", async () => {
    const dir = freshDir();
    const alice = testKey(0);
    const genesis = [{ address: alice.publicKey, balance: 100n }];
    const l = await Ledger.open({ dir, chainId: 5, genesis });
    const tx = signTransfer(alice, { chainId: 5, to: testKey(1).publicKey, amount: 10n, fee: 1n, nonce: 0n });
    await l.applyBlock([tx], { proposer: testKey(2).publicKey });
    await expect(l.applyBlock([tx], { proposer: testKey(2).publicKey, atomic: true })).rejects.toMatchObject({
      code: "BAD_NONCE",
    });
    const r = l.root();
    await l.close();
    const again = await Ledger.open({ dir, chainId: 5, genesis });
    expect(again.height).toBe(1);
    expect(again.root()).toEqual(r);
    expect(again.account(alice.publicKey)).toEqual({ balance: 89n, nonce: 1n });
    await again.close();
  });

  it("a failed durable write undoes the block in memory (state, root, height)", async () => {
    for (const engine of ["wasm", "ts"] as const) {
      const dir = freshDir();
      const l = await open(dir, engine);
      await applyNextBlock(l);
      const root = l.root();
      const before = accounts(l);
      const log = (l as unknown as { log: { appendBlock: (...a: unknown[]) => void } }).log;
      const real = log.appendBlock;
      log.appendBlock = () => {
        throw new Error("disk full (injected)");
      };
      await expect(applyNextBlock(l)).rejects.toThrow("disk full");
      expect(l.height).toBe(1);
      expect(l.root()).toEqual(root);
      expect(accounts(l)).toEqual(before);
      log.appendBlock = real;
      await applyNextBlock(l); // the same block again, now durable
      const after = l.root();
      await l.close();
      const back = await open(dir, engine);
      expect(back.height).toBe(2);
      expect(back.root()).toEqual(after);
      await back.close();
    }
  });

  it("refuses a different chain id or genesis, a treeDepth option, and a second opener", async () => {
    const dir = freshDir();
    const l = await open(dir);
    await expect(open(dir)).rejects.toMatchObject({ code: "BUSY" });
    await l.close();
    await expect(open(dir, "wasm", { chainId: 1 })).rejects.toMatchObject({ code: "STORE_MISMATCH" });
    await expect(open(dir, "wasm", { treeDepth: 9 } as object)).rejects.toMatchObject({
      code: "BAD_ARGUMENT",
    });
    await expect(open(dir, "wasm", { genesis: crashGenesis().slice(1) })).rejects.toMatchObject({
      code: "STORE_MISMATCH",
    });
    const ok = await open(dir);
    expect(ok.height).toBe(0);
    await ok.close();
  });

  it("foreign files are NOT_CHAINDB", async () => {
    const junk = freshDir();
    fs.mkdirSync(junk);
    fs.writeFileSync(
      path.join(junk, "ledger.sqlite"),
      "this is a text file, not a database at all".repeat(10),
    );
    await expect(open(junk)).rejects.toMatchObject({ code: "NOT_CHAINDB" });

    const other = freshDir();
    fs.mkdirSync(other);
    const sqlite3 = await loadSqlite();
    const db = new sqlite3.oo1.DB({
      filename: path.join(other, "ledger.sqlite"),
      flags: "c",
      vfs: NODE_VFS_NAME,
    });
    db.exec("CREATE TABLE songs (title TEXT); INSERT INTO songs VALUES ('la')");
    db.close();
    await expect(open(other)).rejects.toMatchObject({ code: "NOT_CHAINDB" });
    expect(fs.existsSync(path.join(other, "LOCK"))).toBe(false); // a failed open releases its lock
  });

  it("truncated and corrupted files are STORE_CORRUPT, never an empty ledger", async () => {
    const dir = freshDir();
    const l = await open(dir);
    for (let i = 0; i < 4; i++) await applyNextBlock(l);
    await l.close();
    const file = path.join(dir, "ledger.sqlite");
    const good = fs.readFileSync(file);
    expect(fs.existsSync(`${file}-wal`)).toBe(false); // closed cleanly: everything is in the main file

    fs.writeFileSync(file, good.subarray(0, Math.floor(good.length / 2)));
    await expect(open(dir)).rejects.toMatchObject({ code: "STORE_CORRUPT" });
    fs.writeFileSync(file, new Uint8Array(0));
    await expect(open(dir)).rejects.toMatchObject({ code: "STORE_CORRUPT" });
    fs.writeFileSync(file, good.subarray(0, 60));
    await expect(open(dir)).rejects.toMatchObject({ code: "STORE_CORRUPT" });

    // Flip one byte inside block 4's change records (replayed on open after snapshot 3): a record
    // that exists after block 4 but not after block 3 is stored only there.
    const mem = await Ledger.open({ chainId: CRASH_CHAIN, genesis: crashGenesis() });
    for (let i = 0; i < 3; i++) await applyNextBlock(mem);
    const at3 = new Set(accounts(mem));
    await applyNextBlock(mem);
    const fresh = accounts(mem).find((r) => !at3.has(r))!;
    const at = good.indexOf(Buffer.from(fresh, "hex"));
    expect(at).toBeGreaterThan(0);
    expect(good.indexOf(Buffer.from(fresh, "hex"), at + 1)).toBe(-1);
    const bad = Buffer.from(good);
    xorAt(bad, at + 3, 0x55);
    fs.writeFileSync(file, bad);
    await expect(open(dir)).rejects.toMatchObject({ code: "STORE_CORRUPT" });

    fs.writeFileSync(file, good);
    const back = await open(dir);
    expect(back.height).toBe(4);
    await back.close();
  });
});

describe("the directory LOCK", () => {
  const deadPid = 4_194_305; // above Linux's largest pid (2^22): no such process
  it("a stale LOCK (dead process, or torn by a crash while it was written) is taken over; the LOCK goes at close", async () => {
    for (const stale of [`${deadPid} 0123456789abcdef\n`, `${deadPid}`, "", "12"]) {
      const dir = freshDir();
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, "LOCK"), stale);
      const l = await open(dir);
      expect(fs.readFileSync(path.join(dir, "LOCK"), "utf8")).toMatch(
        new RegExp(`^${process.pid} [0-9a-f]{16}\\n$`),
      );
      await l.close();
      expect(fs.existsSync(path.join(dir, "LOCK"))).toBe(false);
      expect(fs.readdirSync(dir).filter((f) => f.startsWith("LOCK"))).toEqual([]);
    }
  });

  it("a takeover racing a live owner's fresh LOCK gives it back and is BUSY (the old check-then-remove deleted it)", async () => {
    const dir = freshDir();
    fs.mkdirSync(dir, { recursive: true });
    const lock = path.join(dir, "LOCK");
    fs.writeFileSync(lock, `${deadPid} 0123456789abcdef\n`);
    const live = `${process.ppid} fedcba9876543210\n`; // the parent process: alive, and not us
    // Between our stale check and our move, another process replaced the stale LOCK with its own.
    const racing: FilePort = {
      ...nodeFilePort,
      rename: (from, to) => {
        if (from === lock && !to.endsWith("LOCK")) (fs.rmSync(lock), fs.writeFileSync(lock, live));
        nodeFilePort.rename(from, to);
      },
    };
    await expect(open(dir, "wasm", { filePort: racing })).rejects.toMatchObject({ code: "BUSY" });
    expect(fs.readFileSync(lock, "utf8")).toBe(live);
  });

  it("a second open in this process is BUSY while the first holds it", async () => {
    const dir = freshDir();
    const l = await open(dir);
    await expect(open(dir)).rejects.toMatchObject({ code: "BUSY" });
    await l.close();
    await (await open(dir)).close();
  });

  it("a failed directory fsync when the ledger file is created is STORE_IO, not swallowed", async () => {
    const dir = freshDir();
    const failing: FilePort = {
      ...nodeFilePort,
      fsyncDir: () => {
        throw Object.assign(new Error("EIO: injected"), { code: "EIO" });
      },
    };
    await expect(open(dir, "wasm", { filePort: failing })).rejects.toMatchObject({ code: "STORE_IO" });
    expect(fs.existsSync(path.join(dir, "LOCK"))).toBe(false);
  });
});
