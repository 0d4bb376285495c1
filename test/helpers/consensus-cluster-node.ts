// One validator process for test/consensus/consensus-cluster.test.ts: a Tendermint engine over TcpTransport
// with a file WAL. Prints JSON lines: {"height":h} per decision, {"slot":…,"id":…} per own signed
// message (after it is durable, before it is sent).
// Usage: node --import tsx test/helpers/consensus-cluster-node.ts <index> <dir> <port,port,…>
import { join } from "node:path";
import { keyPairFromSeed } from "../../bindings/chain/index.ts";
import {
  FileWal,
  TendermintEngine,
  ValidatorSet,
  decodeMessage,
  driveTendermint,
  encodeMessage,
  type EngineOptions,
} from "../../bindings/consensus/index.ts";
import { TcpTransport, nodeKeyFromSeed } from "../../bindings/net/index.ts";

const [index, dir, portList] = [Number(process.argv[2]), process.argv[3]!, process.argv[4]!];
const ports = portList.split(",").map(Number);
const N = ports.length;
const keys = Array.from({ length: N }, (_, i) => keyPairFromSeed(new Uint8Array(32).fill(i + 40)));
const set = new ValidatorSet(keys.map((k) => ({ address: k.publicKey, power: 1 })));
keys.sort((a, b) => set.indexOf(a.publicKey) - set.indexOf(b.publicKey));
const nodeKeys = keys.map((_, i) => nodeKeyFromSeed(new Uint8Array(32).fill(i + 80)));
const print = (line: object) => process.stdout.write(JSON.stringify(line) + "\n");

const options: EngineOptions = {
  chainId: "cluster",
  validators: set,
  key: keys[index]!,
  newHeightDelayMs: 50,
  timeouts: {
    proposeMs: 400,
    proposeDeltaMs: 200,
    prevoteMs: 200,
    prevoteDeltaMs: 100,
    precommitMs: 200,
    precommitDeltaMs: 100,
  },
  buildValue: (h, r) => new TextEncoder().encode(`block ${h} from ${index} round ${r}`),
};
// Every node dials every other (a restarted node must be able to reach everyone again).
const peers = keys.flatMap((_, j) =>
  j === index ? [] : [{ id: `v${j}`, publicKey: nodeKeys[j]!.publicKey, host: "127.0.0.1", port: ports[j]! }],
);
const transport = await TcpTransport.start({
  id: `v${index}`,
  key: nodeKeys[index]!,
  listen: { host: "127.0.0.1", port: ports[index]! },
  peers,
  network: "consensus-cluster",
});
const wal = FileWal.open(join(dir, `v${index}.wal`));
const restored =
  wal.recovered.records.length > 0 ? TendermintEngine.restore(options, wal.recovered.records) : null;
const engine = restored?.engine ?? new TendermintEngine(options);

const driver = driveTendermint(engine, {
  persist: (record, sync) => wal.append(record, sync),
  broadcast: (m) => {
    if (
      (m.kind === "vote" && set.indexOf(m.validator) === index) ||
      (m.kind === "proposal" && set.indexOf(m.proposer) === index)
    ) {
      print({
        slot: `${index}/${m.height}/${m.round}/${m.kind === "vote" ? m.type : 0}`,
        id: m.valueId === null ? "nil" : Buffer.from(m.valueId).toString("hex"),
      });
    }
    transport.broadcast(encodeMessage(m));
  },
  send: (to, message) => transport.send(`v${to}`, encodeMessage(message)),
  setTimer: (delayMs, fire) => void setTimeout(fire, delayMs),
  decide: (height) => void print({ height }),
});

transport.setHandler({
  onMessage: (from, bytes) =>
    void driver.push({ kind: "message", from: Number(from.slice(1)), message: decodeMessage(bytes) }),
});
setInterval(() => driver.push({ kind: "tick" }), 150);
print({ started: index, height: engine.height - 1, restored: restored !== null });
driver.pushEffects(restored?.effects ?? engine.start());
process.on("SIGTERM", () => {
  wal.close();
  void transport.close().then(() => process.exit(0));
});
