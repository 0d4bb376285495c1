/**
 * The consensus simulation's second configuration: the shipping {@link ConsensusNode} itself —
 * mempool, block building and execution, block store, block sync, selection state — over the
 * seeded SimNetwork (TigerBeetle's simulator runs its real replica the same way). The first
 * configuration (simulation.ts) drives bare engines and stays: it reaches byzantine strategies,
 * crashes and hostile peers this one does not yet.
 *
 * One seed fixes the keys, the client's transfers, every network decision and the fault
 * schedule: a fault phase of lossy, duplicating, reordering links and random partitions, then a
 * heal. The nodes keep their logs in memory (`dir` omitted), so this configuration has no crashes:
 * running them needs the nodes' files on the fault-injecting file system (issue 15 part 2).
 * Invariants:
 * - agreement: no two nodes commit different blocks, or reach different state roots, at a height;
 * - halt: no node's event loop fails (a thrown effect is the driver's `failed` state);
 * - liveness: after the heal, every node commits `heights` more blocks within `livenessMs`;
 * - funds: every transfer a node accepted from the client is committed by the end (nonce order).
 * @module
 */
import { createHash } from "node:crypto";
import { keyPairFromSeed, signTransfer, type KeyPair } from "../chain/index.ts";
import { Random, SimNetwork, type NodeId } from "../net/index.ts";
import { ChainDbError, aint, toHex } from "../util/index.ts";
import { ConsensusNode, type ChainGenesis } from "./node.ts";

/** Options of {@link simulateConsensusNodes}. */
export interface NodeSimulationOptions {
  readonly seed: number;
  /** Validators (equal stake); default 4. */
  readonly validators?: number;
  /** How validators are chosen; default "tendermint". */
  readonly selection?: "tendermint" | "pos" | "dpos";
  /** Blocks every node must commit after the heal; default 3. */
  readonly heights?: number;
  /** Length of the fault phase in simulated ms; default drawn from the seed (1–3 s). */
  readonly faultMs?: number;
  /** Bound on the time from the heal to the last required commit; default 60 s. */
  readonly livenessMs?: number;
}

/** What a run of {@link simulateConsensusNodes} found. */
export interface NodeSimulationResult {
  readonly seed: number;
  readonly ok: boolean;
  readonly violation?: {
    readonly invariant: "agreement" | "halt" | "liveness" | "funds";
    readonly detail: string;
  };
  readonly minHeight: number;
  readonly maxHeight: number;
  readonly simTimeMs: number;
  readonly messages: number;
  readonly partitions: number;
  /** Client transfers accepted by a node, and of those, committed. */
  readonly submitted: number;
  readonly committed: number;
  /** sha256 over every height's block id and state root: equal for a replayed seed. */
  readonly fingerprint: string;
}

const CHAIN_ID = 9;
const USERS = 4;
const TIMEOUTS = {
  proposeMs: 300,
  proposeDeltaMs: 100,
  prevoteMs: 150,
  prevoteDeltaMs: 50,
  precommitMs: 150,
  precommitDeltaMs: 50,
};

class Violation extends Error {
  constructor(
    readonly invariant: "agreement" | "halt" | "liveness" | "funds",
    detail: string,
  ) {
    super(detail);
  }
}

/** The one-line command that replays a seed of this configuration. */
export function nodeReplayCommand(o: NodeSimulationOptions): string {
  return `CHAINDB_SEEDS=${o.seed}..${o.seed} npx vitest run test/consensus/consensus-node-simulation.test.ts`;
}

