import { describe, expect, it } from "vitest";
import { Ledger, keyPairFromSeed, setNonce, signTransfer } from "../../bindings/chain/index.ts";
import { createEngine } from "../../bindings/engine/index.ts";
import { SimNetwork, encodeMessage } from "../../bindings/net/index.ts";
import { bitsToTarget, hashMeetsTarget } from "../../bindings/pow/index.ts";
import { GENESIS_ID, PowNode, encodeBlock, newHeader } from "../../bindings/replication/index.ts";
import { toHex } from "../../bindings/util/index.ts";
import { xorAt } from "../helpers/bytes.ts";

const CHAIN_ID = 11;
const BITS = 0x207fffff;
const alice = keyPairFromSeed(new Uint8Array(32).fill(60));
const bob = keyPairFromSeed(new Uint8Array(32).fill(61));
const genesis = [alice, bob].map((k) => ({ address: k.publicKey, balance: 1_000n }));
const pay = (nonce: number) =>
  signTransfer(alice, { chainId: CHAIN_ID, to: bob.publicKey, amount: 5, fee: 1, nonce });
const openLedger = () => Ledger.open({ chainId: CHAIN_ID, genesis, engine: "ts" });

async function world(seed: number, miners: string[], others: string[]) {
  const engine = await createEngine("wasm");
  const nodes = new Map<string, PowNode>();
  const net = new SimNetwork({
    seed,
    settle: async () => void (await Promise.all([...nodes.values()].map((n) => n.idle()))),
  });
  for (const id of [...miners, ...others]) net.addNode(id);
  for (const id of miners) {
    const n = net.node(id);
    nodes.set(
      id,
      await PowNode.open({
        id,
        transport: n.transport,
        clock: n.clock,
        random: n.random,
        storage: n.storage,
        engine,
        openLedger,
        bits: BITS,
        mineEveryMs: 100,
      }),
    );
    nodes.get(id)!.setMining(false);
  }
  return { engine, net, nodes };
}

/** A block on genesis with the given transfers; `tamper` may corrupt it before the nonce search. */
async function craft(
  engine: Awaited<ReturnType<typeof createEngine>>,
  transfers: Uint8Array[],
  tamper: { root?: boolean; merkle?: boolean; badPow?: boolean } = {},
) {
  const ledger = await openLedger();
  try {
    await ledger.applyBlock(transfers, { proposer: new Uint8Array(32), atomic: true });
  } catch {
    // an invalid transfer: keep the genesis root
  }
  let stateRoot = ledger.root();
  if (tamper.root) stateRoot = stateRoot.map((b) => b ^ 1);
  let header = newHeader(engine, GENESIS_ID, transfers, stateRoot, BITS, 1_700_000_000);
  if (tamper.merkle) xorAt(header, 40, 0xff);
  const target = bitsToTarget(BITS);
  for (let nonce = 0; ; nonce++) {
    const h = setNonce(header, nonce);
    if (hashMeetsTarget(engine.sha256d(h), target) !== (tamper.badPow === true)) {
      header = h;
      break;
    }
  }
  const bytes = encodeBlock({ header, stateRoot, transfers });
  return { bytes, id: toHex(engine.sha256d(header)) };
}

describe("proof-of-work blocks", () => {
  it("rejects and does not forward a bad proof of work, merkle root, state root or transfer; forwards a valid block", async () => {
    const { engine, net, nodes } = await world(1, ["b", "c"], ["x"]);
    const b = nodes.get("b")!;
    const c = nodes.get("c")!;
    const overdraft = signTransfer(alice, {
      chainId: CHAIN_ID,
      to: bob.publicKey,
      amount: 5_000,
      fee: 1,
      nonce: 0,
    });
    const forged = pay(0).slice();
    xorAt(forged, 100, 1); // amount changed after signing
    const bad = [
      await craft(engine, [pay(0)], { badPow: true }),
      await craft(engine, [pay(0)], { merkle: true }),
      await craft(engine, [pay(0)], { root: true }),
      await craft(engine, [overdraft]),
      await craft(engine, [forged]),
    ];
    for (const blk of bad) net.node("x").transport.send("b", encodeMessage({ t: "block", b: blk.bytes }));
    await net.runFor(200);
    expect(b.rejected).toBe(5);
    for (const blk of bad) {
      expect(b.bestChain()).not.toContain(blk.id);
      expect(c.block(blk.id)).toBeUndefined(); // never forwarded
    }
    const good = await craft(engine, [pay(0)]);
    net.node("x").transport.send("b", encodeMessage({ t: "block", b: good.bytes }));
    await net.runFor(200);
    expect(b.bestChain()).toEqual([good.id]);
    expect(c.bestChain()).toEqual([good.id]); // forwarded once validated
    expect(c.status().root).toBe(b.status().root);
  });

  it("a reorganisation returns the abandoned block's transfer to the mempool and the winning chain takes it once", async () => {
    const { net, nodes } = await world(2, ["m0", "m1", "m2"], []);
    const [m0, m1] = [nodes.get("m0")!, nodes.get("m1")!];
    await net.runFor(50);
    net.partition([["m0"], ["m1", "m2"]]);
    m0.submit(pay(0));
    m0.setMining(true);
    expect(await net.runUntil(() => m0.status().height >= 1, 5000)).toBe(true);
    m0.setMining(false);
    const lost = m0.bestChain()[0]!;
    expect(m0.block(lost)!.transfers.length).toBe(1);
    m1.setMining(true);
    expect(await net.runUntil(() => m1.status().height >= 3, 5000)).toBe(true);
    m1.setMining(false);
    net.heal();
    expect(await net.runUntil(() => m0.status().tip === m1.status().tip, 5000)).toBe(true);
    expect(m0.reorgs).toBe(1);
    expect(m0.bestChain()).not.toContain(lost);
    expect(m0.status().mempool).toBe(1); // back in the mempool
    m0.setMining(true);
    expect(await net.runUntil(() => m0.status().mempool === 0, 5000)).toBe(true);
    m0.setMining(false);
    expect(
      await net.runUntil(() => [...nodes.values()].every((n) => n.status().tip === m0.status().tip), 5000),
    ).toBe(true);
    const included = m0.bestChain().filter((id) => m0.block(id)!.transfers.length > 0);
    expect(included.length).toBe(1);
    expect(m1.status().root).toBe(m0.status().root);
  });

  it("a node restarted from its disk rebuilds its chain and catches up", async () => {
    const { net, nodes } = await world(3, ["m0", "m1"], []);
    const m0 = nodes.get("m0")!;
    m0.setMining(true);
    expect(await net.runUntil(() => nodes.get("m1")!.status().height >= 3, 5000)).toBe(true);
    net.crash("m1");
    await nodes.get("m1")!.close();
    expect(await net.runUntil(() => m0.status().height >= 6, 5000)).toBe(true);
    m0.setMining(false);
    const n = net.restart("m1");
    const engine = await createEngine("wasm");
    const m1 = await PowNode.open({
      id: "m1",
      transport: n.transport,
      clock: n.clock,
      random: n.random,
      storage: n.storage,
      engine,
      openLedger,
      bits: BITS,
    });
    nodes.set("m1", m1);
    expect(m1.status().height).toBeGreaterThanOrEqual(3); // from its own disk
    expect(await net.runUntil(() => m1.status().tip === m0.status().tip, 5000)).toBe(true);
    expect(m1.status().root).toBe(m0.status().root);
  });
});
