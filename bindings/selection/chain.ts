/**
 * A minimal chain over {@link SelectionState}: an in-memory ledger of balances and nonces, and
 * blocks run one height at a time with {@link BlockRun}, the packed moves of each block applied to
 * that ledger as chain/'s ledger applies them for `ConsensusNode`. The adapters
 * {@link StakingState} and {@link DelegateElection} drive it, so the seeded simulation runs the
 * very rules the node runs (set at H + 2, one burn per offence, capped weighted power, pruning).
 * @module
 */
import { ChainDbError, ErrorCode, assert, toHex } from "../util/index.ts";
import { PACKED_AMOUNT, PACKED_FEE, PACKED_NONCE, PACKED_TO, PACKED_TRANSFER_SIZE } from "../engine/index.ts";
import type { AccountView, BlockRun, SelectionState } from "./state.ts";
import type { ChainTx, StakingKind } from "./txs.ts";

/** Most empty blocks one call may run to close a gap of heights (bounds the loop). */
export const HEIGHT_GAP_MAX = 1_000_000;
/** Fee recipient of the adapters' blocks (their transactions pay no fee). */
const FEE_SINK = new Uint8Array(32);

/** Balances and nonces by hex address. */
export type Ledger = Map<string, { balance: bigint; nonce: bigint }>;

/** A selection state, its ledger and the block being run (if any). */
export class SelectionChain {
  private open: BlockRun | null = null;
  /** Reads the ledger as it was before the open block (what a block run reads). */
  readonly view: AccountView;

  constructor(
    readonly state: SelectionState,
    readonly ledger: Ledger,
  ) {
    this.view = { account: (address) => this.ledger.get(toHex(address)) };
  }

  /** The height the next state change goes into: the open block's, else the one after the state. */
  get pendingHeight(): number {
    return this.open?.height ?? this.state.height + 1;
  }

  /** The run of block `height`: the open one, or a new one after empty blocks close any gap. */
  runAt(height: number): BlockRun {
    if (this.open !== null && this.open.height === height) return this.open;
    if (height < this.pendingHeight)
      throw new ChainDbError(
        ErrorCode.BAD_RANGE,
        `block ${height} is behind the selection state's block ${this.pendingHeight}`,
      );
    if (height - this.pendingHeight > HEIGHT_GAP_MAX)
      throw new ChainDbError(ErrorCode.BAD_RANGE, `a gap of more than ${HEIGHT_GAP_MAX} heights`);
    while (this.pendingHeight < height) this.finish();
    this.open = this.state.begin(height, FEE_SINK, this.view);
    return this.open;
  }

  /** Ends block `height` (running empty blocks before it if needed). */
  endBlock(height: number): void {
    this.runAt(height);
    this.finish();
    assert(this.state.height === height, `selection state at ${this.state.height} after block ${height}`);
  }

  /** Balance and nonce of `address` now (the open block's changes included). */
  accountOf(address: Uint8Array): { balance: bigint; nonce: bigint } {
    if (this.open !== null) return this.open.accountOf(address);
    const a = this.ledger.get(toHex(address));
    return { balance: a?.balance ?? 0n, nonce: a?.nonce ?? 0n };
  }

  /** Runs a fee-less staking transaction of `from` in block `height` (the adapters are trusted callers: no signature). */
  staking(
    height: number,
    kind: StakingKind,
    from: Uint8Array,
    amount = 0n,
    candidates: readonly Uint8Array[] = [],
  ): void {
    const run = this.runAt(height);
    const tx: ChainTx = {
      type: "staking",
      bytes: new Uint8Array(0),
      tx: {
        kind,
        chainId: 0,
        from,
        amount,
        fee: 0n,
        nonce: run.accountOf(from).nonce,
        candidates,
        signature: new Uint8Array(64),
      },
    };
    run.tx(tx);
  }

  private finish(): void {
    const run = this.open ?? this.state.begin(this.state.height + 1, FEE_SINK, this.view);
    this.open = null;
    const { packed, count } = run.finish();
    this.applyMoves(packed, count);
  }

  /** Applies packed moves (the engine's packed transfer records). */
  private applyMoves(packed: Uint8Array, count: number): void {
    const dv = new DataView(packed.buffer, packed.byteOffset, packed.byteLength);
    for (let i = 0; i < count; i++) {
      const o = i * PACKED_TRANSFER_SIZE;
      const from = this.entry(packed.subarray(o, o + 32));
      const to = this.entry(packed.subarray(o + PACKED_TO, o + PACKED_TO + 32));
      const amount = dv.getBigUint64(o + PACKED_AMOUNT, true);
      assert(dv.getBigUint64(o + PACKED_FEE, true) === 0n, "an adapter block paid a fee");
      assert(dv.getBigUint64(o + PACKED_NONCE, true) === from.nonce, "a move out of order");
      assert(from.balance >= amount, "a move overdraws its sender");
      from.balance -= amount;
      from.nonce += 1n;
      to.balance += amount;
    }
  }

  private entry(address: Uint8Array): { balance: bigint; nonce: bigint } {
    const key = toHex(address);
    let a = this.ledger.get(key);
    if (a === undefined) this.ledger.set(key, (a = { balance: 0n, nonce: 0n }));
    return a;
  }
}