/** Runs `ConsensusNode`s over a seeded SimNetwork; reports the first violated invariant, if any. */
export async function simulateConsensusNodes(o: NodeSimulationOptions): Promise<NodeSimulationResult> {
  const n = aint(o.validators ?? 4, 1, 16, "validators");
  const heights = aint(o.heights ?? 3, 1, 1000, "heights");
  const net = new SimNetwork({
    seed: o.seed,
    link: { latency: { kind: "uniform", minMs: 1, maxMs: 20 }, loss: 0.05, duplicate: 0.02, reorder: 0.05 },
  });
  const rng: Random = net.random.fork();
  const keys = Array.from({ length: n }, (_, i) => keyPairFromSeed(seedBytes(o.seed, i)));
  const users = Array.from({ length: USERS }, (_, i) => keyPairFromSeed(seedBytes(o.seed, 100 + i)));
  const ids = keys.map((_, i) => `v${i}`);
  for (const id of ids) net.addNode(id);
  const byHeight = new Map<number, { id: string; root: string }>();
  const commits = ids.map(() => 0);
  let violation: Violation | undefined;
  const check = (i: number, height: number, id: string, root: string) => {
    commits[i] = height;
    const first = byHeight.get(height);
    if (first === undefined) byHeight.set(height, { id, root });
    else if (first.id !== id || first.root !== root)
      violation ??= new Violation(
        "agreement",
        `v${i} committed ${id.slice(0, 12)} (root ${root.slice(0, 12)}) at height ${height}, another node ${first.id.slice(0, 12)} (root ${first.root.slice(0, 12)})`,
      );
  };
  const nodes = await Promise.all(
    ids.map((id, i) =>
      ConsensusNode.open({
        chainId: CHAIN_ID,
        genesis: genesis(keys, users, o.selection ?? "tendermint"),
        key: keys[i]!,
        transport: net.node(id).transport,
        clock: net.node(id).clock,
        timeouts: TIMEOUTS,
        newHeightDelayMs: 20,
        tickMs: 100,
        onCommit: (b) => check(i, b.height, toHex(b.id), toHex(b.root)),
      }),
    ),
  );
  const client = new Client(users, rng, nodes, ids);
  const halted = () => {
    const i = nodes.findIndex((node) => node.failure !== null);
    if (i >= 0) violation ??= new Violation("halt", `v${i} failed: ${String(nodes[i]!.failure)}`);
    return violation !== undefined;
  };
  let partitions = 0;
  const tally = { committed: 0 };
  try {
    client.start(net);
    const faultEnd = net.now + (o.faultMs ?? rng.int(1000, 3000));
    while (net.now < faultEnd && !halted()) {
      await net.runFor(rng.int(100, 500));
      if (rng.chance(0.4)) {
        net.partition([rng.shuffle(ids).slice(0, rng.int(1, n - 1))]);
        partitions++;
      } else net.heal();
    }
    net.heal();
    const target = Math.max(...commits) + heights;
    const live = await net.runUntil(
      () => halted() || commits.every((h) => h >= target),
      o.livenessMs ?? 60_000,
    );
    if (!halted() && !live)
      violation ??= new Violation(
        "liveness",
        `heights ${commits.join(", ")} after the heal, target ${target}`,
      );
    client.stop();
    // Funds: every accepted transfer is in a block by now (the client stopped; give it the time).
    if (violation === undefined) {
      const all = await net.runUntil(() => halted() || client.allCommitted(nodes[0]!), 30_000);
      if (!halted() && !all)
        violation ??= new Violation(
          "funds",
          `accepted transfers not committed: ${client.pending(nodes[0]!)}`,
        );
    }
    tally.committed = client.committedCount(nodes[0]!); // read before the ledgers close
  } finally {
    client.stop();
    for (const node of nodes) await node.close();
  }
  const fingerprint = createHash("sha256")
    .update(JSON.stringify([...byHeight.entries()].sort((a, b) => a[0] - b[0])))
    .digest("hex");
  return {
    seed: o.seed,
    ok: violation === undefined,
    ...(violation !== undefined
      ? { violation: { invariant: violation.invariant, detail: violation.message } }
      : {}),
    minHeight: Math.min(...commits),
    maxHeight: Math.max(...commits),
    simTimeMs: Math.round(net.now),
    messages: net.stats.delivered,
    partitions,
    submitted: client.accepted,
    committed: tally.committed,
    fingerprint,
  };
}

/** 32 seed bytes for key `i` of a run. */
function seedBytes(seed: number, i: number): Uint8Array {
  return createHash("sha256").update(`chaindb node simulation ${seed}/${i}`).digest();
}

function genesis(
  keys: readonly KeyPair[],
  users: readonly KeyPair[],
  mode: "tendermint" | "pos" | "dpos",
): ChainGenesis {
  return {
    accounts: [...keys, ...users].map((k) => ({ address: k.publicKey, balance: 1_000_000n })),
    validators: keys.map((k) => ({ address: k.publicKey, stake: 1000n })),
    selection: { mode, maxValidators: keys.length, epochHeights: 4 },
  };
}

/** Submits each user's transfers in nonce order to random nodes every few ms. */
class Client {
  accepted = 0;
  private readonly next: number[];
  private cancel: (() => void) | undefined;

  constructor(
    private readonly users: readonly KeyPair[],
    private readonly rng: Random,
    private readonly nodes: readonly ConsensusNode[],
    private readonly ids: readonly NodeId[],
  ) {
    this.next = users.map(() => 0);
  }

  start(net: SimNetwork): void {
    const tick = () => {
      this.cancel = net.clock.setTimer(this.rng.int(20, 80), tick);
      this.submitOne(net);
    };
    this.cancel = net.clock.setTimer(this.rng.int(20, 80), tick);
  }

  stop(): void {
    this.cancel?.();
    this.cancel = undefined;
  }

  private submitOne(net: SimNetwork): void {
    const u = this.rng.int(0, this.users.length - 1);
    const i = this.rng.int(0, this.nodes.length - 1);
    if (!net.node(this.ids[i]!).up) return;
    const from = this.users[u]!;
    const to = this.users[(u + 1) % this.users.length]!;
    const tx = signTransfer(from, {
      chainId: CHAIN_ID,
      to: to.publicKey,
      amount: 1,
      fee: 1,
      nonce: this.next[u]!,
    });
    try {
      if (this.nodes[i]!.submit(tx).accepted) {
        this.next[u]!++;
        this.accepted++;
      }
    } catch (error) {
      // A coded refusal (e.g. the mempool is full) is the client's to retry; anything else is a bug.
      if (!(error instanceof ChainDbError)) throw error;
    }
  }

  /** Transfers committed on `node`'s ledger (each user's nonce). */
  committedCount(node: ConsensusNode): number {
    return this.users.reduce((sum, u) => sum + Number(node.accounts.account(u.publicKey)?.nonce ?? 0n), 0);
  }

  allCommitted(node: ConsensusNode): boolean {
    return this.users.every(
      (u, i) => Number(node.accounts.account(u.publicKey)?.nonce ?? 0n) === this.next[i],
    );
  }

  pending(node: ConsensusNode): string {
    return this.users
      .map((u, i) => `user ${i}: ${node.accounts.account(u.publicKey)?.nonce ?? 0n} of ${this.next[i]}`)
      .join(", ");
  }
}
