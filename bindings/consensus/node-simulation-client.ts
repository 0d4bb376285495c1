/**
 * The node simulation's client (node-simulation.ts): users submitting transfers in nonce order
 * to random running nodes, re-sending one not committed {@link RESEND_MS} after a node accepted
 * it to every running node (a mempool is not durable: a power loss empties it; a node gossips a
 * transaction once, when it takes it in, and that gossip may have been lost).
 * @module
 */
import { signTransfer, type KeyPair } from "../chain/index.ts";
import type { Random, SimNetwork } from "../net/index.ts";
import { ChainDbError } from "../util/index.ts";
import type { ConsensusNode } from "./node.ts";

/** A client re-sends a transfer not committed this long after a node accepted it. */
export const RESEND_MS = 1500;

/** Where the client's transfers go, and whose ledger says what is committed. */
export interface ClientView {
  /** The running nodes. */
  readonly targets: () => readonly ConsensusNode[];
  /** The running correct node furthest ahead, if any. */
  readonly reference: () => ConsensusNode | null;
}

/** Submits each user's transfers in nonce order to random nodes every few ms. */
export class NodeClient {
  /** Distinct transfers some node accepted. */
  accepted = 0;
  /** Per user: the signed transfers accepted so far (index = nonce), and when each was last sent. */
  private readonly sent: { tx: Uint8Array; at: number }[][];
  private cancel: (() => void) | undefined;
  private newTransfers = true;

  constructor(
    private readonly chainId: number,
    private readonly users: readonly KeyPair[],
    private readonly rng: Random,
    private readonly view: ClientView,
  ) {
    this.sent = users.map(() => []);
  }

  start(net: SimNetwork): void {
    const tick = () => {
      this.cancel = net.clock.setTimer(this.rng.int(20, 80), tick);
      this.submitOne(net.now);
    };
    this.cancel = net.clock.setTimer(this.rng.int(20, 80), tick);
  }

  /** No new transfers from now on; re-sends go on. */
  stopNew(): void {
    this.newTransfers = false;
  }

  stop(): void {
    this.cancel?.();
    this.cancel = undefined;
  }

  private submitOne(now: number): void {
    const targets = this.view.targets();
    if (targets.length === 0) return;
    const u = this.rng.int(0, this.users.length - 1);
    const node = targets[this.rng.int(0, targets.length - 1)]!;
    const mine = this.sent[u]!;
    const done = this.committedNonce(u);
    const waiting = done < mine.length ? mine[done]! : undefined;
    if (waiting !== undefined && now - waiting.at >= RESEND_MS) {
      // To every running node, as a wallet that saw no commit would: the nodes that hold it
      // (their mempools do not gossip again) may be byzantine, jailed or partitioned.
      waiting.at = now;
      for (const t of targets) this.offer(t, waiting.tx);
      return;
    }
    if (!this.newTransfers) return;
    const from = this.users[u]!;
    const tx = signTransfer(from, {
      chainId: this.chainId,
      to: this.users[(u + 1) % this.users.length]!.publicKey,
      amount: 1,
      fee: 1,
      nonce: mine.length,
    });
    if (this.offer(node, tx)) {
      mine.push({ tx, at: now });
      this.accepted++;
    }
  }

  private offer(node: ConsensusNode, tx: Uint8Array): boolean {
    try {
      return node.submit(tx).accepted;
    } catch (error) {
      // A coded refusal (the mempool is full, the node is behind) is the client's to retry; anything else is a bug.
      if (!(error instanceof ChainDbError)) throw error;
      return false;
    }
  }

  private committedNonce(u: number): number {
    const ref = this.view.reference();
    return Number(ref?.accounts.account(this.users[u]!.publicKey)?.nonce ?? 0n);
  }

  /** Transfers committed on the reference node's ledger. */
  committedCount(): number {
    return this.users.reduce((sum, _u, i) => sum + this.committedNonce(i), 0);
  }

  allCommitted(): boolean {
    return this.users.every((_u, i) => this.committedNonce(i) === this.sent[i]!.length);
  }

  pending(): string {
    return this.users
      .map((_u, i) => `user ${i}: ${this.committedNonce(i)} of ${this.sent[i]!.length}`)
      .join(", ");
  }
}
