/**
 * The Tendermint engine under the protocol driver (bindings/protocol/): the one place that says
 * what each engine {@link Effect} does. `ConsensusNode`, the seeded simulation's validators, the
 * consensus bench, the tests and the examples all carry out effects through it, so none of them
 * writes its own effect loop.
 * @module
 */
import { ProtocolDriver, type DriverOptions, type MaybePromise } from "../protocol/index.ts";
import type { TendermintEngine } from "./tendermint.ts";
import type { CommitCertificate, ConsensusEvent, Effect, Evidence, Message, WalRecord } from "./types.ts";

/** What the engine's effects do in the world around it. */
export interface TendermintWorld {
  /** Keeps a record; a returned promise (an fsync) is awaited before any later effect. */
  persist?(record: WalRecord, sync: boolean): MaybePromise<void>;
  broadcast(message: Message): void;
  /** Sends to the engine's peer index `to` (this node's own index included: skip it). */
  send(to: number, message: Message): void;
  /** Arms a timer that calls `fire` after `delayMs` (`fire` queues the timeout). */
  setTimer(delayMs: number, fire: () => void): void;
  /**
   * The application's verdict on a proposed value: true or false, answered at once; undefined to
   * answer later (push a `validity` event). Absent: every value is valid.
   */
  validate?(height: number, value: Uint8Array, valueId: Uint8Array): boolean | undefined;
  /** A decided value; may return events to hand the engine at once (validity answers that waited). */
  decide?(
    height: number,
    value: Uint8Array,
    certificate: CommitCertificate,
  ): MaybePromise<readonly ConsensusEvent[] | void>;
  evidence?(evidence: Evidence): void;
}

/**
 * The `apply` of a protocol driver over `engine()`: carries out one effect in `world`; validity
 * answers and the events `decide` returns go to the engine at once, their effects after those
 * waiting. `timeout` queues a fired timer (usually `driver.push`).
 */
export function tendermintEffects(
  engine: () => TendermintEngine,
  world: TendermintWorld,
  timeout: (event: ConsensusEvent) => void,
): (effect: Effect) => MaybePromise<readonly Effect[] | void> {
  const feed = (events: readonly ConsensusEvent[] | void): Effect[] | void => {
    if (events === undefined || events.length === 0) return;
    const out: Effect[] = [];
    for (const event of events) out.push(...engine().handle(event));
    return out;
  };
  return (e) => {
    switch (e.kind) {
      case "persist":
        return world.persist?.(e.record, e.sync);
      case "broadcast":
        world.broadcast(e.message);
        return;
      case "send":
        world.send(e.to, e.message);
        return;
      case "schedule":
        world.setTimer(e.delayMs, () => timeout({ kind: "timeout", timeout: e.timeout }));
        return;
      case "validate": {
        const valid = world.validate === undefined ? true : world.validate(e.height, e.value, e.valueId);
        if (valid === undefined) return;
        return engine().handle({ kind: "validity", valueId: e.valueId, valid });
      }
      case "decide": {
        const events = world.decide?.(e.height, e.value, e.certificate);
        if (events instanceof Promise) return events.then(feed);
        return feed(events);
      }
      case "evidence":
        world.evidence?.(e.evidence);
        return;
    }
  };
}

/** Options of {@link driveTendermint}: the driver's, less what the helper supplies. */
export type TendermintDriverOptions = Omit<DriverOptions<ConsensusEvent, Effect>, "handle" | "apply">;

/**
 * A protocol driver running `engine` in `world`: push or offer events, and `pushEffects` the
 * effects of `engine.start()` or `TendermintEngine.restore`.
 */
export function driveTendermint(
  engine: TendermintEngine,
  world: TendermintWorld,
  options: TendermintDriverOptions = {},
): ProtocolDriver<ConsensusEvent, Effect> {
  const driver: ProtocolDriver<ConsensusEvent, Effect> = new ProtocolDriver({
    ...options,
    handle: (event) => engine.handle(event),
    apply: tendermintEffects(
      () => engine,
      world,
      (event) => void driver.push(event),
    ),
  });
  return driver;
}
