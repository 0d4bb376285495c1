/**
 * Block sync of a consensus node (CometBFT's blocksync reactor, reduced) and the node's wire:
 * every payload is a tag byte and a body. Nodes announce their committed height (`status`); a
 * node that is behind asks a peer for the next block (`getBlock`, a height), and the answer
 * (`block`) is the decided block's commit certificate, verified against the validator set of its
 * height before the engine decides it.
 *
 * Bounded on both sides: a 9-byte request answers a whole block, so answers are paid from a
 * per-peer token bucket in bytes (each answer costs its size plus {@link SYNC_REQUEST_COST});
 * a request over the budget is dropped and counted. An answer is decoded and verified only if it
 * answers this node's own outstanding request to that peer, once.
 * @module
 */
import { ChainDbError, ErrorCode, RateLimiter, equalBytes, type Rate } from "../util/index.ts";
import type { Clock, NodeId, Transport } from "../net/index.ts";
import { verifyCommit } from "./block.ts";
import { decodeMessage, encodeMessage, valueIdOf } from "./codec.ts";
import type { CommitCertificate } from "./types.ts";
import type { ValidatorSet } from "./validators.ts";

/** The tag byte of each kind of node payload. */
export const TAG = { consensus: 0, tx: 1, status: 2, getBlock: 3, block: 4 } as const;
/** Block-sync budget per peer, in bytes of answers: 4 MiB/s, 8 MiB saved up. */
export const DEFAULT_SYNC_RATE: Rate = { perSecond: 4 << 20, burst: 8 << 20 };
/** What a sync request costs besides its answer's bytes (bounds the answers to empty blocks: 256/s). */
export const SYNC_REQUEST_COST = 16 << 10;
/** Peers whose sync budget is tracked (the configured peers are fewer). */
const SYNC_PEERS_MAX = 1024;

/** What block sync reads of and hands to its node. */
export interface SyncHost {
  readonly transport: Transport;
  readonly clock: Clock;
  readonly consensusChainId: string;
  /** Height of the last committed block. */
  height(): number;
  /** The height the engine is deciding. */
  engineHeight(): number;
  /** Stopped taking part (`haltHeight`): asks for nothing more. */
  halted(): boolean;
  certificate(height: number): CommitCertificate | undefined;
  validatorsAt(height: number): ValidatorSet;
}

/** Asks peers for missing blocks and answers their requests within a budget. */
export class BlockSync {
  private readonly peerHeights = new Map<NodeId, number>();
  /** The height asked of each peer (its answer is verified only if asked for). */
  private readonly requested = new Map<NodeId, number>();
  private readonly budget: RateLimiter;
  /** Requests dropped: the peer was over its budget. */
  refused = 0;
  /** Blocks committed from fetched certificates rather than from live votes. */
  synced = 0;

  constructor(
    private readonly host: SyncHost,
    rate: Rate = DEFAULT_SYNC_RATE,
  ) {
    this.budget = new RateLimiter(rate, () => host.clock.now(), SYNC_PEERS_MAX);
  }

  /** Tells every peer this node's committed height (each tick). */
  announce(): void {
    this.host.transport.broadcast(tagged(TAG.status, heightBytes(this.host.height())));
  }

  /** A peer's height: ask it for the next block if it is ahead. */
  onStatus(from: NodeId, height: number): void {
    this.peerHeights.set(from, height);
    if (height > this.host.height() && !this.host.halted()) this.request(from);
  }

  /** A 9-byte request answers a whole block: answers are paid from the peer's byte budget. */
  onGetBlock(from: NodeId, height: number): void {
    const cert = this.host.certificate(height);
    if (cert === undefined) return;
    if (this.budget.waitMs(from, SYNC_REQUEST_COST) > 0) return void this.refused++; // before encoding
    const answer = tagged(TAG.block, encodeMessage(cert));
    if (!this.budget.take(from, SYNC_REQUEST_COST + answer.length)) return void this.refused++;
    this.host.transport.send(from, answer);
  }

  /**
   * A fetched block: its certificate, verified against the set of its height, for the node to hand
   * its engine (which decides it); undefined when it is not the answer asked for or fails a check.
   * Call {@link delivered} once the engine's effects of it ran.
   */
  acceptBlock(from: NodeId, body: Uint8Array): CommitCertificate | undefined {
    const next = this.host.height() + 1;
    // Only an answer to what this node asked of this peer is decoded and verified, once per request.
    if (this.requested.get(from) !== next || this.host.halted()) return;
    this.requested.delete(from);
    const cert = decodeMessage(body);
    if (cert.kind !== "commit") return;
    const height = cert.proposal.height;
    if (height !== next || this.host.engineHeight() !== height) return;
    if (!equalBytes(valueIdOf(cert.proposal.value), cert.proposal.valueId)) return;
    if (
      !verifyCommit(
        this.host.consensusChainId,
        this.host.validatorsAt(height),
        cert,
        height,
        cert.proposal.valueId,
      )
    )
      return;
    return cert;
  }

  /** After the engine took the certificate of `height` from `from`: count it, ask for the next one. */
  delivered(from: NodeId, height: number): void {
    if (this.host.height() === height) this.synced++;
    // Still behind: ask for the next one at once.
    const known = this.peerHeights.get(from) ?? 0;
    if (known > this.host.height() && !this.host.halted()) this.request(from);
  }

  private request(from: NodeId): void {
    this.requested.set(from, this.host.height() + 1);
    this.host.transport.send(from, tagged(TAG.getBlock, heightBytes(this.host.height() + 1)));
  }
}

/** `tag ‖ body`. */
export function tagged(tag: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(1 + body.length);
  out[0] = tag;
  out.set(body, 1);
  return out;
}

/** A height as u64 little-endian. */
export function heightBytes(height: number): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, BigInt(height), true);
  return out;
}

/** Reads a u64 little-endian height; `BAD_MESSAGE` or `BAD_RANGE` when it is not one. */
export function readHeight(body: Uint8Array): number {
  if (body.length !== 8)
    throw new ChainDbError(ErrorCode.BAD_MESSAGE, `height expected 8 bytes, got ${body.length}`);
  const h = new DataView(body.buffer, body.byteOffset, 8).getBigUint64(0, true);
  if (h > BigInt(Number.MAX_SAFE_INTEGER))
    throw new ChainDbError(ErrorCode.BAD_RANGE, `height ${h} out of range`);
  return Number(h);
}
