// Crash safety with the file WAL, as a seeded property: one validator is driven by random
// proposals, votes and timeouts from the other three, and its WAL lives on the fault-injecting file
// system. It crashes after a random effect or in the middle of a random file operation; at the
// crash, writes not fsynced are lost, torn or zeroed (seeded), then it restarts from its log and
// goes on. Across all incarnations it never signs two different values for one height, round and
// type, and the log always reopens (a torn tail is cut, never reported as corruption).
import { describe, expect, it } from "vitest";
import { keyPairFromSeed } from "../../bindings/chain/index.ts";
import {
  FileWal,
  Step,
  TendermintEngine,
  ValidatorSet,
  VoteType,
  signProposal,
  signVote,
  valueIdOf,
  driveTendermint,
  type Effect,
  type EngineOptions,
  type Message,
} from "../../bindings/consensus/index.ts";
import { Random } from "../../bindings/net/index.ts";
import { FaultFs } from "../../bindings/store/index.ts";

const CHAIN = "crash-chain";
const keys = [1, 2, 3, 4].map((i) => keyPairFromSeed(new Uint8Array(32).fill(i)));
const set = new ValidatorSet(keys.map((k) => ({ address: k.publicKey, power: 1 })));
const key = (i: number) => keys.find((k) => set.indexOf(k.publicKey) === i)!;
// About 15 crashes per seed: 60 seeds are about 900 crash points.
const SEEDS = process.env.CHAINDB_SLOW === "1" ? 2000 : 60;
const range = process.env.CHAINDB_SEEDS?.match(/^(\d+)\.\.(\d+)$/);
const [FROM, TO] = range ? [Number(range[1]), Number(range[2])] : [1, SEEDS];

const value = (h: number, tag: string) => new TextEncoder().encode(`h${h}-${tag}`);
const options: EngineOptions = {
  chainId: CHAIN,
  validators: set,
  key: key(0),
  buildValue: (h, r) => value(h, `own-r${r}`),
};

/** A random input for an engine at `engine`'s height and round. */
function randomEvent(rng: Random, engine: TendermintEngine) {
  const h = engine.height;
  const r = Math.max(0, engine.round + rng.int(-1, 1));
  const pick = rng.int(0, 9);
  if (pick <= 1)
    return {
      kind: "timeout" as const,
      timeout: {
        step: rng.pick([Step.Propose, Step.Prevote, Step.Precommit]),
        height: h,
        round: engine.round,
      },
    };
  const v = rng.pick([value(h, "v"), value(h, "w"), null]);
  if (pick <= 3) {
    const p = engine.proposer(h, r);
    if (p === 0) return { kind: "tick" as const };
    const vr = rng.chance(0.3) && r > 0 ? rng.int(0, r - 1) : -1;
    return {
      kind: "message" as const,
      from: p,
      message: signProposal(CHAIN, key(p).secretKey, key(p).publicKey, {
        height: h,
        round: r,
        validRound: vr,
        value: v ?? value(h, "v"),
      }) as Message,
    };
  }
  const i = rng.int(1, 3);
  const type = rng.pick([VoteType.Prevote, VoteType.Precommit]);
  return {
    kind: "message" as const,
    from: i,
    message: signVote(CHAIN, key(i).secretKey, key(i).publicKey, {
      type,
      height: h,
      round: r,
      valueId: v && valueIdOf(v),
    }) as Message,
  };
}

/** Seeds in groups of 20, one test each (the runner's RPC gets through between groups). */
const GROUP = 20;
const groups = Array.from(
  { length: Math.ceil((TO - FROM + 1) / GROUP) },
  (_, g) => [FROM + g * GROUP, Math.min(TO, FROM + g * GROUP + GROUP - 1)] as const,
);

describe("consensus crash safety (file WAL on the fault-injecting file system)", () => {
  it.each(groups)(
    `never double-signs across random crashes with lost, torn and zeroed writes (seeds %i..%i)`,
    async (first, last) => {
      let restartsAll = 0;
      for (let seed = first; seed <= last; seed++) {
        await new Promise((resolve) => setImmediate(resolve)); // let the test runner's RPC through between seeds
        const rng = new Random(seed);
        const fs = new FaultFs({ seed });
        fs.mkdir("/v");
        const path = "/v/consensus.wal";
        const replayHint = `replay: CHAINDB_SEEDS=${seed}..${seed} npx vitest run test/consensus/consensus-crash.test.ts`;
        const signedBy = new Map<string, string>();
        let restarts = 0;
        let wal = FileWal.open(path, fs);
        let engine = new TendermintEngine(options);
        let pending: Effect[] = engine.start();
        // The crash point of the current batch: its effect index, counted from `base`.
        let crashAt = -1;
        let base = 0;
        const drive = (e: TendermintEngine) =>
          driveTendermint(
            e,
            {
              persist: (record, sync) => wal.append(record, sync),
              broadcast: (m) => {
                if (m.kind !== "vote" && m.kind !== "proposal") return;
                if ((m.kind === "vote" ? set.indexOf(m.validator) : set.indexOf(m.proposer)) !== 0) return;
                const slot = `${m.height}/${m.round}/${m.kind === "vote" ? m.type : 0}`;
                const id = m.valueId === null ? "nil" : Buffer.from(m.valueId).toString("hex");
                const before = signedBy.get(slot);
                if (before !== undefined && before !== id)
                  expect.fail(
                    `seed ${seed}: double sign at ${slot} (${before} then ${id}) after ${restarts} restarts; ${replayHint}`,
                  );
                signedBy.set(slot, id);
              },
              send: () => {},
              setTimer: () => {},
              validate: (_h, value) => !new TextDecoder().decode(value).endsWith("w") || rng.chance(0.5),
            },
            // The driver's crash hook: the process dies before effect `crashAt` of this batch.
            { beforeEffect: (_e, k) => k - base !== crashAt },
          );
        let driver = drive(engine);
        for (let step = 0; step < 300; step++) {
          crashAt = rng.chance(0.05) ? rng.int(0, pending.length) : -1;
          if (rng.chance(0.03)) fs.crashAfterOps(rng.int(0, 3)); // a crash inside a coming append or fsync
          base = driver.effects;
          driver.pushEffects(pending);
          let crashed = false;
          if (driver.state === "stopped") {
            fs.crash();
            crashed = true;
          } else if (driver.state === "failed") {
            const code = (driver.failure as { code?: string }).code;
            expect(code, `seed ${seed}: ${String(driver.failure)}; ${replayHint}`).toBe("STORE_IO");
            crashed = true;
          }
          if (crashed) {
            // Power loss: only what was fsynced is sure to be there; the rest is lost, torn or zeroed.
            fs.restart(); // the process died: the old log object is dropped, not closed
            try {
              wal = FileWal.open(path, fs);
            } catch (error) {
              expect.fail(
                `seed ${seed}: the WAL does not reopen after crash ${restarts + 1}: ${(error as Error).message}; ${replayHint}`,
              );
            }
            ({ engine, effects: pending } = TendermintEngine.restore(options, wal.recovered.records));
            driver = drive(engine);
            restarts++;
            continue;
          }
          pending = engine.handle(randomEvent(rng, engine));
        }
        fs.crashAfterOps(undefined);
        wal.close();
        restartsAll += restarts;
        expect(signedBy.size).toBeGreaterThan(0);
      }
      expect(restartsAll).toBeGreaterThan(5 * (last - first + 1)); // the crashes happened
    },
    120_000,
  );
});
