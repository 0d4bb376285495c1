/**
 * Tendermint on the deterministic SimNetwork: four validators (one of them byzantine, voting
 * both ways) commit blocks; one correct validator crashes, restarts from its write-ahead log and
 * catches up through commit certificates; the double votes end up as verified evidence. The same
 * seed always prints the same story.
 *
 *   npx tsx examples/tendermint-cluster.ts [seed]                 (Node)
 *   npx deno run -A examples/tendermint-cluster.ts [seed]         (Deno)
 */
import {
  SimNetwork,
  TendermintEngine,
  ValidatorSet,
  byzantine,
  decodeConsensusMessage,
  driveTendermint,
  encodeConsensusMessage,
  honest,
  keyPairFromSeed,
  toHex,
  verifyEvidence,
  type ConsensusEffect,
  type EngineOptions,
  type WalRecord,
} from "chaindb";

const seed = Number(process.argv[2] ?? 7);
const keys = [1, 2, 3, 4].map((i) => keyPairFromSeed(new Uint8Array(32).fill(i)));
const validators = new ValidatorSet(keys.map((k) => ({ address: k.publicKey, power: 1 })));
keys.sort((a, b) => validators.indexOf(a.publicKey) - validators.indexOf(b.publicKey));
const net = new SimNetwork({
  seed,
  settle: "microtask",
  link: { latency: { kind: "uniform", minMs: 1, maxMs: 20 }, loss: 0.05 },
});
const BYZANTINE = 3;
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

// Each validator: an engine, its log (kept on "disk" across the crash), the chain it committed.
const wal: WalRecord[][] = keys.map(() => []);
const chains: string[][] = keys.map(() => []);
const engines: TendermintEngine[] = [];
const options = (i: number): EngineOptions => ({
  chainId: "example",
  validators,
  key: keys[i]!,
  newHeightDelayMs: 100,
  buildValue: (height, round) => new TextEncoder().encode(`block ${height} by v${i} (round ${round})`),
  behavior: i === BYZANTINE ? byzantine("double-vote", { variant: (v) => v, corrupt: (v) => v }) : honest,
});

function boot(i: number, restart: boolean): void {
  const node = net.node(`v${i}`);
  // One protocol driver per incarnation carries out the engine's effects in order.
  let effects: ConsensusEffect[];
  if (restart) {
    const restored = TendermintEngine.restore(options(i), wal[i]!);
    engines[i] = restored.engine;
    effects = restored.effects;
  } else {
    engines[i] = new TendermintEngine(options(i));
    effects = engines[i]!.start();
  }
  const driver = driveTendermint(engines[i]!, {
    persist: (record) => void wal[i]!.push(record),
    broadcast: (message) => node.transport.broadcast(encodeConsensusMessage(message)),
    send: (to, message) => node.transport.send(`v${to}`, encodeConsensusMessage(message)),
    setTimer: (delayMs, fire) => void node.clock.setTimer(delayMs, fire),
    validate: (height, value) => text(value).startsWith(`block ${height} `),
    decide: (height, value) => void (chains[i]![height - 1] = text(value)),
  });
  node.transport.setHandler({
    onMessage: (from, bytes) =>
      void driver.push({
        kind: "message",
        from: Number(from.slice(1)),
        message: decodeConsensusMessage(bytes),
      }),
  });
  const tick = () => node.clock.setTimer(250, () => (driver.push({ kind: "tick" }), tick()));
  tick();
  driver.pushEffects(effects);
}

for (let i = 0; i < keys.length; i++) net.addNode(`v${i}`);
for (let i = 0; i < keys.length; i++) boot(i, false);
await net.runUntil(() => Math.min(...chains.map((c) => c.length)) >= 4, 60_000);
console.log(`t=${Math.round(net.now)} ms: every validator committed 4 blocks`);

net.crash("v1");
console.log(`t=${Math.round(net.now)} ms: v1 crashes at height ${engines[1]!.height}`);
await net.runFor(3_000);
console.log(
  `t=${Math.round(net.now)} ms: the others are at height ${engines[0]!.height} (3 of 4 is more than 2/3)`,
);
net.restart("v1");
boot(1, true);
console.log(`t=${Math.round(net.now)} ms: v1 restarts from its log at height ${engines[1]!.height}`);
const target = engines[0]!.height + 2;
const caughtUp = await net.runUntil(
  () => engines.every((e, i) => i === BYZANTINE || e.height >= target),
  60_000,
);
console.log(
  `t=${Math.round(net.now)} ms: v1 ${caughtUp ? "caught up" : "did NOT catch up"}, height ${engines[1]!.height}`,
);

for (const [i, chain] of chains.entries())
  console.log(
    `v${i}${i === BYZANTINE ? " (byzantine)" : ""}: ${chain.length} blocks, last "${chain.at(-1)}"`,
  );
const correct = [0, 1, 2];
const agree = correct.every((i) =>
  chains[i]!.slice(0, chains[0]!.length).every((b, h) => chains[0]![h] === undefined || b === chains[0]![h]),
);
console.log(`correct validators agree on every height: ${agree}`);
const evidence = correct.flatMap((i) => engines[i]!.evidence());
const valid = evidence.filter((e) => verifyEvidence("example", validators, e));
const accusedOf = new Set(valid.map((e) => toHex(e.a.kind === "vote" ? e.a.validator : e.a.proposer)));
console.log(
  `evidence held by correct validators: ${valid.length} verified, accusing ${[...accusedOf].map((a) => `v${validators.indexOf(Uint8Array.from(a.match(/../g)!.map((h) => parseInt(h, 16))))}`).join(", ") || "nobody"}`,
);
if (!agree || !caughtUp) process.exitCode = 1;
