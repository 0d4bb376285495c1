/**
 * Runtime glue: the only place that knows whether we run on Node.js or Deno (hono's
 * `src/adapter/` idea). Workers: Node runs compiled `.js` workers with `node:worker_threads`, and
 * `.ts` workers (sources under vitest or tsx) through a tiny bootstrap file that registers tsx;
 * Deno runs `.ts` or `.js` workers directly as module Web Workers.
 * @module
 */
import { Worker as NodeWorker, isMainThread, parentPort } from "node:worker_threads";
import { availableParallelism } from "node:os";

/** True when running under Deno. */
export const isDeno: boolean = typeof (globalThis as { Deno?: unknown }).Deno !== "undefined";

/** True inside a worker (Node's worker_threads, or a Deno Web Worker), false on the main thread. */
export function inWorker(): boolean {
  return isDeno
    ? typeof (globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope !== "undefined"
    : !isMainThread;
}

/** Name and version of the runtime, e.g. `node 20.20.2` or `deno 2.9.6`. */
export function runtimeVersion(): string {
  const deno = (globalThis as { Deno?: { version: { deno: string } } }).Deno;
  return deno ? `deno ${deno.version.deno}` : `node ${process.versions.node}`;
}

/** Logical CPU count available to this process. */
export function cpuCount(): number {
  return availableParallelism();
}

/** Resolves on the next turn of the event loop (macrotask), so timers and I/O can run. */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) =>
    typeof setImmediate === "function" ? setImmediate(resolve) : setTimeout(resolve, 0),
  );
}

/** A worker as both runtimes can drive it. */
export interface WorkerHandle {
  /** Posts a structured-clonable message (SharedArrayBuffers are shared, not copied). */
  postMessage(message: unknown): void;
  /** Stops the worker at once. */
  terminate(): Promise<void>;
}

/** Callbacks for messages from a worker and for its failure. */
export interface WorkerEvents {
  /** A message the worker posted. */
  onMessage(message: unknown): void;
  /** The worker threw or could not start. */
  onError(error: Error): void;
}

/**
 * The URL of a sibling worker module: `workerUrl(import.meta.url, "miner-worker")` gives
 * `miner-worker.ts` next to a `.ts` caller and `miner-worker.js` next to a compiled one.
 */
export function workerUrl(callerUrl: string, baseName: string): URL {
  const ext = callerUrl.endsWith(".ts") ? ".ts" : ".js";
  return new URL(`./${baseName}${ext}`, callerUrl);
}

/**
 * Starts the worker module at `url` (a file: URL of a `.js` module, or of a `.ts` module under
 * Deno, or under Node when tsx is installed, as when running from sources). The worker listens
 * with {@link onParentMessage}; SharedArrayBuffers in messages are shared, not copied.
 */
export function spawnWorker(url: URL, events: WorkerEvents): WorkerHandle {
  return isDeno ? spawnWebWorker(url, events) : spawnNodeWorker(url, events);
}

function spawnWebWorker(url: URL, events: WorkerEvents): WorkerHandle {
  const worker = new Worker(url.href, { type: "module" });
  worker.onmessage = (event: MessageEvent) => events.onMessage(event.data);
  worker.onerror = (event: ErrorEvent) => {
    event.preventDefault();
    events.onError(new Error(event.message));
  };
  return {
    postMessage: (message) => worker.postMessage(message),
    terminate: async () => worker.terminate(),
  };
}

function spawnNodeWorker(url: URL, events: WorkerEvents): WorkerHandle {
  const worker = url.pathname.endsWith(".ts")
    ? new NodeWorker(new URL("./ts-worker-bootstrap.mjs", import.meta.url), {
        workerData: { chaindbTsEntry: url.href },
      })
    : new NodeWorker(url);
  worker.on("message", (message) => events.onMessage(message));
  worker.on("error", (error) => events.onError(error));
  return {
    postMessage: (message) => worker.postMessage(message),
    terminate: async () => {
      await worker.terminate();
    },
  };
}

/** Inside a worker: the channel to the parent (Node's parentPort or Deno's worker scope). */
export interface ParentChannel {
  /** Posts a message to the parent. */
  postMessage(message: unknown): void;
}

/**
 * Inside a worker: listens to the parent. Call it synchronously at module top level, before
 * any `await`: Deno drops messages that arrive before a listener is attached.
 */
export function onParentMessage(handler: (message: unknown) => void): ParentChannel {
  if (isDeno) {
    const scope = globalThis as unknown as {
      onmessage: ((e: MessageEvent) => void) | null;
      postMessage(m: unknown): void;
    };
    scope.onmessage = (event) => handler(event.data);
    return { postMessage: (m) => scope.postMessage(m) };
  }
  if (!parentPort) throw new Error("chaindb internal error: onParentMessage called outside a worker");
  const port = parentPort;
  port.on("message", handler);
  return { postMessage: (m) => port.postMessage(m) };
}
