/**
 * Injectable timers for the transaction layer ("deterministic cores, injected world", DESIGN.md):
 * production code arms real timers, tests drive a {@link ManualClock} so that every timeout fires
 * at an exact, replayable point.
 * @module
 */

/** What the lock manager needs from the world: one-shot timers. */
export interface TimerClock {
  /** Current time in milliseconds (any fixed origin). */
  now(): number;
  /** Calls `fn` once after `delayMs`; returns a function that cancels the timer. */
  setTimer(delayMs: number, fn: () => void): () => void;
}

/** Real time: `performance.now()` and `setTimeout`. */
export const systemClock: TimerClock = {
  now: () => performance.now(),
  setTimer(delayMs, fn) {
    const timer = setTimeout(fn, delayMs);
    return () => clearTimeout(timer);
  },
};

/** Virtual time for tests: timers fire only inside {@link ManualClock.advance}, in deadline order. */
export class ManualClock implements TimerClock {
  private time = 0;
  private nextSeq = 0;
  private readonly timers = new Map<number, { at: number; seq: number; fn: () => void }>();

  /** Current virtual time in milliseconds. */
  now(): number {
    return this.time;
  }

  /** Arms a virtual timer. */
  setTimer(delayMs: number, fn: () => void): () => void {
    const seq = this.nextSeq++;
    this.timers.set(seq, { at: this.time + Math.max(0, delayMs), seq, fn });
    return () => void this.timers.delete(seq);
  }

  /** Number of armed timers. */
  get pending(): number {
    return this.timers.size;
  }

  /** Moves time forward by `ms`, firing due timers in (deadline, arming order). */
  advance(ms: number): void {
    const target = this.time + ms;
    // Bounded: each iteration removes one timer; timers armed by callbacks are also bounded by
    // the caller's own bounds (the lock manager arms at most one per waiting request).
    for (let fired = 0; fired < 1_000_000; fired++) {
      let due: { at: number; seq: number; fn: () => void } | undefined;
      for (const t of this.timers.values()) {
        if (t.at <= target && (!due || t.at < due.at || (t.at === due.at && t.seq < due.seq))) due = t;
      }
      if (!due) break;
      this.timers.delete(due.seq);
      this.time = Math.max(this.time, due.at);
      due.fn();
    }
    this.time = target;
  }
}
