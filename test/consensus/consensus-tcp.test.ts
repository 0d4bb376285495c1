// Four Tendermint validators over real TCP on loopback (TcpTransport) with file WALs, in this
// process: they commit blocks; one is stopped (transport and log closed, state dropped) and
// restarted from its WAL on the same port; it catches up and nobody signs two different things.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { keyPairFromSeed } from "../../bindings/chain/index.ts";
import {
  FileWal,
  TendermintEngine,
  ValidatorSet,
  decodeMessage,
  driveTendermint,
  encodeMessage,
  type ConsensusEvent,
  type Effect,
  type EngineOptions,
  type TendermintWorld,
} from "../../bindings/consensus/index.ts";
import type { ProtocolDriver } from "../../bindings/protocol/index.ts";
import { TcpTransport, nodeKeyFromSeed } from "../../bindings/net/index.ts";

const N = 4;
const keys = Array.from({ length: N }, (_, i) => keyPairFromSeed(new Uint8Array(32).fill(i + 40)));
const set = new ValidatorSet(keys.map((k) => ({ address: k.publicKey, power: 1 })));
keys.sort((a, b) => set.indexOf(a.publicKey) - set.indexOf(b.publicKey));
const nodeKeys = keys.map((_, i) => nodeKeyFromSeed(new Uint8Array(32).fill(i + 80)));
const dir = mkdtempSync(join(tmpdir(), "chaindb-consensus-tcp-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const timeouts = {
  proposeMs: 400,
  proposeDeltaMs: 200,
  prevoteMs: 200,
  prevoteDeltaMs: 100,
  precommitMs: 200,
  precommitDeltaMs: 100,
};

interface Live {
  engine: TendermintEngine;
  driver: ProtocolDriver<ConsensusEvent, Effect>;
  wal: FileWal;
  transport: TcpTransport;
  timers: Set<ReturnType<typeof setTimeout>>;
}

describe("consensus over TCP", () => {
  it("commits, survives a validator restart from its WAL, and never double-signs", async () => {
    const ports: number[] = [];
    const live: (Live | null)[] = Array(N).fill(null);
    const signed = new Map<string, string>();
    let doubleSign = "";
    const options = (i: number): EngineOptions => ({
      chainId: "tcp",
      validators: set,
      key: keys[i]!,
      timeouts,
      newHeightDelayMs: 50,
      buildValue: (h, r) => new TextEncoder().encode(`block ${h} from ${i} round ${r}`),
    });

    // What node i's engine effects do (through the one Tendermint driver helper).
    const world = (i: number, node: Live): TendermintWorld => ({
      persist: (record, sync) => node.wal.append(record, sync),
      broadcast: (m) => {
        if (
          (m.kind === "vote" && set.indexOf(m.validator) === i) ||
          (m.kind === "proposal" && set.indexOf(m.proposer) === i)
        ) {
          const slot = `${i}/${m.height}/${m.round}/${m.kind === "vote" ? m.type : 0}`;
          const id = m.valueId === null ? "nil" : Buffer.from(m.valueId).toString("hex");
          if ((signed.get(slot) ?? id) !== id) doubleSign = slot;
          signed.set(slot, id);
        }
        node.transport.broadcast(encodeMessage(m));
      },
      send: (to, message) => node.transport.send(`v${to}`, encodeMessage(message)),
      setTimer: (delayMs, fire) => {
        const t = setTimeout(() => (node.timers.delete(t), fire()), delayMs);
        node.timers.add(t);
      },
    });

    const start = async (i: number, restart: boolean) => {
      const peers = keys.flatMap((_, j) =>
        j === i
          ? []
          : [
              {
                id: `v${j}`,
                publicKey: nodeKeys[j]!.publicKey,
                ...(ports[j] !== undefined && j !== i ? { host: "127.0.0.1", port: ports[j]! } : {}),
              },
            ],
      );
      const transport = await TcpTransport.start({
        id: `v${i}`,
        key: nodeKeys[i]!,
        listen: { host: "127.0.0.1", port: ports[i] ?? 0 },
        peers,
        network: "consensus-tcp",
      });
      ports[i] = transport.address!.port;
      const wal = FileWal.open(join(dir, `v${i}.wal`));
      let engine: TendermintEngine;
      let effects: Effect[];
      if (restart) ({ engine, effects } = TendermintEngine.restore(options(i), wal.recovered.records));
      else ((engine = new TendermintEngine(options(i))), (effects = []));
      const node: Live = { engine, wal, transport, timers: new Set(), driver: null! };
      node.driver = driveTendermint(engine, world(i, node));
      live[i] = node;
      transport.setHandler({
        onMessage: (from, bytes) =>
          void node.driver.push({
            kind: "message",
            from: Number(from.slice(1)),
            message: decodeMessage(bytes),
          }),
      });
      const tick = () => {
        const t = setTimeout(() => (node.timers.delete(t), node.driver.push({ kind: "tick" }), tick()), 150);
        node.timers.add(t);
      };
      tick();
      node.driver.pushEffects(effects);
      return node;
    };
    const stop = async (i: number) => {
      const node = live[i]!;
      live[i] = null;
      node.driver.stop();
      for (const t of node.timers) clearTimeout(t);
      await node.transport.close();
      node.wal.close();
    };
    const until = (done: () => boolean, ms: number) =>
      new Promise<boolean>((resolve) => {
        const t0 = Date.now();
        const check = () =>
          done() ? resolve(true) : Date.now() - t0 > ms ? resolve(false) : setTimeout(check, 20);
        check();
      });
    const heights = () => live.map((n) => n?.engine.height ?? 0);

    try {
      // Start in reverse order so each node knows the ports of the ones it dials.
      for (let i = N - 1; i >= 0; i--) await start(i, false);
      for (let i = 0; i < N; i++) live[i]!.driver.pushEffects(live[i]!.engine.start());
      expect(await until(() => Math.min(...heights()) >= 4, 20_000)).toBe(true);
      await stop(2);
      const top = Math.max(...heights());
      expect(await until(() => Math.min(...heights().filter((_, i) => i !== 2)) >= top + 3, 20_000)).toBe(
        true,
      );
      const restarted = await start(2, true);
      const target = Math.max(...heights()) + 2;
      expect(restarted.engine.height).toBeLessThan(target);
      expect(await until(() => Math.min(...heights()) >= target, 30_000)).toBe(true);
      expect(doubleSign).toBe("");
      expect(signed.size).toBeGreaterThan(0);
    } finally {
      for (let i = 0; i < N; i++) if (live[i] !== null) await stop(i);
    }
  }, 120_000);
});
