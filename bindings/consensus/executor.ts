/**
 * The block builder and executor of a consensus node (CometBFT's BlockExecutor, reduced): the
 * paper's getValue() builds a block of ready mempool transactions and usable evidence on the
 * committed state; valid(v) executes a proposed block on a checkpoint of the ledger
 * (`Ledger.preview`) and a copy of the selection state and compares the state root it reaches
 * with the block's. Executions are kept (bounded) so a decided block is not executed twice.
 * @module
 */
import { createHash } from "node:crypto";
import { ChainDbError, ErrorCode, assert, equalBytes, toHex } from "../util/index.ts";
import type { Ledger } from "../chain/index.ts";
import {
  EVIDENCE_AGE_MAX,
  decodeBlockTxs,
  decodeChainTx,
  encodeBlockTxs,
  type ChainTx,
  type SelectionState,
} from "../selection/index.ts";
import { decodeBlock, encodeBlock, verifyCommit, type Block } from "./block.ts";
import { valueIdOf } from "./codec.ts";
import { accused, evidenceKey, verifyEvidence } from "./evidence.ts";
import type { MempoolEntry } from "./mempool.ts";
import type { CommitCertificate, Evidence } from "./types.ts";
import type { ValidatorSet } from "./validators.ts";

/** Most evidence one block carries (the codec allows more). */
const BLOCK_EVIDENCE_TAKEN = 8;
/** Executions of proposed blocks kept per height (a byzantine proposer can propose one per round). */
const EXECUTIONS_MAX = 64;
const ROOT_DOMAIN = new TextEncoder().encode("chaindb/app-root/v1");

/** A block executed on scratch state, ready to commit if decided. */
export interface Execution {
  readonly block: Block;
  readonly packed: Uint8Array;
  readonly count: number;
  readonly selection: SelectionState;
  readonly root: Uint8Array;
  readonly feeRecipient: Uint8Array;
  readonly txKeys: readonly string[];
  /** Senders of the block's transactions (their waiting transactions may have become ready or spent). */
  readonly senders: readonly Uint8Array[];
  readonly slashed: readonly Uint8Array[];
}

/** The committed chain as the executor reads it (the node owns and advances it). */
export interface ChainView {
  readonly ledger: Ledger;
  /** Selection state after the last committed block. */
  selection(): SelectionState;
  /** Id of the last committed block (zeros before the first). */
  lastId(): Uint8Array;
  /** Height of the last committed block. */
  height(): number;
  certificate(height: number): CommitCertificate | undefined;
  validatorsAt(height: number): ValidatorSet;
}

/** Builds and executes blocks of the next height on a {@link ChainView}. */
export class BlockExecutor {
  private executions = new Map<string, Execution>();

  constructor(
    private readonly chain: ChainView,
    /** Transactions are signed for it. */
    private readonly chainId: number,
    /** Consensus messages (certificates, evidence) are signed for it. */
    private readonly consensusChainId: string,
  ) {}

  /**
   * The paper's getValue(): a block of `height` paying `feeRecipient`, with the usable `evidence`
   * (at most 8) and the `ready` transactions in order; a transaction the rules refuse goes to
   * `onRefused`, and its sender contributes nothing after it.
   */
  build(
    height: number,
    feeRecipient: Uint8Array,
    ready: readonly MempoolEntry[],
    evidencePool: Iterable<Evidence>,
    onRefused: (e: MempoolEntry) => void,
  ): Uint8Array {
    assert(height === this.chain.height() + 1, `building block ${height} on height ${this.chain.height()}`);
    const evidence = [...evidencePool]
      .filter((e) => this.evidenceUsable(e, height))
      .slice(0, BLOCK_EVIDENCE_TAKEN);
    const selection = this.chain.selection().clone();
    const run = selection.begin(height, feeRecipient, this.chain.ledger);
    const slashed = evidence.map((e) => (run.slash(evidenceKey(e), accused(e), e.a.height), accused(e)));
    const included: ChainTx[] = [];
    const txKeys: string[] = [];
    const stuck = new Set<string>();
    for (const e of ready) {
      if (stuck.has(e.sender)) continue;
      try {
        run.tx(e.tx);
        included.push(e.tx);
        txKeys.push(e.key);
      } catch (error) {
        if (!(error instanceof ChainDbError)) throw error;
        stuck.add(e.sender); // its later nonces cannot run without it
        onRefused(e);
      }
    }
    const { packed, count } = run.finish();
    const preview = this.chain.ledger.preview(packed, count, feeRecipient);
    assert(
      preview.statuses.every((s) => s === "ok"),
      `a built block fails on the ledger: ${preview.statuses.find((s) => s !== "ok")}`,
    );
    const root = appRoot(preview.root, selection.hash());
    const lastCommit = height === 1 ? null : this.chain.certificate(height - 1)!;
    const txs = encodeBlockTxs({ feeRecipient, txs: included.map((t) => t.bytes) });
    const block: Block = { height, parent: this.chain.lastId(), lastCommit, evidence, txs, stateRoot: root };
    const value = encodeBlock(block);
    this.remember(value, {
      block,
      packed,
      count,
      selection,
      root,
      feeRecipient,
      txKeys,
      senders: included.map((t) => t.tx.from),
      slashed,
    });
    return value;
  }

