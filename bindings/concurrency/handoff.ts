/**
 * A handoff-latency probe: how long one thread takes to wake another and get an answer back
 * (ping-pong), over three mechanisms side by side — the raw futex (`Atomics.wait/notify` on one
 * word, the floor), two auto-reset {@link Event}s, and the monitor pattern ({@link Mutex} +
 * {@link ConditionVariable} + a turn word, Hoare 1974) — and, as kind "mutex-contended", plain
 * lock+unlock throughput while the worker hammers the same Mutex (it only competes while
 * `roundTrips` runs, so it steals no CPU from other measurements). Used by
 * bench/concurrency.bench.ts; the calling thread BLOCKS during `roundTrips`.
 * @module
 */
import { spawnWorker, workerUrl, type WorkerHandle } from "../runtime/index.ts";
import { ChainDbError, ErrorCode } from "../util/index.ts";
import { ConditionVariable } from "./condition-variable.ts";
import { Event } from "./event.ts";
import { Mutex } from "./mutex.ts";

/** The ping-pong mechanisms a probe can measure. */
export type HandoffKind = "futex" | "event" | "mutex-condvar" | "mutex-contended";

/** What the probe's worker receives. */
export interface HandoffSetup {
  kind: HandoffKind;
  /** [0] turn (0: ping side, 1: pong side), [1] stop flag, [2] "compete now" flag (mutex-contended). */
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
/** Set to 1 while the worker should compete for the mutex (kind "mutex-contended"). */
export const COMPETE = 2;
const PING = 0;
const PONG = 1;

/** A worker answering pings; the calling thread plays the ping side. */
export class HandoffProbe {
  private constructor(
    private readonly setup: HandoffSetup,
    private readonly worker: WorkerHandle,
    private readonly finished: Promise<number>,
  ) {}

  /** Starts the pong worker for `kind`; resolves once it is ready. */
  static async start(kind: HandoffKind): Promise<HandoffProbe> {
    const setup: HandoffSetup = {
      kind,
      words: new Int32Array(new SharedArrayBuffer(12)),
      mutex: new Mutex().handle(),
      toPing: new ConditionVariable().handle(),
      toPong: new ConditionVariable().handle(),
      pingEvent: new Event({ autoReset: true }).handle(),
      pongEvent: new Event({ autoReset: true }).handle(),
    };
    let ready!: () => void;
    let done!: (answered: number) => void;
    let failed!: (e: Error) => void;
    let failedLater!: (e: Error) => void;
    const readyP = new Promise<void>((resolve, reject) => ((ready = resolve), (failed = reject)));
    const finished = new Promise<number>((resolve, reject) => ((done = resolve), (failedLater = reject)));
    finished.catch(() => {}); // reported by close(); never an unhandled rejection meanwhile
    const worker = spawnWorker(workerUrl(import.meta.url, "handoff-worker"), {
      onMessage: (raw) => {
        const m = raw as { type: string; answered?: number };
        if (m.type === "ready") ready();
        else done(m.answered ?? -1);
      },
      onError: (e) => {
        failed(e);
        failedLater(e);
      },
    });
    worker.postMessage(setup);
    await readyP;
    return new HandoffProbe(setup, worker, finished);
  }

  /**
   * Performs `count` round trips, blocking this thread; returns `count`. Throws `LOCK_TIMEOUT`
   * if one answer takes longer than `answerBoundMs` (a dead worker must not hang the caller).
   */
  roundTrips(count: number, answerBoundMs = 10_000): number {
    const s = this.setup;
    const stuck = () =>
      new ChainDbError(
        ErrorCode.LOCK_TIMEOUT,
        `handoff worker (${s.kind}) did not answer within ${answerBoundMs} ms`,
      );
    if (s.kind === "futex") {
      for (let i = 0; i < count; i++) {
        Atomics.store(s.words, TURN, PONG);
        Atomics.notify(s.words, TURN, 1);
        while (Atomics.load(s.words, TURN) === PONG) {
          if (Atomics.wait(s.words, TURN, PONG, answerBoundMs) === "timed-out") throw stuck();
        }
      }
    } else if (s.kind === "event") {
      const ping = Event.from(s.pingEvent);
      const pong = Event.from(s.pongEvent);
      for (let i = 0; i < count; i++) {
        pong.set();
        if (!ping.wait({ timeoutMs: answerBoundMs })) throw stuck();
      }
    } else if (s.kind === "mutex-contended") {
      const mutex = Mutex.from(s.mutex);
      Atomics.store(s.words, COMPETE, 1);
      Atomics.notify(s.words, COMPETE);
      try {
        for (let i = 0; i < count; i++) {
          mutex.lock({ timeoutMs: answerBoundMs });
          mutex.unlock();
        }
      } finally {
        Atomics.store(s.words, COMPETE, 0);
      }
    } else {
      const mutex = Mutex.from(s.mutex);
      const toPing = ConditionVariable.from(s.toPing);
      const toPong = ConditionVariable.from(s.toPong);
      mutex.withLock(() => {
        for (let i = 0; i < count; i++) {
          s.words[TURN] = PONG;
          toPong.notifyOne();
          while (s.words[TURN] !== PING) {
            if (!toPing.wait(mutex, { timeoutMs: answerBoundMs })) throw stuck();
          }
        }
      });
    }
    return count;
  }

  /** Stops the pong worker and waits for it; returns how many pings it answered. */
  async close(): Promise<number> {
    const s = this.setup;
    Atomics.store(s.words, STOP, 1);
    Atomics.store(s.words, TURN, PONG);
    Atomics.notify(s.words, TURN);
    Atomics.store(s.words, COMPETE, 1);
    Atomics.notify(s.words, COMPETE);
    Event.from(s.pongEvent).set();
    const mutex = Mutex.from(s.mutex);
    await mutex.withLockAsync(() => ConditionVariable.from(s.toPong).notifyAll());
    try {
      return await this.finished;
    } finally {
      await this.worker.terminate();
    }
  }
}
