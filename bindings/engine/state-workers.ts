/**
 * The workers of the threaded ledger states, both engines: the wasm state on the threaded build
 * (state-threads.ts) and the ts state over SharedArrayBuffers (state-ts-threads.ts). One start
 * handshake (a coded WORKER_FAILED when a worker cannot start), one thread-count check, and one
 * job loop for a worker between blocks: spin on the job word of a control block in shared
 * memory, then sleep on it with `Atomics.wait`, until the stop word (the word after it) is set.
 * @module
 */
import { ChainDbError, ErrorCode, aint } from "../util/index.ts";
import { spawnWorker, workerUrl, type WorkerHandle } from "../runtime/index.ts";

/** Most threads per state (assembly/parallel.ts PAR_THREADS_MAX; state-ts-par.ts the same). */
export const STATE_THREADS_MAX = 16;
/** Bound on a worker's start before the state gives up: WORKER_FAILED. */
const START_TIMEOUT_MS = 30_000;
/** Loads of the job word before a worker sleeps: blocks come back to back in a busy ledger. */
const SPINS = 20_000;

/** What a state worker answers its state. */
export type StateWorkerReply =
  { type: "ready" } | { type: "running" } | { type: "stopped" } | { type: "error"; message: string };

/** A worker of a threaded state and the promise of its next reply. */
export interface StateWorker {
  /** The worker itself. */
  handle: WorkerHandle;
  /** Its next reply; rejects when it fails or stays silent for START_TIMEOUT_MS. */
  next(): Promise<StateWorkerReply>;
}

/** Checks a thread count (1..STATE_THREADS_MAX): BAD_ARGUMENT or BAD_RANGE. */
export function checkThreads(threads: number): number {
  return aint(threads, 1, STATE_THREADS_MAX, "threads");
}

/**
 * Starts the worker module `baseName` next to the module at `callerUrl` (see runtime
 * `workerUrl`), or at `url` when given (tests point it at a module that fails).
 */
export function startStateWorker(callerUrl: string, baseName: string, url?: URL): StateWorker {
  const replies: StateWorkerReply[] = [];
  const waiting: ((r: StateWorkerReply) => void)[] = [];
  let failure: Error | undefined;
  const fail: ((e: Error) => void)[] = [];
  const handle = spawnWorker(url ?? workerUrl(callerUrl, baseName), {
    onMessage: (m) => {
      const w = waiting.shift();
      if (w) w(m as StateWorkerReply);
      else replies.push(m as StateWorkerReply);
    },
    onError: (e) => {
      failure = e;
      for (const f of fail.splice(0)) f(e);
    },
  });
  const next = (): Promise<StateWorkerReply> =>
    new Promise((resolve, reject) => {
      if (failure) return reject(failure);
      const r = replies.shift();
      if (r) return resolve(r);
      const timer = setTimeout(
        () => reject(new Error(`no reply within ${START_TIMEOUT_MS} ms`)),
        START_TIMEOUT_MS,
      );
      waiting.push((reply) => {
        clearTimeout(timer);
        resolve(reply);
      });
      fail.push((e) => {
        clearTimeout(timer);
        reject(e);
      });
    });
  return { handle, next };
}

/** Waits for a worker's reply of `type`; anything else (a failure, silence) is WORKER_FAILED. */
export async function expectReply(w: StateWorker, type: StateWorkerReply["type"]): Promise<void> {
  let reply: StateWorkerReply;
  try {
    reply = await w.next();
  } catch (cause) {
    throw new ChainDbError(ErrorCode.WORKER_FAILED, `state thread failed to start: ${String(cause)}`, {
      cause,
    });
  }
  if (reply.type === "error")
    throw new ChainDbError(ErrorCode.WORKER_FAILED, `state thread failed: ${reply.message}`);
  if (reply.type !== type)
    throw new ChainDbError(ErrorCode.WORKER_FAILED, `state thread replied ${reply.type}, expected ${type}`);
}

/**
 * A worker's loop: runs `run(gen)` for each new value `gen` of the job word `words[job]` until
 * the stop word `words[job + 1]` is set; blocks the worker's thread meanwhile. The state sets the
 * stop word and bumps the job word when it closes.
 */
export function serveJobs(words: Int32Array, job: number, run: (gen: number) => void): void {
  const stop = job + 1;
  let seen = 0; // the generation at start: a job published before this point is seen at once
  // Bounded by the stop word.
  for (;;) {
    for (let i = 0; i < SPINS && Atomics.load(words, job) === seen; i++);
    while (Atomics.load(words, job) === seen) Atomics.wait(words, job, seen);
    if (Atomics.load(words, stop) !== 0) return;
    seen = Atomics.load(words, job);
    run(seen);
  }
}
