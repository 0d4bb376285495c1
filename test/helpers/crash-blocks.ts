/**
 * Deterministic blocks for the durability and crash tests: block `height` depends only on the
 * height and the ledger's state, so a child process and the test's reference ledger build the
 * same blocks.
 */
import type { Ledger } from "../../bindings/chain/ledger.ts";
import { PACKED_TRANSFER_SIZE, packTransfer } from "../../bindings/engine/index.ts";
import { prng } from "./ledger-fixtures.ts";

/** Number of accounts the blocks move money between. */
export const CRASH_ACCOUNTS = 64;
/** Chain id of the crash-test ledger. */
export const CRASH_CHAIN = 99;

/** Address number `i`. */
export function crashAddress(i: number): Uint8Array {
  const a = new Uint8Array(32);
  const r = prng(1000 + i);
  for (let j = 0; j < 32; j++) a[j] = Math.floor(r() * 256);
  return a;
}

/** The genesis: every account starts with 1,000,000. */
export function crashGenesis(): Array<{ address: Uint8Array; balance: bigint }> {
  return Array.from({ length: CRASH_ACCOUNTS }, (_, i) => ({
    address: crashAddress(i),
    balance: 1_000_000n,
  }));
}

/** Applies block `ledger.height + 1` (pre-verified transfers); returns its root. */
export async function applyNextBlock(ledger: Ledger, count = 200): Promise<Uint8Array> {
  const height = ledger.height + 1;
  const rand = prng(height * 7919);
  const nonces = new Map<number, bigint>();
  const packed = new Uint8Array(count * PACKED_TRANSFER_SIZE);
  for (let i = 0; i < count; i++) {
    const from = Math.floor(rand() * CRASH_ACCOUNTS);
    let to = Math.floor(rand() * CRASH_ACCOUNTS);
    if (to === from) to = (to + 1) % CRASH_ACCOUNTS;
    const nonce = nonces.get(from) ?? ledger.account(crashAddress(from))?.nonce ?? 0n;
    nonces.set(from, nonce + 1n);
    packTransfer(
      packed,
      i,
      crashAddress(from),
      crashAddress(to),
      BigInt(Math.floor(rand() * 100)),
      BigInt(Math.floor(rand() * 3)),
      nonce,
    );
  }
  const proposer = crashAddress(Math.floor(rand() * CRASH_ACCOUNTS));
  const r = await ledger.applyPacked(packed, count, { proposer });
  return r.root;
}
