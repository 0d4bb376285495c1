/**
 * Synchronization primitives across real threads: three worker "tellers" share one balance.
 *
 *   npx tsx examples/sync-primitives.ts          (Node)
 *   npx deno run -A examples/sync-primitives.ts  (Deno)
 *
 * An Event opens the doors for all tellers at once; a Mutex guards the balance; a Semaphore(2)
 * lets at most two tellers into the vault at a time; a ConditionVariable tells the main thread
 * when every teller is done; a Signal then stops their background audit loops. This file is both
 * the main program and the worker: each primitive travels to the workers as a `handle()` and is
 * reattached there with `from(handle)`.
 */
import {
  ConditionVariable,
  Event,
  Mutex,
  Semaphore,
  Signal,
  inWorker,
  onParentMessage,
  spawnWorker,
} from "chaindb";
import type {
  ConditionVariableHandle,
  EventHandle,
  MutexHandle,
  SemaphoreHandle,
  SignalHandle,
} from "chaindb";

const TELLERS = 3;
const DEPOSITS = 10_000;

interface Handles {
  doors: EventHandle;
  mutex: MutexHandle;
  vault: SemaphoreHandle;
  allDone: ConditionVariableHandle;
  stop: SignalHandle;
  /** [0] balance, [1] tellers finished, [2] tellers in the vault, [3] most ever in the vault. */
  words: Int32Array;
}

if (inWorker()) {
  const channel = onParentMessage((message) => channel.postMessage(teller(message as Handles)));
} else {
  await main();
}

function teller(h: Handles): { audits: number } {
  const [doors, mutex, vault, allDone, stop] = [
    Event.from(h.doors),
    Mutex.from(h.mutex),
    Semaphore.from(h.vault),
    ConditionVariable.from(h.allDone),
    Signal.from(h.stop),
  ];
  const w = h.words;
  doors.wait();
  for (let i = 0; i < DEPOSITS; i++) mutex.withLock(() => (w[0] = w[0]! + 1)); // a plain += made safe by the lock
  vault.acquire();
  const inside = Atomics.add(w, 2, 1) + 1;
  for (
    let seen = Atomics.load(w, 3);
    inside > seen && Atomics.compareExchange(w, 3, seen, inside) !== seen;
    seen = Atomics.load(w, 3)
  );
  Atomics.sub(w, 2, 1);
  vault.release();
  mutex.withLock(() => {
    w[1] = w[1]! + 1;
    allDone.notifyAll();
  });
  let audits = 0;
  while (!stop.raised && audits < 1e9) audits++; // the cheap check at the top of a busy loop
  return { audits };
}

async function main(): Promise<void> {
  const [doors, mutex, vault, allDone, stop] = [
    new Event(),
    new Mutex(),
    new Semaphore(2),
    new ConditionVariable(),
    new Signal(),
  ];
  const words = new Int32Array(new SharedArrayBuffer(16));
  const handles: Handles = {
    doors: doors.handle(),
    mutex: mutex.handle(),
    vault: vault.handle(),
    allDone: allDone.handle(),
    stop: stop.handle(),
    words,
  };
  const replies: Promise<{ audits: number }>[] = [];
  const workers = Array.from({ length: TELLERS }, () => {
    let reply!: (r: { audits: number }) => void;
    let fail!: (e: Error) => void;
    replies.push(new Promise((resolve, reject) => ((reply = resolve), (fail = reject))));
    const worker = spawnWorker(new URL(import.meta.url), {
      onMessage: (m) => reply(m as { audits: number }),
      onError: (e) => fail(e),
    });
    worker.postMessage(handles);
    return worker;
  });

  doors.set(); // a manual-reset event: every teller goes, even those not waiting yet
  await mutex.lockAsync({ timeoutMs: 60_000 }); // the main thread must not block: async variants
  while (words[1]! < TELLERS) {
    if (!(await allDone.waitAsync(mutex, { timeoutMs: 60_000 })))
      throw new Error("tellers did not finish within 60 s");
  }
  const balance = words[0]!;
  mutex.unlock();

  stop.raise();
  const audits = await Promise.all(replies);
  await Promise.all(workers.map((w) => w.terminate()));
  console.log(
    `balance ${balance} (expected ${TELLERS * DEPOSITS}), most tellers in the vault at once: ${words[3]} (limit 2)`,
  );
  console.log(`audit loops stopped by the signal after ${audits.map((a) => a.audits).join(", ")} iterations`);
  if (balance !== TELLERS * DEPOSITS || words[3]! > 2) throw new Error("a synchronization primitive failed");
}
