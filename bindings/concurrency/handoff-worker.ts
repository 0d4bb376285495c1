/**
 * The pong side of a {@link HandoffProbe} (handoff.ts): answers every ping until told to stop.
 * Its listener is attached synchronously at top level (Deno drops earlier messages).
 * @module
 */
import { onParentMessage } from "../runtime/index.ts";
import { ConditionVariable } from "./condition-variable.ts";
import { Event } from "./event.ts";
import { Mutex } from "./mutex.ts";
import { COMPETE, STOP, TURN, type HandoffSetup } from "./handoff.ts";

const PING = 0;
const PONG = 1;

const channel = onParentMessage((message) => {
  const s = message as HandoffSetup;
  channel.postMessage({ type: "ready" });
  const run = { futex, event, "mutex-condvar": monitor, "mutex-contended": contend }[s.kind];
  const answered = run(s);
  channel.postMessage({ type: "done", answered });
});

// Each loop runs until the parent sets STOP; one iteration per ping, so the bound is the parent's.
function futex(s: HandoffSetup): number {
  let answered = 0;
  for (;;) {
    while (Atomics.load(s.words, TURN) === PING) Atomics.wait(s.words, TURN, PING);
    if (Atomics.load(s.words, STOP)) return answered;
    Atomics.store(s.words, TURN, PING);
    Atomics.notify(s.words, TURN, 1);
    answered++;
  }
}

function event(s: HandoffSetup): number {
  const ping = Event.from(s.pingEvent);
  const pong = Event.from(s.pongEvent);
  let answered = 0;
  for (;;) {
    pong.wait();
    if (Atomics.load(s.words, STOP)) return answered;
    ping.set();
    answered++;
  }
}

function monitor(s: HandoffSetup): number {
  const mutex = Mutex.from(s.mutex);
  const toPing = ConditionVariable.from(s.toPing);
  const toPong = ConditionVariable.from(s.toPong);
  let answered = 0;
  mutex.lock();
  for (;;) {
    while (s.words[TURN] !== PONG) toPong.wait(mutex);
    if (Atomics.load(s.words, STOP)) break;
    s.words[TURN] = PING;
    toPing.notifyOne();
    answered++;
  }
  mutex.unlock();
  return answered;
}

// Competes for the mutex while the parent sets COMPETE; sleeps otherwise. Returns lock+unlock pairs.
function contend(s: HandoffSetup): number {
  const mutex = Mutex.from(s.mutex);
  let pairs = 0;
  for (;;) {
    while (Atomics.load(s.words, COMPETE) === 0) Atomics.wait(s.words, COMPETE, 0);
    if (Atomics.load(s.words, STOP)) return pairs;
    // STOP is checked here too: close() raises COMPETE again, possibly before this loop saw it drop.
    while (Atomics.load(s.words, COMPETE) === 1 && !Atomics.load(s.words, STOP)) {
      mutex.lock();
      mutex.unlock();
      pairs++;
    }
  }
}
