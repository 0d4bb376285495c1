/**
 * What a two-phase-commit participant prepares against: a bank of named balances kept in the
 * same durable log as the protocol records ({@link LogBank}, used by the simulation: an apply and
 * the COMMITTED record reach the disk in one sync), and a chaindb ledger under its transaction
 * database's lock manager ({@link LedgerBank}: 2PC locks and local transactions exclude each
 * other). Both lock without waiting (Gray & Reuter 1993, §7: no-wait locking cannot deadlock).
 * @module
 */
import { ChainDbError, ErrorCode, fromHex, assert } from "../../util/index.ts";
import type { LedgerDatabase } from "../ledger-db.ts";
import type { TwoPcResource } from "./participant.ts";
import type { TwoPcLog } from "./runner.ts";
import type { TwoPcOp, TwoPcWrite } from "./types.ts";

const U64_MAX = (1n << 64n) - 1n;
const BANK_PREFIX = "bank/";
const text = new TextEncoder();
const untext = new TextDecoder();

/** Validates ops against current balances: every account appears once, results stay within u64. */
function afterImages(
  ops: readonly TwoPcOp[],
  balanceOf: (account: string) => bigint,
): { ok: true; writes: TwoPcWrite[] } | { ok: false; reason: string } {
  const seen = new Set<string>();
  const writes: TwoPcWrite[] = [];
  for (const op of ops) {
    if (seen.has(op.account)) return { ok: false, reason: `account ${op.account} named twice` };
    seen.add(op.account);
    const balance = balanceOf(op.account) + op.delta;
    if (balance < 0n) return { ok: false, reason: `account ${op.account} would hold ${balance}` };
    if (balance > U64_MAX) return { ok: false, reason: `account ${op.account} would exceed a u64` };
    writes.push({ account: op.account, balance });
  }
  return { ok: true, writes };
}

/** Balances in a {@link TwoPcLog} (the simulation's bank); locks in memory, lost by a crash. */
export class LogBank implements TwoPcResource {
  private readonly locks = new Map<string, string>(); // account → tx

  /** A bank over `log` (which may already hold balances). */
  constructor(private readonly log: TwoPcLog) {}

  /** Sets opening balances and syncs (setup only). */
  async open(balances: ReadonlyMap<string, bigint>): Promise<void> {
    for (const [account, balance] of balances)
      this.log.put(BANK_PREFIX + account, text.encode(balance.toString()));
    await this.log.sync();
  }

  /** The balance of `account` (0 if absent), as last written. */
  balance(account: string): bigint {
    const v = this.log.get(BANK_PREFIX + account);
    return v === undefined ? 0n : BigInt(untext.decode(v));
  }

  /** Every account and its balance. */
  balances(): Map<string, bigint> {
    return new Map(
      this.log
        .keys(BANK_PREFIX)
        .map((k) => [k.slice(BANK_PREFIX.length), this.balance(k.slice(BANK_PREFIX.length))]),
    );
  }

  get locksHeld(): number {
    return this.locks.size;
  }

  tryPrepare(
    tx: string,
    ops: readonly TwoPcOp[],
  ): { ok: true; writes: TwoPcWrite[] } | { ok: false; reason: string } {
    const busy = ops.find((op) => this.locks.has(op.account) && this.locks.get(op.account) !== tx);
    if (busy !== undefined)
      return { ok: false, reason: `account ${busy.account} is locked by ${this.locks.get(busy.account)}` };
    const verdict = afterImages(ops, (a) => this.balance(a));
    if (verdict.ok) for (const op of ops) this.locks.set(op.account, tx);
    return verdict;
  }

  restore(tx: string, writes: readonly TwoPcWrite[]): void {
    for (const w of writes) {
      assert(!this.locks.has(w.account) || this.locks.get(w.account) === tx, "recovery re-takes free locks");
      this.locks.set(w.account, tx);
    }
  }

  apply(tx: string, writes: readonly TwoPcWrite[]): void {
    for (const w of writes) {
      assert(this.locks.get(w.account) === tx, "apply under the transaction's locks");
      this.log.put(BANK_PREFIX + w.account, text.encode(w.balance.toString()));
    }
  }

  release(tx: string): void {
    for (const [account, holder] of [...this.locks]) if (holder === tx) this.locks.delete(account);
  }
}

/** A chaindb ledger (through its {@link LedgerDatabase}) as a 2PC resource; accounts are hex addresses. */
export class LedgerBank implements TwoPcResource {
  private readonly held = new Map<string, string[]>(); // tx → accounts

  /** Wraps `db`; 2PC transactions lock in `db.locks` as `2pc:<tx>`. */
  constructor(private readonly db: LedgerDatabase) {}

  get locksHeld(): number {
    let n = 0;
    for (const accounts of this.held.values()) n += accounts.length;
    return n;
  }

  tryPrepare(
    tx: string,
    ops: readonly TwoPcOp[],
  ): { ok: true; writes: TwoPcWrite[] } | { ok: false; reason: string } {
    const owner = `2pc:${tx}`;
    const taken: string[] = [];
    for (const op of ops) {
      if (!/^[0-9a-f]{64}$/.test(op.account))
        return this.fail(tx, taken, `account ${op.account} is not a 32-byte hex address`);
      if (!this.db.locks.tryAcquire(owner, op.account, "X"))
        return this.fail(tx, taken, `account ${op.account.slice(0, 16)}… is locked`);
      taken.push(op.account);
    }
    const verdict = afterImages(ops, (a) => this.db.backend.read(fromHex(a))?.balance ?? 0n);
    if (!verdict.ok) return this.fail(tx, taken, verdict.reason);
    this.held.set(tx, taken);
    return verdict;
  }

  restore(tx: string, writes: readonly TwoPcWrite[]): void {
    for (const w of writes) {
      if (!this.db.locks.tryAcquire(`2pc:${tx}`, w.account, "X"))
        throw new ChainDbError(ErrorCode.TX_CONFLICT, `recovery: account ${w.account} is locked`);
    }
    this.held.set(
      tx,
      writes.map((w) => w.account),
    );
  }

  async apply(tx: string, writes: readonly TwoPcWrite[]): Promise<void> {
    assert(this.held.has(tx), "apply under the transaction's locks");
    await this.db.backend.apply(
      writes.map((w) => {
        const key = fromHex(w.account);
        return { key, value: { balance: w.balance, nonce: this.db.backend.read(key)?.nonce ?? 0n } };
      }),
    );
  }

  release(tx: string): void {
    this.db.locks.releaseAll(`2pc:${tx}`);
    this.held.delete(tx);
  }

  private fail(tx: string, taken: string[], reason: string): { ok: false; reason: string } {
    void taken;
    this.db.locks.releaseAll(`2pc:${tx}`); // also forgets a refused request's entry
    return { ok: false, reason };
  }
}
