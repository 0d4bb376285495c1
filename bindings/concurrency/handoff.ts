/**
 * A handoff-latency probe: how long one thread takes to wake another and get an answer back
 * (ping-pong), over three mechanisms side by side — the raw futex (`Atomics.wait/notify` on one
 * word, the floor), two auto-reset {@link Event}s, and the monitor pattern ({@link Mutex} +
 * {@link ConditionVariable} + a turn word, Hoare 1974). Used by bench/concurrency.bench.ts; the
 * calling thread BLOCKS during `roundTrips` (fine in a Node main thread or a worker).
 * @module
 */
import { spawnWorker, workerUrl, type WorkerHandle } from "../runtime/index.ts";
import { ConditionVariable } from "./condition-variable.ts";
import { Event } from "./event.ts";
import { Mutex } from "./mutex.ts";

/** The ping-pong mechanisms a probe can measure. */
export type HandoffKind = "futex" | "event" | "mutex-condvar";

/** What the probe's worker receives. */
export interface HandoffSetup {
  kind: HandoffKind;
  /** [0] turn (0: ping side, 1: pong side), [1] stop flag. */
  words: Int32Array;
  mutex: ReturnType<Mutex["handle"]>;
  toPing: ReturnType<ConditionVariable["handle"]>;
  toPong: ReturnType<ConditionVariable["handle"]>;
  pingEvent: ReturnType<Event["handle"]>;
  pongEvent: ReturnType<Event["handle"]>;
}

/** Word indexes of {@link HandoffSetup.words}. */
export const TURN = 0;
/** Set to 1 to stop the pong side. */
export const STOP = 1;
const PING = 0;
const PONG = 1;

/** A worker answering pings; the calling thread plays the ping side. */
export class HandoffProbe {
  private constructor(
    private readonly setup: HandoffSetup,
    private readonly worker: WorkerHandle,
    private readonly finished: Promise<void>,
  ) {}

  /** Starts the pong worker for `kind`; resolves once it is ready. */
  static async start(kind: HandoffKind): Promise<HandoffProbe> {
    const setup: HandoffSetup = {
      kind,
      words: new Int32Array(new SharedArrayBuffer(8)),
      mutex: new Mutex().handle(),
      toPing: new ConditionVariable().handle(),
      toPong: new ConditionVariable().handle(),
      pingEvent: new Event({ autoReset: true }).handle(),
      pongEvent: new Event({ autoReset: true }).handle(),
    };
    let ready!: () => void;
    let done!: () => void;
    let failed!: (e: Error) => void;
    const readyP = new Promise<void>((resolve, reject) => ((ready = resolve), (failed = reject)));
    const finished = new Promise<void>((resolve) => (done = resolve));
    const worker = spawnWorker(workerUrl(import.meta.url, "handoff-worker"), {
      onMessage: (m) => ((m as { type: string }).type === "ready" ? ready() : done()),
      onError: (e) => failed(e),
    });
    worker.postMessage(setup);
    await readyP;
    return new HandoffProbe(setup, worker, finished);
  }

  /** Performs `count` round trips, blocking this thread; returns `count`. */
  roundTrips(count: number): number {
    const s = this.setup;
    if (s.kind === "futex") {
      for (let i = 0; i < count; i++) {
        Atomics.store(s.words, TURN, PONG);
        Atomics.notify(s.words, TURN, 1);
        while (Atomics.load(s.words, TURN) === PONG) Atomics.wait(s.words, TURN, PONG);
      }
    } else if (s.kind === "event") {
      const ping = Event.from(s.pingEvent);
      const pong = Event.from(s.pongEvent);
      for (let i = 0; i < count; i++) {
        pong.set();
        ping.wait();
      }
    } else {
      const mutex = Mutex.from(s.mutex);
      const toPing = ConditionVariable.from(s.toPing);
      const toPong = ConditionVariable.from(s.toPong);
      mutex.lock();
      for (let i = 0; i < count; i++) {
        s.words[TURN] = PONG;
        toPong.notifyOne();
        while (s.words[TURN] !== PING) toPing.wait(mutex);
      }
      mutex.unlock();
    }
    return count;
  }

  /** Stops the pong worker and waits for it. */
  async close(): Promise<void> {
    const s = this.setup;
    Atomics.store(s.words, STOP, 1);
    Atomics.store(s.words, TURN, PONG);
    Atomics.notify(s.words, TURN);
    Event.from(s.pongEvent).set();
    const mutex = Mutex.from(s.mutex);
    await mutex.withLockAsync(() => ConditionVariable.from(s.toPong).notifyAll());
    await this.finished;
    await this.worker.terminate();
  }
}
