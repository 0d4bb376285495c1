/**
 * Synchronization primitives over SharedArrayBuffer + Atomics, usable across Node worker_threads
 * and Deno Web Workers: each is a small view over shared Int32 words with a structured-clonable
 * `handle()` and a static `from(handle)` to reattach it in another thread. Follows Ulrich
 * Drepper's "Futexes Are Tricky" for the futex-based designs.
 * @module
 */
export { Mutex, type MutexHandle } from "./mutex.ts";
export { Semaphore, type SemaphoreHandle, type SemaphoreOptions } from "./semaphore.ts";
export { Event, type EventHandle, type EventOptions } from "./event.ts";
export {
  ConditionVariable,
  type ConditionVariableHandle,
  type ConditionWaitOptions,
} from "./condition-variable.ts";
export { Signal, type SignalHandle } from "./signal.ts";
export type { WaitOptions, PrimitiveHandle } from "./shared.ts";
export { currentThread, type ThreadIdentity } from "./thread-id.ts";
export { HandoffProbe, type HandoffKind } from "./handoff.ts";
export {
  SerialExecutor,
  ParallelExecutor,
  type BlockExecutor,
  type ParallelExecutorOptions,
  type ExecutionReport,
} from "./executor.ts";
export { planBlock, runGroups, type BlockPlan, type AccountReader } from "./executor-plan.ts";