  /** Whether `e` may go into block `height`: in the age window, not slashed yet, and verified. */
  evidenceUsable(e: Evidence, height: number): boolean {
    const h = e.a.height;
    if (
      h >= height ||
      h < height - EVIDENCE_AGE_MAX ||
      h < 1 ||
      this.chain.selection().wasSlashed(evidenceKey(e))
    )
      return false;
    return verifyEvidence(this.consensusChainId, this.chain.validatorsAt(h), e);
  }

  /** The application's validity check of a proposed block of the next height. */
  check(height: number, value: Uint8Array): boolean {
    try {
      const done = this.executions.get(toHex(valueIdOf(value)));
      const execution = done ?? this.execute(height, value);
      return equalBytes(execution.root, execution.block.stateRoot);
    } catch (error) {
      if (error instanceof ChainDbError) return false;
      throw error;
    }
  }

  /** The kept execution of the block with this value id, or a new one of `value`. */
  executionOf(height: number, valueId: Uint8Array, value: Uint8Array): Execution {
    return this.executions.get(toHex(valueId)) ?? this.execute(height, value);
  }

  /** Forgets every execution (after a commit: they were built on the state before it). */
  clear(): void {
    this.executions = new Map();
  }

  /** Executes a block of the next height on scratch state; throws a typed error if it is invalid. */
  execute(height: number, value: Uint8Array): Execution {
    const block = decodeBlock(value);
    const bad = (why: string) => new ChainDbError(ErrorCode.BAD_MESSAGE, `block ${height}: ${why}`);
    if (block.height !== height) throw bad(`claims height ${block.height}`);
    const lastId = this.chain.lastId();
    if (!equalBytes(block.parent, lastId)) throw bad("wrong parent");
    const parentCommitOk =
      height === 1
        ? block.lastCommit === null
        : block.lastCommit !== null &&
          verifyCommit(
            this.consensusChainId,
            this.chain.validatorsAt(height - 1),
            block.lastCommit,
            height - 1,
            lastId,
          );
    if (!parentCommitOk) throw bad("missing or invalid commit of the parent");
    const keys = new Set<string>();
    for (const e of block.evidence) {
      if (keys.has(evidenceKey(e)) || !this.evidenceUsable(e, height)) throw bad("unusable evidence");
      keys.add(evidenceKey(e));
    }
    const { feeRecipient, txs } = decodeBlockTxs(block.txs);
    const decoded = txs.map((t) => decodeChainTx(t, this.chainId));
    const selection = this.chain.selection().clone();
    const run = selection.begin(height, feeRecipient, this.chain.ledger);
    const slashed = block.evidence.map(
      (e) => (run.slash(evidenceKey(e), accused(e), e.a.height), accused(e)),
    );
    for (const t of decoded) run.tx(t);
    const { packed, count } = run.finish();
    const preview = this.chain.ledger.preview(packed, count, feeRecipient);
    if (!preview.statuses.every((s) => s === "ok"))
      throw bad(`a transaction fails on the ledger (${preview.statuses.find((s) => s !== "ok")})`);
    const root = appRoot(preview.root, selection.hash());
    const txKeys = txs.map((t) => toHex(createHash("sha256").update(t).digest()));
    const execution = {
      block,
      packed,
      count,
      selection,
      root,
      feeRecipient,
      txKeys,
      senders: decoded.map((t) => t.tx.from),
      slashed,
    };
    this.remember(value, execution);
    return execution;
  }

  private remember(value: Uint8Array, execution: Execution): void {
    if (this.executions.size >= EXECUTIONS_MAX) this.executions.clear();
    this.executions.set(toHex(valueIdOf(value)), execution);
  }
}

/** The block's state root: sha256(domain ‖ ledger root ‖ selection hash). */
export function appRoot(ledgerRoot: Uint8Array, selectionHash: Uint8Array): Uint8Array {
  return new Uint8Array(
    createHash("sha256").update(ROOT_DOMAIN).update(ledgerRoot).update(selectionHash).digest(),
  );
}
