// 2PC over real ledgers: LedgerBank locks in the ledger's own lock manager (2PC and local
// transactions exclude each other), a transfer between two ledgers through runners on the
// SimNetwork, malformed frames counted and dropped by the runner, and the file log's durability
// and torn-tail repair.
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Ledger } from "../../bindings/chain/index.ts";
import { SimNetwork } from "../../bindings/net/index.ts";
import { LedgerDatabase } from "../../bindings/txn/index.ts";
import {
  Coordinator,
  FileTwoPcLog,
  LedgerBank,
  Participant,
  TwoPcRunner,
} from "../../bindings/txn/two-phase/index.ts";
import { fromHex, toHex } from "../../bindings/util/index.ts";
import { encodeFrame } from "../../bindings/store/index.ts";

const alice = toHex(new Uint8Array(32).fill(0xa1));
const bob = toHex(new Uint8Array(32).fill(0xb0));
const dir = mkdtempSync(join(tmpdir(), "chaindb-2pc-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function ledgerDb(owner: string, balance: bigint) {
  const ledger = await Ledger.open({ chainId: 1, genesis: [{ address: fromHex(owner), balance }] });
  return new LedgerDatabase(ledger);
}

describe("LedgerBank", () => {
  it("holds 2PC locks in the ledger's lock manager until release; refuses overdrafts and busy accounts", async () => {
    const db = await ledgerDb(alice, 100n);
    const bank = new LedgerBank(db);
    expect(bank.tryPrepare("t1", [{ account: alice, delta: -101n }])).toMatchObject({ ok: false });
    expect(bank.locksHeld).toBe(0);
    expect(bank.tryPrepare("t1", [{ account: alice, delta: -40n }])).toEqual({
      ok: true,
      writes: [{ account: alice, balance: 60n }],
    });
    // A local transaction cannot take the account while the 2PC transaction holds it.
    const local = db.begin();
    expect(db.locks.tryAcquire(local.id, alice, "X")).toBe(false);
    local.rollback();
    expect(bank.tryPrepare("t2", [{ account: alice, delta: 1n }])).toMatchObject({ ok: false });
    await bank.apply("t1", [{ account: alice, balance: 60n }]);
    bank.release("t1");
    expect(bank.locksHeld).toBe(0);
    expect(db.ledger.account(fromHex(alice))?.balance).toBe(60n);
    expect(bank.tryPrepare("t3", [{ account: "zz", delta: 1n }])).toMatchObject({ ok: false });
  });
});

describe("2PC runner over the SimNetwork with two ledgers", () => {
  it("moves money atomically between ledgers; malformed frames are counted and dropped", async () => {
    const net = new SimNetwork({ seed: 5, link: { duplicate: 0.3, reorder: 0.3 } });
    const [c, a, b] = ["c", "bankA", "bankB"].map((id) => net.addNode(id));
    const dbs = { bankA: await ledgerDb(alice, 100n), bankB: await ledgerDb(bob, 20n) };
    const runners = [a!, b!].map((node) => {
      const bank = new LedgerBank(dbs[node.id as "bankA" | "bankB"]);
      return new TwoPcRunner({
        transport: node.transport,
        clock: node.clock,
        log: node.storage,
        resource: bank,
        core: new Participant(node.id, bank, { coordinators: ["c"] }),
      });
    });
    const coord = new TwoPcRunner({
      transport: c!.transport,
      clock: c!.clock,
      log: c!.storage,
      core: new Coordinator("c"),
    });
    for (const r of [...runners, coord]) await r.start();
    c!.transport.send("bankA", new Uint8Array([1, 2, 3]));
    c!.transport.send("bankA", new TextEncoder().encode(JSON.stringify({ v: 1, type: "commit", tx: "" })));
    const { outcome } = coord.begin(
      new Map([
        ["bankA", [{ account: alice, delta: -30n }]],
        ["bankB", [{ account: bob, delta: 30n }]],
      ]),
    );
    let committed: boolean | undefined;
    void outcome.then((v) => (committed = v));
    expect(
      await net.runUntil(
        () => committed !== undefined && dbs.bankB.ledger.account(fromHex(bob))?.balance === 50n,
        10_000,
      ),
    ).toBe(true);
    expect(committed).toBe(true);
    expect(dbs.bankA.ledger.account(fromHex(alice))?.balance).toBe(70n);
    expect(runners[0]!.rejected.count).toBeGreaterThanOrEqual(2); // links duplicate
    expect(runners[0]!.rejected.last).toMatch(/^BAD_MESSAGE/);
  });
});

describe("FileTwoPcLog", () => {
  it("keeps synced writes across reopen, loses unsynced ones, cuts a torn tail, refuses damage", () => {
    const path = join(dir, "a.log");
    const log = FileTwoPcLog.open(path);
    log.put("2pc/x", new Uint8Array([1]));
    log.put("2pc/y", new Uint8Array([2]));
    log.delete("2pc/x");
    expect(log.sync()).toBeUndefined(); // synchronous without group commit
    log.put("2pc/lost", new Uint8Array([3])); // never synced
    const again = FileTwoPcLog.open(path);
    expect(again.keys("2pc/")).toEqual(["2pc/y"]);
    expect(again.get("2pc/y")).toEqual(new Uint8Array([2]));
    const frame = encodeFrame(new Uint8Array([1, 8, 0, ...new TextEncoder().encode("2pc/torn"), 9]), 0);
    appendFileSync(path, frame.subarray(0, 11)); // a crash mid-append
    const repaired = FileTwoPcLog.open(path);
    expect(repaired.keys()).toEqual(["2pc/y"]);
    repaired.put("2pc/z", new Uint8Array([4]));
    repaired.close();
    expect(FileTwoPcLog.open(path).keys()).toEqual(["2pc/y", "2pc/z"]);
    writeFileSync(join(dir, "bad.log"), 'not json\n{"k":"2pc/y","v":"02"}\n');
    expect(() => FileTwoPcLog.open(join(dir, "bad.log"))).toThrow(
      expect.objectContaining({ code: "NOT_CHAINDB" }),
    );
  });
});
