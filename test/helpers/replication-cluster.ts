/** Test helper: a single-primary cluster of replicas with in-memory ledgers on a SimNetwork. */
import { Ledger, keyPairFromSeed, signTransfer, type KeyPair } from "../../bindings/chain/index.ts";
import { SimNetwork, type NodeId } from "../../bindings/net/index.ts";
import { Replica, SimReplicaStore, type ReplicationConfig } from "../../bindings/replication/index.ts";

export const CHAIN_ID = 7;
export const keys: KeyPair[] = Array.from({ length: 4 }, (_, i) =>
  keyPairFromSeed(new Uint8Array(32).fill(i + 1)),
);
export const genesis = keys.map((k) => ({ address: k.publicKey, balance: 1_000_000n }));

/** The n-th transfer of 1 unit from account 0 to account 1. */
export function transfer(nonce: number, from = 0, to = 1): Uint8Array {
  return signTransfer(keys[from]!, { chainId: CHAIN_ID, to: keys[to]!.publicKey, amount: 1, fee: 0, nonce });
}

export class SimCluster {
  readonly net: SimNetwork;
  readonly replicas = new Map<NodeId, Replica>();

  constructor(
    seed: number,
    readonly ids: NodeId[],
    readonly config: Omit<ReplicationConfig, "nodes">,
  ) {
    this.net = new SimNetwork({ seed, settle: () => this.settle() });
    for (const id of ids) this.net.addNode(id);
  }

  async start(): Promise<this> {
    for (const id of this.ids) await this.boot(id);
    return this;
  }

  async boot(id: NodeId): Promise<Replica> {
    const node = this.net.node(id);
    const replica = await Replica.open({
      id,
      config: { ...this.config, nodes: this.ids },
      transport: node.transport,
      clock: node.clock,
      random: node.random,
      store: new SimReplicaStore(node.storage),
      ledger: await Ledger.open({ chainId: CHAIN_ID, genesis, engine: "ts" }),
      proposer: new Uint8Array(32).fill(this.ids.indexOf(id) + 100),
    });
    this.replicas.set(id, replica);
    return replica;
  }

  replica(id: NodeId): Replica {
    return this.replicas.get(id)!;
  }

  /** The single live primary, if exactly one. */
  primary(): Replica | undefined {
    const live = [...this.replicas.values()].filter(
      (r) => this.net.node(r.id).up && r.status().role === "primary",
    );
    return live.length === 1 ? live[0] : undefined;
  }

  async waitForPrimary(maxMs = 5000, exclude?: NodeId): Promise<Replica> {
    const ok = await this.net.runUntil(
      () => this.primary() !== undefined && this.primary()!.id !== exclude,
      maxMs,
    );
    if (!ok) throw new Error(`no primary within ${maxMs} virtual ms`);
    return this.primary()!;
  }

  /** Submits and runs the simulation until the promise settles (bounded in virtual time). */
  async submit(
    replica: Replica,
    tx: Uint8Array,
    maxMs = 5000,
  ): Promise<
    { ok: true; value: Awaited<ReturnType<Replica["submit"]>> } | { ok: false; error: unknown } | undefined
  > {
    let outcome:
      { ok: true; value: Awaited<ReturnType<Replica["submit"]>> } | { ok: false; error: unknown } | undefined;
    replica.submit(tx).then(
      (value) => (outcome = { ok: true, value }),
      (error: unknown) => (outcome = { ok: false, error }),
    );
    await this.net.runUntil(() => outcome !== undefined, maxMs);
    return outcome;
  }

  converged(): boolean {
    const s = [...this.replicas.values()].filter((r) => this.net.node(r.id).up).map((r) => r.status());
    return s.every(
      (x) =>
        x.applied === s[0]!.applied &&
        x.lastHeight === s[0]!.lastHeight &&
        Buffer.from(x.root).equals(Buffer.from(s[0]!.root)),
    );
  }

  crash(id: NodeId): void {
    this.net.crash(id);
    void this.replica(id).close();
  }

  async restart(id: NodeId): Promise<Replica> {
    this.net.restart(id);
    return this.boot(id);
  }

  private async settle(): Promise<void> {
    for (const r of this.replicas.values()) await r.idle();
  }
}
