/**
 * The seeded multi-primary (proof-of-work) simulation: miners at an easy difficulty on a lossy,
 * duplicating, reordering SimNetwork, a client submitting transfers at random nodes, partitions
 * that split the miners into competing forks and heal, and crashes with restarts from disk (each
 * miner's blocks in the shipping {@link FileKeyStorage} on its own seeded fault-injecting file
 * system, where a crash is a power loss that drops whatever was not fsynced). Then
 * mining stops and the run checks that every node converged to one tip and one state root (the
 * tip's committed state root), and that no transfer appears twice on the final chain.
 * @module
 */
import { createHash } from "node:crypto";
import { Ledger, decodeTransfer, keyPairFromSeed, signTransfer, type KeyPair } from "../chain/index.ts";
import { createEngine, type Engine } from "../engine/index.ts";
import { SimNetwork, type NodeId, type Random, type TraceRecorder } from "../net/index.ts";
import { at, toHex } from "../util/index.ts";
import { FaultFs } from "../store/index.ts";
import { PowNode } from "./pow-node.ts";
import { FileKeyStorage } from "./store.ts";
import type { SimulationReport } from "./simulate.ts";

/** Options of {@link simulatePow}. */
export interface PowSimulationOptions {
  seed: number;
  /** Miners (default 3 or 4, drawn from the seed). */
  nodes?: number;
  /** Virtual time of the faulty phase (default 5000 ms). */
  durationMs?: number;
  /** Records the network's events for `renderTraceHtml`; off when absent. */
  trace?: TraceRecorder;
}

const CHAIN_ID = 11;
const BITS = 0x207fffff; // regtest: about two hashes per block
const ACCOUNTS = 8;
const PER_ACCOUNT = 40;
let fixture: { keys: KeyPair[]; transfers: Uint8Array[][]; engine: Engine } | undefined;

async function getFixture() {
  if (fixture !== undefined) return fixture;
  const keys = Array.from({ length: ACCOUNTS }, (_, i) => keyPairFromSeed(new Uint8Array(32).fill(i + 40)));
  const transfers = keys.map((k, i) =>
    Array.from({ length: PER_ACCOUNT }, (_, n) =>
      signTransfer(k, {
        chainId: CHAIN_ID,
        to: keys[(i + 1) % ACCOUNTS]!.publicKey,
        amount: 1,
        fee: 1,
        nonce: n,
      }),
    ),
  );
  return (fixture = { keys, transfers, engine: await createEngine("wasm") });
}

