/**
 * Messages between the parallel block executor and its workers (all buffers are shared).
 * @module
 */
import type { BlockPlan } from "./executor-plan.ts";

/** A job for an executor worker. */
export type ExecutorJob =
  | {
      type: "verify";
      id: number;
      transfers: Uint8Array;
      results: Uint8Array;
      ctl: Int32Array;
      count: number;
      chunk: number;
    }
  | { type: "exec"; id: number; plan: Omit<BlockPlan, "addresses">; thread: number };

/** A worker's answer. */
export type ExecutorReply =
  { type: "ready" | "done"; id: number } | { type: "error"; id: number; message: string };
