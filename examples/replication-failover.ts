/**
 * Single-primary replication with failover, on the deterministic SimNetwork: three replicas elect
 * a primary, commit transfers synchronously (a majority durable before the acknowledgement),
 * lose the primary to a crash, fail over to a backup under a higher epoch, and the crashed node
 * restarts from its simulated disk and catches up. The same seed always prints the same story.
 *
 *   npx tsx examples/replication-failover.ts [seed]                 (Node)
 *   npx deno run -A examples/replication-failover.ts [seed]         (Deno)
 */
import {
  Ledger,
  NotPrimaryError,
  Replica,
  SimNetwork,
  SimReplicaStore,
  keyPairFromSeed,
  signTransfer,
  toHex,
} from "chaindb";

const seed = Number(process.argv[2] ?? 42);
const ids = ["alpha", "beta", "gamma"];
const alice = keyPairFromSeed(new Uint8Array(32).fill(1));
const bob = keyPairFromSeed(new Uint8Array(32).fill(2));
const genesis = [alice, bob].map((k) => ({ address: k.publicKey, balance: 1_000n }));
const pay = (nonce: number) =>
  signTransfer(alice, { chainId: 1, to: bob.publicKey, amount: 10, fee: 1, nonce });

const replicas = new Map<string, Replica>();
// The simulator waits for every replica to finish its work after each event: exact replays.
const net = new SimNetwork({
  seed,
  settle: async () => void (await Promise.all([...replicas.values()].map((r) => r.idle()))),
});

async function boot(id: string): Promise<Replica> {
  const node = net.node(id);
  const ledger = await Ledger.open({ chainId: 1, genesis, engine: "ts" });
  const replica = await Replica.open({
    id,
    config: { nodes: ids, mode: "sync" },
    transport: node.transport,
    clock: node.clock,
    random: node.random,
    store: new SimReplicaStore(node.storage),
    ledger,
    proposer: new Uint8Array(32).fill(ids.indexOf(id) + 10),
  });
  replicas.set(id, replica);
  return replica;
}

const primary = () => [...replicas.values()].find((r) => net.node(r.id).up && r.status().role === "primary");
async function submit(replica: Replica, nonce: number): Promise<string> {
  let outcome = "";
  replica.submit(pay(nonce)).then(
    (r) => (outcome = `committed at height ${r.height} in epoch ${r.epoch} (${r.status})`),
    (e: unknown) =>
      (outcome = e instanceof NotPrimaryError ? `refused: ${e.message}` : `failed: ${String(e)}`),
  );
  await net.runUntil(() => outcome !== "", 5_000);
  return outcome;
}

for (const id of ids) net.addNode(id);
for (const id of ids) await boot(id);
await net.runUntil(() => primary() !== undefined, 5_000);
const first = primary()!;
console.log(`t=${net.now.toFixed(0)} ms: ${first.id} is primary in epoch ${first.status().epoch}`);
await net.runFor(200); // a heartbeat tells the backups who leads
const backup = replicas.get(ids.find((id) => id !== first.id)!)!;
console.log(`write at backup ${backup.id}: ${await submit(backup, 0)}`);
for (let n = 0; n < 3; n++) console.log(`write at ${first.id}: ${await submit(first, n)}`);

net.crash(first.id);
await first.close();
console.log(`t=${net.now.toFixed(0)} ms: ${first.id} crashed`);
await net.runUntil(() => primary() !== undefined, 10_000);
const second = primary()!;
console.log(`t=${net.now.toFixed(0)} ms: ${second.id} took over in epoch ${second.status().epoch}`);
console.log(`write at ${second.id}: ${await submit(second, 3)}`);

net.restart(first.id);
const back = await boot(first.id);
await net.runUntil(
  () => [...replicas.values()].every((r) => r.status().applied === second.status().commit),
  10_000,
);
console.log(
  `t=${net.now.toFixed(0)} ms: ${back.id} restarted as ${back.status().role}, caught up to height ${back.status().applied}`,
);
const roots = [...replicas.values()].map((r) => toHex(r.status().root));
console.log(
  `state roots agree: ${roots.every((r) => r === roots[0])} (${roots[0]!.slice(0, 16)}…); bob's balance on ${back.id}: ${back.read(bob.publicKey)?.balance}`,
);
if (!roots.every((r) => r === roots[0]) || back.read(bob.publicKey)?.balance !== 1_040n) process.exit(1);
