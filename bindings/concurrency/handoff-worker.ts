/**
 * The pong side of a {@link HandoffProbe} (handoff.ts): answers every ping until told to stop.
 * Its listener is attached synchronously at top level (Deno drops earlier messages).
 * @module
 */
import { onParentMessage } from "../runtime/index.ts";
import { ConditionVariable } from "./condition-variable.ts";
import { Event } from "./event.ts";
import { Mutex } from "./mutex.ts";
import { STOP, TURN, type HandoffSetup } from "./handoff.ts";

const PING = 0;
const PONG = 1;

const channel = onParentMessage((message) => {
  const s = message as HandoffSetup;
  channel.postMessage({ type: "ready" });
  const answered = s.kind === "futex" ? futex(s) : s.kind === "event" ? event(s) : monitor(s);
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