/** Runs one seeded multi-primary simulation; reports the first violated invariant, if any. */
export async function simulatePow(options: PowSimulationOptions): Promise<SimulationReport> {
  const f = await getFixture();
  const nodes = new Map<NodeId, PowNode>();
  const net = new SimNetwork({
    seed: options.seed,
    link: {
      latency: { kind: "exponential", minMs: 1, meanMs: 5 },
      loss: 0.02,
      duplicate: 0.02,
      reorder: 0.05,
    },
    settle: async () => void (await Promise.all([...nodes.values()].map((n) => n.idle()))),
    ...(options.trace && { trace: options.trace }),
  });
  const random: Random = net.random.fork();
  const n = options.nodes ?? random.int(3, 4);
  const ids = Array.from({ length: n }, (_, i) => `m${i}`);
  let violation: { invariant: string; detail: string } | undefined;
  let faults = 0;
  let reorgs = 0;
  const genesis = f.keys.map((k) => ({ address: k.publicKey, balance: 1_000_000n }));
  const boot = async (id: NodeId) => {
    const node = net.node(id);
    nodes.set(
      id,
      await PowNode.open({
        id,
        transport: node.transport,
        clock: node.clock,
        random: node.random,
        storage: new FileKeyStorage(`/${id}`, disks.get(id)!),
        engine: f.engine,
        openLedger: () => Ledger.open({ chainId: CHAIN_ID, genesis, engine: "ts" }),
        bits: BITS,
        mineEveryMs: 150 * n,
      }),
    );
  };
  for (const id of ids) net.addNode(id);
  // Each miner's disk: a seeded fault-injecting file system; a crash is a power loss there.
  const disks = new Map(
    ids.map((id, i) => [id, new FaultFs({ seed: (Math.imul(options.seed, 0x9e3779b1) + i + 1) >>> 0 })]),
  );
  for (const id of ids) await boot(id);
  const sent = new Array<number>(ACCOUNTS).fill(0);
  let clientOn = true;
  const client = () => {
    if (!clientOn) return;
    net.clock.setTimer(random.int(10, 40), client);
    const a = random.int(0, ACCOUNTS - 1);
    const id = random.pick(ids);
    const next = at(sent, a);
    if (next >= PER_ACCOUNT || !net.node(id).up) return;
    const transfer = at(at(f.transfers, a), next);
    try {
      nodes.get(id)!.submit(transfer);
      sent[a] = next + 1;
    } catch {
      // refused (e.g. stale nonce after a reorg on that node): the client moves on
    }
  };
  client();
  const end = net.now + (options.durationMs ?? 5000);
  while (net.now < end) {
    await net.runFor(random.int(100, 600));
    const roll = random.int(0, 99);
    const down = ids.filter((id) => !net.node(id).up);
    if (roll < 25) {
      const shuffled = random.shuffle(ids);
      net.partition([shuffled.slice(0, random.int(1, n - 1))]);
      faults++;
    } else if (roll < 45) {
      net.heal();
    } else if (roll < 55 && down.length === 0) {
      const victim = random.pick(ids);
      net.crash(victim);
      disks.get(victim)!.crash();
      reorgs += nodes.get(victim)!.reorgs;
      await nodes.get(victim)!.close();
      faults++;
    } else if (roll < 75 && down.length > 0) {
      const id = random.pick(down);
      disks.get(id)!.restart();
      net.restart(id);
      await boot(id);
    }
  }
  net.heal();
  for (const id of ids) if (!net.node(id).up) (disks.get(id)!.restart(), net.restart(id), await boot(id));
  clientOn = false;
  await net.runFor(1500); // keep mining on the healed network
  for (const node of nodes.values()) node.setMining(false);
  const converged = () => {
    const s = [...nodes.values()].map((x) => x.status());
    return s.every((x) => x.tip === s[0]!.tip && x.root === s[0]!.root);
  };
  try {
    if (!(await net.runUntil(converged, 30_000))) {
      violation = {
        invariant: "miners converge to one tip and one state root",
        detail: [...nodes.values()].map((x) => JSON.stringify(x.status())).join("; "),
      };
    }
  } catch (error) {
    violation = { invariant: "nodes never fail an internal check", detail: (error as Error).message };
  }
  const first = [...nodes.values()][0]!;
  if (violation === undefined) violation = checkChain(first);
  const height = first.status().height;
  for (const node of nodes.values()) reorgs += node.reorgs;
  const transfers = first.bestChain().reduce((sum, id) => sum + first.block(id)!.transfers.length, 0);
  const fingerprint = createHash("sha256")
    .update(JSON.stringify([...nodes.values()].map((x) => [x.status(), x.bestChain()])))
    .digest("hex");
  const base = {
    seed: options.seed,
    mode: "async" as const,
    nodes: n,
    height,
    epochs: 0,
    acked: 0,
    faults,
    virtualMs: Math.round(net.now),
    reorgs,
    transfers,
    fingerprint,
  };
  return { ...base, ...(violation ? { violation } : {}) };
}

function checkChain(node: PowNode): { invariant: string; detail: string } | undefined {
  const seen = new Set<string>();
  const chain = node.bestChain();
  for (const [i, id] of chain.entries()) {
    const block = node.block(id)!;
    for (const tx of block.transfers) {
      const t = decodeTransfer(tx);
      const key = `${toHex(t.from)}:${t.nonce}`;
      if (seen.has(key))
        return { invariant: "no transfer is applied twice", detail: `${key} again at height ${i + 1}` };
      seen.add(key);
    }
  }
  const tip = chain.at(-1);
  if (tip !== undefined && toHex(node.block(tip)!.stateRoot) !== node.status().root) {
    return { invariant: "the ledger's root is the tip's committed state root", detail: `tip ${tip}` };
  }
  return undefined;
}
