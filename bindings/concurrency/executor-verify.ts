/**
 * Signature verification claimed in chunks from a shared counter: run by every executor worker
 * and by the calling thread too, so all threads verify one block's signatures (RFC 8032 ed25519
 * through node:crypto; each transfer independent of the others).
 * @module
 */
import { TRANSFER_SIZE, verifyTransferSignature } from "../chain/index.ts";

/** One block's verification: transfers, one result byte each, and the shared chunk counter. */
export interface VerifyWork {
  readonly transfers: Uint8Array;
  readonly results: Uint8Array;
  readonly ctl: Int32Array;
  readonly count: number;
  readonly chunk: number;
}

/** Claims chunks until none is left, writing 1 (valid) or 0 per transfer into `results`. */
export function verifyClaimedChunks(work: VerifyWork): void {
  const { transfers, results, ctl, count, chunk } = work;
  const chunks = Math.ceil(count / chunk);
  // Bounded: each iteration claims a distinct chunk index.
  for (;;) {
    const c = Atomics.add(ctl, 0, 1);
    if (c >= chunks) return;
    const end = Math.min(count, (c + 1) * chunk);
    for (let i = c * chunk; i < end; i++) {
      results[i] = verifyTransferSignature(transfers.subarray(i * TRANSFER_SIZE, (i + 1) * TRANSFER_SIZE))
        ? 1
        : 0;
    }
  }
}
