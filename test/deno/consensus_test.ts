// Deno smoke test for consensus: CometBFT's proposer selection vector, four Tendermint engines over
// the SimNetwork (1–10 ms links, duplicated and reordered messages) commit the same blocks, and a
// few seeded simulations with a byzantine validator hold every invariant, as under Node.
import { keyPairFromSeed } from "../../bindings/chain/index.ts";
import {
  ProposerSchedule,
  TendermintEngine,
  ValidatorSet,
  decodeMessage,
  driveTendermint,
  encodeMessage,
  replayCommand,
  simulateConsensus,
  type ConsensusEvent,
  type Effect,
  type SimulationOptions,
} from "../../bindings/consensus/index.ts";
import { SimNetwork, type SimNode } from "../../bindings/net/index.ts";
import type { ProtocolDriver } from "../../bindings/protocol/index.ts";
import { toHex } from "../../bindings/util/index.ts";

function check(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

/** A 32-byte address starting with `name` (zero padding keeps the names' byte order). */
function address(name: string): Uint8Array {
  const out = new Uint8Array(32);
  out.set(new TextEncoder().encode(name));
  return out;
}

Deno.test("proposer selection: powers {A:1, B:3} give B, A, B, B repeating", () => {
  const set = new ValidatorSet([
    { address: address("A"), power: 1 },
    { address: address("B"), power: 3 },
  ]);
  const schedule = new ProposerSchedule(set);
  const names = Array.from({ length: 8 }, (_, h) =>
    new TextDecoder().decode(set.validators[schedule.proposer(h + 1, 0)]!.address.subarray(0, 1)),
  );
  // the same vector is pinned in test/consensus/proposer-selection.test.ts (Node)
  check(names.join("") === "BABBBABB", `proposers ${names.join("")}`);
});

Deno.test("4 Tendermint engines over the SimNetwork commit the same 5 blocks", async () => {
  const N = 4;
  const HEIGHTS = 5;
  const keys = Array.from({ length: N }, (_, i) => keyPairFromSeed(new Uint8Array(32).fill(i + 1)));
  const set = new ValidatorSet(keys.map((k) => ({ address: k.publicKey, power: 1 })));
  keys.sort((a, b) => set.indexOf(a.publicKey) - set.indexOf(b.publicKey));
  const net = new SimNetwork({ seed: 11, link: { duplicate: 0.1, reorder: 0.1 } });
  const nodes: SimNode[] = [];
  const engines: TendermintEngine[] = [];
  const drivers: ProtocolDriver<ConsensusEvent, Effect>[] = [];
  // decided[i] = value ids validator i committed, by height - 1
  const decided: string[][] = Array.from({ length: N }, () => []);
  for (let i = 0; i < N; i++) {
    nodes.push(net.addNode(`v${i}`));
    const buildValue = (height: number, round: number) =>
      new TextEncoder().encode(`block ${height} by ${i} in round ${round}`);
    engines.push(new TendermintEngine({ chainId: "deno", validators: set, key: keys[i]!, buildValue }));
    drivers.push(
      driveTendermint(engines[i]!, {
        broadcast: (message) => nodes[i]!.transport.broadcast(encodeMessage(message)),
        send: (to, message) => nodes[i]!.transport.send(`v${to}`, encodeMessage(message)),
        setTimer: (delayMs, fire) => void nodes[i]!.clock.setTimer(delayMs, fire),
        decide: (height, _value, certificate) => {
          check(
            height === decided[i]!.length + 1,
            `validator ${i} decided height ${height} after ${decided[i]!.length}`,
          );
          decided[i]!.push(toHex(certificate.proposal.valueId));
        },
      }),
    );
  }
  for (let i = 0; i < N; i++)
    nodes[i]!.transport.setHandler({
      onMessage: (from, bytes) =>
        void drivers[i]!.push({
          kind: "message",
          from: Number(from.slice(1)),
          message: decodeMessage(bytes),
        }),
    });
  for (let i = 0; i < N; i++) drivers[i]!.pushEffects(engines[i]!.start());
  const done = await net.runUntil(() => decided.every((d) => d.length >= HEIGHTS), 60_000);
  check(done, `heights reached: ${decided.map((d) => d.length).join(", ")}`);
  check(
    drivers.every((d) => d.failure === undefined),
    `a driver failed: ${drivers.map((d) => String(d.failure)).join(", ")}`,
  );
  for (let h = 0; h < HEIGHTS; h++) {
    const ids = new Set(decided.map((d) => d[h]));
    check(ids.size === 1, `agreement at height ${h + 1}: ${[...ids].join(" ")}`);
  }
});

for (const [validators, byzantine, seeds] of [
  [4, 1, 5],
  [7, 2, 2],
] as const) {
  Deno.test(
    `consensus simulation: ${validators} validators, ${byzantine} byzantine, seeds 1..${seeds} hold every invariant`,
    async () => {
      for (let seed = 1; seed <= seeds; seed++) {
        const options: SimulationOptions = { seed, validators, byzantine };
        const r = await simulateConsensus(options);
        check(
          r.ok,
          `seed ${seed}: ${r.violation?.invariant}: ${r.violation?.detail}\nreplay: ${replayCommand(options)}`,
        );
        check(r.minHeight >= 3, `seed ${seed}: committed ${r.minHeight} heights after the heal`);
      }
    },
  );
}
