// The proof-of-work core alone (bindings/replication/pow-core.ts): events in, effects out, the
// ledger answered by hand. The node over a network: replication-pow-blocks and -pow-sim.
import { describe, expect, it } from "vitest";
import { Ledger, keyPairFromSeed, setNonce, signTransfer } from "../../bindings/chain/index.ts";
import { createEngine, type Engine } from "../../bindings/engine/index.ts";
import { Random, encodeMessage } from "../../bindings/net/index.ts";
import { bitsToTarget, hashMeetsTarget } from "../../bindings/pow/index.ts";
import {
  GENESIS_ID,
  PowCore,
  encodeBlock,
  newHeader,
  type PowEffect,
} from "../../bindings/replication/index.ts";
import { toHex } from "../../bindings/util/index.ts";

const CHAIN_ID = 11;
const BITS = 0x207fffff;
const alice = keyPairFromSeed(new Uint8Array(32).fill(60));
const bob = keyPairFromSeed(new Uint8Array(32).fill(61));
const genesis = [alice, bob].map((k) => ({ address: k.publicKey, balance: 1_000n }));
const pay = (nonce: number) =>
  signTransfer(alice, { chainId: CHAIN_ID, to: bob.publicKey, amount: 5, fee: 1, nonce });

/** A mined block on `parent` whose state root is `stateRoot`. */
function block(engine: Engine, parent: string, transfers: Uint8Array[], stateRoot: Uint8Array) {
  let header = newHeader(engine, parent, transfers, stateRoot, BITS, 1_700_000_000);
  for (let nonce = 0; ; nonce++) {
    const h = setNonce(header, nonce);
    if (hashMeetsTarget(engine.sha256d(h), bitsToTarget(BITS))) {
      header = h;
      break;
    }
  }
  return { bytes: encodeBlock({ header, stateRoot, transfers }), id: toHex(engine.sha256d(header)) };
}

const kinds = (effects: readonly PowEffect[]) => effects.map((e) => e.kind);

describe("PowCore", () => {
  it("asks the ledger to run a received block before it stores, connects and forwards it", async () => {
    const engine = await createEngine("wasm");
    const ledger = await Ledger.open({ chainId: CHAIN_ID, genesis, engine: "ts" });
    const core = new PowCore({ engine, bits: BITS, random: new Random(1), ledger: () => ledger });
    const preview = await Ledger.open({ chainId: CHAIN_ID, genesis, engine: "ts" });
    await preview.applyBlock([pay(0)], { proposer: new Uint8Array(32), atomic: true });
    const b1 = block(engine, GENESIS_ID, [pay(0)], preview.root());
    const payload = encodeMessage({ t: "block", b: b1.bytes });
    const asked = core.handle({ kind: "message", from: "p", payload });
    // The ledger request ends the batch: nothing is stored or sent before the block ran.
    expect(kinds(asked)).toEqual(["execute"]);
    expect(asked[0]).toMatchObject({ kind: "execute", reset: false, blocks: [{ id: b1.id }] });
    expect(core.height).toBe(0);
    await ledger.applyBlock([pay(0)], { proposer: new Uint8Array(32), atomic: true });
    const done = core.handle({ kind: "executed", applied: 1 });
    expect(kinds(done)).toEqual(["store", "connected", "gossip"]);
    expect(done[2]).toMatchObject({ except: "p" });
    expect(core.bestChain()).toEqual([b1.id]);
    // The same block again is a duplicate: no effect at all.
    expect(core.handle({ kind: "message", from: "q", payload })).toEqual([]);
  });

  it("marks a block the ledger refuses invalid, restores the old chain, and never forwards it", async () => {
    const engine = await createEngine("wasm");
    const ledger = await Ledger.open({ chainId: CHAIN_ID, genesis, engine: "ts" });
    const core = new PowCore({ engine, bits: BITS, random: new Random(1), ledger: () => ledger });
    const bad = block(engine, GENESIS_ID, [pay(0)], new Uint8Array(32).fill(7)); // wrong state root
    const asked = core.handle({
      kind: "message",
      from: "p",
      payload: encodeMessage({ t: "block", b: bad.bytes }),
    });
    expect(kinds(asked)).toEqual(["execute"]);
    const restore = core.handle({
      kind: "executed",
      applied: 0,
      failure: { id: bad.id, reason: "state root does not match" },
    });
    expect(kinds(restore)).toEqual(["rejected", "execute"]);
    expect(restore[1]).toMatchObject({ kind: "execute", reset: true, blocks: [] });
    expect(core.handle({ kind: "executed", applied: 0 })).toEqual([]);
    expect(core.rejected).toBe(1);
    expect(core.bestChain()).toEqual([]);
  });

  it("mines through the ledger: the mine request, then store, connect, gossip and the next timer", async () => {
    const engine = await createEngine("wasm");
    const ledger = await Ledger.open({ chainId: CHAIN_ID, genesis, engine: "ts" });
    const core = new PowCore({
      engine,
      bits: BITS,
      random: new Random(1),
      ledger: () => ledger,
      mineEveryMs: 100,
    });
    expect(core.submit(pay(0)).reason).toBe(undefined);
    const asked = core.handle({ kind: "mine" });
    expect(asked).toEqual([{ kind: "mine", parent: GENESIS_ID, transfers: [pay(0)] }]);
    await ledger.applyBlock([pay(0)], { proposer: new Uint8Array(32), atomic: true });
    const mined = block(engine, GENESIS_ID, [pay(0)], ledger.root());
    const done = core.handle({ kind: "mined", bytes: mined.bytes });
    expect(kinds(done)).toEqual(["store", "connected", "gossip", "setTimer"]);
    expect(core.mempoolSize).toBe(0); // pruned: the ledger passed the nonce
    expect(core.tip).toBe(mined.id);
  });
});
