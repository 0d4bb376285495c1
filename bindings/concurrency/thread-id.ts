/**
 * Thread identity for lock ownership. Node's `worker_threads.threadId` cannot be used: under Deno
 * every Web Worker reports `threadId` 0 (checked with Deno 2.9). So ids are ALLOCATED FROM A
 * SHARED COUNTER: a registry (two Int32 words in a SharedArrayBuffer: a random non-zero registry
 * tag and a counter) travels inside every Mutex handle. A thread takes its id the first time it
 * needs one, from the registry it knows at that moment: the one it created, or the first one it
 * received from a reattached handle. An identity is the pair (registry tag, counter value):
 * exact within one registry (the normal case, where every primitive descends from the same
 * root thread), and distinct across independent registries unless their random 31-bit tags
 * collide (probability 2^-31 per pair of registries).
 * @module
 */

/** A thread's identity: the registry tag and the id drawn from that registry's counter. */
export interface ThreadIdentity {
  /** Random non-zero tag of the registry the id was drawn from. */
  readonly tag: number;
  /** 1-based id from the registry's counter (0 means "no owner" in lock words). */
  readonly id: number;
}

const TAG = 0;
const COUNTER = 1;
/** Words in a thread-id registry. */
export const REGISTRY_WORDS = 2;

let registry: Int32Array | undefined;
let identity: ThreadIdentity | undefined;

function randomTag(): number {
  const word = new Int32Array(1);
  for (let attempt = 0; attempt < 8; attempt++) {
    crypto.getRandomValues(word);
    const tag = word[0]! & 0x7fffffff;
    if (tag !== 0) return tag;
  }
  return 1; // eight zero draws in a row: the RNG is broken, but a fixed tag is still correct.
}

/** The registry this thread allocates from (creating one if it has none yet). */
export function threadRegistry(): Int32Array {
  if (registry === undefined) {
    registry = new Int32Array(new SharedArrayBuffer(REGISTRY_WORDS * 4));
    Atomics.store(registry, TAG, randomTag());
  }
  return registry;
}

/** Adopts a registry received from another thread, unless this thread already has one. */
export function adoptRegistry(received: Int32Array | undefined): void {
  if (registry !== undefined || received === undefined) return;
  if (
    !(received instanceof Int32Array) ||
    !(received.buffer instanceof SharedArrayBuffer) ||
    received.length < REGISTRY_WORDS
  ) {
    throw new TypeError("expected a thread-id registry: an Int32Array of 2 words over a SharedArrayBuffer");
  }
  registry = received;
}

/** This thread's identity, allocated on first use. */
export function currentThread(): ThreadIdentity {
  if (identity === undefined) {
    const r = threadRegistry();
    const id = Atomics.add(r, COUNTER, 1) + 1;
    if (id >= 0x7fffffff) throw new RangeError("thread-id registry exhausted (2^31 - 1 threads)");
    identity = { tag: Atomics.load(r, TAG), id };
  }
  return identity;
}
