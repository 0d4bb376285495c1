import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Ledger, keyPairFromSeed, signTransfer, type KeyPair } from "../../bindings/chain/index.ts";
import { ParallelExecutor, SerialExecutor } from "../../bindings/concurrency/index.ts";
import { at, toHex } from "../../bindings/util/index.ts";
import { xorAt } from "../helpers/bytes.ts";

// The signed pipeline: signatures verified on the workers, then execution. Same result as the
// ledger's serial applyBlock, the same first error for a bad signature or a wrong chain, and the
// same durable state after a reopen.

const CHAIN = 9;
const keys: KeyPair[] = Array.from({ length: 16 }, (_, i) => keyPairFromSeed(new Uint8Array(32).fill(i + 1)));
const proposer = new Uint8Array(32).fill(0xee);
const genesis = keys.map((k) => ({ address: k.publicKey, balance: 1_000n }));

function block(count: number, nonces: number[], chainId = CHAIN): Uint8Array[] {
  return Array.from({ length: count }, (_, i) => {
    const from = (i * 7) % keys.length;
    const to = (i * 3 + 1) % keys.length;
    return signTransfer(keys[from]!, {
      chainId,
      to: keys[to]!.publicKey,
      amount: 10 + (i % 50),
      fee: 1,
      nonce: nonces[from]!++,
    });
  });
}

let parallel: ParallelExecutor;
const dirs: string[] = [];
beforeAll(async () => {
  parallel = await ParallelExecutor.start({ workers: 2, parallelExecution: true });
}, 30_000);
afterAll(async () => parallel?.close());
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe("parallel executor, signed pipeline", () => {
  it("gives the serial statuses and root, durably (reopened ledgers agree)", async () => {
    const [da, db] = [0, 1].map(() => mkdtempSync(join(tmpdir(), "chaindb-exec-")));
    dirs.push(da!, db!);
    const a = await Ledger.open({ dir: da, chainId: CHAIN, genesis });
    const b = await Ledger.open({ dir: db, chainId: CHAIN, genesis });
    const nonces = keys.map(() => 0);
    for (let round = 0; round < 3; round++) {
      const txs = block(120, nonces);
      const want = await new SerialExecutor().execute(a, txs, { proposer });
      const got = await parallel.execute(b, txs, { proposer });
      expect(got).toEqual(want);
      expect(parallel.lastReport.path).toBe("workers");
    }
    const root = toHex(a.root());
    await a.close();
    await b.close();
    const reopened = await Ledger.open({ dir: db, chainId: CHAIN, genesis });
    expect(toHex(reopened.root())).toBe(root);
    expect(reopened.height).toBe(3);
    await reopened.close();
  }, 60_000);

  it("refuses a bad signature or a wrong chain with the serial error, and changes nothing", async () => {
    const a = await Ledger.open({ chainId: CHAIN, genesis });
    const b = await Ledger.open({ chainId: CHAIN, genesis });
    const txs = block(
      60,
      keys.map(() => 0),
    );
    const badSig = txs.map((t) => t.slice());
    xorAt(at(badSig, 41), 150, 1);
    const wrongChain = [
      ...txs.slice(0, 50),
      ...block(
        1,
        keys.map(() => 0),
        CHAIN + 1,
      ),
      ...badSig.slice(51),
    ];
    for (const bad of [badSig, wrongChain]) {
      const want = await a.applyBlock(bad, { proposer }).then(
        () => "ok",
        (e) => `${e.code}: ${e.message}`,
      );
      const got = await parallel.execute(b, bad, { proposer }).then(
        () => "ok",
        (e) => `${e.code}: ${e.message}`,
      );
      expect(got).toBe(want);
      expect(got).not.toBe("ok");
    }
    expect(toHex(b.root())).toBe(toHex(a.root()));
    expect(b.height).toBe(0);
  });

  it("executeBlocks pipelines a stream (n+1 verified while n commits): serial results, in order, durable", async () => {
    const [da, db] = [0, 1].map(() => mkdtempSync(join(tmpdir(), "chaindb-exec-stream-")));
    dirs.push(da!, db!);
    const a = await Ledger.open({ dir: da, chainId: CHAIN, genesis });
    const b = await Ledger.open({ dir: db, chainId: CHAIN, genesis, pipelined: true });
    const nonces = keys.map(() => 0);
    const blocks = Array.from({ length: 5 }, (_, i) => block(40 + 20 * i, nonces));
    const want = [];
    for (const txs of blocks) want.push(await a.applyBlock(txs, { proposer }));
    const got = [];
    for await (const r of parallel.executeBlocks(
      b,
      blocks.map((transfers) => ({ transfers, options: { proposer } })),
    ))
      got.push(r);
    expect(got).toEqual(want);
    expect(b.durableHeight).toBe(5);
    await a.close();
    await b.close();
    const reopened = await Ledger.open({ dir: db, chainId: CHAIN, genesis });
    expect(reopened.height).toBe(5);
    expect(toHex(reopened.root())).toBe(toHex(at(want, 4).root));
    await reopened.close();
  }, 60_000);

  it("executeBlocks: a bad signature in block 3 throws the serial error after blocks 1 and 2 committed", async () => {
    const a = await Ledger.open({ chainId: CHAIN, genesis });
    const b = await Ledger.open({ chainId: CHAIN, genesis });
    const nonces = keys.map(() => 0);
    const blocks = Array.from({ length: 4 }, () => block(50, nonces));
    xorAt(at(at(blocks, 2), 17), 150, 1);
    let want = "ok";
    for (const txs of blocks) {
      const r = await a.applyBlock(txs, { proposer }).then(
        () => "ok",
        (e) => `${e.code}: ${e.message}`,
      );
      if (r !== "ok") {
        want = r;
        break;
      }
    }
    const got: number[] = [];
    const error = await (async () => {
      for await (const r of parallel.executeBlocks(
        b,
        blocks.map((transfers) => ({ transfers, options: { proposer } })),
      ))
        got.push(r.height);
    })().then(
      () => "ok",
      (e) => `${e.code}: ${e.message}`,
    );
    expect(error).toBe(want);
    expect(error).toMatch(/^BAD_SIGNATURE: transfer 17/);
    expect(got).toEqual([1, 2]);
    expect(b.height).toBe(2);
    expect(toHex(b.root())).toBe(toHex(a.root()));
  }, 60_000);
});
