/**
 * Messages between the miner and its workers, and the layout of the shared control block.
 * @module
 */

/** Index in the control Int32Array: non-zero asks every worker to stop. */
export const CTL_STOP = 0;
/** Index in the control Int32Array: the next unclaimed chunk of the current job. */
export const CTL_NEXT_CHUNK = 1;
/** Length of the control Int32Array. */
export const CTL_LENGTH = 2;

/** A range of nonces to search, shared by all workers through the chunk counter. */
export interface JobMessage {
  type: "job";
  jobId: number;
  /** Shared control block (see CTL_*). */
  ctl: Int32Array;
  /** Shared per-worker hash counters; each worker writes only its own slot. */
  hashes: Float64Array;
  slot: number;
  header: Uint8Array;
  target: Uint8Array;
  startNonce: number;
  /** Exclusive end, at most 2^32. */
  endNonce: number;
  chunkSize: number;
}

/** What a worker reports. */
export type WorkerReply =
  | { type: "ready" }
  | { type: "found"; jobId: number; nonce: number }
  | { type: "exhausted"; jobId: number }
  | { type: "stopped"; jobId: number }
  | { type: "error"; message: string };
